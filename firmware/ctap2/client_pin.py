"""CTAP 2.1 §6.5.5 authenticatorClientPIN (0x06): PIN set/change, retries, token issuing.

PIN state persists in the "state" record (firmware/store.py STATE_PIN_*);
the retry counter is decremented *in flash before* a PIN is compared, so
pulling the plug during a guess costs the guess. The consecutive-mismatch
count (three in a row -> CTAP2_ERR_PIN_AUTH_BLOCKED until power-up), the
key-agreement keys and the tokens live in RAM (auth.pin_uv and
auth.pin_consecutive_mismatches) and die with power or authenticatorReset.
"""

from micropython import const

import cbor
from firmware import crypto
from firmware import pin_protocol as pp
from firmware import store as st
from firmware.ctap2 import pin_uv
from firmware.ctap2.params import BYTES, MAP, TEXT, UINT, need, opt
from firmware.status import (
    CtapError,
    CTAP1_ERR_INVALID_PARAMETER,
    CTAP2_ERR_INVALID_SUBCOMMAND,
    CTAP2_ERR_MISSING_PARAMETER,
    CTAP2_ERR_PIN_AUTH_BLOCKED,
    CTAP2_ERR_PIN_AUTH_INVALID,
    CTAP2_ERR_PIN_BLOCKED,
    CTAP2_ERR_PIN_INVALID,
    CTAP2_ERR_PIN_NOT_SET,
    CTAP2_ERR_PIN_POLICY_VIOLATION,
    CTAP2_ERR_UNAUTHORIZED_PERMISSION,
)

# CTAP 2.1 §6.5.5.1 authenticatorClientPIN request
_CP_PIN_UV_AUTH_PROTOCOL = const(0x01)
_CP_SUB_COMMAND = const(0x02)
_CP_KEY_AGREEMENT = const(0x03)
_CP_PIN_UV_AUTH_PARAM = const(0x04)
_CP_NEW_PIN_ENC = const(0x05)
_CP_PIN_HASH_ENC = const(0x06)
# 0x07, 0x08: no longer in spec
_CP_PERMISSIONS = const(0x09)
_CP_RP_ID = const(0x0A)

# ... response
_CP_RESP_KEY_AGREEMENT = const(0x01)
_CP_RESP_PIN_UV_AUTH_TOKEN = const(0x02)
_CP_RESP_PIN_RETRIES = const(0x03)
_CP_RESP_POWER_CYCLE_STATE = const(0x04)
# 0x05 uvRetries: no built-in UV

# ... subcommands
SUB_GET_PIN_RETRIES = const(0x01)
SUB_GET_KEY_AGREEMENT = const(0x02)
SUB_SET_PIN = const(0x03)
SUB_CHANGE_PIN = const(0x04)
SUB_GET_PIN_TOKEN = const(0x05)
SUB_GET_PIN_UV_AUTH_TOKEN_USING_UV_WITH_PERMISSIONS = const(0x06)
SUB_GET_UV_RETRIES = const(0x07)
# 0x08: no longer in spec
SUB_GET_PIN_UV_AUTH_TOKEN_USING_PIN_WITH_PERMISSIONS = const(0x09)

# Three wrong PINs in a row: no more guesses until power-up (§6.5.2.2).
_MAX_CONSECUTIVE_MISMATCHES = const(3)
_PADDED_PIN_LENGTH = const(64)
_PIN_HASH_LENGTH = const(16)
# Permissions every token of this key may carry; lbw only with largeBlobs
# (bio enrollment is not supported). pcmr (CTAP 2.2) is the persistent
# token's, which carries it alone.
_BASE_PERMISSIONS = pp.PERMISSION_MC | pp.PERMISSION_GA | pp.PERMISSION_CM | pp.PERMISSION_ACFG | pp.PERMISSION_PCMR
_PERSISTENT_TOKEN_LENGTH = const(32)


