"""firmware/ctap2/reset.py (§6.6) and selection.py (§6.9)."""

import pytest
from fido2.ctap import CtapError

from boards.host.board import FakeClock, HostBoard
from boards.host.transport import MemoryTransport
from ctap2_helpers import GA, RESET, SELECTION, call, ga_request, make_auth, make_credential, status
from firmware.authenticator import Authenticator
from firmware import store as st

ERR = CtapError.ERR


def test_reset_wipes_credentials_and_kills_old_ids():
    auth = make_auth()
    plain, _, _ = make_credential(auth)
    resident, _, _ = make_credential(auth, rk=True)
    secret = auth.store.master_secret
    assert status(auth, RESET) == 0
    assert auth.store.master_secret != secret and auth.store.rk_count() == 0
    for cid in (plain, resident):
        assert status(auth, GA, ga_request([cid])) == ERR.NO_CREDENTIALS
    assert status(auth, GA, ga_request()) == ERR.NO_CREDENTIALS
    assert make_credential(auth)[0]  # the key works on


def test_reset_window_counts_from_power_up():
    clock = FakeClock()
    auth = make_auth(clock=clock)
    clock.advance(10000)
    assert status(auth, RESET) == 0
    clock.advance(1)
    assert status(auth, RESET) == ERR.NOT_ALLOWED


def test_reset_needs_a_touch():
    auth = make_auth(presence="deny")
    assert status(auth, RESET) == ERR.OPERATION_DENIED
    auth = make_auth(presence="manual")
    secret = auth.store.master_secret
    assert status(auth, RESET) == ERR.USER_ACTION_TIMEOUT
    assert auth.store.master_secret == secret


def test_reset_keeps_the_attestation_identity():
    auth = make_auth()
    auth.board.storage.write(
        st.REC_ATTESTATION, st.encode_record({st.ATT_PRIVATE_KEY: b"k" * 32, st.ATT_CERTIFICATES: [b"c"]})
    )
    assert status(auth, RESET) == 0
    assert auth.store.attestation() == (b"k" * 32, [b"c"])


@pytest.mark.parametrize("mode,code", [("auto", 0), ("deny", ERR.OPERATION_DENIED), ("manual", ERR.USER_ACTION_TIMEOUT)])
def test_selection(mode, code):
    auth = make_auth(presence=mode)
    assert status(auth, SELECTION) == code
    assert auth.board.presence.requests == 1


# -- CTAP 2.2 longTouchForReset ----------------------------------------------------------------


def test_reset_with_long_touch_for_reset():
    auth = make_auth(presence="manual", config={"long_touch_for_reset": True})
    assert auth.long_touch_for_reset
    assert call(auth, 0x04)[1][0x18] is True
    secret = auth.store.master_secret
    # A short touch is refused, and resets nothing.
    auth.board.presence.press()
    assert status(auth, RESET) == ERR.OPERATION_DENIED
    assert auth.store.master_secret == secret
    # A long one resets.
    auth.board.presence.long_press()
    assert status(auth, RESET) == 0
    assert auth.store.master_secret != secret
    # Other requests take any touch.
    auth.board.presence.press()
    assert status(auth, SELECTION) == 0


def test_reset_without_long_touch_for_reset():
    auth = make_auth(presence="manual")
    assert not auth.long_touch_for_reset
    assert 0x18 not in call(auth, 0x04)[1]
    auth.board.presence.press()
    assert status(auth, RESET) == 0


def test_long_touch_for_reset_needs_a_board_that_can_tell():
    class NoLongTouch:
        """The host board without wait_long_touch: a board that cannot time a press."""

        def __init__(self):
            self._board = HostBoard(MemoryTransport(), config={"long_touch_for_reset": True})
            self.CONFIG = self._board.CONFIG

        def __getattr__(self, name):
            if name == "wait_long_touch":
                raise AttributeError(name)
            return getattr(self._board, name)

    auth = Authenticator(NoLongTouch())
    assert not auth.long_touch_for_reset
    assert 0x18 not in call(auth, 0x04)[1]
