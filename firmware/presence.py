"""Test of user presence (CTAP 2.1 §6.1.2 step 13, §6.2.2, §6.6, §6.9; U2F §4.1, §5.1).

CTAP2 (wait): asks the board for a touch, keeps the host informed with
KEEPALIVE UPNEEDED, and honours CTAPHID_CANCEL. CTAP1/U2F (check): never
waits; the client polls. The board's wait_touch(ms) answers one of the
TOUCH_* outcomes below; this module maps them to status codes in one table.

What a board promises for wait_touch(timeout_ms):
  - TOUCH_OK once per press: a press approves one operation, so a long press
    never approves two (a button board reports the press edge, not the level);
  - a press that came since the previous call counts, when it is recent and
    a request was asking for it. A button board samples its button between
    requests too (between a U2F client's polls) and latches a press that
    begins while a request asks -- from its first wait_touch() or
    led("touch") until the core shows another pattern, or about two seconds
    after a U2F client's last poll -- for about two seconds: the U2F poll
    of a host that asks every 100-250 ms still sees a short tap, but a tap
    made while nothing was asking cannot approve a later request
    (boards/common/board_base.py);
  - a button held down before the request began approves nothing until it
    is let go and pressed again;
  - wait_touch(0) returns at once: the non-blocking poll check() uses.
And for led(pattern): check() leaves the LED on "touch" and returns; a board
with an LED puts it back to "idle" when no poll has come for about two
seconds, so a U2F client that gives up does not leave the key asking for a
touch nothing would use.
And, only for a board that can time a press (CTAP 2.2 longTouchForReset),
wait_long_touch(timeout_ms): the same outcomes, but TOUCH_OK only once a
press that began while the request asked has been held for the board's
long touch; a press let go before that is TOUCH_DECLINED. A board has the
method only if it can tell; CONFIG "long_touch_for_reset" turns the
requirement on (firmware/authenticator.py).
The host board's Presence keeps the first rule and the wait_touch(0) one
("manual" press() is one pending touch, consumed by the call that reports
it); its pending touch does not expire, as a test or a person at the prompt
presses only when asked, and it has no LED to put back.
"""

from micropython import const

from firmware.status import (
    CtapError,
    CTAP2_ERR_KEEPALIVE_CANCEL,
    CTAP2_ERR_OPERATION_DENIED,
    CTAP2_ERR_USER_ACTION_TIMEOUT,
)
from firmware.ctaphid import STATUS_UPNEEDED

# Outcomes of board.wait_touch(timeout_ms)
TOUCH_OK = const(0)
TOUCH_DECLINED = const(1)
TOUCH_TIMEOUT = const(2)  # nothing within this slice; keep waiting

# How long a person gets to touch the key (CTAP 2.1 leaves it to the
# authenticator; 30 s is what platforms expect).
UP_TIMEOUT_MS = const(30000)
# One slice of waiting between keepalive/cancel checks.
_SLICE_MS = const(10)

_FAILURES = {
    TOUCH_DECLINED: CTAP2_ERR_OPERATION_DENIED,
}


def wait(auth, timeout_ms=UP_TIMEOUT_MS, long_touch=False):
    """Return once the user touched the key; raise CtapError otherwise.

    CTAP2_ERR_KEEPALIVE_CANCEL when the host cancelled,
    CTAP2_ERR_USER_ACTION_TIMEOUT after timeout_ms without a touch,
    CTAP2_ERR_OPERATION_DENIED when the board reports a refusal (and, with
    long_touch, a touch let go too soon).
    """
    board = auth.board
    transport = auth.transport
    touch = board.wait_long_touch if long_touch else board.wait_touch
    start = board.ticks_ms()
    board.led("touch")
    try:
        while True:
            if transport.keepalive(STATUS_UPNEEDED):
                raise CtapError(CTAP2_ERR_KEEPALIVE_CANCEL)
            outcome = touch(_SLICE_MS)
            if outcome == TOUCH_OK:
                # A cancel that raced the touch still wins: the host gave up.
                if transport.keepalive(STATUS_UPNEEDED):
                    raise CtapError(CTAP2_ERR_KEEPALIVE_CANCEL)
                return
            code = _FAILURES.get(outcome)
            if code is not None:
                raise CtapError(code)
            if board.ticks_diff(board.ticks_ms(), start) >= timeout_ms:
                raise CtapError(CTAP2_ERR_USER_ACTION_TIMEOUT)
    finally:
        board.led("idle")


def check(auth):
    """Non-blocking test of user presence for CTAP1/U2F: True once per touch.

    U2F must not hold the channel while a person finds the key: a request
    that needs presence asks the board once, without waiting. No touch: the
    LED asks for one and the caller answers SW_CONDITIONS_NOT_SATISFIED; the
    client repeats the request until the touch comes, and that request
    consumes it. A refusal (TOUCH_DECLINED) counts as no touch: U2F has no
    status word for it, and the client gives up on its own timeout.
    """
    board = auth.board
    if board.wait_touch(0) == TOUCH_OK:
        board.led("idle")
        return True
    board.led("touch")
    return False
