"""Flash wear per command, and the power-cut points the test suite exercises.

    python tools/bench_wear.py [--n N] [--no-powercut]

Counts the flash operations (write, rename, remove) and the bytes written by
each state-changing command, averaged over N commands on a key in this
process (host_tests/powercut.py: the same simulated flash the power-cut
tests use). The reference, measured in the same run, is the same key with
the signature counter written on every signature (COUNTER_STEP = 1), the
simple design the store's counter reservation replaces.

Then the same commands on the emulated littlefs of a Raspberry Pi Pico
(host_tests/lfs_flash.py: MicroPython's parameters, a provisioned store
with 64 passkeys already in it): flash blocks erased and bytes programmed
per command, beside the storage operations. Two runs bracket the board:
littlefs-python writes MicroPython's mtime attribute in a commit of its
own (upper bound), and without the attribute (lower bound).
"""

import argparse
import os
import sys
import time

import hostpaths  # noqa: E402  (tools/ is sys.path[0] when a tool runs)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = hostpaths.setup("host_tests")

from firmware import store as st  # noqa: E402
from powercut import Key, PowerCutStorage  # noqa: E402

LFS_BOARD = "RPI_PICO"

ES256 = [{"type": "public-key", "alg": -7}]
RP = "wear.example"


def _measure(storage, fn, n):
    ops0, bytes0 = len(storage.log), _bytes(storage)
    for i in range(n):
        fn(i)
    ops = storage.log[ops0:]
    return len(ops) / n, (_bytes(storage) - bytes0) / n, _kinds(ops)


def _bytes(storage):
    return sum(d for kind, _, d in storage.log if kind == "write")


def _kinds(ops):
    out = {}
    for kind, name, _ in ops:
        key = "%s %s" % (kind, name.rstrip("0123456789.new") or name)
        out[key] = out.get(key, 0) + 1
    return out


def measure_commands(n):
    storage = PowerCutStorage()
    key = Key(storage, seed=os.urandom(16))
    c = key.ctap2
    cdh = bytes(32)
    plain = c.make_credential(cdh, {"id": RP}, {"id": b"p"}, ES256)
    cid = plain.auth_data.credential_data.credential_id
    c.make_credential(cdh, {"id": RP}, {"id": b"same"}, ES256, options={"rk": True})
    rows = []
    rows.append(("getAssertion", _measure(storage, lambda i: c.get_assertion(RP, cdh, [{"type": "public-key", "id": cid}]), n)))
    rows.append(("makeCredential (non-discoverable)", _measure(storage, lambda i: c.make_credential(cdh, {"id": RP}, {"id": b"p"}, ES256), n)))
    rows.append(
        (
            "makeCredential rk (new user)",
            _measure(storage, lambda i: c.make_credential(cdh, {"id": RP}, {"id": b"u%d" % i}, ES256, options={"rk": True}), min(n, 200)),
        )
    )
    rows.append(
        (
            "makeCredential rk (same user again)",
            _measure(storage, lambda i: c.make_credential(cdh, {"id": RP}, {"id": b"same"}, ES256, options={"rk": True}), n),
        )
    )
    # a power-up: the first signature after boot reserves a new block
    boots = []
    for _ in range(20):
        key = Key(PowerCutStorage(storage.files), seed=os.urandom(16))
        before, bytes_before = len(key.storage.log), _bytes(key.storage)
        key.ctap2.get_assertion(RP, cdh, [{"type": "public-key", "id": cid}])
        boots.append((len(key.storage.log) - before, _bytes(key.storage) - bytes_before))
    rows.append(("first getAssertion after power-up", (sum(b[0] for b in boots) / len(boots), sum(b[1] for b in boots) / len(boots), None)))
    rk = len(key.auth.store.rk_slots())
    t = Key(PowerCutStorage(storage.files), seed=os.urandom(16))
    log0 = len(t.storage.log)
    t.ctap2.reset()
    rows.append(("reset (with %d discoverable credentials)" % rk, (len(t.storage.log) - log0, _bytes(t.storage), None)))
    return rows


def measure_littlefs(n, mtime):
    """[(command, (storage ops, blocks erased, bytes programmed) per command)] on the emulated Pico."""
    import lfs_flash as lf

    fs, storage = lf.provision(lf.BOARDS[LFS_BOARD], mtime=mtime, pin=False)
    key = Key(storage, seed=os.urandom(16))
    c = key.ctap2
    cdh = bytes(32)
    cid = c.make_credential(cdh, {"id": RP}, {"id": b"p"}, ES256).auth_data.credential_data.credential_id
    for i in range(64):  # a key in use: passkeys of other sites already in the store's directory
        c.make_credential(cdh, {"id": "site%d.example" % i}, {"id": b"user", "name": "someone"}, ES256, options={"rk": True})
    c.make_credential(cdh, {"id": RP}, {"id": b"same", "name": "same"}, ES256, options={"rk": True})

    def run(fn, count):
        ops0, (erases0, prog0) = storage.writes, fs.flash.snapshot()
        for i in range(count):
            fn(i)
        erases, prog = fs.flash.snapshot()
        return (storage.writes - ops0) / count, (erases - erases0) / count, (prog - prog0) / count

    rk_user = {"name": "user@wear.example", "displayName": "A User"}
    return [
        ("getAssertion", run(lambda i: c.get_assertion(RP, cdh, [{"type": "public-key", "id": cid}]), n)),
        (
            "makeCredential rk (new user)",
            run(lambda i: c.make_credential(cdh, {"id": RP}, dict(rk_user, id=b"u%d" % i), ES256, options={"rk": True}), min(n, 150)),
        ),
        (
            "makeCredential rk (same user again)",
            run(lambda i: c.make_credential(cdh, {"id": RP}, dict(rk_user, id=b"same"), ES256, options={"rk": True}), n),
        ),
    ]


