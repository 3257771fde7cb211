"""CTAP 2.1 §6.11 authenticatorConfig (0x0D): enterprise attestation, alwaysUv, minimum PIN length.

Once the key is protected by a PIN (or alwaysUv is on), every subcommand
needs a pinUvAuthToken with the acfg permission over
32 x 0xff || 0x0d || subCommand || subCommandParams (python-fido2 Config._call).
Settings live in the "state" record, so authenticatorReset restores the
defaults; each subcommand validates everything first and then persists its
changes in one atomic write.
"""

from micropython import const

import cbor
from firmware import crypto
from firmware import pin_protocol as pp
from firmware import store as st
from firmware.ctap2 import pin_uv
from firmware.ctap2.params import ARRAY, BOOL, BYTES, MAP, TEXT, UINT, check, need, opt
from firmware.status import (
    CtapError,
    CTAP1_ERR_INVALID_PARAMETER,
    CTAP2_ERR_KEY_STORE_FULL,
    CTAP2_ERR_PIN_NOT_SET,
    CTAP2_ERR_PIN_POLICY_VIOLATION,
)

# CTAP 2.1 §6.11 authenticatorConfig request
_CFG_SUB_COMMAND = const(0x01)
_CFG_SUB_COMMAND_PARAMS = const(0x02)
_CFG_PIN_UV_AUTH_PROTOCOL = const(0x03)
_CFG_PIN_UV_AUTH_PARAM = const(0x04)

# ... subcommands
SUB_ENABLE_ENTERPRISE_ATTESTATION = const(0x01)
SUB_TOGGLE_ALWAYS_UV = const(0x02)
SUB_SET_MIN_PIN_LENGTH = const(0x03)
# 0xFF vendorPrototype: not supported

# §6.11.4 setMinPINLength subCommandParams
_SMPL_NEW_MIN_PIN_LENGTH = const(0x01)
_SMPL_MIN_PIN_LENGTH_RP_IDS = const(0x02)
_SMPL_FORCE_CHANGE_PIN = const(0x03)

# getInfo maxRPIDsForSetMinPINLength: RP IDs that may read minPINLength
# (kept in the state record; a few suffice for an enterprise's own RPs).
MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH = const(8)
_MAX_RP_ID_BYTES = const(253)  # a DNS name
# The "authenticatorConfig" command byte, part of every MACed message.
_CONFIG_COMMAND_BYTE = const(0x0D)


def _enterprise_attestation_capable(auth):
    # Capable only once provisioning put an enterprise attestation key and
    # certificate in the store (tools/); getInfo "ep" follows the same test.
    return auth.store.enterprise_attestation() is not None


def _supported(auth, sub_command):
    if sub_command == SUB_ENABLE_ENTERPRISE_ATTESTATION:
        return _enterprise_attestation_capable(auth)
    return sub_command == SUB_TOGGLE_ALWAYS_UV or sub_command == SUB_SET_MIN_PIN_LENGTH


def supported_sub_commands(auth):
    """getInfo authenticatorConfigCommands (CTAP 2.2): what _supported accepts."""
    subs = [SUB_TOGGLE_ALWAYS_UV, SUB_SET_MIN_PIN_LENGTH]
    if _enterprise_attestation_capable(auth):
        subs.insert(0, SUB_ENABLE_ENTERPRISE_ATTESTATION)
    return subs


# -- subcommands ------------------------------------------------------------------


def _enable_enterprise_attestation(auth, sub_params):
    """§6.11.1 enableEnterpriseAttestation: ep becomes true (idempotent)."""
    auth.store.update({st.STATE_ENTERPRISE_ATTESTATION: True})


def _toggle_always_uv(auth, sub_params):
    """§6.11.2 toggleAlwaysUv (makeCredUvNotRqd follows: pin_uv.make_cred_uv_not_rqd)."""
    auth.store.update({st.STATE_ALWAYS_UV: None if pin_uv.always_uv(auth) else True})


