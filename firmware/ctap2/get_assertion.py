"""CTAP 2.1 §6.2 authenticatorGetAssertion (0x02) and §6.3 authenticatorGetNextAssertion (0x08)."""

from micropython import const

from firmware import crypto
from firmware.credential import CRED_PROTECT_UV_OPTIONAL_WITH_LIST, CRED_PROTECT_UV_REQUIRED
from firmware.ctap2 import authenticator_data, extensions as exts, params, pin_uv
from firmware.ctap2.authenticator_data import FLAG_UP, FLAG_UV
from firmware.ctap2.params import BYTES, TEXT, UINT, need, opt
from firmware import store as st
from firmware.ticks import elapsed_ms
from firmware.status import (
    CtapError,
    CTAP2_ERR_INVALID_OPTION,
    CTAP2_ERR_NO_CREDENTIALS,
    CTAP2_ERR_NOT_ALLOWED,
    CTAP2_ERR_UNSUPPORTED_OPTION,
)

# CTAP 2.1 §6.2 authenticatorGetAssertion request
_GA_RP_ID = const(0x01)
_GA_CLIENT_DATA_HASH = const(0x02)
_GA_ALLOW_LIST = const(0x03)
_GA_EXTENSIONS = const(0x04)
_GA_OPTIONS = const(0x05)
_GA_PIN_UV_AUTH_PARAM = const(0x06)
_GA_PIN_UV_AUTH_PROTOCOL = const(0x07)

# ... and response
_GA_RESP_CREDENTIAL = const(0x01)
_GA_RESP_AUTH_DATA = const(0x02)
_GA_RESP_SIGNATURE = const(0x03)
_GA_RESP_USER = const(0x04)
_GA_RESP_NUMBER_OF_CREDENTIALS = const(0x05)
# 0x07 largeBlobKey: added by extensions.AssertionExtensions

# §6.3 step 3: getNextAssertion only within 30 s of the last (Next)Assertion.
NEXT_ASSERTION_TIMEOUT_MS = const(30000)
_CRED_TYPE = "public-key"


class AssertionState:
    """What getNextAssertion needs to remember (CTAP 2.1 §6.2.2 step 11)."""

    def __init__(self, rp_id_hash, client_data_hash, flags, uv, extensions, slot, now):
        self.rp_id_hash = rp_id_hash
        self.client_data_hash = client_data_hash
        self.flags = flags
        self.uv = uv
        self.extensions = extensions  # extensions.AssertionExtensions
        # Where the credentials not returned yet start: the slot of the last
        # one returned (they come newest first, Authenticator.next_credential).
        self.slot = slot
        self.last = now


def _applicable(cred_protect, uv, allow_list_given):
    # Step 7: credProtect hides credentials from requests without UV.
    # U2F_AUTHENTICATE applies the same rule (never UV, always a list):
    # firmware/ctap1.py _authenticate.
    if cred_protect == CRED_PROTECT_UV_REQUIRED and not uv:
        return False
    if cred_protect == CRED_PROTECT_UV_OPTIONAL_WITH_LIST and not uv and not allow_list_given:
        return False
    return True


def _highest_applicable(uv):
    """The highest credProtect level step 7 lets a request without an allowList reach."""
    level = CRED_PROTECT_UV_REQUIRED
    while not _applicable(level, uv, False):
        level -= 1
    return level


def _assertion(auth, cred, rp_id_hash, client_data_hash, flags, uv, ext, number=None):
    """One assertion response for `cred` (steps 11-12)."""
    ext_out = ext.outputs(auth, cred, uv)
    auth_data = authenticator_data.build(rp_id_hash, flags, auth.store.next_sign_count(), extensions=ext_out)
    auth.processing()
    # The credential's own algorithm: ECDSA P-256 (ES256, ESP256) or EdDSA
    # (EdDSA, Ed25519), as its ID says (firmware/credential.py).
    signature = cred.sign(auth_data, client_data_hash)
    resp = {
        _GA_RESP_CREDENTIAL: {"id": cred.id, "type": _CRED_TYPE},
        _GA_RESP_AUTH_DATA: auth_data,
        _GA_RESP_SIGNATURE: signature,
    }
    record = cred.record
    if record is not None:
        # User identifiable information only after user verification.
        user = {"id": record[st.RK_USER_ID]}
        if uv:
            if st.RK_USER_NAME in record:
                user["name"] = record[st.RK_USER_NAME]
            if st.RK_USER_DISPLAY_NAME in record:
                user["displayName"] = record[st.RK_USER_DISPLAY_NAME]
        resp[_GA_RESP_USER] = user
    ext.add_assertion_response(resp, cred)
    if number is not None:
        resp[_GA_RESP_NUMBER_OF_CREDENTIALS] = number
    return resp


