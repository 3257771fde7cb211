"""End-to-end speed on the host: python-fido2 -> socket -> virtual key.

    python tools/bench_e2e.py [--seconds S]

Prints makeCredential and getAssertion per second through the whole stack
(ES256 credentials, and EdDSA ones when the key offers them)
(a real python-fido2 client, the socket transport, CTAPHID, the router, the
command modules, the store), and where the key's time goes: a profile of the
key's thread split into crypto, CBOR, CTAPHID, storage, transport and the
rest. References measured in the same run, for ratios: CTAPHID PING round
trips (the transport floor) and raw ECDSA P-256 and Ed25519 signatures with
`cryptography` (the crypto floor of one assertion).
"""

import argparse
import cProfile
import multiprocessing
import os
import pstats
import sys
import tempfile
import threading
import time

import hostpaths  # noqa: E402  (tools/ is sys.path[0] when a tool runs)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = hostpaths.setup()

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402
from fido2.ctap2 import Ctap2  # noqa: E402

from boards.common.vfs_storage import VfsStorage  # noqa: E402
from boards.host.client import open_device  # noqa: E402
from boards.host.virtual_key import VirtualKey  # noqa: E402

ES256 = [{"type": "public-key", "alg": -7}]
EDDSA = [{"type": "public-key", "alg": -8}]
RP = "bench.example"

# Where a function's own time is counted, by the file it is in.
CATEGORIES = (
    ("crypto", ("firmware/crypto.py", "p256", "cryptolib", "cryptography", "hashlib", "_hashlib", "<built-in method _hashlib")),
    ("CBOR", ("lib/cbor.py",)),
    ("CTAPHID", ("firmware/ctaphid.py",)),
    ("storage", ("firmware/store.py", "vfs_storage.py", "memory_storage.py", "posix.", "builtins.open", "_io.")),
    ("transport", ("boards/host/transport.py", "_socket", "socket.py")),
)
IDLE = ("select.select", "boards/host/board.py:", "main_loop.py")


def rate(fn, seconds):
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        fn()
        n += 1
        now = time.perf_counter()
        if now >= end:
            return n / (now - t0)


class ProfiledKey(VirtualKey):
    """A virtual key whose serving thread runs under cProfile."""

    def serve(self):
        self.profile = cProfile.Profile()
        self.profile.enable()
        try:
            super().serve()
        finally:
            self.profile.disable()


def categorize(profile):
    stats = pstats.Stats(profile).stats
    totals = {name: 0.0 for name, _ in CATEGORIES}
    totals["other (commands, router)"] = 0.0
    idle = 0.0
    for (filename, line, func), (cc, nc, tt, ct, callers) in stats.items():
        where = "%s:%s" % (filename, func)
        if func in ("<built-in method select.select>",) or "select" in func and filename == "~":
            idle += tt
            continue
        for name, marks in CATEGORIES:
            if any(m in where for m in marks):
                totals[name] += tt
                break
        else:
            totals["other (commands, router)"] += tt
    return totals, idle


def _client(address, fn, queue):
    dev = open_device(address, timeout=60)
    try:
        queue.put(fn(dev, Ctap2(dev)))
    finally:
        dev.close()


def _timed(key, times):
    """Accumulate the key's own time per CTAP2 command byte (its handle())."""
    auth = key.authenticator
    real = auth.handle

    def handle(cmd, payload, transport):
        t = time.perf_counter()
        try:
            return real(cmd, payload, transport)
        finally:
            k = payload[0] if len(payload) else None
            n, total = times.get(k, (0, 0.0))
            times[k] = (n + 1, total + time.perf_counter() - t)

    auth.handle = handle