def supported_permissions(auth):
    """The permission bits a token may be issued with: what getInfo advertises."""
    perms = _BASE_PERMISSIONS
    if auth.options().get("largeBlobs"):
        perms |= pp.PERMISSION_LBW
    return perms


# -- shared steps -------------------------------------------------------------------


def _protocol(auth, req):
    """pinUvAuthProtocol: MISSING_PARAMETER, else CTAP1_ERR_INVALID_PARAMETER if unsupported."""
    version = req.get(_CP_PIN_UV_AUTH_PROTOCOL)
    if version is None:
        raise CtapError(CTAP2_ERR_MISSING_PARAMETER)
    return auth.pin_uv.protocol(version)


def _check_not_blocked(auth):
    # pinRetries at 0: only authenticatorReset helps.
    if pin_uv.pin_retries(auth) <= 0:
        raise CtapError(CTAP2_ERR_PIN_BLOCKED)
    # Three mismatches since power-up: no guess is even counted until the
    # key is unplugged, which a remote attacker cannot do.
    if auth.pin_consecutive_mismatches >= _MAX_CONSECUTIVE_MISMATCHES:
        raise CtapError(CTAP2_ERR_PIN_AUTH_BLOCKED)


def _check_pin_hash(auth, protocol, shared_secret, pin_hash_enc):
    """Decrement pinRetries (persisted first), then compare the PIN hash.

    On a mismatch: a new key-agreement key (the platform must start over),
    then PIN_BLOCKED at 0 retries, PIN_AUTH_BLOCKED at the third consecutive
    mismatch, else PIN_INVALID. On a match: retries back to the maximum.
    """
    stored = auth.store.get(st.STATE_PIN_HASH)
    if stored is None:
        raise CtapError(CTAP2_ERR_PIN_NOT_SET)
    # Decrement and persist *before* comparing: a power cut after the
    # comparison cannot give the guess back.
    retries = pin_uv.pin_retries(auth) - 1
    auth.store.update({st.STATE_PIN_RETRIES: retries})
    pin_hash = protocol.decrypt(shared_secret, pin_hash_enc)
    # A pinHashEnc of impossible length decrypts to None: a mismatch like
    # any other wrong guess (it was counted already).
    if pin_hash is None or not crypto.ct_equal(pin_hash, stored):
        protocol.regenerate()
        auth.pin_consecutive_mismatches += 1
        if retries <= 0:
            raise CtapError(CTAP2_ERR_PIN_BLOCKED)
        if auth.pin_consecutive_mismatches >= _MAX_CONSECUTIVE_MISMATCHES:
            raise CtapError(CTAP2_ERR_PIN_AUTH_BLOCKED)
        raise CtapError(CTAP2_ERR_PIN_INVALID)
    auth.pin_consecutive_mismatches = 0
    auth.store.update({st.STATE_PIN_RETRIES: None})  # absent = PIN_RETRIES_MAX


def _decrypt_new_pin(auth, protocol, shared_secret, new_pin_enc):
    """setPIN steps 6-10 / changePIN steps 10-14: the new PIN, checked against policy.

    Returns (LEFT(SHA-256(newPin), 16), code point count).
    """
    padded = protocol.decrypt(shared_secret, new_pin_enc)
    if padded is None:
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)
    if len(padded) != _PADDED_PIN_LENGTH:
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    # Drop the trailing 0x00 padding only; a PIN fills at most 63 bytes.
    end = _PADDED_PIN_LENGTH
    while end > 0 and padded[end - 1] == 0:
        end -= 1
    new_pin = padded[:end]
    if end > pin_uv.MAX_PIN_LENGTH:
        raise CtapError(CTAP2_ERR_PIN_POLICY_VIOLATION)
    try:
        # Strict on MicroPython too, whose bytes.decode() accepts overlong
        # forms and surrogates (and would count their code points).
        code_points = len(cbor.decode_utf8(new_pin))
    except ValueError:  # not UTF-8, so not a PIN
        raise CtapError(CTAP2_ERR_PIN_POLICY_VIOLATION)
    if code_points < pin_uv.min_pin_length(auth):
        raise CtapError(CTAP2_ERR_PIN_POLICY_VIOLATION)
    return crypto.sha256(new_pin)[:_PIN_HASH_LENGTH], code_points


