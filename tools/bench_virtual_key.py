"""What the virtual key costs a relying party's test suite (boards/host/api.py).

    python tools/bench_virtual_key.py [--seconds S]

Per key mode (a thread of the test process, or a child process): starting
and stopping a key (what the `virtual_key` fixture costs each test), the
same with a PIN set through authenticatorClientPIN, and getAssertion and
makeCredential per second through python-fido2 (in thread mode the client
and the key share this process's GIL; tools/bench_e2e.py runs its client in
another process). Reference measured in the
same run, for ratios: CTAPHID PING round trips on the same key (the
transport floor).
"""

import argparse
import os
import statistics
import sys
import time

import hostpaths  # noqa: E402  (tools/ is sys.path[0] when a tool runs)

hostpaths.setup()

from fido2.ctap2 import Ctap2  # noqa: E402

from boards.host.api import VirtualKey  # noqa: E402
from bench_e2e import rate  # noqa: E402  (operations per second over a time budget)

ES256 = [{"type": "public-key", "alg": -7}]
RP = {"id": "bench.example"}


def start_stop_ms(runs, **options):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        with VirtualKey(**options) as key:
            key.device  # the fixture's client needs it: CTAPHID INIT included
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="per rate measurement (default %(default)s)")
    ap.add_argument("--runs", type=int, default=7, help="start/stop runs per figure, median (default %(default)s)")
    args = ap.parse_args(argv)
    print("virtual key as a test double (python %s)" % sys.version.split()[0])
    for process in (False, True):
        mode = "process" if process else "thread"
        plain = start_stop_ms(args.runs, process=process)
        with_pin = start_stop_ms(args.runs, process=process, pin="123456")
        with VirtualKey(process=process) as key:
            ctap2 = Ctap2(key.device)
            cdh = os.urandom(32)
            ping = rate(lambda: key.device.ping(b"x" * 32), args.seconds)
            ctap2.make_credential(cdh, RP, {"id": b"u", "name": "u"}, ES256, options={"rk": True})
            ga = rate(lambda: ctap2.get_assertion(RP["id"], cdh), args.seconds)  # the passkey, discovered
            mc = rate(lambda: ctap2.make_credential(cdh, RP, {"id": b"v", "name": "v"}, ES256), args.seconds)
        print("  %-7s start+stop %6.1f ms (with a PIN set: %6.1f ms)" % (mode, plain, with_pin))
        print("  %-7s getAssertion (discoverable) %5.0f/s (%.2f of a PING round trip), makeCredential %5.0f/s (%.2f); PING %5.0f/s"
              % (mode, ga, ga / ping, mc, mc / ping, ping))


if __name__ == "__main__":
    main()
