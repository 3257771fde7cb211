"""Benchmark: the core on MicroPython (WebAssembly) against the same core on CPython.

Prints numbers and ratios against a reference measured in the same run,
never pass/fail. Both keys are driven the same way, by python-fido2 over
CTAPHID: the MicroPython key of host_tests/mpy_key.py (Node child process,
pipes) and the CPython virtual key (boards/host, a socket). For each
operation, the median wall time on each and their ratio; for the MicroPython
key also the heap it allocates (gc.mem_alloc() delta; the wasm build's gc
frees nothing within a run, so this counts temporaries too -- see
host_tests/mpy.py). P-256 on the wasm build is the test bridge to Node's
crypto, not lib/p256, so signatures cost what Node takes, not what a board
takes; the rest is the core's own Python.

That heap figure is all of the key process: the core, the test-only crypto
bridges, and the test board's framing (each 64-byte report crosses the pipe
as hex, host_tests/mpy_board/pipe_key.py). The "core" column is the same
request type measured by host_tests/mpy_heap.py (what tools/bench_mpy.py
reports): the core alone, fed reports directly, the bridges replaced by what
a board's C modules allocate; "harness" is the difference.

    .venv/bin/python tools/bench_micropython.py [ROUNDS]
"""

import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("build/host", "boards/host", "lib", "host_tests", ""):
    sys.path.insert(0, os.path.join(REPO, sub))

from fido2.ctap2 import ClientPin, Ctap2  # noqa: E402

from boards.host.virtual_key import VirtualKey  # noqa: E402
from mpy_heap import measure as measure_core_heap  # noqa: E402
from mpy_key import MicroPythonKey  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 50
RP = {"id": "example.com", "name": "Example"}
ES256 = [{"type": "public-key", "alg": -7}]
PIN = "314159"

# Operation -> the same request type in host_tests/mpy_heap.py REQUESTS.
CORE_HEAP = {
    "CTAPHID PING 7609 B": "CTAPHID PING 7609 B",
    "getInfo": "getInfo",
    "makeCredential": "makeCredential",
    "makeCredential rk": "makeCredential rk",
    "getAssertion allowList": "getAssertion allowList",
    "clientPIN getPinUvAuthToken v2": "clientPIN getPinUvAuthToken",
}


def median_ms(samples):
    samples = sorted(samples)
    return samples[len(samples) // 2] * 1e3


def operations(ctap, dev):
    """(name, setup(i) -> arg, run(arg)) for the operations compared."""
    cid = ctap.make_credential(os.urandom(32), RP, {"id": b"bench", "name": "b"}, ES256)
    allow = [{"type": "public-key", "id": cid.auth_data.credential_data.credential_id}]
    client_pin = ClientPin(ctap)
    big = os.urandom(7609)

    def pin_set(_):
        # Last: once a PIN is set, a discoverable credential needs a token.
        if not ctap.get_info().options["clientPin"]:
            client_pin.set_pin(PIN)

    return [
        ("CTAPHID PING 64 B", None, lambda _: dev.ping(b"x" * 64)),
        ("CTAPHID PING 7609 B", None, lambda _: dev.ping(big)),
        ("getInfo", None, lambda _: ctap.get_info()),
        ("makeCredential", None,
         lambda _: ctap.make_credential(os.urandom(32), RP, {"id": b"u", "name": "u"}, ES256)),
        ("makeCredential rk", lambda i: b"user-%d" % (i % 8),
         lambda uid: ctap.make_credential(os.urandom(32), RP, {"id": uid, "name": "u"}, ES256, options={"rk": True})),
        ("getAssertion allowList", None, lambda _: ctap.get_assertion(RP["id"], os.urandom(32), allow)),
        ("getAssertion 8 rk + 7 next", None, lambda _: _all_assertions(ctap)),
        ("clientPIN getPinUvAuthToken v2", pin_set,
         lambda _: client_pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION)),
    ]


def _all_assertions(ctap):
    first = ctap.get_assertion(RP["id"], os.urandom(32))
    for _ in range(first.number_of_credentials - 1):
        ctap.get_next_assertion()


def measure(key, rounds, heap=None):
    dev = key.open_device(timeout=120)
    ctap = Ctap2(dev)
    results = {}
    for name, setup, run in operations(ctap, dev):
        run(setup(0) if setup else None)  # warm up (lazy imports, first rk record)
        samples, allocated = [], []
        for i in range(rounds):
            arg = setup(i) if setup else None
            before = heap() if heap else 0
            t0 = time.perf_counter()
            run(arg)
            samples.append(time.perf_counter() - t0)
            if heap:
                allocated.append(heap() - before)
        results[name] = (median_ms(samples), sorted(allocated)[len(allocated) // 2] if heap else None)
    dev.close()
    return results


def main():
    t0 = time.perf_counter()
    mpy_key = MicroPythonKey().start()
    cold_start = (time.perf_counter() - t0) * 1e3
    try:
        t0 = time.perf_counter()
        mpy_key.reboot()
        reboot = (time.perf_counter() - t0) * 1e3
        query = "__import__('gc').mem_alloc()"
        idle = [mpy_key.query(query) for _ in range(3)]
        overhead = idle[2] - idle[1]  # what one query itself allocates
        on_mpy = measure(mpy_key, ROUNDS, lambda: mpy_key.query(query))
    finally:
        mpy_key.kill()
    with tempfile.TemporaryDirectory() as tmp:
        with VirtualKey(os.path.join(tmp, "bench.sock")) as cpy_key:
            on_cpython = measure(cpy_key, ROUNDS)

    core = measure_core_heap()

    print("The core on MicroPython (WebAssembly) vs CPython, python-fido2 over CTAPHID, "
          "median of %d rounds" % ROUNDS)
    print("%-32s %12s %12s %8s %24s" % ("operation", "MicroPython", "CPython", "ratio", "heap/op KiB: all  core"))
    for name, (ms, allocated) in on_mpy.items():
        ref = on_cpython[name][0]
        row = core.get(CORE_HEAP.get(name))
        print("%-32s %9.2f ms %9.2f ms %7.1fx %17.1f %6s" % (
            name, ms, ref, ms / ref, (allocated - overhead) / 1024, "%.1f" % (row.core / 1024) if row else "-"))
    print("heap 'all': the key process (core, test crypto bridges, the test board's hex framing of every report);")
    print("'core': the same request type on the core alone (host_tests/mpy_heap.py, tools/bench_mpy.py)")
    print("MicroPython key: cold start (Node, wasm, core import, boot) %.0f ms; reboot in the same process %.0f ms"
          % (cold_start, reboot))


if __name__ == "__main__":
    main()
