"""Heap allocated per request by the core under MicroPython (WebAssembly build or unix port).

    from mpy_heap import measure, REQUESTS
    rows = measure()                 # {name: Row}
    rows = measure(profile=True)     # also Row.functions: bytes per function

Shared by tools/bench_mpy.py (prints the table) and
host_tests/test_heap_micropython.py (a ceiling per request). One MicroPython
run feeds the whole core -- CTAPHID, router, command modules, store, CBOR
codec -- 64-byte reports, the way a board's USB stack does, and measures
each request of REQUESTS with the collector off:

  total   gc.mem_alloc() delta over hid.poll(): every block allocated while
          the request is handled, temporaries included. The collector is off
          during the request, so this bounds the peak heap the request needs
          from above (a board's collector reclaims temporaries as it goes).
  bridge  what the bench board's random source allocates and, on the wasm
          build, the test-only stand-ins for a board's C modules (p256 and
          cryptolib in host_tests/mpy_wasm/, backed by Node): excluded, they
          are not the core.
  c_est   on the wasm build, what a board's C modules allocate instead: their
          results (one bytes object, a tuple of two, an AES object),
          estimated from the results' sizes with MicroPython's 32-bit object
          layouts. 0 on the unix port, whose real p256 and cryptolib are
          measured in `total` like the rest.
  core    total - bridge + c_est: the heap a request takes on a board (with
          the object layout of the interpreter's word size: wasm and the
          -m32 unix port are 32-bit as boards are, the x64 one is not).
  allocs  allocation count: head blocks that appeared in
          micropython.mem_info(1)'s heap map (only with heap_maps=True).
  writes  flash operations (storage write/rename/remove) in the request.

Every measured request must succeed (status 0x00 or SW 9000): an error
answer would measure the wrong path, so the run fails instead. The board's
clock stands still during a request (no timing-dependent KEEPALIVE) and its
random source is a fixed DRBG, so the figures repeat exactly run to run.
Before each request the key's DRBG pool is refilled, as the main loop
does while idle (firmware/crypto.py), so a request takes its randomness
from the pool.
Each request runs ROUNDS times and the last round counts: the first warms up
(interned names, lazy imports, the first counter reservation).

profile=True wraps every function of the core, the codec and the bridges
with a wrapper that allocates nothing itself and attributes each byte to
the function that allocated it (its own allocations, callees excluded).
"""

import os
import re

from mpy import REPO, interpreter, run_micropython

GOAL = 8192  # issue 9: at most 8 KB of heap per request
ROUNDS = 2

# Measured requests, in the order they run (the key's state carries over:
# the PIN is set half way, as on a key in use).
REQUESTS = (
    "CTAPHID PING 7609 B",
    "getInfo",
    "makeCredential",
    "makeCredential rk",
    "getAssertion allowList",
    "getAssertion rk, 3 credentials",
    "getNextAssertion",
    "U2F register",
    "U2F authenticate",
    "clientPIN getKeyAgreement",
    "clientPIN getPinUvAuthToken",
    "credMgmt getCredsMetadata",
    "makeCredential rk + PIN",
    "getAssertion rk + PIN, 4 credentials",
    "getAssertion hmac-secret",
    "largeBlobs set 1 KB",
    "largeBlobs get 1 KB",
    # A site of its own with 1, 5, then 10 passkeys (FLAT_ROWS)
    "getAssertion rk + PIN, 1 passkey",
    "getAssertion allowList, the oldest of 1 passkey",
    "credMgmt enumerateRPsBegin, 1 passkey",
    "credMgmt enumerateCredentialsBegin, 1 passkey",
    "getAssertion rk + PIN, 5 passkeys",
    "getNextAssertion, 5 passkeys",
    "getAssertion allowList, the oldest of 5 passkeys",
    "credMgmt enumerateRPsBegin, 5 passkeys",
    "credMgmt enumerateCredentialsBegin, 5 passkeys",
    "credMgmt enumerateCredentialsGetNext, 5 passkeys",
    "getAssertion rk + PIN, 10 passkeys",
    "getNextAssertion, 10 passkeys",
    "getAssertion allowList, the oldest of 10 passkeys",
    "credMgmt enumerateRPsBegin, 10 passkeys",
    "credMgmt enumerateCredentialsBegin, 10 passkeys",
    "credMgmt enumerateCredentialsGetNext, 10 passkeys",
    "credMgmt enumerateRPsGetNextRP",
    # CTAP 2.2: the persistentPinUvAuthToken (pcmr), getInfo encrypting
    # encIdentifier / encCredStoreState under it, read-only management with it
    "clientPIN getPinUvAuthToken pcmr",
    "getInfo, persistent token",
    "credMgmt getCredsMetadata, persistent token",
    # EdDSA (-8) credentials, where the firmware has lib/ed25519
    "makeCredential EdDSA",
    "makeCredential rk EdDSA",
    "getAssertion allowList EdDSA",
)