def _set_min_pin_length(auth, sub_params):
    """§6.11.4 setMinPINLength."""
    if sub_params is None:
        sub_params = {}  # every member is optional
    current = pin_uv.min_pin_length(auth)
    # 1. newMinPINLength absent: the current one.
    new_min = opt(sub_params, _SMPL_NEW_MIN_PIN_LENGTH, UINT)
    if new_min is None:
        new_min = current
    rp_ids = opt(sub_params, _SMPL_MIN_PIN_LENGTH_RP_IDS, ARRAY)
    if rp_ids is not None:
        for rp_id in rp_ids:
            check(rp_id, TEXT)
    force = opt(sub_params, _SMPL_FORCE_CHANGE_PIN, BOOL)
    # 2. The minimum only grows (a thief could lower it otherwise), and a
    # minimum above the longest PIN would lock the key.
    if new_min < current or new_min > pin_uv.MAX_PIN_LENGTH:
        raise CtapError(CTAP2_ERR_PIN_POLICY_VIOLATION)
    # 3. forceChangePin needs a PIN to change.
    pin_set = pin_uv.pin_is_set(auth)
    if force and not pin_set:
        raise CtapError(CTAP2_ERR_PIN_NOT_SET)
    # The list replaces the previous one; more than we can keep is refused.
    if rp_ids and (
        len(rp_ids) > MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH or any(len(r.encode()) > _MAX_RP_ID_BYTES for r in rp_ids)
    ):
        raise CtapError(CTAP2_ERR_KEY_STORE_FULL)
    changes = {st.STATE_MIN_PIN_LENGTH: new_min}
    # 4-5. forcePINChange when asked, or when the PIN is now too short.
    if pin_set and (force or auth.store.get(st.STATE_PIN_CODE_POINTS, 0) < new_min):
        changes[st.STATE_FORCE_PIN_CHANGE] = True
    if rp_ids:
        # Kept as their SHA-256: the minPinLength extension only asks
        # whether an RP is listed, and the state stays small (store.py).
        changes[st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES] = [crypto.sha256(r.encode()) for r in rp_ids]
    # 6-7. One atomic write.
    auth.store.update(changes)


_SUBCOMMANDS = {
    SUB_ENABLE_ENTERPRISE_ATTESTATION: _enable_enterprise_attestation,
    SUB_TOGGLE_ALWAYS_UV: _toggle_always_uv,
    SUB_SET_MIN_PIN_LENGTH: _set_min_pin_length,
}


def handle(auth, req):
    """CTAP2 authenticatorConfig command."""
    # -- parse and validate --------------------------------------------------------------
    # 1. subCommand.
    sub_command = need(req, _CFG_SUB_COMMAND, UINT)
    sub_params = opt(req, _CFG_SUB_COMMAND_PARAMS, MAP)
    opt(req, _CFG_PIN_UV_AUTH_PROTOCOL, UINT)
    param = opt(req, _CFG_PIN_UV_AUTH_PARAM, BYTES)
    # 2. Unsupported subcommands (vendorPrototype, enterprise attestation
    # without a provisioned certificate) are CTAP1_ERR_INVALID_PARAMETER.
    if not _supported(auth, sub_command):
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)

    # 3. toggleAlwaysUv on a key with no PIN but alwaysUv on skips the
    # check: otherwise alwaysUv could lock out a key that has no PIN yet.
    protected = pin_uv.pin_is_set(auth)
    bypass = sub_command == SUB_TOGGLE_ALWAYS_UV and not protected and pin_uv.always_uv(auth)
    # 4. Protected by UV, or alwaysUv: a pinUvAuthToken with acfg.
    if not bypass and (protected or pin_uv.always_uv(auth)):
        message = b"\xff" * 32 + bytes((_CONFIG_COMMAND_BYTE, sub_command))
        if sub_params is not None:
            # Canonical CBOR in, so this is exactly what the platform MACed.
            message += cbor.dumps(sub_params)
        pp.authorize(auth, param, req.get(_CFG_PIN_UV_AUTH_PROTOCOL), message, pp.PERMISSION_ACFG)

    # -- act (5-6) ----------------------------------------------------------------------------
    _SUBCOMMANDS[sub_command](auth, sub_params)
    return None