def _store_pin(auth, pin_hash, code_points):
    # One atomic write: hash, length, full retries, no forced change, and a
    # new persistentPinUvAuthToken (CTAP 2.2 §6.5.5.7): the old one dies with
    # the PIN it was issued under (it survives power cycles, so it ends here
    # and with authenticatorReset). Made now rather than when pcmr is first
    # asked for, so getInfo carries encIdentifier / encCredStoreState from
    # the moment a PIN exists: a platform may read getInfo first and decrypt
    # it with the token it asks for next, as it would with a YubiKey 5.8.
    auth.store.update(
        {
            st.STATE_PIN_HASH: pin_hash,
            st.STATE_PIN_CODE_POINTS: code_points,
            st.STATE_PIN_RETRIES: None,
            st.STATE_FORCE_PIN_CHANGE: None,
            st.STATE_PERSISTENT_TOKEN: crypto.random_bytes(_PERSISTENT_TOKEN_LENGTH),
        }
    )


# -- subcommands ----------------------------------------------------------------------


def _get_pin_retries(auth, req):
    """§6.5.5.3 getPINRetries (pinUvAuthProtocol optional here)."""
    if req.get(_CP_PIN_UV_AUTH_PROTOCOL) is not None:
        _protocol(auth, req)
    return {
        _CP_RESP_PIN_RETRIES: pin_uv.pin_retries(auth),
        _CP_RESP_POWER_CYCLE_STATE: auth.pin_consecutive_mismatches >= _MAX_CONSECUTIVE_MISMATCHES,
    }


def _get_key_agreement(auth, req):
    """§6.5.5.4 getKeyAgreement: this power-up's key-agreement public key."""
    protocol = _protocol(auth, req)
    return {_CP_RESP_KEY_AGREEMENT: protocol.get_public_key()}


def _set_pin(auth, req):
    """§6.5.5.5 setPIN."""
    # 1. Mandatory parameters.
    key_agreement = need(req, _CP_KEY_AGREEMENT, MAP)
    new_pin_enc = need(req, _CP_NEW_PIN_ENC, BYTES)
    param = need(req, _CP_PIN_UV_AUTH_PARAM, BYTES)
    # 2. pinUvAuthProtocol.
    protocol = _protocol(auth, req)
    # 3. A PIN is set already: changePIN is the way (CTAP 2.0 said NOT_ALLOWED).
    if pin_uv.pin_is_set(auth):
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)
    # 4. Shared secret (CTAP1_ERR_INVALID_PARAMETER for a bad key).
    shared_secret = protocol.decapsulate(key_agreement)
    # 5. verify(shared secret, newPinEnc, pinUvAuthParam).
    if not protocol.verify(shared_secret, new_pin_enc, param):
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)
    # 6-10. Decrypt and check the new PIN.
    pin_hash, code_points = _decrypt_new_pin(auth, protocol, shared_secret, new_pin_enc)
    # 11. Store it; pinRetries to the maximum.
    _store_pin(auth, pin_hash, code_points)
    return None