# The same request with 1, 5 and 10 passkeys of one site (issue 14): what
# it takes must not grow with them (test_heap_micropython.py).
FLAT_ROWS = (
    ("getAssertion rk + PIN, 1 passkey", "getAssertion rk + PIN, 5 passkeys", "getAssertion rk + PIN, 10 passkeys"),
    ("getNextAssertion, 5 passkeys", "getNextAssertion, 10 passkeys"),
    (
        "getAssertion allowList, the oldest of 1 passkey",
        "getAssertion allowList, the oldest of 5 passkeys",
        "getAssertion allowList, the oldest of 10 passkeys",
    ),
    (
        "credMgmt enumerateRPsBegin, 1 passkey",
        "credMgmt enumerateRPsBegin, 5 passkeys",
        "credMgmt enumerateRPsBegin, 10 passkeys",
    ),
    (
        "credMgmt enumerateCredentialsBegin, 1 passkey",
        "credMgmt enumerateCredentialsBegin, 5 passkeys",
        "credMgmt enumerateCredentialsBegin, 10 passkeys",
    ),
    ("credMgmt enumerateCredentialsGetNext, 5 passkeys", "credMgmt enumerateCredentialsGetNext, 10 passkeys"),
)

_SCRIPT = r"""
import gc, micropython, struct, sys, hashlib, binascii
import cbor
import p256, cryptolib
try:
    import ed25519
except ImportError:
    ed25519 = None
from firmware import crypto, main_loop
from firmware.presence import TOUCH_OK
from firmware.pin_protocol import PinProtocolV2
from memory_storage import MemoryStorage  # the host board's RAM flash

PROFILE = %(profile)r
BRIDGED = %(bridged)r  # p256, cryptolib: wasm bridges (True) or the unix port's C modules
HEAP_MAPS = %(heap_maps)r
ROUNDS = %(rounds)d
ONLY = %(only)r

# -- accounting -------------------------------------------------------------
# A wrapper that allocates nothing: positional arguments only (no tuple, no
# dict), counters in preallocated lists, integers that stay small.
_NO = object()
_labels = []
_own = []
_calls = []
_stack = [0] * 200
_sp = [0]
_bridge = [0]
_c_est = [0]

def _call(fn, a, b, c, d, e, f, g, h, i, j):
    if a is _NO: return fn()
    if b is _NO: return fn(a)
    if c is _NO: return fn(a, b)
    if d is _NO: return fn(a, b, c)
    if e is _NO: return fn(a, b, c, d)
    if f is _NO: return fn(a, b, c, d, e)
    if g is _NO: return fn(a, b, c, d, e, f)
    if h is _NO: return fn(a, b, c, d, e, f, g)
    if i is _NO: return fn(a, b, c, d, e, f, g, h)
    if j is _NO: return fn(a, b, c, d, e, f, g, h, i)
    return fn(a, b, c, d, e, f, g, h, i, j)

def _blocks(n):
    return (n + 15) // 16 * 16

def _c_cost(r):
    # What a C module allocates for its result on a 32-bit port: a bytes
    # object is a 16-byte mp_obj_str_t plus its data (and a terminating 0);
    # a tuple of two is 16 bytes plus the two items.
    if isinstance(r, bytes):
        return 16 + _blocks(len(r) + 1)
    if isinstance(r, tuple):
        n = _blocks(8 + 4 * len(r))
        for x in r:
            n += _c_cost(x)
        return n
    return 0

# modcryptolib's mp_obj_aes_t with an mbedtls_aes_context (280 bytes) and
# the IV, in 16-byte blocks.
_C_AES_OBJECT = 304

def bridge(fn, c_obj=0):
    # Excluded: what the stand-in allocates. Counted: its result as C makes it.
    def w(a=_NO, b=_NO, c=_NO, d=_NO, e=_NO, f=_NO, g=_NO, h=_NO, i=_NO, j=_NO):
        before = gc.mem_alloc()
        r = None
        try:
            r = _call(fn, a, b, c, d, e, f, g, h, i, j)
            return r
        finally:
            inc = gc.mem_alloc() - before
            _bridge[0] += inc
            _c_est[0] += c_obj if c_obj else _c_cost(r)
            _stack[_sp[0]] += inc
    return w

def profiled(fn, idx):
    # Own bytes: inclusive minus what wrapped callees (and bridges) took.
    def w(a=_NO, b=_NO, c=_NO, d=_NO, e=_NO, f=_NO, g=_NO, h=_NO, i=_NO, j=_NO):
        sp = _sp[0] + 1
        _sp[0] = sp
        _stack[sp] = 0
        before = gc.mem_alloc()
        try:
            return _call(fn, a, b, c, d, e, f, g, h, i, j)
        finally:
            inc = gc.mem_alloc() - before
            _own[idx] += inc - _stack[sp]
            _calls[idx] += 1
            _sp[0] = sp - 1
            _stack[sp - 1] += inc
    return w

# -- the bench board ---------------------------------------------------------
class Board:
    CONFIG = {"max_msg_size": 7609, "transports": ["usb"], "max_resident_credentials": 50}

    def __init__(self):
        self.storage = MemoryStorage()
        self.feed([])
        self.now = 1000
        self.errors = 0
        self.answer = bytearray(8192)
        self.answer_len = 0
        self.answer_cmd = 0
        self.reports = 0
        self._seed = b"mpy_heap DRBG"
        self._ctr = 0

    def feed(self, reports):
        self.inbox = reports
        self.next_report = 0

    def read_report(self, buf):
        # Neither allocates nor frees: list.pop would shrink the list, and a
        # freed block would hide one the core allocated.
        if self.next_report >= len(self.inbox):
            return False
        buf[:] = self.inbox[self.next_report]  # whole-buffer assignment
        self.next_report += 1
        return True

    def write_report(self, buf):
        # Reassembles the answer into a preallocated buffer, byte by byte:
        # nothing here allocates, so the measure is the core's alone.
        self.reports += 1
        b4 = buf[4]
        if b4 & 0x80:
            if b4 == 0xBB:  # KEEPALIVE
                return
            self.answer_cmd = b4 & 0x7F
            self.answer_len = (buf[5] << 8) | buf[6]
            start, at, n = 7, 0, 57
        else:
            start, at, n = 5, 57 + 59 * b4, 59
        i = 0
        while i < n and at + i < self.answer_len:
            self.answer[at + i] = buf[start + i]
            i += 1

    def wait_touch(self, ms):
        return TOUCH_OK

    def led(self, pattern):
        pass

    def random(self, n):
        # A fixed DRBG: the same run gives the same bytes, so the same sizes.
        out = b""
        while len(out) < n:
            self._ctr += 1
            out += hashlib.sha256(self._seed + struct.pack(">I", self._ctr)).digest()
        return out[:n]

    def ticks_ms(self):
        return self.now  # still during a request: no PROCESSING keepalive

    def ticks_diff(self, a, b):
        return a - b

    def idle(self):
        pass

    def log_exception(self, e):
        self.errors += 1
        sys.print_exception(e)

board = Board()
board.random = bridge(board.random)
if BRIDGED:
    for _name in ("keygen", "public_key", "sign", "verify", "ecdh", "sig_to_der", "sig_from_der", "validate_public_key"):
        setattr(p256, _name, bridge(getattr(p256, _name)))
    if ed25519 is not None:
        for _name in ("public_key", "sign", "verify"):
            setattr(ed25519, _name, bridge(getattr(ed25519, _name)))
    _aes = cryptolib.aes
    for _name in ("encrypt", "decrypt"):
        setattr(_aes, _name, bridge(getattr(_aes, _name)))  # self comes first
    cryptolib.aes = bridge(_aes, _C_AES_OBJECT)
hid = main_loop.make_key(board)
auth = hid.app

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

board.feed(packets(0xFFFFFFFF, 0x06, b"\x01" * 8))
hid.poll()
CID = 1
PING, MSG, CBOR = 0x01, 0x03, 0x10

def answer():
    return bytes(board.answer[:board.answer_len])

def call(cmd, data):
    # An unmeasured request (set-up); returns the answer, checked.
    board.feed(packets(CID, cmd, data))
    board.now += 10
    hid.poll()
    a = answer()
    _check(cmd, a, "set-up")
    return a

def _check(cmd, a, name):
    if board.answer_cmd != cmd:
        raise AssertionError("%%s: CTAPHID answer %%d, not %%d" %% (name, board.answer_cmd, cmd))
    if cmd == CBOR and a[:1] != b"\x00":
        raise AssertionError("%%s: CTAP status 0x%%02x" %% (name, a[0]))
    if cmd == MSG and a[-2:] != b"\x90\x00":
        raise AssertionError("%%s: status word %%s" %% (name, binascii.hexlify(a[-2:])))

def ctap(data):
    a = call(CBOR, data)
    return cbor.loads(a[1:]) if len(a) > 1 else None

# profiling: every function of the core and the codec
if PROFILE:
    from firmware.ctap2 import large_blobs  # imported lazily by the router
    _seen = {}
    _function = type(_blocks)
    # Called with keyword arguments somewhere: a positional-only wrapper
    # would break them, and **kw would allocate a dict per call.
    _SKIP = ("build", "require_permission")

    def _wrapper_for(v, label):
        w = _seen.get(id(v))
        if w is None:
            _labels.append(label)
            _own.append(0)
            _calls.append(0)
            w = profiled(v, len(_labels) - 1)
            _seen[id(v)] = w
            _seen[id(w)] = w
        return w

    def _wrap_module(m, prefix):
        # Functions defined here; names imported from elsewhere are rebound below.
        for n in dir(m):
            v = getattr(m, n)
            if type(v) is _function and n not in _SKIP and v.__globals__ is m.__dict__:
                setattr(m, n, _wrapper_for(v, prefix + n))

    def _wrap_class(cls, prefix):
        raw = cls.__dict__
        for n in list(raw):
            if n.startswith("__") or n in _SKIP:
                continue
            v = raw[n]
            if type(v) is staticmethod:
                setattr(cls, n, staticmethod(_wrapper_for(getattr(cls, n), prefix + n)))
            elif type(v) is _function:
                setattr(cls, n, _wrapper_for(v, prefix + n))

    mods = [m for k, m in sorted(sys.modules.items()) if k.startswith("firmware.") or k == "cbor"]
    for m in mods:
        prefix = m.__name__.replace("firmware.", "") + "."
        _wrap_module(m, prefix)
        for n in dir(m):
            v = getattr(m, n)
            if type(v) is type and getattr(v, "__module__", None) == m.__name__:
                _wrap_class(v, prefix + n + ".")
    # References taken before wrapping: names imported from other modules,
    # and functions held in module-level dicts (the routers' command tables).
    for m in mods:
        for n in dir(m):
            v = getattr(m, n)
            w = _seen.get(id(v))
            if w is not None and w is not v:
                setattr(m, n, w)
            elif type(v) is dict:
                for k in v:
                    w = _seen.get(id(v[k]))
                    if w is not None:
                        v[k] = w

def measure(name, cmd, make):
    # Requests left out by ONLY still run, so the key's state is the same.
    report = not ONLY or name in ONLY
    for r in range(ROUNDS):
        data = make()
        board.feed(packets(CID, cmd, data))
        board.answer_len = 0
        board.reports = 0
        board.now += 10
        errors = board.errors
        writes = board.storage.writes
        last = report and r == ROUNDS - 1
        # What the main loop does while no report comes (firmware/main_loop.py):
        # the DRBG's pool is made whole between requests, not inside one.
        crypto.refill_random_pool()
        gc.collect()
        gc.disable()
        _bridge[0] = 0
        _c_est[0] = 0
        _stack[0] = 0
        for i in range(len(_own)):
            _own[i] = 0
            _calls[i] = 0
        if last and HEAP_MAPS:
            print("HEAPMAP-BEGIN", name)
            micropython.mem_info(1)
            print("HEAPMAP-END", name)
        before = gc.mem_alloc()
        hid.poll()
        total = gc.mem_alloc() - before
        if last and HEAP_MAPS:
            print("HEAPMAP-BEGIN", name + "/after")
            micropython.mem_info(1)
            print("HEAPMAP-END", name + "/after")
        gc.enable()
        if board.errors != errors:
            raise AssertionError(name + ": the core logged an exception")
        _check(cmd, answer(), name)
    if not report:
        return
    print("RESULT|%%s|%%d|%%d|%%d|%%d|%%d|%%d" %% (
        name, len(data), total, _bridge[0], _c_est[0], board.storage.writes - writes, board.reports))
    if PROFILE:
        for i in range(len(_own)):
            if _own[i] or _calls[i]:
                print("FN|%%s|%%s|%%d|%%d" %% (name, _labels[i], _own[i], _calls[i]))

def const_data(data):
    return lambda: data

# -- the requests, in order ---------------------------------------------------
CDH = bytes(range(32))
RP = {"id": "example.com", "name": "Example"}
ES256 = [{"alg": -7, "type": "public-key"}]
EDDSA = [{"alg": -8, "type": "public-key"}]
RP_ID = RP["id"]

def make_credential(user_id, rk=False, ext=None, extra=None, algs=ES256, rp=RP):
    req = {1: CDH, 2: rp, 3: {"id": user_id, "name": "alice", "displayName": "Alice"}, 4: algs}
    if ext:
        req[6] = ext
    if rk:
        req[7] = {"rk": True}
    if extra:
        for k in extra:
            req[k] = extra[k]
    return b"\x01" + cbor.dumps(req)

def credential_id(resp):
    auth_data = resp[2]
    n = (auth_data[53] << 8) | auth_data[54]
    return auth_data[55:55 + n]

measure("CTAPHID PING 7609 B", PING, const_data(bytes(range(256)) * 29 + bytes(185)))
measure("getInfo", CBOR, const_data(b"\x04"))
measure("makeCredential", CBOR, const_data(make_credential(b"user")))
measure("makeCredential rk", CBOR, const_data(make_credential(b"user-rk", rk=True)))
# EdDSA credentials (lib/ed25519; the wasm build's bridge stands in for it),
# on a site of their own so that example.com's rows below are unchanged.
ED_RP = {"id": "ed.example", "name": "Ed"}
measure("makeCredential EdDSA", CBOR, const_data(make_credential(b"user-ed", algs=EDDSA, rp=ED_RP)))
measure("makeCredential rk EdDSA", CBOR, const_data(make_credential(b"user-ed-rk", rk=True, algs=EDDSA, rp=ED_RP)))
ed_cid = credential_id(ctap(make_credential(b"user-ed", algs=EDDSA, rp=ED_RP)))
measure("getAssertion allowList EdDSA", CBOR,
        const_data(b"\x02" + cbor.dumps({1: ED_RP["id"], 2: CDH, 3: [{"id": ed_cid, "type": "public-key"}]})))
ctap(make_credential(b"user-2", rk=True))
ctap(make_credential(b"user-3", rk=True))
cid = credential_id(ctap(make_credential(b"user")))
allow = [{"id": cid, "type": "public-key"}]
measure("getAssertion allowList", CBOR, const_data(b"\x02" + cbor.dumps({1: RP_ID, 2: CDH, 3: allow})))
GA_RK = b"\x02" + cbor.dumps({1: RP_ID, 2: CDH})
measure("getAssertion rk, 3 credentials", CBOR, const_data(GA_RK))

def next_assertion():
    ctap(GA_RK)
    return b"\x08"
measure("getNextAssertion", CBOR, next_assertion)

APP = hashlib.sha256(b"https://example.com").digest()
def apdu(ins, p1, data):
    return bytes((0, ins, p1, 0, 0, len(data) >> 8, len(data) & 0xFF)) + data + b"\x00\x00"
measure("U2F register", MSG, const_data(apdu(1, 0, CDH + APP)))
reg = call(MSG, apdu(1, 0, CDH + APP))
key_handle = reg[67:67 + reg[66]]
measure("U2F authenticate", MSG, const_data(apdu(2, 3, CDH + APP + bytes((len(key_handle),)) + key_handle)))

# clientPIN, protocol 2; the platform side is the core's own protocol code
GET_KEY_AGREEMENT = b"\x06" + cbor.dumps({1: 2, 2: 2})
measure("clientPIN getKeyAgreement", CBOR, const_data(GET_KEY_AGREEMENT))
platform = PinProtocolV2()
shared = platform.decapsulate(ctap(GET_KEY_AGREEMENT)[1])
PIN = b"314159"
new_pin_enc = platform.encrypt(shared, PIN + bytes(64 - len(PIN)))
ctap(b"\x06" + cbor.dumps({1: 2, 2: 3, 3: platform.get_public_key(), 4: platform.authenticate(shared, new_pin_enc), 5: new_pin_enc}))
pin_hash_enc = platform.encrypt(shared, hashlib.sha256(PIN).digest()[:16])

def token_request(permissions, rp_id=None):
    req = {1: 2, 2: 9, 3: platform.get_public_key(), 6: pin_hash_enc, 9: permissions}
    if rp_id:
        req[10] = rp_id
    return b"\x06" + cbor.dumps(req)

def token(permissions, rp_id=None):
    return platform.decrypt(shared, ctap(token_request(permissions, rp_id))[2])

measure("clientPIN getPinUvAuthToken", CBOR, const_data(token_request(0x01 | 0x02, RP_ID)))
cm_token = token(0x04)
measure("credMgmt getCredsMetadata", CBOR, const_data(b"\x0a" + cbor.dumps({1: 1, 3: 2, 4: platform.authenticate(cm_token, b"\x01")})))

def mc_with_pin():
    t = token(0x01, RP_ID)
    return make_credential(b"user-pin", rk=True, extra={8: platform.authenticate(t, CDH), 9: 2})
measure("makeCredential rk + PIN", CBOR, mc_with_pin)

def ga_with_pin():
    t = token(0x02, RP_ID)
    return b"\x02" + cbor.dumps({1: RP_ID, 2: CDH, 6: platform.authenticate(t, CDH), 7: 2})
measure("getAssertion rk + PIN, 4 credentials", CBOR, ga_with_pin)

hs_cid = credential_id(ctap(make_credential(b"user-hs", ext={"hmac-secret": True})))
salt_enc = platform.encrypt(shared, bytes(range(32)))
HS = {1: platform.get_public_key(), 2: salt_enc, 3: platform.authenticate(shared, salt_enc), 4: 2}
measure("getAssertion hmac-secret", CBOR, const_data(b"\x02" + cbor.dumps(
    {1: RP_ID, 2: CDH, 3: [{"id": hs_cid, "type": "public-key"}], 4: {"hmac-secret": HS}})))

blob = cbor.dumps([{1: bytes(992), 2: bytes(12), 3: 1000}])
blob = blob + hashlib.sha256(blob).digest()[:16]
lb_token = token(0x10)
lb_param = platform.authenticate(lb_token, b"\xff" * 32 + b"\x0c\x00" + bytes(4) + hashlib.sha256(blob).digest())
measure("largeBlobs set 1 KB", CBOR, const_data(b"\x0c" + cbor.dumps({2: blob, 3: 0, 4: len(blob), 5: lb_param, 6: 2})))
measure("largeBlobs get 1 KB", CBOR, const_data(b"\x0c" + cbor.dumps({1: 1024, 3: 0})))
# Passkeys of one site: 1, 5, then 10 of a site of its own. Without an
# allowList its credentials are counted on the store's index and only the
# record returned is read (getNextAssertion reads the next one); so for
# credential enumeration; and a passkey an allowList names is found on the
# index too: the same heap for 1, 5 and 10 of them.
SITE = "site.example"
SITE_PARAMS = {1: hashlib.sha256(SITE.encode()).digest()}
site = {"id": SITE, "name": "Site"}

def add_passkeys(first, last):
    for i in range(first, last + 1):
        t = token(0x01, SITE)
        req = {1: CDH, 2: site, 3: {"id": b"site-user-%%d" %% i, "name": "u%%d" %% i}, 4: ES256, 7: {"rk": True},
               8: platform.authenticate(t, CDH), 9: 2}
        ids.append(credential_id(ctap(b"\x01" + cbor.dumps(req))))

ids = []  # the site's credential IDs, oldest first

def ga_site():
    t = token(0x02, SITE)
    return b"\x02" + cbor.dumps({1: SITE, 2: CDH, 6: platform.authenticate(t, CDH), 7: 2})

def ga_allow_oldest():
    return b"\x02" + cbor.dumps({1: SITE, 2: CDH, 3: [{"id": ids[0], "type": "public-key"}]})

def next_assertion_site():
    ctap(ga_site())
    return b"\x08"

def enumerate_rps():
    t = token(0x04)
    return b"\x0a" + cbor.dumps({1: 2, 3: 2, 4: platform.authenticate(t, b"\x02")})

def next_rp():
    ctap(enumerate_rps())
    return b"\x0a" + cbor.dumps({1: 3})

def enumerate_credentials():
    t = token(0x04)
    return b"\x0a" + cbor.dumps({1: 4, 2: SITE_PARAMS, 3: 2, 4: platform.authenticate(t, b"\x04" + cbor.dumps(SITE_PARAMS))})

def next_credential():
    ctap(enumerate_credentials())
    return b"\x0a" + cbor.dumps({1: 5})

first = 1
for n in (1, 5, 10):
    add_passkeys(first, n)
    first = n + 1
    label = "1 passkey" if n == 1 else "%%d passkeys" %% n
    measure("getAssertion rk + PIN, " + label, CBOR, ga_site)
    if n > 1:
        measure("getNextAssertion, " + label, CBOR, next_assertion_site)
    measure("getAssertion allowList, the oldest of " + label, CBOR, ga_allow_oldest)
    measure("credMgmt enumerateRPsBegin, " + label, CBOR, enumerate_rps)
    measure("credMgmt enumerateCredentialsBegin, " + label, CBOR, enumerate_credentials)
    if n > 1:
        measure("credMgmt enumerateCredentialsGetNext, " + label, CBOR, next_credential)
measure("credMgmt enumerateRPsGetNextRP", CBOR, next_rp)
measure("clientPIN getPinUvAuthToken pcmr", CBOR, const_data(token_request(0x40)))
pcmr_token = token(0x40)
measure("getInfo, persistent token", CBOR, const_data(b"\x04"))
measure("credMgmt getCredsMetadata, persistent token", CBOR,
        const_data(b"\x0a" + cbor.dumps({1: 1, 3: 2, 4: platform.authenticate(pcmr_token, b"\x01")})))
print("DONE")
"""