def _session(key_cls, address, storage, fn, times=None):
    """Serve a key here while `fn(dev, ctap2)` runs in a child process: the
    client does not share the key's interpreter (or its GIL), as with a USB key."""
    key = key_cls(address, storage=storage)
    if times is not None:
        _timed(key, times)
    key.start()
    try:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_client, args=(key.address, fn, queue))
        child.start()
        out = queue.get(timeout=600)
        child.join(60)
    finally:
        key.stop()
    return key, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    args = ap.parse_args(argv)
    cdh = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        storage = VfsStorage(os.path.join(tmp, "flash"))
        address = os.path.join(tmp, "key.sock")

        def rates(dev, ctap2):
            ping = rate(lambda: dev.ping(b"x" * 32), args.seconds)
            r = ctap2.make_credential(cdh, {"id": RP}, {"id": b"u"}, ES256)
            allow = [{"type": "public-key", "id": r.auth_data.credential_data.credential_id}]
            mc = rate(lambda: ctap2.make_credential(cdh, {"id": RP}, {"id": b"u"}, ES256), args.seconds)
            ga = rate(lambda: ctap2.get_assertion(RP, cdh, allow), args.seconds)
            n = [0]

            def mc_rk():
                n[0] += 1
                ctap2.make_credential(cdh, {"id": RP}, {"id": b"rk%d" % (n[0] % 100)}, ES256, options={"rk": True})

            mcrk = rate(mc_rk, args.seconds)
            eddsa = None
            if -8 in [a["alg"] for a in ctap2.info.algorithms]:
                r = ctap2.make_credential(cdh, {"id": RP}, {"id": b"u"}, EDDSA)
                ed_allow = [{"type": "public-key", "id": r.auth_data.credential_data.credential_id}]
                eddsa = (
                    rate(lambda: ctap2.make_credential(cdh, {"id": RP}, {"id": b"u"}, EDDSA), args.seconds),
                    rate(lambda: ctap2.get_assertion(RP, cdh, ed_allow), args.seconds),
                )
            return ping, mc, ga, mcrk, [{"type": "public-key", "id": bytes(allow[0]["id"])}], eddsa

        times = {}
        _, (ping, mc, ga, mcrk, allow, eddsa) = _session(VirtualKey, address, storage, rates, times)
        priv = ec.generate_private_key(ec.SECP256R1())
        sign = rate(lambda: priv.sign(cdh, ec.ECDSA(hashes.SHA256())), args.seconds)
        ed_priv = ed25519.Ed25519PrivateKey.generate()
        ed_sign = rate(lambda: ed_priv.sign(bytes(69) + cdh), args.seconds)

        def workload(dev, ctap2):
            for i in range(100):
                ctap2.make_credential(cdh, {"id": RP}, {"id": b"u"}, ES256)
                ctap2.get_assertion(RP, cdh, allow)
                if i % 5 == 0:
                    ctap2.make_credential(cdh, {"id": RP}, {"id": b"rk%d" % i}, ES256, options={"rk": True})

        # The profile is a separate run: profiling slows the key down, so the
        # rates above are measured without it.
        key, _ = _session(ProfiledKey, address, storage, workload)
        totals, idle = categorize(key.profile)

    print("End to end on the host (python-fido2 in its own process -> Unix socket -> virtual key, flash in a directory)")
    print("  %-40s %10s %s" % ("operation", "per second", "ratio"))
    print("  %-40s %10.0f %s" % ("reference: CTAPHID PING round trip", ping, "1"))
    print("  %-40s %10.0f %s" % ("reference: ECDSA P-256 sign (cryptography)", sign, "1"))
    print("  %-40s %10.0f %.3f of PING, %.3f of a raw sign" % ("makeCredential (non-discoverable)", mc, mc / ping, mc / sign))
    print("  %-40s %10.0f %.3f of PING" % ("makeCredential (discoverable)", mcrk, mcrk / ping))
    print("  %-40s %10.0f %.3f of PING, %.3f of a raw sign" % ("getAssertion (allowList)", ga, ga / ping, ga / sign))
    print("  %-40s %10.0f %s" % ("reference: Ed25519 sign (cryptography)", ed_sign, "1"))
    if eddsa is None:
        print("  EdDSA: not offered by this key (no ed25519 module)")
    else:
        ed_mc, ed_ga = eddsa
        print("  %-40s %10.0f %.3f of PING, %.3f of ES256's" % ("makeCredential EdDSA (non-discoverable)", ed_mc, ed_mc / ping, ed_mc / mc))
        print("  %-40s %10.0f %.3f of PING, %.3f of a raw Ed25519 sign, %.3f of ES256's"
              % ("getAssertion EdDSA (allowList)", ed_ga, ed_ga / ping, ed_ga / ed_sign, ed_ga / ga))
    for cmd, name in ((0x01, "makeCredential (both kinds)"), (0x02, "getAssertion")):
        n, total = times.get(cmd, (0, 0.0))
        if n:
            print("  %-40s %8.2f ms in the key per command (the rest of a round trip is the client and the socket)" % (name, 1000 * total / n))
    busy = sum(totals.values())
    core = busy - totals["transport"]
    print(
        "Where the key's time goes: 100 makeCredential + 100 getAssertion + 20 discoverable makeCredential"
        " (cProfile own time in the key's thread: %.2f s busy; the share of the core leaves out the host's socket I/O)" % busy
    )
    print("  %-28s %8s %8s" % ("", "of all", "of core"))
    for name, t in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(
            "  %-28s %7.1f%% %8s"
            % (name, 100 * t / busy if busy else 0, "-" if name == "transport" else "%.1f%%" % (100 * t / core if core else 0))
        )


if __name__ == "__main__":
    main()
