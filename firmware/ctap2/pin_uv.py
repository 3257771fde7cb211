"""CTAP 2.1 §6.5 pinUvAuthParam handling shared by makeCredential and getAssertion.

This key has no built-in user verification; user verification means a
pinUvAuthToken obtained with the PIN. Until authenticatorClientPIN exists the
key supports no pinUvAuthProtocol, so every pinUvAuthParam is refused with
the error §6.1.2/§6.2.2 step 2 names.
"""

from micropython import const

from firmware.ctap2 import params
from firmware.status import CtapError, CTAP2_ERR_PIN_AUTH_INVALID

# CTAP 2.1 §6.5.5.7 pinUvAuthToken permissions
PERMISSION_MC = const(0x01)
PERMISSION_GA = const(0x02)


def check_param(auth, req, key_param, key_protocol):
    """Steps 1-2: the zero-length probe and the pinUvAuthProtocol check."""
    if req.get(key_param) is None:
        return
    params.pin_uv_auth_protocol(req, key_protocol, auth.pin_uv_auth_protocols)


def verify_for_command(auth, req, key_param, key_protocol, client_data_hash, permission, rp_id, rk):
    """The PIN/UV steps of makeCredential/getAssertion; True when the user was verified."""
    if req.get(key_param) is None:
        return False
    raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)


def consume_user_present(auth):
    """getUserPresentFlagValue(): True when a fresh pinUvAuthToken already proved presence."""
    return False
