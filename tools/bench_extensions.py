"""Benchmark: what hmac-secret and authenticatorLargeBlobs cost on the virtual key.

Prints numbers and ratios against references measured in the same run, never
pass/fail:

  hmac-secret    getAssertion with hmac-secret (ECDH + HMACs + AES) against
                 the same getAssertion without extensions
  largeBlobs     writing a full 8 KiB array in maxMsgSize fragments against
                 Store.save of the same bytes (the flash floor), and reading it
                 back against as many getInfo round trips
  flash wear     storage operations per large-blob commit

Runs the core on CPython (handlers through the router, RAM storage), so the
absolute times are the host's; the ratios say what the extension adds.

    .venv/bin/python tools/bench_extensions.py
"""

import hashlib
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("build/host", "boards/host", "lib", "host_tests", ""):
    sys.path.insert(0, os.path.join(REPO, sub))

from fido2 import cbor  # noqa: E402
from fido2.ctap2.pin import PinProtocolV2  # noqa: E402

from boards.host.board import FakeClock, HostBoard, Presence  # noqa: E402
from boards.host.memory_storage import MemoryStorage  # noqa: E402
from boards.host.transport import MemoryTransport  # noqa: E402
from firmware import store as st  # noqa: E402
from firmware.authenticator import Authenticator  # noqa: E402

ROUNDS = 50


def make_auth():
    board = HostBoard(MemoryTransport(), storage=MemoryStorage(), presence=Presence("auto"), clock=FakeClock())
    return Authenticator(board)


def call(auth, cmd, req=None):
    out = auth.process_cbor(bytes([cmd]) + (cbor.encode(req) if req is not None else b""))
    if out[0]:
        raise RuntimeError("status 0x%02x" % out[0])
    return cbor.decode(out[1:]) if len(out) > 1 else None


def timed(fn, rounds=ROUNDS):
    fn()  # warm up
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds


def bench_hmac_secret():
    auth = make_auth()
    cdh = bytes(32)
    resp = call(auth, 0x01, {
        1: cdh, 2: {"id": "example.com"}, 3: {"id": b"u"}, 4: [{"alg": -7, "type": "public-key"}],
        6: {"hmac-secret": True},
    })
    n = int.from_bytes(resp[2][53:55], "big")
    cred_id = resp[2][55 : 55 + n]
    allow = [{"id": cred_id, "type": "public-key"}]
    proto = PinProtocolV2()
    key_agreement, shared = proto.encapsulate(auth.pin_uv.protocols[2].get_public_key())
    salt_enc = proto.encrypt(shared, os.urandom(64))
    ext = {"hmac-secret": {1: key_agreement, 2: salt_enc, 3: proto.authenticate(shared, salt_enc), 4: 2}}
    plain = timed(lambda: call(auth, 0x02, {1: "example.com", 2: cdh, 3: allow}))
    hmac = timed(lambda: call(auth, 0x02, {1: "example.com", 2: cdh, 3: allow, 4: ext}))
    print("hmac-secret  getAssertion plain        %7.2f ms" % (plain * 1e3))
    print("             getAssertion hmac-secret  %7.2f ms  (x%.2f, two salts, protocol 2)" % (hmac * 1e3, hmac / plain))


def bench_large_blobs():
    auth = make_auth()
    capacity = auth.max_serialized_large_blob_array
    fragment = auth.max_msg_size - 64
    body = b"\x81\x59" + (capacity - 20).to_bytes(2, "big") + os.urandom(capacity - 20)
    array = body + hashlib.sha256(body).digest()[:16]
    assert len(array) == capacity

    def write():
        for offset in range(0, len(array), fragment):
            req = {2: array[offset : offset + fragment], 3: offset}
            if offset == 0:
                req[4] = len(array)
            call(auth, 0x0C, req)

    def read():
        offset = 0
        while True:
            got = call(auth, 0x0C, {1: fragment, 3: offset})[1]
            if len(got) < fragment:
                return
            offset += fragment

    fragments = -(-len(array) // fragment)
    storage = auth.store._st
    before = storage.writes
    write()
    ops = storage.writes - before
    t_write = timed(write)
    t_floor = timed(lambda: auth.store.save(st.REC_LARGE_BLOBS, array))
    t_read = timed(read)
    t_info = timed(lambda: [call(auth, 0x04) for _ in range(fragments)])
    print("largeBlobs   write %d bytes (%d fragments) %7.2f ms  (x%.2f of Store.save alone: %.2f ms)"
          % (capacity, fragments, t_write * 1e3, t_write / t_floor, t_floor * 1e3))
    print("             read it back              %7.2f ms  (x%.2f of %d getInfo round trips)"
          % (t_read * 1e3, t_read / t_info, fragments))
    print("             flash operations per commit: %d (write lb.new, rename over lb)" % ops)
    print("             RAM while a write is pending: one %d-byte buffer" % capacity)


if __name__ == "__main__":
    bench_hmac_secret()
    bench_large_blobs()