def _change_pin(auth, req):
    """§6.5.5.6 changePIN."""
    # 1. Mandatory parameters.
    key_agreement = need(req, _CP_KEY_AGREEMENT, MAP)
    pin_hash_enc = need(req, _CP_PIN_HASH_ENC, BYTES)
    new_pin_enc = need(req, _CP_NEW_PIN_ENC, BYTES)
    param = need(req, _CP_PIN_UV_AUTH_PARAM, BYTES)
    # 2. pinUvAuthProtocol.
    protocol = _protocol(auth, req)
    if not pin_uv.pin_is_set(auth):
        raise CtapError(CTAP2_ERR_PIN_NOT_SET)
    # 3. Retries left (and no power-cycle block).
    _check_not_blocked(auth)
    # 4. Shared secret.
    shared_secret = protocol.decapsulate(key_agreement)
    # 5. verify(shared secret, newPinEnc || pinHashEnc, pinUvAuthParam).
    if not protocol.verify(shared_secret, new_pin_enc + pin_hash_enc, param):
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)
    # 6-9. Decrement pinRetries, compare the current PIN, reset pinRetries.
    _check_pin_hash(auth, protocol, shared_secret, pin_hash_enc)
    # 10-13. Decrypt and check the new PIN.
    pin_hash, code_points = _decrypt_new_pin(auth, protocol, shared_secret, new_pin_enc)
    # A change forced by setMinPINLength must pick a different PIN.
    if pin_uv.force_pin_change(auth) and crypto.ct_equal(pin_hash, auth.store.get(st.STATE_PIN_HASH)):
        raise CtapError(CTAP2_ERR_PIN_POLICY_VIOLATION)
    # 14. Store it (clears forcePINChange); every outstanding token dies.
    _store_pin(auth, pin_hash, code_points)
    auth.pin_uv.reset_tokens()
    return None


def _issue_token(auth, req, protocol, permissions, rp_id, force_change_error):
    """getPinToken steps 4-14 / getPinUvAuthTokenUsingPinWithPermissions steps 5-16."""
    key_agreement = req[_CP_KEY_AGREEMENT]
    pin_hash_enc = req[_CP_PIN_HASH_ENC]
    if not pin_uv.pin_is_set(auth):
        raise CtapError(CTAP2_ERR_PIN_NOT_SET)
    # pinRetries at 0 -> PIN_BLOCKED (and the power-cycle block).
    _check_not_blocked(auth)
    # Shared secret.
    shared_secret = protocol.decapsulate(key_agreement)
    # Decrement pinRetries, compare, reset pinRetries.
    _check_pin_hash(auth, protocol, shared_secret, pin_hash_enc)
    # forcePINChange: the PIN is right, but it must be changed first.
    if pin_uv.force_pin_change(auth):
        raise CtapError(force_change_error)
    if permissions == pp.PERMISSION_PCMR:
        # CTAP 2.2: the persistentPinUvAuthToken. The same one for every
        # platform that asks, until changePIN or reset: each may keep it
        # (it outlives power cycles) to read the credential list and to
        # decrypt getInfo's encIdentifier / encCredStoreState later. The
        # pinUvAuthToken in use is left as it is. setPIN made it; a PIN set
        # by a firmware from before CTAP 2.2 has none yet, and gets it here.
        token = pp.persistent_token(auth)
        if token is None:
            token = crypto.random_bytes(_PERSISTENT_TOKEN_LENGTH)
            auth.store.update({st.STATE_PERSISTENT_TOKEN: token})
        return {_CP_RESP_PIN_UV_AUTH_TOKEN: protocol.encrypt(shared_secret, token)}
    # A new token for every protocol (old ones die), then
    # beginUsingPinUvAuthToken(userIsPresent: false) with the permissions.
    auth.pin_uv.reset_tokens()
    auth.pin_uv.begin_using(False, permissions, rp_id)
    return {_CP_RESP_PIN_UV_AUTH_TOKEN: protocol.encrypt(shared_secret, protocol.pin_uv_auth_token)}


