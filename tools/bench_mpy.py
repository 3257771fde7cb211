"""Heap per request under real MicroPython (the WebAssembly build under Node).

    python tools/bench_mpy.py

Runs the whole core -- CTAPHID, router, command modules, store, CBOR codec --
on MicroPython and feeds it getInfo, makeCredential (plain and discoverable)
and getAssertion as 64-byte reports, the way a board's USB stack does. For
each request, with the collector off:

  bytes   gc.mem_alloc() delta: every block allocated while the request is
          handled, temporaries included. gc cannot run, so this is an upper
          bound on the peak heap the request needs (on a board the
          collector reclaims temporaries as it goes).
  allocs  allocations: head blocks that appeared in micropython.mem_info(1)'s
          heap map between before and after.
  bridge  the part allocated inside the test-only bridges that stand in for
          the C modules a board has (p256 and cryptolib, host_tests/mpy_wasm/,
          backed by Node); on a board those allocate only their results.

and a breakdown of the bytes by where they are allocated: the CBOR codec,
the crypto facade, the store, the bridges, the rest (wrappers measure each
function's own allocations; a wrapper's bookkeeping allocates nothing while
the collector is off -- integers stay small).

References measured in the same run: a CTAPHID PING of the same request
size (the transport floor), and the 8 KB goal per request.
"""

import os
import re
import sys

import hostpaths  # noqa: E402  (tools/ is sys.path[0] when a tool runs)

REPO = hostpaths.setup("host_tests")

import fido2.cbor  # noqa: E402

from mpy import run_micropython  # noqa: E402

GOAL = 8192
CDH = bytes(range(32))
REQUESTS = [
    ("getInfo", b"\x04"),
    (
        "makeCredential",
        b"\x01"
        + fido2.cbor.encode(
            {1: CDH, 2: {"id": "example.com", "name": "Example"}, 3: {"id": b"user", "name": "alice"}, 4: [{"alg": -7, "type": "public-key"}]}
        ),
    ),
    (
        "makeCredential rk",
        b"\x01"
        + fido2.cbor.encode(
            {
                1: CDH,
                2: {"id": "example.com", "name": "Example"},
                3: {"id": b"user-rk", "name": "alice", "displayName": "Alice"},
                4: [{"alg": -7, "type": "public-key"}],
                7: {"rk": True},
            }
        ),
    ),
    ("getAssertion", b"\x02" + fido2.cbor.encode({1: "example.com", 2: CDH})),
]

SCRIPT = r"""
import gc, micropython, binascii, struct, time
import testcrypto
import p256, cryptolib
from firmware import main_loop
from firmware.presence import TOUCH_OK

from memory_storage import MemoryStorage  # the host board's RAM flash, copied in

class Board:
    CONFIG = {"max_msg_size": 7609, "transports": ["usb"], "max_resident_credentials": 50}
    def __init__(self):
        self.storage = MemoryStorage()
        self.inbox = []
        self.sent = 0
        self.errors = 0
    def read_report(self, buf):
        if not self.inbox:
            return False
        buf[:] = self.inbox.pop(0)
        return True
    def write_report(self, buf):
        self.sent += 1
    def wait_touch(self, ms):
        return TOUCH_OK
    def led(self, pattern):
        pass
    def random(self, n):
        return bytes(testcrypto.random_bytes(n))
    def ticks_ms(self):
        return time.ticks_ms()
    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)
    def idle(self):
        pass
    def log_exception(self, e):
        self.errors += 1
        import sys
        sys.print_exception(e)

# Where the bytes go: each wrapped function's allocations count for its
# label, minus what wrapped functions it calls count for theirs.
import cbor
from firmware import crypto, store
shares = {}
stack = []
def wrap(obj, name, label):
    real = getattr(obj, name)
    def w(*a):
        stack.append(0)
        before = gc.mem_alloc()
        try:
            return real(*a)
        finally:
            inclusive = gc.mem_alloc() - before
            inner = stack.pop()
            shares[label] = shares.get(label, 0) + inclusive - inner
            if stack:
                stack[-1] += inclusive
    setattr(obj, name, w)
def install_wrappers():
    for name in ("keygen", "public_key", "sign", "verify", "ecdh", "sig_to_der", "sig_from_der", "validate_public_key"):
        if hasattr(p256, name):
            wrap(p256, name, "bridge")
    for name in ("encrypt", "decrypt"):
        wrap(cryptolib.aes, name, "bridge")
    for name in ("loads", "dumps"):
        wrap(cbor, name, "cbor")
    for name in ("sha256", "hmac_sha256", "hkdf_sha256", "ct_equal", "aes256_cbc_encrypt", "aes256_cbc_decrypt", "p256_keygen", "p256_sign", "p256_verify", "p256_ecdh", "random_bytes"):
        wrap(crypto, name, "crypto")
    for name in ("_save", "_load", "rk_put", "rk_load", "rk_slots", "next_sign_count"):
        wrap(store.Store, name, "store")

import sys
print("VERSION", sys.version, sys.implementation._machine if hasattr(sys.implementation, "_machine") else "")
board = Board()
hid = main_loop.make_key(board)

def packets(cid, cmd, data):
    out = []
    n = len(data)
    first = bytearray(64)
    struct.pack_into(">IBH", first, 0, cid, 0x80 | cmd, n)
    first[7:7 + min(n, 57)] = data[:57]
    out.append(first)
    off, seq = 57, 0
    while off < n:
        p = bytearray(64)
        struct.pack_into(">IB", p, 0, cid, seq)
        chunk = data[off:off + 59]
        p[5:5 + len(chunk)] = chunk
        out.append(p)
        off += 59
        seq += 1
    return out

board.inbox = packets(0xFFFFFFFF, 0x06, b"\x01" * 8)
hid.poll()
CID = 1

def run(name, cmd, data, rounds):
    for r in range(rounds):
        board.inbox = packets(CID, cmd, data)  # built before measuring
        board.sent = 0
        errors = board.errors
        gc.collect()
        gc.disable()
        shares.clear()
        if r == rounds - 1 and not wrapped:
            print("HEAPMAP-BEGIN", name)
            micropython.mem_info(1)
            print("HEAPMAP-END", name)
        before = gc.mem_alloc()
        hid.poll()
        total = gc.mem_alloc() - before
        if r == rounds - 1 and not wrapped:
            print("HEAPMAP-BEGIN", name + "/after")
            micropython.mem_info(1)
            print("HEAPMAP-END", name + "/after")
        gc.enable()
        assert board.sent > 0 and board.errors == errors, name
    if wrapped:
        print("SHARES", name, "total=%d" % total, " ".join("%s=%d" % kv for kv in sorted(shares.items())))
    else:
        print("RESULT", name, len(data), total)

wrapped = False
for name, h in REQUESTS:
    data = binascii.unhexlify(h)
    # the first round warms up (interning, first counter reservation)
    run(name, 0x10, data, 2)
    run("PING " + name, 0x01, data, 2)
# Second pass, for the breakdown only: the wrappers allocate a little
# themselves (argument tuples), so the table above is measured without them.
install_wrappers()
wrapped = True
for name, h in REQUESTS:
    run(name, 0x10, binascii.unhexlify(h), 2)
"""


