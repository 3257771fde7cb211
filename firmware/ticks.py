"""Elapsed time on the board's wrapping millisecond ticks (every timer of the core).

MicroPython's time.ticks_ms() counts modulo 2**30 on 32-bit ports (12.4
days) and ticks_diff() is right only for intervals shorter than half of that
(6.2 days): a longer one comes out negative, and a whole period as zero. A
key stays plugged in for weeks, so two rules keep its timers right:
  - elapsed_ms() reads a negative interval as "long ago", past every limit;
  - the main loop looks at every timer on each turn (CtapHid.poll() and
    Authenticator.tick(), every few ms), so one that has run out is seen
    and latched (its state cleared) long before its start could look
    recent again. A handler never measures from a start older than that.
"""

from micropython import const

# What elapsed_ms() gives for "more than half a ticks period ago": beyond
# every timeout of the core (the longest is the 10-minute token lifetime).
LONG_AGO_MS = const(0x3FFFFFFF)


def elapsed_ms(board, start):
    """Milliseconds since `start` (a board.ticks_ms() value), never negative."""
    d = board.ticks_diff(board.ticks_ms(), start)
    return d if d >= 0 else LONG_AGO_MS