def _get_pin_token(auth, req):
    """§6.5.5.7.1 getPinToken (the CTAP 2.0 way): default permissions mc and ga."""
    # 1. Mandatory parameters.
    need(req, _CP_KEY_AGREEMENT, MAP)
    need(req, _CP_PIN_HASH_ENC, BYTES)
    # 2. pinUvAuthProtocol.
    protocol = _protocol(auth, req)
    # 3-4. permissions / rpId belong to the newer subcommand.
    if req.get(_CP_PERMISSIONS) is not None or req.get(_CP_RP_ID) is not None:
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    return _issue_token(
        auth, req, protocol, pp.PERMISSION_MC | pp.PERMISSION_GA, None, CTAP2_ERR_PIN_INVALID
    )


def _get_pin_uv_auth_token_using_pin_with_permissions(auth, req):
    """§6.5.5.7.2 getPinUvAuthTokenUsingPinWithPermissions."""
    # 1. Mandatory parameters.
    need(req, _CP_KEY_AGREEMENT, MAP)
    need(req, _CP_PIN_HASH_ENC, BYTES)
    permissions = need(req, _CP_PERMISSIONS, UINT)
    rp_id = opt(req, _CP_RP_ID, TEXT)
    # 2. pinUvAuthProtocol.
    protocol = _protocol(auth, req)
    # 3. At least one permission.
    if permissions == 0:
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    # 4. Only permissions for features this key has (be, unknown bits, lbw
    # without largeBlobs).
    if permissions & ~supported_permissions(auth):
        raise CtapError(CTAP2_ERR_UNAUTHORIZED_PERMISSION)
    # CTAP 2.2: pcmr comes alone -- the persistent token it makes is
    # read-only and outlives the usage timers, so it may carry nothing else
    # (the same answer as for a permission this key does not grant).
    if permissions & pp.PERMISSION_PCMR:
        if permissions != pp.PERMISSION_PCMR:
            raise CtapError(CTAP2_ERR_UNAUTHORIZED_PERMISSION)
        # It reads every RP's credentials: there is no permissions RP ID to
        # keep for it (it is one token for the whole key).
        if rp_id is not None:
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    return _issue_token(auth, req, protocol, permissions, rp_id, CTAP2_ERR_PIN_POLICY_VIOLATION)


def _no_built_in_uv(auth, req):
    # getPinUvAuthTokenUsingUvWithPermissions / getUVRetries: this key has no
    # built-in user verification, so the subcommands do not exist here.
    raise CtapError(CTAP2_ERR_INVALID_SUBCOMMAND)


_SUBCOMMANDS = {
    SUB_GET_PIN_RETRIES: _get_pin_retries,
    SUB_GET_KEY_AGREEMENT: _get_key_agreement,
    SUB_SET_PIN: _set_pin,
    SUB_CHANGE_PIN: _change_pin,
    SUB_GET_PIN_TOKEN: _get_pin_token,
    SUB_GET_PIN_UV_AUTH_TOKEN_USING_UV_WITH_PERMISSIONS: _no_built_in_uv,
    SUB_GET_UV_RETRIES: _no_built_in_uv,
    SUB_GET_PIN_UV_AUTH_TOKEN_USING_PIN_WITH_PERMISSIONS: _get_pin_uv_auth_token_using_pin_with_permissions,
}


def handle(auth, req):
    """CTAP2 authenticatorClientPIN command."""
    # -- parse and validate (types of every known member, no side effects) --
    opt(req, _CP_PIN_UV_AUTH_PROTOCOL, UINT)
    sub_command = need(req, _CP_SUB_COMMAND, UINT)
    opt(req, _CP_KEY_AGREEMENT, MAP)
    opt(req, _CP_PIN_UV_AUTH_PARAM, BYTES)
    opt(req, _CP_NEW_PIN_ENC, BYTES)
    opt(req, _CP_PIN_HASH_ENC, BYTES)
    opt(req, _CP_PERMISSIONS, UINT)
    opt(req, _CP_RP_ID, TEXT)
    fn = _SUBCOMMANDS.get(sub_command)
    if fn is None:
        raise CtapError(CTAP2_ERR_INVALID_SUBCOMMAND)
    # -- act + response ----------------------------------------------------------
    return fn(auth, req)
