"""CTAPHID under contention, with the real authenticator behind it.

test_ctaphid.py checks each CTAPHID rule on its own; here they meet real
commands: a cancel or an INIT resync at every point where the key reads
input during makeCredential/getAssertion/reset, timeouts in the middle of
real requests, many clients interleaved packet by packet (1,000 sessions on
one key, deterministic), and real python-fido2 clients in threads on the
socket transport.
"""

import hashlib
import os
import random
import struct
import threading

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.ctap2 import Ctap2
from fido2.hid import CTAPHID

from fuzzing import CaseFailure, FuzzKey
from hidpackets import BROADCAST, ERR_CHANNEL_BUSY, ERR_INVALID_SEQ, ERR_MSG_TIMEOUT, error, init_packet, packets, parse_messages
from test_ctaphid import Key as HidKey

KEEPALIVE_CANCEL = 0x2D
USER_ACTION_TIMEOUT = 0x2F
RP = "contention.example"


def mc_payload(user=b"u", rk=True):
    req = {1: bytes(32), 2: {"id": RP}, 3: {"id": user, "name": "n"}, 4: [{"type": "public-key", "alg": -7}]}
    if rk:
        req[7] = {"rk": True}
    return bytes([1]) + cbor2.dumps(req, canonical=True)


def ga_payload(cred_id=None):
    req = {1: RP, 2: bytes(32)}
    if cred_id:
        req[3] = [{"type": "public-key", "id": cred_id}]
    return bytes([2]) + cbor2.dumps(req, canonical=True)


class Rig(HidKey):
    """test_ctaphid's key (real authenticator, manual presence, fake clock),
    where the touch comes `touch_after_ms` into a command (None: never) and
    `on_read(n)` runs before the n-th time the key reads input while busy
    (every keepalive() call)."""

    def __init__(self, touch_after_ms=40):
        super().__init__()
        self.presence = self.board.presence
        self.logged = []
        self.board.log_exception = self.logged.append
        self.auth = self.hid.app
        self.touch_after_ms = touch_after_ms
        self.on_read = None
        self.reads = 0
        self._start = None
        real_keepalive = self.hid.keepalive

        def keepalive(status):
            if self._start is None:
                self._start = self.clock.now
            if self.touch_after_ms is not None and self.clock.now - self._start >= self.touch_after_ms:
                self.presence.press()
                self.touch_after_ms = None
            if self.on_read is not None:
                self.on_read(self.reads)
            self.reads += 1
            return real_keepalive(status)

        self.hid.keepalive = keepalive

    def command(self, cid, payload):
        """Send one CBOR request; all messages the key sent back."""
        self.reads = 0
        self._start = None
        return self.send(*packets(cid, CTAPHID.CBOR, payload))


def _stored(auth):
    return sorted(auth.store.rk_load(s)[1] for s in auth.store.rk_slots())


# -- cancel / INIT resync at every point the key reads input ------------------------------

COMMANDS = {
    "makeCredential rk": (lambda cred: mc_payload(b"new")),
    "makeCredential plain": (lambda cred: mc_payload(b"new", rk=False)),
    "getAssertion": (lambda cred: ga_payload(cred)),
    "reset": (lambda cred: b"\x07"),
}


def _reads_of(name):
    """How many times the uninterrupted command reads input."""
    rig = Rig()
    cid = rig.init()
    cred = _registered(rig, cid)
    rig.command(cid, COMMANDS[name](cred))
    return rig.reads


def _registered(rig, cid):
    rig.touch_after_ms = 0
    ((_, _, resp),) = [m for m in rig.command(cid, mc_payload(b"old")) if m[1] == CTAPHID.CBOR]
    assert resp[0] == 0
    ad = cbor2.loads(resp[1:])[2]
    n = struct.unpack_from(">H", ad, 53)[0]
    rig.touch_after_ms = 40
    return ad[55 : 55 + n]


