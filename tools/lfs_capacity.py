"""Discoverable-credential capacity of each board, measured on its littlefs (emulated).

    python tools/lfs_capacity.py [--boards RPI_PICO,RPI_PICO_W] [--rounds 3]

For each board (host_tests/lfs_flash.py: MicroPython's littlefs parameters
for that board, through littlefs-python) it provisions the filesystem as
tools/provision.py does on stock firmware, fills the store with every other
record at its largest, then measures:

  fit       passkeys stored (each record at store.RK_MAX_RECORD bytes, the
            largest the store keeps) before the flash is full (ENOSPC)
  margin    how many of those must stay unused so that, at full capacity,
            --rounds rounds of rewriting everything (each passkey, the
            8 KiB large-blob array, the state record with 8 minPINLength
            RP IDs, counter reservations, delete + re-add, user updates,
            restarts) never meet a full flash: littlefs writes a new copy
            before it frees the old one, and compacts and relocates metadata
  proven    fit - margin: the most a configuration may promise
  config    what boards/<chip>/config.py promises for this filesystem size,
            and the blocks left free at that capacity
  boot      flash bytes littlefs reads while the store boots at the
            configured capacity (every record is read to build the index),
            with the board's own read and cache sizes

Numbers, never pass/fail: host_tests/test_lfs_capacity.py is the check.
"""

import argparse
import importlib
import os
import sys
import time

import hostpaths  # noqa: E402  (tools/ is sys.path[0] when a tool runs)

REPO = hostpaths.setup("host_tests")

import lfs_flash as lf  # noqa: E402
from boards.common import settings as st  # noqa: E402
from firmware import store as fs_store  # noqa: E402
from firmware.store import Store  # noqa: E402


def configured(geometry):
    chip = importlib.import_module("boards.%s.config" % geometry.chip)
    return st.resident_capacity(chip.RESIDENT_CAPACITY, geometry.block_count, chip.MICROPYTHON["max_resident_credentials"])


def fit(geometry):
    filesystem, storage = lf.provision(geometry, fast=True)
    base = filesystem.used_blocks()
    return lf.fill(Store(storage, 1 << 20), 1 << 20), base


def survives(geometry, n, rounds):
    """True when a store holding n passkeys goes through `rounds` rounds of churn."""
    filesystem, storage = lf.provision(geometry, fast=True)
    if lf.fill(Store(storage, n), n) != n:
        return False
    try:
        lf.churn(storage, n, rounds)
    except Exception:  # ENOSPC from the flash or KEY_STORE_FULL from the store
        return False
    return True


def boot_reads(geometry, n):
    filesystem, storage = lf.provision(geometry)
    lf.fill(Store(storage, n), n)
    filesystem.remount()
    before = filesystem.flash.read_bytes
    Store(storage, n)
    return filesystem.flash.read_bytes - before, filesystem.free_blocks()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--boards", default=",".join(lf.BOARDS), help="comma-separated, from: " + ", ".join(lf.BOARDS))
    ap.add_argument("--rounds", type=int, default=3, help="churn rounds each trial survives")
    args = ap.parse_args(argv)

    from littlefs import __LFS_VERSION__, __version__

    print(
        "Passkey capacity on littlefs (littlefs-python %s, littlefs v%d.%d), records of %d bytes, %d churn rounds"
        % (__version__, __LFS_VERSION__[0], __LFS_VERSION__[1], fs_store.RK_MAX_RECORD, args.rounds)
    )
    print(
        "  %-21s %7s %7s %6s %6s %5s %6s %6s %6s %5s %8s"
        % ("board", "blocks", "inline", "files", "base", "fit", "margin", "proven", "config", "free", "boot MB")
    )
    for name in args.boards.split(","):
        g = lf.BOARDS[name]
        t0 = time.time()
        files = lf.installed_files(g)
        n_fit, base = fit(g)
        n = n_fit
        while n > 0 and not survives(g, n, args.rounds):
            n -= 1
        cap = configured(g)
        reads, free = boot_reads(g, cap)
        print(
            "  %-21s %7d %7d %6d %6d %5d %6d %6d %6d %5d %8.1f  (%.0f s)"
            % (name, g.block_count, g.inline_max, len(files), base, n_fit, n_fit - n, n, cap, free, reads / 1e6, time.time() - t0)
        )
        sys.stdout.flush()
    print(
        "  blocks: the filesystem (4096 bytes each); inline: largest file kept in its directory; files: installed"
        " by provision.py (core .mpy, adapter, usb-device-hid and p256.mpy estimated); base: blocks used before"
        " the first passkey (files, directories, every other record at its largest)"
    )


if __name__ == "__main__":
    main()
