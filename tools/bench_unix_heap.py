"""Benchmark: the least heap the key's full flow runs in, on the MicroPython unix port.

    python tools/bench_unix_heap.py [BINARY...]   # default: build/micropython-unix-{32,64}/micropython

For each binary (built by `make firmware-p256-unix MICROPY_DIR=...`), the
least `-X heapsize=` (1 KB steps, by bisection; a size counts when three
runs out of three pass) in which a key runs host_tests/mpy_full_flow.py's
flow: setPIN, a pinUvAuthToken, a discoverable makeCredential, another token,
a getAssertion -- driven by python-fido2 over the key's pipe. The heap holds
the core's state (its code is frozen into the binary, as on a board), the
test board and every request. Prints numbers next to the 48 KB goal for a
32-bit build (issue 12), never pass/fail; the suite holds the 32-bit build
to that goal (test_heap_micropython.py, `make test-micropython-unix`).
"""

import os
import sys
import time

import hostpaths  # noqa: E402  (tools/ is sys.path[0] when a tool runs)

REPO = hostpaths.setup("host_tests")

import mpy  # noqa: E402
from mpy_full_flow import least_heap  # noqa: E402

GOAL = 48 * 1024


def main(argv):
    binaries = argv or [os.path.join(REPO, "build", "micropython-unix-%d" % bits, "micropython") for bits in (32, 64)]
    print("Least heap for the full flow (setPIN, token, makeCredential rk, token, getAssertion),")
    print("MicroPython unix port, -X heapsize= in 1 KB steps, 3 runs of 3 at the size found")
    print("  %-58s %5s %9s %6s %7s" % ("binary", "bits", "heap", "/48 KB", "time"))
    for binary in binaries:
        os.environ[mpy.INTERPRETER_VAR] = os.path.abspath(binary)
        bits = mpy.word_bits()
        start = time.monotonic()
        heap = least_heap()
        print("  %-58s %5d %6.0f KB %6.2f %6.1fs" % (
            os.path.relpath(binary, REPO), bits, heap / 1024, heap / GOAL, time.monotonic() - start))


if __name__ == "__main__":
    main(sys.argv[1:])
