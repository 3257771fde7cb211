"""firmware/ctaphid.py: every CTAPHID path, with raw packets (CTAP 2.1 §11.2)."""

import os
import struct

import pytest
from fido2.hid import CAPABILITY, CTAPHID

from boards.host.board import FakeClock, HostBoard, Presence
from boards.host.transport import MemoryTransport
from firmware import ctaphid, main_loop, presence
from firmware.status import CtapError
from hidpackets import (
    BROADCAST,
    ERR_CHANNEL_BUSY,
    ERR_INVALID_CHANNEL,
    ERR_INVALID_CMD,
    ERR_INVALID_LEN,
    ERR_INVALID_PAR,
    ERR_INVALID_SEQ,
    ERR_LOCK_REQUIRED,
    ERR_MSG_TIMEOUT,
    ERR_OTHER,
    cont_packet,
    error,
    init_packet,
    packets,
    parse_messages,
)


class Key:
    """A key on an in-memory transport with a fake clock."""

    def __init__(self, app=None):
        self.transport = MemoryTransport()
        self.clock = FakeClock()
        self.board = HostBoard(self.transport, presence=Presence("manual"), clock=self.clock)
        if app is None:
            self.hid = main_loop.make_key(self.board)
        else:
            app.board = self.board
            self.hid = ctaphid.CtapHid(self.board, app)

    def send(self, *reports):
        for r in reports:
            self.transport.inject(r)
        self.hid.poll()
        return parse_messages(self.transport.take())

    def init(self):
        nonce = os.urandom(8)
        ((cid, cmd, payload),) = self.send(init_packet(BROADCAST, CTAPHID.INIT, nonce))
        assert (cid, cmd, payload[:8]) == (BROADCAST, CTAPHID.INIT, nonce)
        return struct.unpack_from(">I", payload, 8)[0]


@pytest.fixture
def key():
    return Key()


# -- INIT -------------------------------------------------------------------


def test_init_allocates_fresh_channels(key):
    nonce = bytes(range(8))
    ((cid, cmd, payload),) = key.send(init_packet(BROADCAST, CTAPHID.INIT, nonce))
    assert cid == BROADCAST and cmd == CTAPHID.INIT and len(payload) == 17
    new_cid, proto, major, minor, build, caps = struct.unpack(">IBBBBB", payload[8:])
    assert payload[:8] == nonce
    assert proto == 2
    assert (major, minor, build) == key.hid.app.firmware_version
    assert new_cid not in (0, BROADCAST)
    # CBOR, WINK and CTAP1 (NMSG clear) are implemented.
    assert caps == CAPABILITY.CBOR | CAPABILITY.WINK
    others = {key.init() for _ in range(5)}
    assert new_cid not in others and len(others) == 5


def test_init_on_allocated_channel_resyncs_it(key):
    cid = key.init()
    nonce = os.urandom(8)
    ((rcid, cmd, payload),) = key.send(init_packet(cid, CTAPHID.INIT, nonce))
    assert (rcid, cmd, payload[:8]) == (cid, CTAPHID.INIT, nonce)
    assert struct.unpack_from(">I", payload, 8)[0] == cid


@pytest.mark.parametrize("n", [0, 7, 9, 17])
def test_init_with_wrong_nonce_length(key, n):
    assert key.send(init_packet(BROADCAST, CTAPHID.INIT, bytes(n))) == [
        error(BROADCAST, ERR_INVALID_LEN)
    ]


def test_unallocated_and_reserved_channels_are_invalid(key):
    cid = key.init()
    for bad in (cid + 1, 0x12345678, 0):
        assert key.send(init_packet(bad, CTAPHID.PING, b"x")) == [error(bad, ERR_INVALID_CHANNEL)]
        assert key.send(init_packet(bad, CTAPHID.INIT, bytes(8))) == [
            error(bad, ERR_INVALID_CHANNEL)
        ]


def test_only_init_may_use_broadcast(key):
    for cmd in (CTAPHID.PING, CTAPHID.CBOR, CTAPHID.WINK, CTAPHID.MSG):
        assert key.send(init_packet(BROADCAST, cmd, b"\x04")) == [
            error(BROADCAST, ERR_INVALID_CHANNEL)
        ]