@pytest.mark.parametrize("interrupt", ["cancel", "init-resync", "cancel-other-channel"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_interrupt_at_every_read(name, interrupt):
    total = _reads_of(name)
    assert total >= 3  # UPNEEDED keepalives while waiting for the touch at least
    outcomes = set()
    for k in range(total + 1):
        rig = Rig()
        cid = rig.init()
        other = rig.init()
        cred = _registered(rig, cid)
        before = _stored(rig.auth)
        nonce = os.urandom(8)

        def inject(n, k=k):
            if n == k:
                if interrupt == "cancel":
                    rig.transport.inject(init_packet(cid, CTAPHID.CANCEL))
                elif interrupt == "init-resync":
                    rig.transport.inject(init_packet(cid, CTAPHID.INIT, nonce))
                else:
                    rig.transport.inject(init_packet(other, CTAPHID.CANCEL))

        rig.on_read = inject
        msgs = rig.command(cid, COMMANDS[name](cred))
        rig.on_read = None
        assert not rig.logged, rig.logged
        final = [m for m in msgs if m[1] != CTAPHID.KEEPALIVE and m[0] == cid]
        assert len(final) == 1, msgs
        (c, cmd, payload), = final
        after = _stored(rig.auth)
        if interrupt == "cancel-other-channel":
            # Not this channel's to cancel: the other channel is told busy,
            # the command completes.
            assert error(other, ERR_CHANNEL_BUSY) in msgs or k == total
            assert cmd == CTAPHID.CBOR and payload[0] == 0
            outcomes.add("done")
        elif interrupt == "init-resync":
            # The INIT is answered instead; the command's own answer is dropped.
            assert cmd == CTAPHID.INIT and payload[:8] == nonce or (k == total and cmd == CTAPHID.CBOR)
            outcomes.add("resync" if cmd == CTAPHID.INIT else "done")
        else:
            assert cmd == CTAPHID.CBOR
            assert payload[0] in (0, KEEPALIVE_CANCEL), payload
            # The answer and the flash agree: a cancelled command changed nothing.
            if payload[0] == KEEPALIVE_CANCEL:
                assert after == before, (k, before, after)
            outcomes.add("cancelled" if payload[0] else "done")
        if name == "makeCredential rk" and cmd == CTAPHID.CBOR and payload[0] == 0:
            assert len(after) == len(before) + 1
        # The key carries on: the same channel works.
        assert rig.send(init_packet(cid, CTAPHID.PING, b"p")) == [(cid, CTAPHID.PING, b"p")]
    if interrupt == "cancel":
        assert outcomes == {"cancelled", "done"}, outcomes  # both sides of the touch were hit
    if interrupt == "init-resync":
        assert "resync" in outcomes


def test_cancel_before_and_after_a_command_is_not_answered():
    rig = Rig(touch_after_ms=0)
    cid = rig.init()
    assert rig.send(init_packet(cid, CTAPHID.CANCEL)) == []
    msgs = rig.command(cid, mc_payload())
    assert msgs[-1][1] == CTAPHID.CBOR and msgs[-1][2][0] == 0
    assert rig.send(init_packet(cid, CTAPHID.CANCEL)) == []
    assert len(_stored(rig.auth)) == 1


def test_cancel_while_the_request_is_still_arriving():
    rig = Rig(touch_after_ms=0)
    cid = rig.init()
    first, *rest = packets(cid, CTAPHID.CBOR, mc_payload())
    assert rest, "a makeCredential request spans several packets"
    assert rig.send(first) == []
    assert rig.send(init_packet(cid, CTAPHID.CANCEL)) == [error(cid, ERR_INVALID_SEQ)]
    assert rig.send(*rest) == []  # now stray continuation packets: ignored
    assert _stored(rig.auth) == []


def test_init_resync_while_the_request_is_still_arriving():
    rig = Rig(touch_after_ms=0)
    cid = rig.init()
    first, *rest = packets(cid, CTAPHID.CBOR, mc_payload())
    rig.send(first)
    nonce = os.urandom(8)
    ((c, cmd, payload),) = rig.send(init_packet(cid, CTAPHID.INIT, nonce))
    assert (c, cmd, payload[:8]) == (cid, CTAPHID.INIT, nonce)
    assert struct.unpack_from(">I", payload, 8)[0] == cid
    assert rig.send(*rest) == []
    msgs = rig.command(cid, mc_payload())  # the channel works at once
    assert msgs[-1][2][0] == 0 and len(_stored(rig.auth)) == 1


# -- timeouts ---------------------------------------------------------------------------------


def test_no_touch_times_out_and_stores_nothing():
    rig = Rig(touch_after_ms=None)
    cid = rig.init()
    t0 = rig.clock.now
    msgs = rig.command(cid, mc_payload())
    assert msgs[-1] == (cid, CTAPHID.CBOR, bytes([USER_ACTION_TIMEOUT]))
    assert rig.clock.now - t0 >= 30_000
    assert all(p == b"\x02" for c, cmd, p in msgs if cmd == CTAPHID.KEEPALIVE)  # UPNEEDED
    assert _stored(rig.auth) == []


def test_stalled_request_times_out_then_the_channel_works():
    rig = Rig(touch_after_ms=0)
    cid = rig.init()
    other = rig.init()
    reports = packets(cid, CTAPHID.CBOR, mc_payload())
    rig.send(*reports[:-1])
    # the other channel is busy-ed while this one is half done
    assert rig.send(init_packet(other, CTAPHID.PING, b"x")) == [error(other, ERR_CHANNEL_BUSY)]
    rig.clock.advance(501)
    assert rig.send() == [error(cid, ERR_MSG_TIMEOUT)]
    assert rig.send(reports[-1]) == []  # the late last packet is a stray continuation
    assert rig.send(init_packet(other, CTAPHID.PING, b"x")) == [(other, CTAPHID.PING, b"x")]
    assert rig.command(cid, mc_payload())[-1][2][0] == 0
    assert len(_stored(rig.auth)) == 1


# -- many clients, interleaved packet by packet --------------------------------------------


class SimClient:
    """One host session: INIT, then a few operations, each retried on BUSY or
    a message timeout, with every answer checked."""

    def __init__(self, rng, name):
        self.rng = rng
        self.name = name
        self.nonce = bytes(rng.getrandbits(8) for _ in range(8))
        self.cid = None
        self.ops = [rng.choice(["ping", "ping", "wink", "info", "mc", "mc-rk", "ga", "cancel"]) for _ in range(rng.randint(1, 5))]
        self.creds = []  # (credential id, public key)
        self.pending = []  # reports of the message in flight
        self.current = None  # (op, cid, cmd, payload)
        self.wait_until = 0
        self.done = False
        self.retries = 0

    def next_message(self):
        if self.cid is None:
            return ("init", BROADCAST, CTAPHID.INIT, self.nonce)
        while self.ops:
            op = self.ops[0]
            if op == "ping":
                return (op, self.cid, CTAPHID.PING, bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, 300))))
            if op == "wink":
                return (op, self.cid, CTAPHID.WINK, b"")
            if op == "info":
                return (op, self.cid, CTAPHID.CBOR, b"\x04")
            if op in ("mc", "mc-rk"):
                user = ("%s-%d" % (self.name, len(self.creds))).encode()
                return (op, self.cid, CTAPHID.CBOR, mc_payload(user, rk=op == "mc-rk"))
            if op == "ga":
                if not self.creds:
                    self.ops.pop(0)
                    continue
                return (op, self.cid, CTAPHID.CBOR, ga_payload(self.rng.choice(self.creds)[0]))
            if op == "cancel":
                return (op, self.cid, CTAPHID.CANCEL, b"")
        return None

    def start_message(self):
        self.current = self.next_message()
        if self.current is None:
            self.done = True
            return
        _, cid, cmd, payload = self.current
        self.pending = packets(cid, cmd, payload)

    def answer(self, sim, cid, cmd, payload):
        op, _, want_cmd, sent = self.current
        if cmd == CTAPHID.KEEPALIVE:
            return
        if cmd == CTAPHID.ERROR and payload[0] in (ERR_CHANNEL_BUSY, ERR_MSG_TIMEOUT):
            sim.timeouts += payload[0] == ERR_MSG_TIMEOUT
            # Retry the whole message a little later, as python-fido2 does.
            self.retries += 1
            self.wait_until = sim.clock.now + self.rng.randint(1, 30)
            self.pending = packets(self.current[1], self.current[2], self.current[3])
            return
        if op == "init":
            assert cmd == CTAPHID.INIT and payload[:8] == self.nonce, (cmd, payload)
            self.cid = struct.unpack_from(">I", payload, 8)[0]
            assert self.cid not in sim.cids_in_use, "channel handed out twice"
            sim.cids_in_use.add(self.cid)
        elif op == "ping":
            assert (cmd, payload) == (CTAPHID.PING, sent)
        elif op == "wink":
            assert (cmd, payload) == (CTAPHID.WINK, b"")
        elif op == "info":
            assert cmd == CTAPHID.CBOR and payload[0] == 0
            assert cbor2.loads(payload[1:])[3] == sim.key.auth.aaguid
        elif op in ("mc", "mc-rk"):
            assert cmd == CTAPHID.CBOR and payload[0] == 0, payload[:1]
            ad = cbor2.loads(payload[1:])[2]
            sim.counter(ad)
            n = struct.unpack_from(">H", ad, 53)[0]
            cose = cbor2.loads(ad[55 + n :])
            pub = ec.EllipticCurvePublicNumbers(int.from_bytes(cose[-2], "big"), int.from_bytes(cose[-3], "big"), ec.SECP256R1()).public_key()
            self.creds.append((ad[55 : 55 + n], pub))
        elif op == "ga":
            assert cmd == CTAPHID.CBOR and payload[0] == 0, payload[:1]
            resp = cbor2.loads(payload[1:])
            sim.counter(resp[2])
            pub = dict((bytes(c), p) for c, p in self.creds)[resp[1]["id"]]
            pub.verify(resp[3], resp[2] + bytes(32), ec.ECDSA(hashes.SHA256()))
        else:
            raise AssertionError("unexpected answer %r to %s" % ((cmd, payload), op))
        if op != "init":
            self.ops.pop(0)
        self.current = None

    def finished_op_without_answer(self):
        # CANCEL with nothing pending is never answered.
        if self.current and self.current[0] == "cancel" and not self.pending:
            self.ops.pop(0)
            self.current = None