class Row:
    """One measured request (bytes; see the module docstring)."""

    def __init__(self, name, size, total, bridge, c_est, writes, reports):
        self.name = name
        self.size = size
        self.total = total
        self.bridge = bridge
        self.c_est = c_est
        self.writes = writes
        self.reports = reports
        self.allocs = None
        self.functions = {}  # label -> (own bytes, calls), with profile=True

    @property
    def core(self):
        return self.total - self.bridge + self.c_est


def _heap_heads(dump):
    """Allocation head blocks in a mem_info(1) heap map (every character
    but free '.' and tail '=' starts an allocation)."""
    n = 0
    for line in dump.splitlines():
        m = re.match(r"^[0-9a-f]+: (.*)$", line.strip())
        if m:
            n += sum(1 for c in m.group(1) if c not in ".= ")
    return n


def measure(profile=False, heap_maps=False, rounds=ROUNDS, only=None, timeout=600):
    """Run REQUESTS on MicroPython; {name: Row} in REQUESTS order.

    only: names to report (the others still run, so the key's state is the same).
    """
    script = _SCRIPT % {"profile": profile, "heap_maps": heap_maps, "rounds": rounds, "only": tuple(only or ()),
                        "bridged": interpreter() == "wasm"}
    with open(os.path.join(REPO, "boards", "host", "memory_storage.py")) as f:
        storage = f.read()
    out = run_micropython(script, extra_files={"/memory_storage.py": storage}, timeout=timeout).stdout
    if "DONE" not in out.splitlines():
        raise AssertionError("the heap measuring script did not finish:\n" + out[-4000:])
    maps = dict(re.findall(r"HEAPMAP-BEGIN (.+?)\n(.*?)HEAPMAP-END", out, re.S)) if heap_maps else {}
    rows = {}
    for line in out.splitlines():
        if line.startswith("RESULT|"):
            _, name, *numbers = line.split("|")
            row = rows[name] = Row(name, *(int(n) for n in numbers))
            if heap_maps:
                row.allocs = _heap_heads(maps[name + "/after"]) - _heap_heads(maps[name])
        elif line.startswith("FN|"):
            _, name, label, own, calls = line.split("|")
            rows[name].functions[label] = (int(own), int(calls))
    return rows


