"""firmware/presence.py: touch outcomes -> status codes, timeout, cancel, LED."""

import pytest
from fido2.ctap import CtapError

from boards.host.board import FakeClock, HostBoard, Presence
from boards.host.transport import MemoryTransport
from firmware import presence
from firmware.presence import TOUCH_DECLINED, TOUCH_OK, TOUCH_TIMEOUT
from firmware.status import CtapError as FwError


class Transport:
    def __init__(self, cancel_after=None):
        self.calls = 0
        self.cancel_after = cancel_after

    def keepalive(self, status):
        assert status == 2  # UPNEEDED
        self.calls += 1
        return self.cancel_after is not None and self.calls > self.cancel_after


class Auth:
    def __init__(self, board, transport):
        self.board = board
        self.transport = transport


class ScriptedBoard(HostBoard):
    def __init__(self, outcomes):
        super().__init__(MemoryTransport(), clock=FakeClock())
        self.outcomes = list(outcomes)

    def wait_touch(self, ms):
        self.clock.advance(ms)
        return self.outcomes.pop(0) if self.outcomes else TOUCH_TIMEOUT


def run(board, transport, **kw):
    try:
        presence.wait(Auth(board, transport), **kw)
        return 0
    except FwError as e:
        return e.code


def test_touch_returns_and_led_shows_waiting():
    board = ScriptedBoard([TOUCH_TIMEOUT, TOUCH_TIMEOUT, TOUCH_OK])
    t = Transport()
    assert run(board, t) == 0
    assert board.led_events == ["touch", "idle"]
    assert t.calls == 4  # before each slice, and once more after the touch


def test_refusal_is_operation_denied():
    assert run(ScriptedBoard([TOUCH_DECLINED]), Transport()) == CtapError.ERR.OPERATION_DENIED


def test_no_touch_is_user_action_timeout():
    board = ScriptedBoard([])
    assert run(board, Transport(), timeout_ms=2000) == CtapError.ERR.USER_ACTION_TIMEOUT
    assert board.clock.now - 1_000_000 == 2000
    assert board.led_events[-1] == "idle"


@pytest.mark.parametrize("after", [0, 3])
def test_cancel_is_keepalive_cancel(after):
    assert run(ScriptedBoard([]), Transport(cancel_after=after)) == CtapError.ERR.KEEPALIVE_CANCEL


def test_a_cancel_that_races_the_touch_wins():
    board = ScriptedBoard([TOUCH_OK])
    assert run(board, Transport(cancel_after=1)) == CtapError.ERR.KEEPALIVE_CANCEL


def test_host_presence_policies():
    clock = FakeClock()
    assert Presence("auto").wait(10, clock) == TOUCH_OK
    assert Presence("deny").wait(10, clock) == TOUCH_DECLINED
    p = Presence("manual")
    assert p.wait(10, clock) == TOUCH_TIMEOUT
    p.press()
    assert p.wait(10, clock) == TOUCH_OK
    assert p.wait(10, clock) == TOUCH_TIMEOUT  # a press is used once


# -- check(): the non-blocking test of presence U2F uses ---------------------------------


@pytest.mark.parametrize(
    "outcome, present, led",
    [(TOUCH_OK, True, "idle"), (TOUCH_TIMEOUT, False, "touch"), (TOUCH_DECLINED, False, "touch")],
)
def test_check_polls_once_without_waiting(outcome, present, led):
    board = ScriptedBoard([outcome])
    polled = []
    board.wait_touch = lambda ms: polled.append(ms) or outcome
    t0 = board.clock.now
    assert presence.check(Auth(board, Transport())) is present
    assert polled == [0] and board.clock.now == t0
    assert board.led_events == [led]


def test_check_consumes_one_pending_touch():
    board = HostBoard(MemoryTransport(), presence=Presence("manual"), clock=FakeClock())
    auth = Auth(board, Transport())
    assert presence.check(auth) is False
    board.presence.press()
    assert presence.check(auth) is True
    assert presence.check(auth) is False  # one touch, one operation
    assert board.presence.requests == 2  # asked again after the touch was used


# -- CTAP 2.2 long touch (wait(long_touch=True) asks the board's wait_long_touch) --------------


class LongTouchBoard(ScriptedBoard):
    def __init__(self, outcomes):
        super().__init__([])
        self.long_outcomes = list(outcomes)

    def wait_long_touch(self, ms):
        self.clock.advance(ms)
        return self.long_outcomes.pop(0) if self.long_outcomes else TOUCH_TIMEOUT


def test_long_touch_asks_wait_long_touch_only():
    board = LongTouchBoard([TOUCH_TIMEOUT, TOUCH_OK])
    t = Transport()
    assert run(board, t, long_touch=True) == 0
    assert board.long_outcomes == [] and t.calls == 3
    # A plain wait never asks for a long touch.
    board = LongTouchBoard([TOUCH_OK])
    assert run(board, Transport(), timeout_ms=50) == CtapError.ERR.USER_ACTION_TIMEOUT
    assert board.long_outcomes == [TOUCH_OK]


@pytest.mark.parametrize(
    "outcomes,code",
    [
        ([TOUCH_DECLINED], CtapError.ERR.OPERATION_DENIED),  # let go too soon
        ([], CtapError.ERR.USER_ACTION_TIMEOUT),
    ],
)
def test_long_touch_failures(outcomes, code):
    assert run(LongTouchBoard(outcomes), Transport(), timeout_ms=100, long_touch=True) == code


def test_long_touch_cancel():
    assert run(LongTouchBoard([]), Transport(cancel_after=3), long_touch=True) == CtapError.ERR.KEEPALIVE_CANCEL


def test_host_presence_long_and_short():
    clock = FakeClock()
    p = Presence("manual")
    p.press()
    assert p.wait_long(10, clock) == TOUCH_DECLINED
    p.long_press()
    assert p.wait_long(10, clock) == TOUCH_OK
    assert p.wait_long(10, clock) == TOUCH_TIMEOUT
    assert Presence("auto").wait_long(10, clock) == TOUCH_OK
    assert Presence("deny").wait_long(10, clock) == TOUCH_DECLINED


def test_host_long_press_used_by_an_ordinary_request_is_gone():
    clock = FakeClock()
    p = Presence("manual")
    p.long_press()
    assert p.wait(10, clock) == TOUCH_OK
    p.press()
    assert p.wait_long(10, clock) == TOUCH_DECLINED