class SessionSim:
    def __init__(self, seed, sessions, concurrency=4):
        self.rng = random.Random(seed)
        # room for every discoverable credential the sessions make
        self.key = FuzzKey(seed=b"sessions-%d" % seed, config={"max_resident_credentials": 4 * sessions})
        self.clock = self.key.clock
        self.sessions = sessions
        self.concurrency = concurrency
        self.cids_in_use = set()
        self.max_counter = 0
        self.completed = 0
        self.retries = 0
        self.stalls = 0
        self.timeouts = 0

    def counter(self, auth_data):
        c = struct.unpack_from(">I", auth_data, 33)[0]
        assert c > self.max_counter
        self.max_counter = c

    def run(self):
        active = []
        started = 0
        while self.completed < self.sessions:
            while len(active) < self.concurrency and started < self.sessions:
                active.append(SimClient(self.rng, "s%d" % started))
                started += 1
            ready = [c for c in active if not c.done and self.clock.now >= c.wait_until]
            if not ready:
                self.clock.advance(1)
                continue
            # One report, or now and then two clients' reports in one burst
            # (they then arrive while the key is busy with the first).
            burst = self.rng.sample(ready, 2 if len(ready) > 1 and self.rng.random() < 0.2 else 1)
            senders = []
            for c in burst:
                if c.current is None:
                    c.start_message()
                    if c.done:
                        continue
                if c.cid is None and any(s.cid is None for s in senders):
                    continue  # two broadcast INITs in one burst could not be told apart
                senders.append(c)
                self.key.transport.inject(c.pending.pop(0))
                if c.pending and self.rng.random() < 0.01:
                    c.wait_until = self.clock.now + 600  # stalls mid-message: times out
                    self.stalls += 1
            self.clock.advance(self.rng.choice([0, 1, 2]))
            self.key.hid.poll()
            out = parse_messages(self.key.transport.take())
            for cid, cmd, payload in out:
                owners = [c for c in active if c.cid == cid] if cid != BROADCAST else []
                if cid == BROADCAST:
                    owners = [c for c in senders if c.cid is None]
                    if cmd == CTAPHID.INIT:
                        owners = [c for c in active if c.cid is None and c.nonce == payload[:8]]
                assert len(owners) == 1, "answer on %08x for %d clients: %r" % (cid, len(owners), (cmd, payload[:8]))
                owners[0].answer(self, cid, cmd, payload)
            for c in senders:
                c.finished_op_without_answer()
            if self.key.logged:
                raise CaseFailure("logged: %r" % self.key.logged)
            for c in list(active):
                if c.done or (c.current is None and c.cid is not None and not c.ops):
                    active.remove(c)
                    self.completed += 1
                    self.retries += c.retries
        self.key.check_case()
        return self


