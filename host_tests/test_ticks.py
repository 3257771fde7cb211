"""firmware/ticks.py and the timers the main loop looks at, on a clock that wraps like MicroPython's."""

import pytest

from boards.host.board import FakeClock
from firmware import ticks
from firmware.ctap2 import reset
import ctap2_helpers

PERIOD = 1 << 30  # time.ticks_ms() period on MicroPython's 32-bit ports


class WrappingClock(FakeClock):
    """MicroPython's ticks_ms()/ticks_diff(): modulo 2**30, differences in [-2**29, 2**29)."""

    def ticks_ms(self):
        return super().ticks_ms() % PERIOD

    @staticmethod
    def ticks_diff(new, old):
        return (new - old + PERIOD // 2) % PERIOD - PERIOD // 2


class Board:
    def __init__(self, clock):
        self.ticks_ms = clock.ticks_ms
        self.ticks_diff = clock.ticks_diff


@pytest.mark.parametrize("later,elapsed", [
    (0, 0), (1, 1), (PERIOD // 2 - 1, PERIOD // 2 - 1),
    (PERIOD // 2, ticks.LONG_AGO_MS), (PERIOD - 1, ticks.LONG_AGO_MS),
])
def test_elapsed_ms_reads_a_negative_difference_as_long_ago(later, elapsed):
    clock = WrappingClock(start=PERIOD - 10)  # across the wrap too
    start = clock.ticks_ms()
    clock.advance(later)
    assert ticks.elapsed_ms(Board(clock), start) == elapsed


def test_long_ago_is_past_every_timeout():
    from firmware import ctaphid, pin_protocol
    from firmware.ctap2 import get_assertion

    assert ticks.LONG_AGO_MS > max(
        ctaphid.MSG_TIMEOUT_MS, 1000 * ctaphid.LOCK_MAX_SECONDS, pin_protocol.MAX_USAGE_TIME_PERIOD_MS,
        get_assertion.NEXT_ASSERTION_TIMEOUT_MS, reset.RESET_WINDOW_MS)


def test_tick_latches_the_reset_window_before_the_clock_comes_round():
    clock = WrappingClock()
    auth = ctap2_helpers.make_auth(clock=clock)
    assert reset.window_open(auth)
    for _ in range(4):  # a whole period in quarter steps, the main loop ticking between
        clock.advance(PERIOD // 4)
        auth.tick()
    clock.advance(1000)  # ticks_diff(now, boot) == 1000 again
    assert not reset.window_open(auth)
    assert ctap2_helpers.status(auth, ctap2_helpers.RESET) == 0x30  # NOT_ALLOWED