# -- PING and framing --------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 56, 57, 58, 57 + 59, 57 + 59 + 1, 1000, 7609])
def test_ping_echoes_any_size(key, n):
    cid = key.init()
    data = os.urandom(n)
    assert key.send(*packets(cid, CTAPHID.PING, data)) == [(cid, CTAPHID.PING, data)]


# Where _send_message moves the rest of a long answer up the buffer: after
# the first 1060 bytes (init + 17 continuation packets), then every 472.
_MOVES = [1059, 1060, 1061, 1119, 1120, 1060 + 472, 1060 + 473, 1060 + 2 * 472 + 1, 7608]


@pytest.mark.parametrize("n", _MOVES)
def test_ping_echoes_across_the_moves_of_a_long_answer(key, n):
    cid = key.init()
    data = os.urandom(n)
    assert key.send(*packets(cid, CTAPHID.PING, data)) == [(cid, CTAPHID.PING, data)]


class EchoApp:
    """Answers a CBOR message with the bytes it names: a length, then a fill byte."""

    capabilities = CAPABILITY.CBOR | CAPABILITY.WINK | CAPABILITY.NMSG

    def handle(self, cmd, payload, transport):
        n, fill = struct.unpack(">HB", payload)
        return bytes([fill]) * n


@pytest.mark.parametrize("n", [0, 1, 57, 58, 116, 117] + _MOVES + [7609])
def test_answers_are_framed_with_zero_padding_whatever_the_buffer_held(n):
    k = Key(EchoApp())
    cid = k.init()
    noise = bytes([0xA5]) * 7609  # fills the message buffer with non-zero bytes
    assert k.send(*packets(cid, CTAPHID.PING, noise)) == [(cid, CTAPHID.PING, noise)]
    # parse_messages checks each report's padding: zero after the answer
    assert k.send(init_packet(cid, CTAPHID.CBOR, struct.pack(">HB", n, 0x5A))) == [
        (cid, CTAPHID.CBOR, bytes([0x5A]) * n)
    ]


