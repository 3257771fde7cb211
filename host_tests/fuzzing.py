"""Fuzzing support shared by host_tests/test_fuzz*.py (bounded, derandomized)
and tools/fuzz.py (`make fuzz`: long runs and atheris).

FuzzKey is the whole key -- CTAPHID, router, command modules, store -- on the
host board with in-memory reports and flash and a fake clock, so a case runs
in microseconds to milliseconds and is repeatable. check_case() is the oracle
applied after every case:

  - no exception escapes the core, and nothing reaches board.log_exception
    (the main loop's safety net: anything logged there is a bug);
  - every output report is a well-formed CTAPHID frame of a complete message,
    of a command the device may send, with a payload that fits it; CBOR
    answers carry a known status byte and canonical CBOR;
  - signature counters in authenticator data never repeat or go back;
  - the key still answers INIT, PING and getInfo correctly afterwards;
  - the store still boots on its flash with nothing torn or unknown.

Strategies: raw report streams, CTAPHID messages (fragmented, mutated), CBOR
bytes, and one parameter-map strategy per CTAP2 command built from a schema
(right keys with wrong types, missing keys, huge values, deep nesting).
"""

import hashlib
import os
import struct

import cbor2
import fido2.cbor
from hypothesis import strategies as S

from boards.host.board import FakeClock, HostBoard, Presence
from boards.host.memory_storage import MemoryStorage
from boards.host.transport import MemoryTransport
from firmware import main_loop, status
from hidpackets import BROADCAST, init_packet, packets, parse_messages
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin

from powercut import Drbg, InProcessDevice, _Quiet, observe

# python-fido2 names for the CTAPHID commands (fido2.hid.CTAPHID) -- the
# device's own constants are not the oracle.
from fido2.hid import CTAPHID

PING, MSG, LOCK, INIT, WINK, CBOR, CANCEL, KEEPALIVE, ERROR = (
    CTAPHID.PING,
    CTAPHID.MSG,
    CTAPHID.LOCK,
    CTAPHID.INIT,
    CTAPHID.WINK,
    CTAPHID.CBOR,
    CTAPHID.CANCEL,
    CTAPHID.KEEPALIVE,
    CTAPHID.ERROR,
)
MAX_MSG = 7609
# What a device may send (CTAP 2.1 §11.2.9): answers, KEEPALIVE, ERROR.
DEVICE_COMMANDS = {PING, MSG, LOCK, INIT, WINK, CBOR, KEEPALIVE, ERROR}
CTAPHID_ERRORS = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0A, 0x0B, 0x7F}
CTAP_STATUSES = {v for k, v in vars(status).items() if k.startswith(("CTAP1_ERR_", "CTAP2_ERR_", "CTAP2_OK"))}
# A status the core must never produce for any input: ERR_OTHER means an
# unexpected exception was caught by the router.
CTAP1_ERR_OTHER = 0x7F
# U2F Raw Message Formats v1.2 §3.3 status words (ISO 7816-4 values)
U2F_STATUS_WORDS = {0x9000, 0x6985, 0x6A80, 0x6700, 0x6E00, 0x6D00}
SW_NO_PRECISE_DIAGNOSIS = 0x6F00


class CaseFailure(AssertionError):
    pass