def handle(auth, req):
    """CTAP2 authenticatorGetAssertion command."""
    # -- parse and validate (no side effects) ----------------------------------
    rp_id = need(req, _GA_RP_ID, TEXT)
    client_data_hash = params.client_data_hash(req, _GA_CLIENT_DATA_HASH)
    allow_list = params.descriptor_list(req, _GA_ALLOW_LIST)
    extensions = params.extensions(req, _GA_EXTENSIONS)
    options = params.options(req, _GA_OPTIONS)
    pin_uv_auth_param = opt(req, _GA_PIN_UV_AUTH_PARAM, BYTES)
    opt(req, _GA_PIN_UV_AUTH_PROTOCOL, UINT)
    rp_id_hash = crypto.sha256(rp_id.encode())

    # Steps 1-2: zero-length pinUvAuthParam probe, pinUvAuthProtocol.
    pin_uv.check_param(auth, req, _GA_PIN_UV_AUTH_PARAM, _GA_PIN_UV_AUTH_PROTOCOL)

    # Step 4: options. Unknown keys are ignored.
    uv = options.get("uv", False) and pin_uv_auth_param is None
    if uv:
        raise CtapError(CTAP2_ERR_INVALID_OPTION)  # no built-in user verification
    if "rk" in options:
        raise CtapError(CTAP2_ERR_UNSUPPORTED_OPTION)
    up = options.get("up", True)
    # Step 10's inputs are checked now (types, largeBlobKey false,
    # hmac-secret without presence), so bad input fails before any touch.
    ext = exts.get_assertion(extensions, up)

    # Steps 5-6: alwaysUv and pinUvAuthParam verification.
    uv_performed = pin_uv.verify_for_command(
        auth, req, _GA_PIN_UV_AUTH_PARAM, _GA_PIN_UV_AUTH_PROTOCOL, client_data_hash,
        pin_uv.PERMISSION_GA, rp_id, None, up,
    )

    # -- act ------------------------------------------------------------------
    # Step 7: locate the applicable credentials. An empty allowList is the
    # same as none: the discoverable credentials of the RP, judged by their
    # records (which keep the credProtect level their IDs hold).
    cred = None
    if allow_list:
        for cred_type, cred_id in allow_list:
            if cred_type != _CRED_TYPE:
                continue
            found = auth.find_credential(rp_id_hash, cred_id)
            if found is not None and _applicable(found.cred_protect, uv_performed, True):
                cred = found
                break  # "select any credential": the first one listed
        if cred is None:
            raise CtapError(CTAP2_ERR_NO_CREDENTIALS)
    else:
        # Counted on the store's index, which keeps each credProtect level;
        # only the record returned now is read (getNextAssertion reads the
        # next): the heap does not grow with the RP's credentials.
        level = _highest_applicable(uv_performed)
        number = auth.store.rk_count(rp_id_hash, level)
        cred = auth.next_credential(rp_id_hash, None, level)
        if cred is None:
            raise CtapError(CTAP2_ERR_NO_CREDENTIALS)

    # Step 10's checks that need cryptography (hmac-secret's key agreement
    # and salt MAC) run before step 9's touch: a request that can only fail
    # does not ask the user for presence first.
    ext.agree(auth)

    # Step 9: user presence, unless the platform asked for a silent assertion.
    flags = FLAG_UV if uv_performed else 0
    if up:
        pin_uv.user_presence(auth, uv_performed)
        flags |= FLAG_UP

    # Steps 11-12: the first credential now; with no allowList the others
    # wait, newest first, for getNextAssertion.
    if allow_list:
        number = None
    elif number > 1:
        auth.assertion_state = AssertionState(
            rp_id_hash,
            client_data_hash,
            flags,
            uv_performed,
            ext,
            cred.slot,
            auth.board.ticks_ms(),
        )
    return _assertion(auth, cred, rp_id_hash, client_data_hash, flags, uv_performed, ext, number)


def expire(auth):
    """Drop the getNextAssertion state once its 30 s timer has run out.

    The main loop calls this on every turn (Authenticator.tick), so the state
    never outlives its timer on a clock that wraps (firmware/ticks.py).
    """
    state = auth.assertion_state
    if state is not None and elapsed_ms(auth.board, state.last) > NEXT_ASSERTION_TIMEOUT_MS:
        auth.assertion_state = None


def handle_next(auth, req):
    """CTAP2 authenticatorGetNextAssertion command (§6.3)."""
    # Steps 1-3: remembered parameters, credentials left, within the timer.
    expire(auth)
    state = auth.assertion_state
    if state is None:
        raise CtapError(CTAP2_ERR_NOT_ALLOWED)
    # Steps 4-8: the next credential's record is read now.
    cred = auth.next_credential(state.rp_id_hash, state.slot, _highest_applicable(state.uv))
    if cred is None:
        raise CtapError(CTAP2_ERR_NOT_ALLOWED)  # all numberOfCredentials were returned
    state.slot = cred.slot
    state.last = auth.board.ticks_ms()
    return _assertion(auth, cred, state.rp_id_hash, state.client_data_hash, state.flags, state.uv, state.extensions)