def test_one_thousand_interleaved_sessions_on_one_key():
    sim = SessionSim(seed=9, sessions=1000).run()
    assert sim.completed == 1000
    assert sim.retries > 0 and sim.timeouts > 0  # contention and stalls really happened
    assert len(sim.cids_in_use) == 1000
    assert sim.key.auth.store.rk_count() > 0


def test_concurrent_python_fido2_clients_over_the_socket(virtual_key):
    """Real clients in threads; python-fido2 retries on CHANNEL_BUSY itself."""
    from boards.host.client import open_device

    errors = []
    counters = []
    lock = threading.Lock()

    def client(i):
        try:
            for j in range(5):
                dev = open_device(virtual_key.address, timeout=60)
                ctap2 = Ctap2(dev)
                cdh = hashlib.sha256(b"%d-%d" % (i, j)).digest()
                r = ctap2.make_credential(cdh, {"id": RP}, {"id": b"%d-%d" % (i, j)}, [{"type": "public-key", "alg": -7}])
                cd = r.auth_data.credential_data
                a = ctap2.get_assertion(RP, cdh, [{"type": "public-key", "id": cd.credential_id}])
                a.verify(cdh, cd.public_key)
                assert dev.ping(b"%d" % i) == b"%d" % i
                with lock:
                    counters.extend([r.auth_data.counter, a.auth_data.counter])
                dev.close()
        except Exception as e:  # reported below with the thread's index
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(counters) == 40 and len(set(counters)) == 40  # no counter handed out twice
