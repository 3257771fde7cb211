"""The key's main loop: poll the board's reports, feed CTAPHID, never die.

A board's entry point (boards/<board>/main.py) builds its board object and
calls run(board). Everything the loop needs from hardware is behind the board.
"""

from firmware.authenticator import Authenticator
from firmware.ctaphid import CtapHid


def make_key(board):
    """Wire the layers together: board <- CTAPHID <- authenticator."""
    auth = Authenticator(board)
    return CtapHid(board, auth, auth.firmware_version)


def run(board, hid=None, stop=None):
    """Serve CTAPHID until stop() is true (forever on a board).

    An exception anywhere below is logged and the half-done message, if any,
    is answered with ERR_OTHER; the loop itself carries on.
    """
    if hid is None:
        hid = make_key(board)
    # The application's timers, looked at on every turn (firmware/ticks.py);
    # an application without any has no tick().
    tick = getattr(hid.app, "tick", None)
    while stop is None or not stop():
        try:
            if not hid.poll():
                board.idle()
            if tick is not None:
                tick()
        except Exception as e:
            board.log_exception(e)
            try:
                hid.abort()
            except Exception as e2:
                board.log_exception(e2)
    return hid