def print_littlefs(n):
    import lfs_flash as lf

    g = lf.BOARDS[LFS_BOARD]
    print()
    print(
        "littlefs on the emulated %s flash (%d x %d-byte blocks, prog %d, files up to %d bytes inline), 64 passkeys stored"
        % (LFS_BOARD, g.block_count, g.block_size, g.prog_size, g.inline_max)
    )
    upper = measure_littlefs(n, mtime=True)
    lower = dict(measure_littlefs(n, mtime=False))
    print("  %-38s %8s %16s %22s" % ("command", "ops", "blocks erased", "bytes programmed"))
    for name, (ops, erases, prog) in upper:
        lo = lower[name]
        print("  %-38s %8.3f %7.4f..%-7.4f %10.0f..%-10.0f" % (name, ops, lo[1], erases, lo[2], prog))
    ga_lo, ga_hi = lower["getAssertion"], upper[0][1]
    print(
        "  a 4 KB block is erased once per %.0f..%.0f assertions (lower..upper bound); littlefs spreads"
        " metadata erases over the flash (block_cycles = %d)" % (1 / ga_hi[1] if ga_hi[1] else 0, 1 / ga_lo[1] if ga_lo[1] else 0, g.block_cycles)
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=640, help="commands averaged per row")
    ap.add_argument("--no-powercut", action="store_true", help="skip counting the power-cut points")
    ap.add_argument("--no-littlefs", action="store_true", help="skip the figures on the emulated littlefs")
    args = ap.parse_args(argv)

    print("Flash wear per command (write, rename and remove each count one operation)")
    rows = measure_commands(args.n)
    real_step = st.COUNTER_STEP
    st.COUNTER_STEP = 1  # the reference: the counter written on every signature
    try:
        ref = dict(measure_commands(args.n))
    finally:
        st.COUNTER_STEP = real_step
    print("  %-42s %10s %10s %12s %8s" % ("command", "ops", "bytes", "ref ops", "ratio"))
    for name, (ops, nbytes, kinds) in rows:
        r = ref[name][0]
        print(
            "  %-42s %10.3f %10s %12.3f %8s"
            % (name, ops, "-" if nbytes is None else "%.1f" % nbytes, r, ("%.3f" % (ops / r)) if r else "-")
        )
    ga = rows[0][1]
    print(
        "  getAssertion: %.4f flash operations and %.2f bytes per assertion (one %d-byte counter record,"
        " written + renamed, per %d signatures, plus one per power-up); the reference writes one per"
        " assertion: %.0fx the wear"
        % (ga[0], ga[1], round(ga[1] * st.COUNTER_STEP), st.COUNTER_STEP, ref["getAssertion"][0] / ga[0] if ga[0] else 0)
    )
    if not args.no_littlefs:
        print_littlefs(args.n)
    if not args.no_powercut:
        print()
        print("Power-cut points exercised by the test suite (host_tests/test_*powercut*.py)")
        import test_powercut_commands as cmds
        import test_store_powercut as store_cases
        from powercut import run_powercut

        total = total_boot = 0
        t0 = time.time()
        cases = [("command", name, cmds._setup, steps, True) for name, steps in cmds.COMMAND_CASES.items()]
        cases += [("PIN", name, setup, steps, True) for name, (setup, steps) in cmds.PIN_CASES.items()]
        cases += [("store", name, store_cases._seed_store, steps, False) for name, steps in store_cases.STORE_CASES.items()]
        for title, name, setup, steps, probe in cases:
            s = run_powercut(steps, setup=setup, check_probe=probe, pins=(cmds.PIN, cmds.NEW_PIN))
            total += s.cut_points
            total_boot += s.boot_cut_points
            print("  %-7s %-55s %4d cuts %4d recovery-boot cuts %3d flash ops" % (title, name, s.cut_points, s.boot_cut_points, s.operations))
        print(
            "  total: %d cut points in commands and %d in the recovery boots after them (%.1f s),"
            " littlefs and FAT rename semantics" % (total, total_boot, time.time() - t0)
        )


if __name__ == "__main__":
    main()
