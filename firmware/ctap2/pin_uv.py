"""CTAP 2.1 §6.1.2 / §6.2.2 PIN/UV steps shared by makeCredential and getAssertion.

This key has no built-in user verification: "the user was verified" always
means a pinUvAuthToken obtained with the PIN (firmware/pin_protocol.py), so
getInfo has no "uv" option and the "uv" option in a request is refused.

Also the one place that reads the PIN policy from the state record, so the
handlers and getInfo see the same values.
"""

from micropython import const

from firmware import crypto, pin_protocol, presence
from firmware import store as st
from firmware.ctap2 import params
from firmware.pin_protocol import PERMISSION_GA, PERMISSION_MC  # noqa: F401 (re-exported)
from firmware.status import (
    CtapError,
    CTAP2_ERR_OPERATION_DENIED,
    CTAP2_ERR_PIN_AUTH_INVALID,
    CTAP2_ERR_PIN_INVALID,
    CTAP2_ERR_PIN_NOT_SET,
    CTAP2_ERR_PUAT_REQUIRED,
    CTAP2_ERR_USER_ACTION_TIMEOUT,
)

# CTAP 2.1 §6.5.1: retries start at 8; the default minimum PIN length is 4
# code points and a PIN is at most 63 bytes.
PIN_RETRIES_MAX = const(8)
DEFAULT_MIN_PIN_LENGTH = const(4)
MAX_PIN_LENGTH = const(63)


# -- the PIN policy, as stored --------------------------------------------------


def pin_is_set(auth):
    """clientPin: True once a PIN is set (the key is 'protected by UV')."""
    return auth.store.get(st.STATE_PIN_HASH) is not None


def pin_retries(auth):
    return auth.store.get(st.STATE_PIN_RETRIES, PIN_RETRIES_MAX)


def min_pin_length(auth):
    return auth.store.get(st.STATE_MIN_PIN_LENGTH, DEFAULT_MIN_PIN_LENGTH)


def force_pin_change(auth):
    return bool(auth.store.get(st.STATE_FORCE_PIN_CHANGE, False))


def min_pin_length_allowed(auth, rp_id):
    """Did setMinPINLength allow this RP ID to read minPINLength (minPinLength extension)?"""
    return crypto.sha256(rp_id.encode()) in auth.store.get(st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES, ())


def always_uv(auth):
    """alwaysUv (§7.2.4). When true, CTAP1/U2F must be refused too (no built-in UV)."""
    return bool(auth.store.get(st.STATE_ALWAYS_UV, False))


def make_cred_uv_not_rqd(auth):
    """makeCredUvNotRqd: non-discoverable credentials without UV, unless alwaysUv."""
    return not always_uv(auth)


def enterprise_attestation_enabled(auth):
    return bool(auth.store.get(st.STATE_ENTERPRISE_ATTESTATION, False))


# -- makeCredential / getAssertion steps ------------------------------------------


def check_param(auth, req, key_param, key_protocol):
    """Steps 1-2: the zero-length pinUvAuthParam probe, then pinUvAuthProtocol.

    A platform sends an empty pinUvAuthParam to have the user pick this key
    (CTAP 2.0 had no authenticatorSelection); the answer after the touch tells
    it whether a PIN is set.
    """
    param = req.get(key_param)
    if param is None:
        return
    if len(param) == 0:
        # 1. Evidence of user interaction; a refusal or a timeout is
        # OPERATION_DENIED here, a cancel stays KEEPALIVE_CANCEL.
        try:
            presence.wait(auth)
        except CtapError as e:
            if e.code == CTAP2_ERR_USER_ACTION_TIMEOUT:
                raise CtapError(CTAP2_ERR_OPERATION_DENIED)
            raise
        raise CtapError(CTAP2_ERR_PIN_INVALID if pin_is_set(auth) else CTAP2_ERR_PIN_NOT_SET)
    # 2. pinUvAuthProtocol: present (MISSING_PARAMETER) and supported
    # (CTAP1_ERR_INVALID_PARAMETER).
    params.pin_uv_auth_protocol(req, key_protocol, auth.pin_uv_auth_protocols)


