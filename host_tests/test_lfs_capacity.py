"""Discoverable-credential capacity on the boards' littlefs (host_tests/lfs_flash.py).

Each board's configured capacity (boards/<chip>/config.py RESIDENT_CAPACITY)
must fit its filesystem as MicroPython formats it, with what provisioning
installs, every other record at its largest, and room left for the store to
rewrite anything at full capacity. These tests fail when the core, the
adapter or a record grows past that; tools/lfs_capacity.py prints the
figures (how many fit, the margin) to pick new numbers from.
"""

import importlib
import os

import pytest
from fido2.ctap import CtapError

import lfs_flash as lf
from boards.common import settings
from boards.host.memory_storage import MemoryStorage
from firmware import crypto, store as st
from firmware.status import CtapError as FirmwareError
from firmware.store import Store
from powercut import Drbg, Key

crypto.set_rng(os.urandom)

# Free blocks a store at full capacity needs so that no rewrite meets a full
# flash: littlefs writes the new copy of a record before it frees the old
# one, and the largest record, the 8 KiB large-blob array, takes 3 blocks.
# Measured by tools/lfs_capacity.py (fit - proven) on every board.
CHURN_MARGIN_BLOCKS = 3


def _rows():
    for chip in ("rp2040", "esp32s3"):
        config = importlib.import_module("boards.%s.config" % chip)
        board = next(g for g in lf.BOARDS.values() if g.chip == chip)
        for blocks, capacity in config.RESIDENT_CAPACITY:
            yield pytest.param(board.resized(blocks), capacity, id="%s-%d-blocks" % (chip, blocks))


def _geometry(name):
    return lf.BOARDS[name]


@pytest.mark.parametrize("name", ["RPI_PICO", "ESP32_GENERIC_S3"])
def test_files_up_to_inline_max_live_in_the_directory(name):
    """The fact every capacity rests on: littlefs keeps a file of up to
    inline_max bytes (512 on rp2, 128 on esp32) in its directory's metadata
    and gives a larger one whole blocks."""
    geometry = _geometry(name)
    assert geometry.inline_max == {"RPI_PICO": 512, "ESP32_GENERIC_S3": 128}[name]
    for fast in (False, True):
        fs = lf.Filesystem(geometry, fast)
        used = fs.used_blocks()
        fs.put("/small", bytes(geometry.inline_max))
        assert fs.used_blocks() == used
        fs.put("/large", bytes(geometry.inline_max + 1))
        assert fs.used_blocks() == used + 1


def test_fast_reads_program_the_same_flash():
    """Block-sized reads (what the other tests use, for speed) change how
    littlefs reads, not what it writes: same erases, bytes programmed and
    blocks used as with the board's own read and cache sizes."""
    seen = []
    for fast in (False, True):
        crypto.set_rng(Drbg(b"same records"))  # byte-identical records in both runs
        fs, storage = lf.provision(_geometry("RPI_PICO_W"), fast=fast)
        base = fs.flash.snapshot()
        assert lf.fill(Store(storage, 40), 40) == 40
        lf.churn(storage, 40, 1)
        erases, programmed = fs.flash.snapshot()
        seen.append((erases - base[0], programmed - base[1], fs.used_blocks()))
    crypto.set_rng(os.urandom)
    assert seen[0] == seen[1]


@pytest.mark.parametrize("geometry, capacity", list(_rows()))
def test_configured_capacity_fits_with_room_to_rewrite(geometry, capacity):
    fs, storage = lf.provision(geometry, fast=True)
    store = Store(storage, capacity)
    assert lf.fill(store, capacity) == capacity, "the flash filled up before the configured capacity"
    with pytest.raises(FirmwareError) as e:
        store.rk_put(lf.max_record(capacity))
    assert e.value.code == CtapError.ERR.KEY_STORE_FULL  # the count, not the flash, says full
    free = fs.free_blocks()
    assert free >= CHURN_MARGIN_BLOCKS, "only %d blocks free at capacity %d" % (free, capacity)
    # ... and the key keeps working at full capacity: every record rewritten,
    # large blobs and state rewritten, passkeys deleted and added, restarts.
    store = lf.churn(storage, capacity, 1)
    assert store.rk_count() == capacity


