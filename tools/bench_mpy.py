"""Heap per request under real MicroPython (the WebAssembly build under Node, or the unix port).

    python tools/bench_mpy.py [--top N]
    PYFIDO_MICROPYTHON=build/micropython-unix-32/micropython python tools/bench_mpy.py

Runs the whole core -- CTAPHID, router, command modules, store, CBOR codec --
on MicroPython and feeds it each request of host_tests/mpy_heap.py REQUESTS
as 64-byte reports, the way a board's USB stack does (see that module for
how each figure is measured). Columns:

  bytes   size of the request message
  total   gc.mem_alloc() delta with the collector off: every block allocated
          while the request is handled, an upper bound on its peak heap
  bridge  allocated inside the test-only stand-ins for a board's C modules
          (p256, cryptolib) and the bench board's random source: excluded
  C est   what a board's C modules allocate instead (their results): added
  core    total - bridge + C est: the figure compared with the 8 KB goal
  allocs  allocation count (heap-map head blocks that appeared)
  flash   storage operations (write, rename, remove)

then, from a second run that wraps every function of the core, where the
bytes go by layer, and the functions that allocate most (--top N of them
per request).

Reference measured in the same run: a 7609-byte CTAPHID PING (the
transport alone, the largest message), and the 8 KB goal per request.
"""

import argparse
import os

import hostpaths  # noqa: E402  (tools/ is sys.path[0] when a tool runs)

hostpaths.setup("host_tests")

from mpy import INTERPRETER_VAR, interpreter, word_bits  # noqa: E402
from mpy_heap import GOAL, REQUESTS, measure  # noqa: E402

# Layers of the core, by function label prefix (module path under firmware/).
LAYERS = (
    ("ctaphid", ("ctaphid.",)),
    ("router", ("authenticator.", "main_loop.")),
    ("commands", ("ctap2.", "ctap1.")),
    ("credential", ("credential.", "attestation.", "x509.", "cose.")),
    ("pin", ("pin_protocol.",)),
    ("store", ("store.",)),
    ("crypto", ("crypto.",)),
    ("cbor", ("cbor.",)),
)


def interpreter_name():
    if interpreter() == "wasm":
        return "MicroPython 1.27 (WebAssembly)"
    return "the MicroPython unix port, %d-bit (%s)" % (word_bits(), os.environ[INTERPRETER_VAR])


def layer_of(label):
    for layer, prefixes in LAYERS:
        if label.startswith(prefixes):
            return layer
    return "other"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=3, help="functions listed per request (default 3)")
    args = parser.parse_args()

    rows = measure(heap_maps=True)
    profiled = measure(profile=True)

    print("Heap per request under %s, collector off, through CTAPHID" % interpreter_name())
    print("  %-38s %5s %6s %6s %6s %6s %6s %5s %6s" % (
        "request", "bytes", "total", "bridge", "C est", "core", "allocs", "flash", "/ 8 KB"))
    for name in REQUESTS:
        r = rows[name]
        print("  %-38s %5d %6d %6d %6d %6d %6d %5d %6.2f" % (
            name, r.size, r.total, r.bridge, r.c_est, r.core, r.allocs, r.writes, r.core / GOAL))
    over = [name for name in REQUESTS if rows[name].core > GOAL]
    worst = max(REQUESTS, key=lambda name: rows[name].core)
    print("  largest: %s, %d bytes = %.2f of the 8 KB goal; over the goal: %s" % (
        worst, rows[worst].core, rows[worst].core / GOAL, ", ".join(over) or "none"))

    names = [layer for layer, _ in LAYERS] + ["other"]
    print()
    print("Where the bytes go (second run, every function wrapped; own allocations, bridges excluded)")
    print("  %-38s" % "request" + "".join("%11s" % n for n in names))
    for name in REQUESTS:
        by_layer = dict.fromkeys(names, 0)
        for label, (own, _calls) in profiled[name].functions.items():
            by_layer[layer_of(label)] += own
        print("  %-38s" % name + "".join("%11d" % by_layer[n] for n in names))
        # The wrappers allocate nothing themselves: the two runs must agree.
        if profiled[name].total != rows[name].total:
            print("  %-38s   (profiled run: %d bytes in all, plain run %d)" % (
                "", profiled[name].total, rows[name].total))
    if args.top:
        print()
        print("Largest allocators per request (own bytes / calls)")
        for name in REQUESTS:
            top = sorted(profiled[name].functions.items(), key=lambda kv: -kv[1][0])[: args.top]
            print("  %-38s %s" % (name, ", ".join("%s %d/%d" % (label, own, calls) for label, (own, calls) in top)))


if __name__ == "__main__":
    main()