def _uv_required():
    # No built-in UV: the platform must bring a pinUvAuthToken.
    return CtapError(CTAP2_ERR_PUAT_REQUIRED)


def require_uv_policy(auth, req, key_param, rk, up):
    """makeCredential steps 6-8 / getAssertion step 5: alwaysUv and makeCredUvNotRqd.

    :param rk: the request's "rk" option (getAssertion: False).
    :param up: the request's effective "up" option (makeCredential: True).
    """
    has_param = req.get(key_param) is not None
    # MC step 6 / GA step 5 (GA: only when "up" is true -- silent
    # assertions stay possible, as the spec allows).
    if always_uv(auth) and up:
        if not pin_is_set(auth):
            # 6.1: clientPin is supported but not set up.
            raise CtapError(CTAP2_ERR_PIN_NOT_SET)
        if not has_param:
            raise _uv_required()
    if rk is None:
        return  # getAssertion has no steps 7-8
    # Steps 7-8: with a PIN set, a discoverable credential always needs UV;
    # a non-discoverable one only without makeCredUvNotRqd.
    if pin_is_set(auth) and not has_param and (rk or not make_cred_uv_not_rqd(auth)):
        raise _uv_required()


def verify_param(auth, req, key_param, key_protocol, client_data_hash, permission, rp_id):
    """makeCredential step 10 / getAssertion step 6: check pinUvAuthParam.

    Returns True when the user was verified (a valid token was used), False
    when there is no pinUvAuthParam. Every failure is PIN_AUTH_INVALID.
    """
    param = req.get(key_param)
    if param is None:
        return False
    token = auth.pin_uv
    # 1. verify(pinUvAuthToken, clientDataHash, pinUvAuthParam)
    pin_protocol.verify_token(auth, req[key_protocol], client_data_hash, param)
    # 2-3. mc/ga permission; the permissions RP ID must match or gets bound.
    pin_protocol.require_permission(auth, permission, rp_id=rp_id)
    # 4. the token's user verified flag (cleared by an earlier use).
    if not token.get_user_verified_flag_value():
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)
    # 5. "uv" bit in the response.
    return True


def verify_for_command(auth, req, key_param, key_protocol, client_data_hash, permission, rp_id, rk, up=True):
    """The PIN/UV policy and pinUvAuthParam steps in one call; True when the user was verified.

    makeCredential passes rk as its option; getAssertion passes rk=None.
    """
    require_uv_policy(auth, req, key_param, rk, up)
    return verify_param(auth, req, key_param, key_protocol, client_data_hash, permission, rp_id)


def user_presence(auth, uv_performed):
    """The user-presence step when "up" is true: makeCredential step 14, getAssertion step 9.

    CTAP 2.1 §6.1.2 step 14 / §6.2.2 step 9, in their order:
      1. with a pinUvAuthParam (uv_performed), getUserPresentFlagValue()
         may stand for the touch; otherwise, and without one, the user is
         asked. A refusal, a timeout or a cancel ends the operation here
         (presence.wait raises OPERATION_DENIED, USER_ACTION_TIMEOUT,
         KEEPALIVE_CANCEL) and leaves the token as it was: the platform may
         retry with the same token.
      2. Once presence is obtained: clearUserPresentFlag(),
         clearUserVerifiedFlag() and clearPinUvAuthTokenPermissionsExceptLbw()
         -- whether or not this request carried a pinUvAuthParam -- so one
         token authorizes one ceremony that asked for presence.
    Silent assertions (up=false) never get here and leave the token alone.
    """
    token = auth.pin_uv
    if not (uv_performed and token.get_user_present_flag_value()):
        presence.wait(auth)
    token.clear_user_present_flag()
    token.clear_user_verified_flag()
    token.clear_permissions_except_lbw()