def test_make_credential_fills_the_pico_to_key_store_full():
    """The real path: makeCredential with the largest inputs (253-byte rpId,
    64-byte user id, long names, credBlob, largeBlobKey, credProtect) on the
    emulated Pico until KEY_STORE_FULL, exactly at the configured capacity."""
    geometry = _geometry("RPI_PICO")
    capacity = settings.resident_capacity(
        importlib.import_module("boards.rp2040.config").RESIDENT_CAPACITY, geometry.block_count, None
    )
    assert capacity >= 256  # issue 4's aim for a 2 MB RP2040
    fs, storage = lf.provision(geometry, fast=True, pin=False)
    key = Key(storage, seed=b"capacity", config={"max_resident_credentials": capacity})
    made = 0
    with pytest.raises(CtapError) as e:
        while made <= capacity:
            key.ctap2.make_credential(
                bytes(32),
                {"id": "r" * 240 + ".%012d" % made, "name": "RP"},
                {"id": b"%064d" % made, "name": "n" * 100, "displayName": "d" * 100},
                [{"type": "public-key", "alg": -7}],
                extensions={"credBlob": bytes(32), "largeBlobKey": True, "credProtect": 3},
                options={"rk": True},
            )
            made += 1
    assert e.value.code == CtapError.ERR.KEY_STORE_FULL
    assert made == capacity and key.auth.store.rk_count() == capacity
    assert key.ctap2.get_info().remaining_disc_creds == 0
    assert key.logged == []
    sizes = [len(storage.read(n)) for n in storage.list() if n.startswith("rk")]
    # makeCredential's largest record stays within what the capacity is proven for
    assert len(sizes) == capacity and max(sizes) <= st.RK_MAX_RECORD
    assert fs.free_blocks() >= CHURN_MARGIN_BLOCKS


def test_full_flash_is_key_store_full_and_loses_nothing():
    """A flash that fills before max_resident does (other files on it, an
    unproven board): makeCredential's store write ends in KEY_STORE_FULL, the
    partial record is gone, every stored passkey survives a restart."""
    fs, storage = lf.provision(_geometry("RPI_PICO_W"), fast=True)
    store = Store(storage, 10000)
    stored = lf.fill(store, 10000)
    with pytest.raises(FirmwareError) as e:
        store.rk_put(lf.max_record(stored))
    assert e.value.code == CtapError.ERR.KEY_STORE_FULL
    assert not [n for n in storage.list() if n.endswith(".new")]
    fs.remount()
    store = Store(storage, 10000)
    assert store.rk_count() == stored
    for i in range(stored):
        slot = store.rk_slots(lf.max_record(i)[st.RK_RP_ID_HASH])[0]
        assert store.rk_load(slot)[st.RK_USER_ID] == lf.max_record(i)[st.RK_USER_ID]
    # deleting a passkey makes room for another
    store.rk_delete(store.rk_slots(lf.max_record(0)[st.RK_RP_ID_HASH])[0])
    store.rk_put(lf.max_record(stored))


def test_a_record_over_the_proven_size_is_refused():
    store = Store(MemoryStorage(), 8)
    rec = lf.max_record(1)
    store.rk_put(dict(rec))
    assert store.rk_count() == 1
    big = lf.max_record(2)
    big[st.RK_RP_ID] += "x" * 8  # max_record leaves 4 bytes for a creation number over 65535
    with pytest.raises(FirmwareError) as e:
        store.rk_put(big)
    assert e.value.code == CtapError.ERR.KEY_STORE_FULL
    assert store.rk_count() == 1 and not [n for n in store._st.list() if n.endswith(".new")]
    slot = store.rk_slots(rec[st.RK_RP_ID_HASH])[0]
    longer = store.rk_load(slot)
    longer[st.RK_USER_NAME] = "x" * 400
    with pytest.raises(FirmwareError) as e:
        store.rk_update(slot, longer)
    assert e.value.code == CtapError.ERR.KEY_STORE_FULL


@pytest.mark.parametrize(
    "blocks, expected",
    [(None, 77), (10**6, 256), (352, 256), (351, 120), (212, 120), (211, 119), (100, 8), (10, 0)],
)
def test_resident_capacity_by_filesystem_size(blocks, expected):
    table = ((352, 256), (212, 120))
    assert settings.resident_capacity(table, blocks, 77) == expected
    assert settings.resident_capacity((), 352, 77) == 77