def heap_heads(dump):
    """Allocation head blocks in a mem_info(1) heap map (every character
    but free '.' and tail '=' starts an allocation)."""
    n = 0
    for line in dump.splitlines():
        m = re.match(r"^[0-9a-f]+: (.*)$", line.strip())
        if m:
            n += sum(1 for c in m.group(1) if c not in ".= ")
    return n


def main():
    script = SCRIPT.replace("REQUESTS", repr([(name, data.hex()) for name, data in REQUESTS]))
    with open(os.path.join(REPO, "boards", "host", "memory_storage.py")) as f:
        storage = f.read()
    out = run_micropython(script, extra_files={"/memory_storage.py": storage}, timeout=600).stdout
    maps = dict(re.findall(r"HEAPMAP-BEGIN (.+?)\n(.*?)HEAPMAP-END", out, re.S))
    rows = {}
    for line in out.splitlines():
        if line.startswith("RESULT"):
            parts = line.split()
            size, total = int(parts[-2]), int(parts[-1])
            name = " ".join(parts[1:-2])
            allocs = heap_heads(maps.get(name + "/after", "")) - heap_heads(maps.get(name, ""))
            rows[name] = [size, total, 0, allocs]
    shares = {}
    for line in out.splitlines():
        if line.startswith("SHARES"):
            words = line.split()[1:]
            name = " ".join(w for w in words if "=" not in w)
            shares[name] = dict((k, int(v)) for k, v in (w.split("=") for w in words if "=" in w))
            # the bridges' bytes, scaled from the wrapped run to the plain one
            sh = shares[name]
            rows[name][2] = round(sh.get("bridge", 0) * rows[name][1] / sh["total"])
    version = re.search(r"^VERSION (.*)$", out, re.M)
    print("Heap per request under MicroPython (WebAssembly%s), collector off, through CTAPHID"
          % ((", " + version.group(1).strip()) if version else ""))
    print("  %-20s %6s %8s %7s %8s %9s %8s %8s" % ("request", "bytes", "heap", "allocs", "bridge", "w/o bridge", "vs PING", "w/o vs 8 KB"))
    for name, _ in REQUESTS:
        size, total, bridge, allocs = rows[name]
        ping = rows["PING " + name][1]
        print(
            "  %-20s %6d %8d %7d %8d %9d %8.1f %8.2f"
            % (name, size, total, allocs, bridge, total - bridge, total / ping if ping else 0, (total - bridge) / GOAL)
        )
    for name, _ in REQUESTS:
        size, total, bridge, allocs = rows["PING " + name]
        print("  %-20s %6d %8d %7d %8s %9s %8s %8.2f" % ("ref: PING, same size", size, total, allocs, "-", "-", "1.0", total / GOAL))
        break
    print("Where the bytes go (second run with wrappers, own allocations; the rest is CTAPHID, the router,")
    print("the command modules and the wrappers' argument tuples)")
    labels = ("cbor", "crypto", "store", "bridge")
    print("  %-20s" % "request" + "".join("%9s" % k for k in labels) + "%9s" % "rest")
    for name, _ in REQUESTS:
        sh = shares.get(name, {})
        total = sh["total"]
        print("  %-20s" % name + "".join("%9d" % sh.get(k, 0) for k in labels) + "%9d" % (total - sum(sh.get(k, 0) for k in labels)))
    worst = max(rows[name][1] - rows[name][2] for name, _ in REQUESTS)
    print("  largest request without the bridges: %d bytes, %.2f of the 8 KB goal" % (worst, worst / GOAL))


if __name__ == "__main__":
    main()
