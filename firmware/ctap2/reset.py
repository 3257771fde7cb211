"""CTAP 2.1 §6.6 authenticatorReset (0x07)."""

from micropython import const

from firmware import presence
from firmware.status import CtapError, CTAP2_ERR_NOT_ALLOWED
from firmware.ticks import elapsed_ms

# §6.6: only within 10 s of power-up, so a malicious host cannot wipe a key
# that has been plugged in for a while. Boards may configure the window
# (CONFIG "reset_window_ms"); the host board makes it configurable for tests.
RESET_WINDOW_MS = const(10000)


def window_open(auth):
    """Still within reset_window_ms of power-up? Once closed, closed until the next one.

    Latched: the main loop asks on every turn (Authenticator.tick), so a key
    plugged in for longer than MicroPython's ticks period (12.4 days), whose
    clock then reads "just after boot" again, keeps it closed (firmware/ticks.py).
    """
    if auth.reset_window_open and elapsed_ms(auth.board, auth.boot_ms) > auth.reset_window_ms:
        auth.reset_window_open = False
    return auth.reset_window_open


def handle(auth, req):
    """CTAP2 authenticatorReset command."""
    # 1. Only shortly after power-up.
    if not window_open(auth):
        raise CtapError(CTAP2_ERR_NOT_ALLOWED)
    # 2. User presence; refused -> OPERATION_DENIED, none -> USER_ACTION_TIMEOUT.
    # CTAP 2.2 §6.6: a key that advertises longTouchForReset takes only a
    # long touch; a short one is refused (OPERATION_DENIED) -- a reset
    # cannot come from a tap meant for something else.
    presence.wait(auth, long_touch=auth.long_touch_for_reset)
    # 3. Forget credentials, PIN and master secret (non-resident IDs die with it).
    auth.reset_state()
    return None
