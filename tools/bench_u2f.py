"""Benchmark: CTAP1/U2F next to CTAP2 on the host board (numbers and ratios, never pass/fail).

For each U2F command, the CTAP2 command that does the same work is measured
in the same run as the reference: U2F_REGISTER against authenticatorMakeCredential
(non-discoverable, self attestation), U2F_AUTHENTICATE against
authenticatorGetAssertion with an allowList. Both go through the router
(Authenticator.handle) without CTAPHID, so the ratio shows what the U2F
path adds or saves around the same P-256 work. Also printed: flash
operations per command (the store's wear) and response sizes.

On the host the P-256 backend is whatever boards/host provides, so absolute
times say little about a board; the ratios and the flash counts carry over.

    .venv/bin/python tools/bench_u2f.py [--n 200]
"""

import argparse
import os
import struct
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("build/host", "boards/host", "lib", ""):
    sys.path.insert(0, os.path.join(REPO, sub) if sub else REPO)

import cbor2  # noqa: E402

from boards.host.board import FakeClock, HostBoard, Presence  # noqa: E402
from boards.host.memory_storage import MemoryStorage  # noqa: E402
from boards.host.transport import MemoryTransport  # noqa: E402
from firmware.authenticator import Authenticator  # noqa: E402
from firmware.ctaphid import CTAPHID_CBOR, CTAPHID_MSG  # noqa: E402

RP_ID = "bench.example.com"
APP = __import__("hashlib").sha256(RP_ID.encode()).digest()


def apdu(ins, p1, data):
    return struct.pack(">BBBBBH", 0, ins, p1, 0, 0, len(data)) + data + b"\0\0"


def timed(n, fn):
    """(seconds per call, last result) over n calls, best of three rounds."""
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            out = fn()
        dt = (time.perf_counter() - t0) / n
        best = dt if best is None else min(best, dt)
    return best, out


def writes_per_call(storage, n, fn):
    before = storage.writes
    for _ in range(n):
        fn()
    return (storage.writes - before) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="calls per measurement")
    n = ap.parse_args().n

    storage = MemoryStorage()
    auth = Authenticator(HostBoard(MemoryTransport(), storage=storage, presence=Presence("auto"), clock=FakeClock()))

    def u2f(data):
        resp = auth.handle(CTAPHID_MSG, data, auth.transport)
        assert resp[-2:] == b"\x90\x00", resp[-2:].hex()
        return resp

    def ctap2(cmd, req):
        resp = auth.handle(CTAPHID_CBOR, bytes([cmd]) + cbor2.dumps(req, canonical=True), auth.transport)
        assert resp[0] == 0, hex(resp[0])
        return resp

    challenge = os.urandom(32)
    mc = {1: challenge, 2: {"id": RP_ID}, 3: {"id": b"u"}, 4: [{"type": "public-key", "alg": -7}]}

    # The first U2F registration makes the self-signed attestation identity.
    t0 = time.perf_counter()
    first = u2f(apdu(0x01, 0, challenge + APP))
    first_s = time.perf_counter() - t0
    key_handle = first[67 : 67 + first[66]]
    ga = {1: RP_ID, 2: challenge, 3: [{"type": "public-key", "id": key_handle}]}
    auth_apdu = apdu(0x02, 0x03, challenge + APP + bytes([len(key_handle)]) + key_handle)
    check_apdu = apdu(0x02, 0x07, challenge + APP + bytes([len(key_handle)]) + key_handle)

    rows = [
        ("U2F_REGISTER", lambda: u2f(apdu(0x01, 0, challenge + APP)),
         "makeCredential", lambda: ctap2(0x01, mc)),
        ("U2F_AUTHENTICATE 0x03", lambda: u2f(auth_apdu),
         "getAssertion", lambda: ctap2(0x02, ga)),
        ("U2F_AUTHENTICATE 0x07", lambda: auth.handle(CTAPHID_MSG, check_apdu, auth.transport),
         "getAssertion", lambda: ctap2(0x02, ga)),
        ("U2F_VERSION", lambda: u2f(apdu(0x03, 0, b"")),
         "getInfo", lambda: ctap2(0x04, {})),
    ]
    print("CTAP1/U2F vs CTAP2 on the host board, %d calls per figure (best of 3)" % n)
    print("first U2F_REGISTER (makes the self-signed attestation): %.2f ms" % (first_s * 1e3))
    print("%-22s %10s %8s %7s | %-15s %10s %8s %7s | %6s"
          % ("U2F command", "ms/call", "bytes", "flash", "CTAP2 reference", "ms/call", "bytes", "flash", "ratio"))
    for name, fn, ref_name, ref in rows:
        t, out = timed(n, fn)
        w = writes_per_call(storage, n, fn)
        rt, rout = timed(n, ref)
        rw = writes_per_call(storage, n, ref)
        print("%-22s %10.3f %8d %7.3f | %-15s %10.3f %8d %7.3f | %6.2f"
              % (name, t * 1e3, len(out), w, ref_name, rt * 1e3, len(rout), rw, t / rt))
    print("flash = storage operations per call (write, rename, remove); the signature")
    print("counter is reserved 64 values at a time, so an assertion costs 2/64 = 0.031.")


if __name__ == "__main__":
    main()