class FuzzKey:
    """The whole key in memory; feed() reports, check() the oracle."""

    # Answers already checked, shared by all keys (getInfo after every case);
    # never answers with a counter, which must be checked every time.
    _seen_good = set()

    def __init__(self, seed=b"fuzz", presence="auto", storage=None, config=None, pin=False):
        self.transport = MemoryTransport()
        self.clock = FakeClock()
        self.storage = storage if storage is not None else MemoryStorage()
        self.board = HostBoard(self.transport, storage=self.storage, presence=Presence(presence), clock=self.clock, config=config)
        self.board.random = Drbg(seed)
        self.logged = []
        self.board.log_exception = self.logged.append
        self.hid = main_loop.make_key(self.board)
        self.auth = self.hid.app
        self.max_counter = 0
        self.credential_ids = []
        self.cases = 0
        self.pin_protocol = self.pin_token = None
        if pin:
            # A PIN and a token with every permission, as a platform would
            # set up before credential management, large blobs or config.
            ctap2 = Ctap2(InProcessDevice(self.auth))
            client = ClientPin(ctap2)
            client.set_pin("1234")
            perms = 0
            for p in (ClientPin.PERMISSION.MAKE_CREDENTIAL, ClientPin.PERMISSION.GET_ASSERTION,
                      ClientPin.PERMISSION.CREDENTIAL_MGMT, ClientPin.PERMISSION.LARGE_BLOB_WRITE,
                      ClientPin.PERMISSION.AUTHENTICATOR_CFG):
                perms |= p
            self.pin_token = client.get_pin_token("1234", perms)
            self.pin_protocol = client.protocol

    # -- input -----------------------------------------------------------------

    def feed(self, bursts):
        """bursts: [(gap_ms, [report, ...])]: wait, inject the reports, poll once.

        Reports injected together are what arrives while the key is busy
        (they are read by keepalive() during a command), so bursts model
        contention; a poll per burst is one main-loop turn.
        """
        out = []
        for gap, reports in bursts:
            if gap:
                self.clock.advance(gap)
            for r in reports:
                self.transport.inject(r)
            self.hid.poll()
            out += self.transport.take()
        return out

    def cbor(self, payload):
        """CTAP2 straight into the router (no CTAPHID): the response bytes."""
        return bytes(self.auth.process_cbor(bytes(payload)))

    def request(self, command, req):
        """A CTAP2 request whose credential-ID stand-ins (CRED_REFS) become
        IDs this key returned earlier; the response is checked and the IDs
        in it remembered."""
        req = self._resolve(req, 0)
        if self.pin_token is not None:
            req = self._authenticate(command, req)
        resp = self.cbor(encode_request(command, req))
        self.check_cbor_response(resp)
        if resp[:1] == b"\0" and len(resp) > 1:
            self._remember(cbor2.loads(resp[1:]))
        return resp

    def u2f(self, spec):
        """A U2F APDU (CTAPHID_MSG) from an apdus() spec, its key-handle
        stand-ins replaced by handles this key made; checked."""
        resp = bytes(self.auth.handle(MSG, encode_apdu(spec, self.credential_ids), _Quiet()))
        self.check_apdu_response(resp)
        if len(resp) > 70 and resp[0] == 0x05 and resp[-2:] == b"\x90\x00":  # register: remember the handle
            n = resp[66]
            self.credential_ids.append(resp[67 : 67 + n])
        return resp

    # command -> (pinUvAuthParam key, pinUvAuthProtocol key)
    _PIN_KEYS = {0x01: (8, 9), 0x02: (6, 7), 0x0A: (4, 3), 0x0C: (5, 6), 0x0D: (4, 3)}

    def _authenticate(self, command, req):
        """Replace a PIN_AUTH stand-in by the token's MAC over what the
        command authenticates (CTAP 2.1 §6.1.2, §6.8, §6.10.2, §6.11)."""
        keys = self._PIN_KEYS.get(command)
        if keys is None or not isinstance(req, dict) or req.get(keys[0]) != PIN_AUTH:
            return req
        req = dict(req)
        if command in (0x01, 0x02):
            message = req.get(1 if command == 0x01 else 2)
        elif command == 0x0A:
            message = _byte(req.get(1)) + (cbor2.dumps(req[2], canonical=True) if 2 in req else b"")
        elif command == 0x0D:
            message = b"\xff" * 32 + b"\x0d" + _byte(req.get(1)) + (cbor2.dumps(req[2], canonical=True) if 2 in req else b"")
        else:
            offset = req.get(3) if isinstance(req.get(3), int) and 0 <= req.get(3) < 2**32 else 0
            blob = req.get(2) if isinstance(req.get(2), bytes) else b""
            message = b"\xff" * 32 + b"\x0c\x00" + struct.pack("<I", offset) + hashlib.sha256(blob).digest()
        if not isinstance(message, bytes):
            return req
        req[keys[0]] = self.pin_protocol.authenticate(self.pin_token, message)
        req[keys[1]] = self.pin_protocol.VERSION
        return req

    def _resolve(self, value, depth):
        if isinstance(value, bytes) and value in CRED_REFS:
            i = CRED_REFS.index(value)
            return self.credential_ids[-1 - i] if i < len(self.credential_ids) else value
        if depth > 3:
            return value
        if isinstance(value, list):
            return [self._resolve(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: self._resolve(v, depth + 1) for k, v in value.items()}
        return value

    def _remember(self, value):
        if not isinstance(value, dict):
            return
        auth_data = value.get(2)
        if isinstance(value.get(1), str) and isinstance(auth_data, bytes) and len(auth_data) > 55:
            n = struct.unpack_from(">H", auth_data, 53)[0]  # attested credential data
            self.credential_ids.append(auth_data[55 : 55 + n])
        elif isinstance(value.get(1), dict) and isinstance(value[1].get("id"), bytes):
            self.credential_ids.append(value[1]["id"])

    # -- the oracle ------------------------------------------------------------------

    def check_reports(self, reports):
        try:
            msgs = parse_messages(reports)
        except AssertionError as e:
            raise CaseFailure("malformed output reports: %s" % e) from None
        for cid, cmd, payload in msgs:
            if cmd not in DEVICE_COMMANDS:
                raise CaseFailure("device sent command 0x%02x" % cmd)
            if len(payload) > MAX_MSG:
                raise CaseFailure("message of %d bytes" % len(payload))
            if cmd == ERROR and (len(payload) != 1 or payload[0] not in CTAPHID_ERRORS):
                raise CaseFailure("bad CTAPHID_ERROR %r" % payload)
            if cmd == KEEPALIVE and (len(payload) != 1 or payload[0] not in (1, 2)):
                raise CaseFailure("bad KEEPALIVE %r" % payload)
            if cmd == INIT:
                if len(payload) != 17:
                    raise CaseFailure("INIT answer of %d bytes" % len(payload))
                new_cid = struct.unpack_from(">I", payload, 8)[0]
                if new_cid in (0, BROADCAST):
                    raise CaseFailure("INIT allocated channel %08x" % new_cid)
            if cmd == CBOR:
                self.check_cbor_response(payload)
            if cmd == MSG:
                self.check_apdu_response(payload)
        return msgs

    def check_apdu_response(self, resp):
        """U2F answer: data || SW1 SW2, a status word U2F names, never the
        internal-error one (it means an exception reached ctap1.process)."""
        if len(resp) < 2:
            raise CaseFailure("U2F answer without a status word")
        sw = struct.unpack_from(">H", resp, len(resp) - 2)[0]
        if sw == SW_NO_PRECISE_DIAGNOSIS:
            raise CaseFailure("SW 6F00: an exception reached ctap1.process: %r" % self.logged)
        if sw not in U2F_STATUS_WORDS:
            raise CaseFailure("unknown status word %04x" % sw)
        if sw != 0x9000 and len(resp) != 2:
            raise CaseFailure("error status word with data")
        if sw == 0x9000 and len(resp) >= 7 and resp[0] == 0x01:  # authenticate: user presence, counter
            counter = struct.unpack_from(">I", resp, 1)[0]
            if counter <= self.max_counter:
                raise CaseFailure("U2F counter %d after %d" % (counter, self.max_counter))
            self.max_counter = counter

    def check_cbor_response(self, resp):
        if len(resp) < 1:
            raise CaseFailure("empty CBOR response")
        if resp[0] not in CTAP_STATUSES:
            raise CaseFailure("unknown status 0x%02x" % resp[0])
        if resp[0] == CTAP1_ERR_OTHER:
            raise CaseFailure("ERR_OTHER: an exception reached the router: %r" % self.logged)
        if resp[0] != 0:
            if len(resp) != 1:
                raise CaseFailure("error status with a body")
            return
        if len(resp) == 1:
            return
        body = bytes(resp[1:])
        if body in self._seen_good:
            return  # the same answer as before (getInfo in check_alive)
        try:
            value = cbor2.loads(body)
        except Exception as e:
            raise CaseFailure("undecodable CBOR response: %s" % e) from None
        if fido2.cbor.encode(value) != body:
            raise CaseFailure("non-canonical CBOR response")
        if not isinstance(value, dict):
            raise CaseFailure("response is not a map")
        # makeCredential and getAssertion answers: authData (0x02) next to
        # attStmt or signature (0x03); no other answer has bytes under 0x02
        # together with 0x03.
        auth_data = value.get(2)
        if isinstance(auth_data, bytes) and len(auth_data) >= 37 and 3 in value:
            counter = struct.unpack_from(">I", auth_data, 33)[0]
            if counter <= self.max_counter:
                raise CaseFailure("signature counter %d after %d" % (counter, self.max_counter))
            self.max_counter = counter
        elif len(self._seen_good) < 8:
            self._seen_good.add(body)

    def check_alive(self):
        """After any case: a fresh channel, PING and getInfo work."""
        self.clock.advance(11_000)  # past any half message and any LOCK
        leftovers = self.feed([(0, [])])
        self.check_reports(leftovers)
        nonce = os.urandom(8)
        msgs = self.check_reports(self.feed([(0, [init_packet(BROADCAST, INIT, nonce)])]))
        if len(msgs) != 1 or msgs[0][:2] != (BROADCAST, INIT) or msgs[0][2][:8] != nonce:
            raise CaseFailure("INIT not answered: %r" % msgs)
        cid = struct.unpack_from(">I", msgs[0][2], 8)[0]
        data = os.urandom(100)
        msgs = self.check_reports(self.feed([(0, packets(cid, PING, data))]))
        if msgs != [(cid, PING, data)]:
            raise CaseFailure("PING not echoed: %r" % msgs)
        msgs = self.check_reports(self.feed([(0, packets(cid, CBOR, b"\x04"))]))
        if len(msgs) != 1 or msgs[0][1] != CBOR or msgs[0][2][:1] != b"\x00":
            raise CaseFailure("getInfo failed: %r" % msgs)
        info = cbor2.loads(msgs[0][2][1:])
        if info.get(3) != self.auth.aaguid or not info.get(1):
            raise CaseFailure("getInfo answer wrong: %r" % info)

    def check_store(self):
        """The flash boots cleanly, and the RAM index matches it."""
        try:
            observe(self.storage.files)
        except AssertionError as e:
            raise CaseFailure("store: %s" % e) from None
        on_flash = len([n for n in self.storage.files if n.startswith("rk")])
        if on_flash != self.auth.store.rk_count():
            raise CaseFailure("store index has %d credentials, flash %d" % (self.auth.store.rk_count(), on_flash))

    def check_case(self, reports=None, store=True):
        if reports is not None:
            self.check_reports(reports)
        if self.logged:
            raise CaseFailure("exception logged by the core: %r" % self.logged)
        self.check_alive()
        if store:
            self.check_store()
        if self.logged:
            raise CaseFailure("exception logged by the core: %r" % self.logged)
        self.cases += 1


def _byte(value):
    return bytes([value]) if isinstance(value, int) and 0 <= value < 256 else b""


# -- strategies: CTAPHID -------------------------------------------------------------

GAPS = S.sampled_from([0, 0, 0, 5, 100, 499, 501, 10_001])
# Channels 1..4 are the first ones INIT hands out; 0 is reserved.
CIDS = S.one_of(S.just(BROADCAST), S.integers(1, 4), S.just(0), S.integers(0, 2**32 - 1))
HOST_COMMANDS = S.one_of(
    S.sampled_from([PING, MSG, LOCK, INIT, WINK, CBOR, CANCEL, KEEPALIVE, ERROR, 0x40, 0x7F]),
    S.integers(0, 0x7F),
)
BCNTS = S.one_of(S.integers(0, 64), S.integers(0, MAX_MSG), S.sampled_from([56, 57, 58, 116, 117, MAX_MSG, MAX_MSG + 1]), S.integers(0, 0xFFFF))


@S.composite
def raw_report(draw):
    kind = draw(S.integers(0, 3))
    if kind == 0:
        return draw(S.binary(min_size=64, max_size=64))
    cid = draw(CIDS)
    if kind == 1:  # initialization packet with a chosen header
        data = draw(S.binary(max_size=57))
        return struct.pack(">IBH", cid, 0x80 | draw(HOST_COMMANDS), draw(BCNTS)) + data.ljust(57, b"\0")
    seq = draw(S.one_of(S.integers(0, 3), S.integers(0, 0x7F)))
    return struct.pack(">IB", cid, seq) + draw(S.binary(min_size=59, max_size=59))


@S.composite
def message_reports(draw, payloads=None):
    """A whole message cut into reports the way a host does, then perhaps
    mutated: a packet dropped, repeated or out of order, a stray report in
    the middle (another channel, CANCEL, INIT resync)."""
    cid = draw(CIDS)
    cmd = draw(HOST_COMMANDS)
    if payloads is not None and draw(S.booleans()):
        cmd = CBOR
        payload = draw(payloads)
    elif cmd == INIT:
        payload = draw(S.one_of(S.binary(min_size=8, max_size=8), S.binary(max_size=20)))
    elif cmd == MSG and draw(S.booleans()):
        payload = encode_apdu(draw(apdus()))
    else:
        payload = draw(S.binary(max_size=300))
    reps = packets(cid, cmd, payload)
    mutation = draw(S.integers(0, 5))
    if mutation == 1 and len(reps) > 1:
        del reps[draw(S.integers(1, len(reps) - 1))]
    elif mutation == 2:
        i = draw(S.integers(0, len(reps) - 1))
        reps.insert(i, reps[i])
    elif mutation == 3 and len(reps) > 2:
        i = draw(S.integers(1, len(reps) - 2))
        reps[i], reps[i + 1] = reps[i + 1], reps[i]
    elif mutation == 4:
        reps.insert(draw(S.integers(0, len(reps))), draw(raw_report()))
    elif mutation == 5:
        stray = draw(S.sampled_from([CANCEL, INIT, PING]))
        reps.insert(draw(S.integers(1, len(reps))), init_packet(cid, stray, os.urandom(8) if stray == INIT else b""))
    return reps


def report_stream(payloads=None):
    """[(gap_ms, [reports...])]: bursts of raw reports and whole messages."""
    burst = S.one_of(
        S.lists(raw_report(), min_size=1, max_size=3),
        message_reports(payloads),
    )
    # Open a couple of channels first so that channels 1..4 mean something.
    opening = S.just([(0, [init_packet(BROADCAST, INIT, b"\x01" * 8)]), (0, [init_packet(BROADCAST, INIT, b"\x02" * 8)])])
    return S.tuples(opening, S.lists(S.tuples(GAPS, burst), max_size=8)).map(lambda t: t[0] + t[1])


# -- strategies: CBOR ------------------------------------------------------------------

BIG_INTS = S.one_of(S.integers(-(2**64), -(2**63)), S.integers(2**63, 2**64 - 1), S.integers(-(2**31), 2**32))
LEAVES = S.one_of(
    S.integers(-(2**64), 2**64 - 1),
    S.binary(max_size=80),
    S.text(max_size=40),
    S.booleans(),
    S.none(),
    S.floats(allow_nan=False, width=16),
)
CBOR_VALUES = S.recursive(
    LEAVES,
    lambda inner: S.one_of(
        S.lists(inner, max_size=5),
        S.dictionaries(S.one_of(S.integers(-5, 30), S.text(max_size=12)), inner, max_size=5),
    ),
    max_leaves=25,
)


def deep(depth, leaf=0):
    """A value nested `depth` containers deep (arrays and maps alternating)."""
    v = leaf
    for i in range(depth):
        v = [v] if i % 2 else {1: v}
    return v


@S.composite
def cbor_bytes(draw):
    """Bytes a platform could send after the command byte: valid canonical
    CBOR, non-canonical CBOR, malformed CBOR, deep nesting, random bytes."""
    kind = draw(S.integers(0, 5))
    if kind == 0:
        return draw(S.binary(max_size=200))
    if kind == 1:
        return cbor2.dumps(draw(CBOR_VALUES), canonical=True)
    if kind == 2:
        return cbor2.dumps(draw(CBOR_VALUES))  # insertion order, any length encoding
    if kind == 3:
        return cbor2.dumps(deep(draw(S.integers(1, 200))), canonical=True)
    good = cbor2.dumps(draw(CBOR_VALUES), canonical=True)
    if kind == 4 and len(good) > 1:
        return good[: draw(S.integers(0, len(good) - 1))]  # truncated
    return draw(S.sampled_from([b"\xbf\x01\x02\xff", b"\x9f\xff", b"\xc2\x41\x00", b"\xa1\x01", b"\x5f\x41\x00\xff", b"\x1c", b"\xf8\x10", b"\xfb" + bytes(8)])) + draw(S.binary(max_size=4))


# -- strategies: CTAP2 parameter maps, one schema per command --------------------------

B32 = S.binary(min_size=32, max_size=32)
TEXT = S.text(max_size=70)
UINT = S.integers(0, 20)
# A few RP IDs so that requests meet the credentials earlier ones made.
RP_ID = S.one_of(S.sampled_from(["a.example", "b.example"]), TEXT)
# Stand-ins for "a credential ID this key returned earlier in the case":
# FuzzKey.request() swaps them for real IDs (or leaves them: unknown IDs).
CRED_REFS = (b"\0cred-ref-0", b"\0cred-ref-1", b"\0cred-ref-2")
CRED_ID = S.one_of(S.sampled_from(CRED_REFS), S.binary(max_size=130))
COSE_KEY = S.fixed_dictionaries({1: S.just(2), 3: S.just(-25), -1: S.just(1), -2: B32, -3: B32})
DESCRIPTOR = S.fixed_dictionaries({"type": S.sampled_from(["public-key", "public-key", "other"]), "id": CRED_ID})
MC_OPTIONS = S.dictionaries(S.sampled_from(["rk", "rk", "up", "plat", "x", "uv"]), S.booleans(), max_size=3)
GA_OPTIONS = S.dictionaries(S.sampled_from(["up", "up", "x", "uv", "rk"]), S.booleans(), max_size=2)
EXTENSIONS = S.dictionaries(
    S.sampled_from(["credProtect", "credBlob", "largeBlobKey", "hmac-secret", "minPinLength", "x"]),
    S.one_of(S.booleans(), S.integers(0, 4), S.binary(max_size=40), COSE_KEY),
    max_size=3,
)
PIN_PROTOCOL = S.sampled_from([1, 2, 0, 3])
# Stand-in for "the right pinUvAuthParam for this request": a FuzzKey made
# with pin=True swaps it for the MAC its token makes over what the command
# authenticates, so requests get past the PIN check into the handler.
PIN_AUTH = b"\0pin-auth"
PIN_UV_AUTH_PARAM = S.one_of(S.just(PIN_AUTH), S.just(PIN_AUTH), S.binary(max_size=33))

# command byte -> {key: strategy of a well-typed value}
SCHEMAS = {
    0x01: {  # makeCredential
        1: B32,
        2: S.fixed_dictionaries({"id": RP_ID}, optional={"name": TEXT}),
        3: S.fixed_dictionaries({"id": S.binary(max_size=70)}, optional={"name": TEXT, "displayName": TEXT}),
        4: S.lists(S.fixed_dictionaries({"type": S.sampled_from(["public-key", "public-key", "x"]), "alg": S.sampled_from([-7, -7, -8, -9, -19, -257, 0])}), min_size=1, max_size=3),
        5: S.lists(DESCRIPTOR, max_size=3),
        6: EXTENSIONS,
        7: MC_OPTIONS,
        8: PIN_UV_AUTH_PARAM,
        9: PIN_PROTOCOL,
        0x0A: UINT,
        0x0B: S.lists(S.sampled_from(["packed", "none", "tpm"]), max_size=3),
    },
    0x02: {  # getAssertion
        1: RP_ID,
        2: B32,
        3: S.lists(DESCRIPTOR, max_size=3),
        4: EXTENSIONS,
        5: GA_OPTIONS,
        6: PIN_UV_AUTH_PARAM,
        7: PIN_PROTOCOL,
    },
    0x04: {},  # getInfo
    0x06: {  # clientPIN
        1: PIN_PROTOCOL,
        2: S.integers(0, 11),
        3: COSE_KEY,
        4: S.binary(max_size=33),
        5: S.binary(max_size=80),
        6: S.binary(max_size=32),
        9: S.integers(0, 0x7F),
        0x0A: TEXT,
    },
    0x07: {},  # reset
    0x08: {},  # getNextAssertion
    0x0A: {  # credentialManagement
        1: S.integers(0, 8),
        2: S.fixed_dictionaries({}, optional={1: B32, 2: DESCRIPTOR, 3: S.fixed_dictionaries({"id": S.binary(max_size=70)})}),
        3: PIN_PROTOCOL,
        4: PIN_UV_AUTH_PARAM,
    },
    0x0B: {},  # selection
    0x0C: {  # largeBlobs
        1: S.integers(0, 2000),
        2: S.binary(max_size=200),
        3: S.integers(0, 2000),
        4: S.integers(0, 2000),
        5: PIN_UV_AUTH_PARAM,
        6: PIN_PROTOCOL,
    },
    0x0D: {  # authenticatorConfig
        1: S.integers(0, 4),
        2: S.fixed_dictionaries({}, optional={1: S.integers(0, 70), 2: S.lists(TEXT, max_size=3), 3: S.booleans()}),
        3: PIN_PROTOCOL,
        4: PIN_UV_AUTH_PARAM,
    },
}

WRONG_TYPES = S.one_of(S.integers(-3, 3), S.text(max_size=5), S.binary(max_size=5), S.booleans(), S.lists(S.integers(), max_size=2), S.dictionaries(S.integers(0, 3), S.integers(), max_size=2), S.none())
HUGE = S.one_of(
    BIG_INTS,
    S.binary(min_size=1000, max_size=7000),
    S.text(min_size=500, max_size=3000),
    S.lists(S.integers(0, 1), min_size=200, max_size=2000),
)
# Shallow enough to pass the codec (CTAP 2.1 §8: four levels) and reach the
# handler as a wrong type, or too deep for the codec.
DEEP = S.one_of(S.integers(1, 3), S.integers(1, 3), S.integers(4, 64)).map(deep)


# Keys the spec requires; the others are present or missing at random.
REQUIRED = {0x01: (1, 2, 3, 4), 0x02: (1, 2), 0x06: (1, 2), 0x0A: (1,), 0x0C: (3,), 0x0D: (1,)}


@S.composite
def parameter_map(draw, command):
    """A request for `command`: well typed except for a few keys that are
    missing, wrongly typed, huge or deeply nested; sometimes an unknown key.
    Mostly-valid requests get past the first check and into the handler."""
    schema = SCHEMAS[command]
    keys = sorted(schema)
    bad = set(draw(S.lists(S.sampled_from(keys), max_size=2, unique=True))) if keys else set()
    req = {}
    for key in keys:
        if key in bad:
            how = draw(S.sampled_from(["missing", "wrong", "huge", "deep"]))
            if how == "wrong":
                req[key] = draw(WRONG_TYPES)
            elif how == "huge":
                req[key] = draw(HUGE)
            elif how == "deep":
                req[key] = draw(DEEP)
        elif key in REQUIRED.get(command, ()) or draw(S.integers(0, 2)) == 0:
            req[key] = draw(schema[key])
    if draw(S.integers(0, 4)) == 0:
        req[draw(S.one_of(S.integers(0x10, 0xFF), S.text(max_size=3)))] = draw(LEAVES)
    return req


def encode_request(command, req):
    """Command byte + canonical CBOR (so it reaches the handler; too-deep or
    too-large values are the codec's to refuse)."""
    data = bytes([command])
    if req or command in (0x01, 0x02):
        data += cbor2.dumps(req, canonical=True)
    return data


def requests(command):
    return parameter_map(command).map(lambda req: (command, req))


# makeCredential and getAssertion (and getNextAssertion after them) weigh
# more: sequences of them reach the credential paths.
ANY_COMMAND_REQUEST = S.one_of([requests(c) for c in SCHEMAS] + [requests(0x01), requests(0x02), requests(0x02), requests(0x08)])


def request_bytes(command):
    return requests(command).map(lambda t: encode_request(*t))


ANY_REQUEST = S.one_of(
    [request_bytes(c) for c in SCHEMAS]
    + [S.tuples(S.integers(0, 0xFF), cbor_bytes()).map(lambda t: bytes([t[0]]) + t[1])]
)


# -- strategies: U2F APDUs (CTAPHID_MSG) ---------------------------------------------------

_APP_A = hashlib.sha256(b"a.example").digest()
U2F_APP = S.one_of(S.just(_APP_A), S.just(_APP_A), S.just(hashlib.sha256(b"b.example").digest()), B32)
# mostly the newest handle this key made
U2F_HANDLE = S.one_of(S.just(CRED_REFS[0]), S.just(CRED_REFS[0]), S.sampled_from(CRED_REFS), S.binary(max_size=255))


@S.composite
def apdus(draw):
    """ISO 7816-4 command APDUs as U2F clients send them (short and extended
    length, register/authenticate/version), then perhaps bent: wrong class,
    instruction, control byte, lengths that disagree with the data.
    A spec: (header, [data parts], form, le); a part ("handle", h) is a key
    handle with its length byte, h possibly a CRED_REFS stand-in."""
    ins = draw(S.sampled_from([1, 2, 2, 3, 0x40, draw(S.integers(0, 255))]))
    p1 = draw(S.sampled_from([0, 3, 3, 7, 8, 0x80, draw(S.integers(0, 255))]))
    if ins == 1:
        parts = [draw(B32), draw(U2F_APP)]
    elif ins == 2:
        parts = [draw(B32), draw(U2F_APP), ("handle", draw(U2F_HANDLE))]
    else:
        parts = [draw(S.binary(max_size=8))]
    if draw(S.integers(0, 4)) == 0:
        parts = [draw(S.binary(max_size=300))]
    cla = 0 if draw(S.integers(0, 6)) else draw(S.integers(0, 255))
    form = draw(S.sampled_from(["extended", "extended", "short", "bare", "raw"]))
    le = draw(S.sampled_from([b"", b"", b"\x00\x00", b"\x01\x00", b"\x00"]))
    return bytes([cla, ins, p1, 0]), parts, form, le


def encode_apdu(spec, handles=()):
    """Bytes of an apdus() spec; CRED_REFS stand-ins become `handles` (newest first)."""
    header, parts, form, le = spec
    data = b""
    for part in parts:
        if isinstance(part, tuple):
            h = part[1]
            if h in CRED_REFS and CRED_REFS.index(h) < len(handles):
                h = handles[-1 - CRED_REFS.index(h)]
            data += bytes([len(h) & 0xFF]) + h
        else:
            data += part
    if form == "extended":
        return header + (b"\x00" + struct.pack(">H", len(data)) + data if data else b"\x00") + le[:2].rjust(2, b"\x00") if data or le else header
    if form == "short":
        return header + (bytes([len(data) & 0xFF]) + data if data else b"") + le[:1]
    if form == "bare":
        return header
    return header + data


def apdu_bytes():
    return apdus().map(encode_apdu)
