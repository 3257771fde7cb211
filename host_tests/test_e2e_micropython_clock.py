"""The key's timers on MicroPython's wrapping clock.

On MicroPython, time.ticks_ms() wraps at 2**30 ms (12.4 days) and
ticks_diff() is right only for intervals under half of that (6.2 days): a
key left plugged in longer sees an old timestamp as recent again. These
tests move the clock of the MicroPython key (mpy_key: the board's ticks are
MicroPython's own plus what the test adds) and check that what has timed out
stays timed out: the authenticatorReset window, a pinUvAuthToken, the
getNextAssertion state, CTAPHID LOCK; and that CTAPHID's message timeout
works across the wrap itself.
"""

import os
import time

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, CredentialManagement, Ctap2
from fido2.hid import CTAPHID

from hidpackets import ERR_LOCK_REQUIRED, ERR_MSG_TIMEOUT, FencedHid, error, init_packet, packets
from mpy import only_on

TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms() period on every 32-bit port
HALF_PERIOD = TICKS_PERIOD // 2
PIN = "12345678"


@pytest.fixture
def key_factory(mpy_key_factory):
    only_on("32-bit", "time.ticks_ms() wraps at 2**30 with 32-bit words; on the x64 unix port at 2**62")
    return mpy_key_factory


def live_through(key, total_ms, step_ms=HALF_PERIOD // 2):
    """Move the key's clock on by total_ms in steps (of less than half the ticks period,
    unless a test means to jump further).

    The key takes each step in a turn of its main loop of its own, in order
    with the frames around it (host_tests/mpy_board/pipe_key.py), as a key
    plugged in all that time would: its timers look at every step.
    """
    while total_ms > 0:
        step = min(step_ms, total_ms)
        key.board.clock.advance(step)
        total_ms -= step


@pytest.mark.parametrize(
    "total,step",
    [
        # a whole period (plus a second): the clock reads 1 s after boot again
        (TICKS_PERIOD + 1000, HALF_PERIOD // 2),
        # one jump past half the period: ticks_diff(now, boot) is negative
        (HALF_PERIOD + 1000, HALF_PERIOD + 1000),
    ],
    ids=["a-full-period-later", "a-jump-past-half-of-it"],
)
def test_reset_window_stays_closed(key_factory, total, step):
    key = key_factory()
    dev = key.open_device(timeout=30)
    live_through(key, total, step)
    with pytest.raises(CtapError) as e:
        Ctap2(dev).reset()
    assert e.value.code == CtapError.ERR.NOT_ALLOWED


def test_pin_token_does_not_come_back_after_a_ticks_period(key_factory):
    key = key_factory()
    dev = key.open_device(timeout=30)
    ctap = Ctap2(dev)
    client_pin = ClientPin(ctap)
    client_pin.set_pin(PIN)
    token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, client_pin.protocol, token)
    assert cm.get_metadata()[1] == 0  # the token works
    live_through(key, TICKS_PERIOD + 1000)
    with pytest.raises(CtapError) as e:
        cm.get_metadata()
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID


def test_get_next_assertion_state_does_not_come_back_after_a_ticks_period(key_factory):
    key = key_factory()
    dev = key.open_device(timeout=30)
    ctap = Ctap2(dev)
    for n in (1, 2):
        ctap.make_credential(
            os.urandom(32), {"id": "example.com", "name": "Example"}, {"id": b"user-%d" % n, "name": "u%d" % n},
            [{"type": "public-key", "alg": -7}], options={"rk": True})
    first = ctap.get_assertion("example.com", os.urandom(32))
    assert first.number_of_credentials == 2
    live_through(key, TICKS_PERIOD + 1000)
    with pytest.raises(CtapError) as e:
        ctap.get_next_assertion()
    assert e.value.code == CtapError.ERR.NOT_ALLOWED


def test_lock_ends_after_a_jump_past_half_the_period(key_factory):
    raw = FencedHid(key_factory().connection(timeout=10))
    a, b = _channel(raw), _channel(raw)
    assert raw.send(init_packet(a, CTAPHID.LOCK, b"\x0a")) == [(a, CTAPHID.LOCK, b"")]
    assert raw.send(init_packet(b, CTAPHID.PING, b"b")) == [error(b, ERR_LOCK_REQUIRED)]
    raw_key = raw.connection._key
    raw_key.board.clock.advance(HALF_PERIOD + 1000)
    assert raw.send(init_packet(b, CTAPHID.PING, b"b")) == [(b, CTAPHID.PING, b"b")]


@pytest.mark.parametrize("before_wrap_ms", [100, 300])
def test_a_message_across_the_wrap(key_factory, before_wrap_ms):
    key = key_factory(ticks=TICKS_PERIOD - before_wrap_ms)
    raw = FencedHid(key.connection(timeout=10))
    cid = _channel(raw)
    data = os.urandom(700)  # 12 packets, 50 ms apart, while the clock wraps
    assert raw.trickle(packets(cid, CTAPHID.PING, data), 0.05) == [(cid, CTAPHID.PING, data)]


def test_message_timeout_across_the_wrap(key_factory):
    key = key_factory(ticks=TICKS_PERIOD - 250)
    raw = FencedHid(key.connection(timeout=10))
    cid = _channel(raw)
    pkts = packets(cid, CTAPHID.PING, bytes(100))
    sent = time.monotonic()  # before the send: the key cannot have the packet any earlier
    assert raw.send(pkts[0]) == []
    assert raw.read_message() == error(cid, ERR_MSG_TIMEOUT)
    assert time.monotonic() - sent >= 0.5


def _channel(raw):
    nonce = os.urandom(8)
    ((_, _, payload),) = raw.send(init_packet(0xFFFFFFFF, CTAPHID.INIT, nonce))
    assert payload[:8] == nonce
    return int.from_bytes(payload[8:12], "big")