class BatchKey(Key):
    """A key on a board that takes several reports in one write_reports call (as the MicroPython adapter does)."""

    def __init__(self, app=None):
        super().__init__(app)
        self.calls = []

        def write_reports(buf):
            self.calls.append(len(buf) // 64)
            for i in range(0, len(buf), 64):
                self.board.write_report(bytes(buf[i : i + 64]))
            return True

        self.board.write_reports = write_reports
        self.hid = ctaphid.CtapHid(self.board, self.hid.app, self.hid.app.firmware_version)


@pytest.mark.parametrize("n", [0, 1, 57, 58, 116, 117, 1059, 1060, 1061, 7609])
def test_answers_up_to_18_reports_go_in_one_write_reports_call(n):
    k = BatchKey()
    cid = k.init()
    noise = bytes([0xA5]) * 7609  # the buffer full of non-zero bytes first
    assert k.send(*packets(cid, CTAPHID.PING, noise)) == [(cid, CTAPHID.PING, noise)]
    k.calls.clear()
    data = os.urandom(n)
    # parse_messages checks each report's padding: zero after the answer
    assert k.send(*packets(cid, CTAPHID.PING, data)) == [(cid, CTAPHID.PING, data)]
    assert k.calls == ([1 + (n - 57 + 58) // 59] if 57 < n <= 1060 else [])


def test_largest_message_uses_all_128_sequence_numbers(key):
    cid = key.init()
    pkts = packets(cid, CTAPHID.PING, os.urandom(7609))
    assert len(pkts) == 129 and pkts[-1][4] == 127
    key.send(*pkts)


@pytest.mark.parametrize("bcnt", [7610, 0x8000, 0xFFFF])
def test_message_longer_than_max_is_refused_at_once(key, bcnt):
    cid = key.init()
    assert key.send(init_packet(cid, CTAPHID.PING, b"x" * 57, bcnt=bcnt)) == [
        error(cid, ERR_INVALID_LEN)
    ]
    # and nothing is pending: the channel works on
    assert key.send(*packets(cid, CTAPHID.PING, b"ok")) == [(cid, CTAPHID.PING, b"ok")]


def test_wrong_sequence_number(key):
    cid = key.init()
    pkts = packets(cid, CTAPHID.PING, bytes(200))
    assert key.send(pkts[0], cont_packet(cid, 1, bytes(59))) == [error(cid, ERR_INVALID_SEQ)]
    # the aborted message's remaining packets are spurious and ignored
    assert key.send(*pkts[2:]) == []


def test_new_command_in_the_middle_of_a_message(key):
    cid = key.init()
    pkts = packets(cid, CTAPHID.PING, bytes(200))
    assert key.send(pkts[0], init_packet(cid, CTAPHID.PING, b"x")) == [
        error(cid, ERR_INVALID_SEQ)
    ]


def test_init_in_the_middle_of_a_message_resyncs(key):
    cid = key.init()
    pkts = packets(cid, CTAPHID.PING, bytes(200))
    nonce = os.urandom(8)
    ((rcid, cmd, payload),) = key.send(pkts[0], init_packet(cid, CTAPHID.INIT, nonce))
    assert (rcid, cmd, payload[:8]) == (cid, CTAPHID.INIT, nonce)
    assert key.send(*pkts[1:]) == []  # the dropped message's tail is ignored


def test_spurious_continuation_packets_are_ignored(key):
    cid = key.init()
    assert key.send(cont_packet(cid, 0, b"abc"), cont_packet(0x55555555, 3)) == []


def test_second_channel_gets_busy_while_a_message_is_assembled(key):
    a, b = key.init(), key.init()
    pkts = packets(a, CTAPHID.PING, bytes(range(150)))
    out = key.send(pkts[0], init_packet(b, CTAPHID.PING, b"b"), cont_packet(b, 0))
    assert out == [error(b, ERR_CHANNEL_BUSY)]  # b's continuation: ignored
    assert key.send(*pkts[1:]) == [(a, CTAPHID.PING, bytes(range(150)))]
    assert key.send(init_packet(b, CTAPHID.PING, b"b")) == [(b, CTAPHID.PING, b"b")]


def test_broadcast_init_while_busy_is_busy(key):
    a = key.init()
    pkts = packets(a, CTAPHID.PING, bytes(100))
    assert key.send(pkts[0], init_packet(BROADCAST, CTAPHID.INIT, bytes(8))) == [
        error(BROADCAST, ERR_CHANNEL_BUSY)
    ]


def test_stalled_message_times_out(key):
    cid = key.init()
    pkts = packets(cid, CTAPHID.PING, bytes(100))
    assert key.send(pkts[0]) == []
    key.clock.advance(ctaphid.MSG_TIMEOUT_MS)
    assert key.send() == []  # not yet
    key.clock.advance(1)
    assert key.send() == [error(cid, ERR_MSG_TIMEOUT)]
    assert key.send(pkts[1]) == []  # late continuation: spurious now


def test_a_slow_but_steady_sender_does_not_time_out(key):
    cid = key.init()
    data = os.urandom(500)
    out = []
    for p in packets(cid, CTAPHID.PING, data):
        key.clock.advance(ctaphid.MSG_TIMEOUT_MS - 1)
        out += key.send(p)
    assert out == [(cid, CTAPHID.PING, data)]


def test_reports_of_the_wrong_size_are_ignored(key):
    cid = key.init()
    key.hid.process_report(bytearray(63))
    key.hid.process_report(bytearray(65))
    assert parse_messages(key.transport.take()) == []
    assert key.send(init_packet(cid, CTAPHID.PING, b"x")) == [(cid, CTAPHID.PING, b"x")]


# -- commands ------------------------------------------------------------------


@pytest.mark.parametrize("cmd", [0x00, 0x02, 0x05, 0x07, 0x3B, 0x3F, 0x40, 0x7F])
def test_unknown_and_host_side_commands_are_invalid(key, cmd):
    cid = key.init()
    assert key.send(init_packet(cid, cmd, b"")) == [error(cid, ERR_INVALID_CMD)]


def test_msg_reaches_ctap1(key):
    cid = key.init()
    apdu = bytes([0, 3, 0, 0, 0, 0, 0])  # U2F_VERSION
    assert key.send(*packets(cid, CTAPHID.MSG, apdu)) == [(cid, CTAPHID.MSG, b"U2F_V2\x90\x00")]


def test_msg_is_invalid_for_an_application_that_advertises_nmsg():
    """The CTAPHID layer honours NMSG: such an application never sees MSG."""
    k = Key(WaitingApp())
    cid = k.init()
    apdu = bytes([0, 3, 0, 0, 0, 0, 0])
    assert k.send(*packets(cid, CTAPHID.MSG, apdu)) == [error(cid, ERR_INVALID_CMD)]
    assert k.hid.app.events == [] and k.hid.app.transport is None


def test_wink(key):
    cid = key.init()
    assert key.send(init_packet(cid, CTAPHID.WINK)) == [(cid, CTAPHID.WINK, b"")]
    assert key.board.led_events == ["wink"]
    assert key.send(init_packet(cid, CTAPHID.WINK, b"x")) == [error(cid, ERR_INVALID_LEN)]


def test_cancel_with_nothing_pending_is_not_answered(key):
    cid = key.init()
    assert key.send(init_packet(cid, CTAPHID.CANCEL)) == []


def test_cbor_reaches_the_authenticator(key):
    cid = key.init()
    ((rcid, cmd, payload),) = key.send(init_packet(cid, CTAPHID.CBOR, b"\x04"))
    assert (rcid, cmd, payload[0]) == (cid, CTAPHID.CBOR, 0)


@pytest.mark.parametrize("cmd", [CTAPHID.CBOR, CTAPHID.MSG], ids=["cbor", "msg"])
def test_cbor_or_msg_without_data_is_err_invalid_len(key, cmd):
    """BCNT 0: CTAP 2.1 §11.2.9.1.2 gives CTAPHID_CBOR's BCNT as 1..(n + 1), and a
    CTAPHID_MSG carries a U2F message (§11.2.9.1.1): a CTAPHID_ERROR frame, ERR_INVALID_LEN,
    not an answer of the layer above (before: CBOR status 0x03, U2F status word 6700)."""
    cid = key.init()
    assert key.send(init_packet(cid, cmd)) == [error(cid, ERR_INVALID_LEN)]
    # The channel is free again: the next request is served.
    ((rcid, rcmd, payload),) = key.send(init_packet(cid, CTAPHID.CBOR, b"\x04"))
    assert (rcid, rcmd, payload[0]) == (cid, CTAPHID.CBOR, 0)


@pytest.mark.parametrize("cmd", [CTAPHID.CBOR, CTAPHID.MSG], ids=["cbor", "msg"])
def test_an_empty_cbor_or_msg_never_reaches_the_application(cmd):
    k = Key()
    seen = []
    handle = k.hid.app.handle
    k.hid.app.handle = lambda cmd, payload, ctx: seen.append(bytes(payload)) or handle(cmd, payload, ctx)
    cid = k.init()
    k.transport.inject(init_packet(cid, cmd))
    k.hid.poll()
    (report,) = k.transport.take()
    # CID | CMD = 0x80 | CTAPHID_ERROR | BCNT = 1 | ERR_INVALID_LEN | zero padding
    assert bytes(report) == struct.pack(">IBHB", cid, 0x80 | 0x3F, 1, 0x03) + bytes(56)
    assert seen == []
    k.send(init_packet(cid, cmd, b"\x04"))
    assert seen == [b"\x04"]


def test_one_byte_cbor_and_msg_reach_the_application(key):
    cid = key.init()
    ((_, cmd, payload),) = key.send(init_packet(cid, CTAPHID.CBOR, b"\x04"))  # getInfo: no parameters
    assert (cmd, payload[0]) == (CTAPHID.CBOR, 0)
    # A one-byte APDU is U2F's to refuse: SW_WRONG_LENGTH.
    assert key.send(init_packet(cid, CTAPHID.MSG, b"\x00")) == [(cid, CTAPHID.MSG, b"\x67\x00")]


# -- LOCK ------------------------------------------------------------------------


def test_lock_parameters(key):
    cid = key.init()
    assert key.send(init_packet(cid, CTAPHID.LOCK, b"")) == [error(cid, ERR_INVALID_LEN)]
    assert key.send(init_packet(cid, CTAPHID.LOCK, b"\x01\x02")) == [error(cid, ERR_INVALID_LEN)]
    assert key.send(init_packet(cid, CTAPHID.LOCK, b"\x0b")) == [error(cid, ERR_INVALID_PAR)]


def test_lock_excludes_other_channels_until_it_expires(key):
    a, b = key.init(), key.init()
    assert key.send(init_packet(a, CTAPHID.LOCK, b"\x05")) == [(a, CTAPHID.LOCK, b"")]
    assert key.send(init_packet(b, CTAPHID.PING, b"b")) == [error(b, ERR_LOCK_REQUIRED)]
    assert key.send(init_packet(a, CTAPHID.PING, b"a")) == [(a, CTAPHID.PING, b"a")]
    # a new application can still get a channel while the device is locked
    c = key.init()
    assert key.send(init_packet(c, CTAPHID.CBOR, b"\x04")) == [error(c, ERR_LOCK_REQUIRED)]
    key.clock.advance(4999)
    assert key.send(init_packet(b, CTAPHID.PING, b"b")) == [error(b, ERR_LOCK_REQUIRED)]
    key.clock.advance(1)
    assert key.send(init_packet(b, CTAPHID.PING, b"b")) == [(b, CTAPHID.PING, b"b")]


def test_lock_zero_releases(key):
    a, b = key.init(), key.init()
    key.send(init_packet(a, CTAPHID.LOCK, b"\x0a"))
    assert key.send(init_packet(a, CTAPHID.LOCK, b"\x00")) == [(a, CTAPHID.LOCK, b"")]
    assert key.send(init_packet(b, CTAPHID.PING, b"b")) == [(b, CTAPHID.PING, b"b")]


# -- a transaction that waits (keepalive, cancel, busy) ----------------------------


class WaitingApp:
    """Answers CBOR only after user presence, like makeCredential does."""

    capabilities = CAPABILITY.CBOR | CAPABILITY.WINK | CAPABILITY.NMSG

    def __init__(self):
        self.board = None
        self.transport = None
        self.events = []

    def handle(self, cmd, payload, transport):
        self.transport = transport
        if bytes(payload) == b"boom":
            raise RuntimeError("handler bug")
        if bytes(payload) == b"huge":
            return bytes(7610)
        try:
            presence.wait(self)
        except CtapError as e:
            return bytes([e.code])
        return b"\x00done"


class ScheduledClock(FakeClock):
    """A fake clock that runs actions when time passes given marks."""

    def __init__(self):
        super().__init__()
        self.actions = []

    def at(self, delay_ms, action):
        self.actions.append((self.now + delay_ms, action))

    def advance(self, ms):
        super().advance(ms)
        due = [a for a in self.actions if a[0] <= self.now]
        self.actions = [a for a in self.actions if a[0] > self.now]
        for _, action in due:
            action()


@pytest.fixture
def waiting():
    k = Key(WaitingApp())
    k.clock = ScheduledClock()
    k.board.clock = k.clock
    return k


def keepalives(msgs, cid):
    return [p for c, cmd, p in msgs if c == cid and cmd == CTAPHID.KEEPALIVE]


def test_keepalive_upneeded_at_least_every_100ms_until_timeout(waiting):
    cid = waiting.init()
    sent_at = []
    orig = waiting.transport.send

    def send(report):
        sent_at.append((waiting.clock.now, report))
        orig(report)

    waiting.transport.send = send
    t0 = waiting.clock.now
    msgs = waiting.send(init_packet(cid, CTAPHID.CBOR, b"\x01"))
    assert msgs[-1] == (cid, CTAPHID.CBOR, bytes([0x2F]))  # USER_ACTION_TIMEOUT
    ka_times = [t for t, r in sent_at if r[4] == 0x80 | CTAPHID.KEEPALIVE]
    assert all(r[7] == ctaphid.STATUS_UPNEEDED for t, r in sent_at if r[4] == 0xBB)
    assert ka_times[0] == t0  # at once
    gaps = [b - a for a, b in zip(ka_times, ka_times[1:])]
    assert max(gaps) <= 100
    assert waiting.clock.now - t0 >= presence.UP_TIMEOUT_MS
    assert waiting.board.led_events == ["touch", "idle"]


def test_touch_completes_the_transaction(waiting):
    cid = waiting.init()
    waiting.clock.at(250, waiting.board.presence.press)
    msgs = waiting.send(init_packet(cid, CTAPHID.CBOR, b"\x01"))
    assert msgs[-1] == (cid, CTAPHID.CBOR, b"\x00done")
    assert len(keepalives(msgs, cid)) >= 3


def test_cancel_ends_the_wait_with_keepalive_cancel(waiting):
    cid = waiting.init()
    waiting.clock.at(300, lambda: waiting.transport.inject(init_packet(cid, CTAPHID.CANCEL)))
    msgs = waiting.send(init_packet(cid, CTAPHID.CBOR, b"\x01"))
    assert msgs[-1] == (cid, CTAPHID.CBOR, bytes([0x2D]))  # KEEPALIVE_CANCEL
    assert waiting.clock.now - 1_000_000 < 1000


def test_other_channels_are_busy_during_a_transaction(waiting):
    a, b = waiting.init(), waiting.init()
    waiting.clock.at(50, lambda: waiting.transport.inject(init_packet(b, CTAPHID.PING, b"b")))
    waiting.clock.at(60, lambda: waiting.transport.inject(init_packet(BROADCAST, 6, bytes(8))))
    waiting.clock.at(70, lambda: waiting.transport.inject(init_packet(a, CTAPHID.PING, b"a")))
    waiting.clock.at(200, waiting.board.presence.press)
    msgs = waiting.send(init_packet(a, CTAPHID.CBOR, b"\x01"))
    assert error(b, ERR_CHANNEL_BUSY) in msgs
    assert error(BROADCAST, ERR_CHANNEL_BUSY) in msgs
    assert error(a, ERR_CHANNEL_BUSY) in msgs
    assert msgs[-1] == (a, CTAPHID.CBOR, b"\x00done")


def test_init_on_the_busy_channel_aborts_the_transaction(waiting):
    cid = waiting.init()
    nonce = os.urandom(8)
    waiting.clock.at(120, lambda: waiting.transport.inject(init_packet(cid, CTAPHID.INIT, nonce)))
    msgs = waiting.send(init_packet(cid, CTAPHID.CBOR, b"\x01"))
    last = msgs[-1]
    assert last[:2] == (cid, CTAPHID.INIT) and last[2][:8] == nonce
    assert not [m for m in msgs if m[1] == CTAPHID.CBOR]


def test_a_handler_exception_is_answered_err_other_and_the_key_goes_on(waiting):
    cid = waiting.init()
    assert waiting.send(init_packet(cid, CTAPHID.CBOR, b"boom")) == [error(cid, ERR_OTHER)]
    assert waiting.send(init_packet(cid, CTAPHID.PING, b"x")) == [(cid, CTAPHID.PING, b"x")]


def test_a_response_too_large_to_frame_is_err_other(waiting):
    cid = waiting.init()
    assert waiting.send(init_packet(cid, CTAPHID.CBOR, b"huge")) == [error(cid, ERR_OTHER)]


def test_main_loop_survives_a_broken_report_source():
    """An exception from the board itself is logged and the loop carries on."""
    k = Key()
    calls = {"n": 0}
    real = k.board.read_report

    def flaky(buf):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("USB hiccup")
        return real(buf)

    k.board.read_report = flaky
    logged = []
    k.board.log_exception = logged.append
    k.transport.inject(init_packet(BROADCAST, CTAPHID.INIT, bytes(8)))
    main_loop.run(k.board, k.hid, stop=lambda: calls["n"] > 3)
    assert isinstance(logged[0], OSError)
    ((cid, cmd, _),) = parse_messages(k.transport.take())
    assert (cid, cmd) == (BROADCAST, CTAPHID.INIT)
