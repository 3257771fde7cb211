"""CTAP 2.1 §6.8 authenticatorCredentialManagement (0x0A, and 0x41 from CTAP 2.1-PRE).

Lists, deletes and renames the discoverable credentials in the store. Every
subcommand but the two GetNext ones needs a pinUvAuthToken with the cm
permission over subCommand || subCommandParams (the bytes python-fido2's
CredentialManagement._call MACs). A token bound to an RP ID only reaches
that RP's credentials and never the RP list.

0x41 is the same command under the same rules; it is not advertised
(credentialMgmtPreview), but libfido2 up to 1.14 -- fido2-token -L/-D,
ssh-keygen -K -- sends every credential-management request as 0x41, with a
token it asks for with the cm permission when getInfo says pinUvAuthToken
(its encode_uv_permission maps 0x41 to cm). python-fido2 and Chrome use
0x0A when credMgmt is advertised. No platform that knows only getPinToken
can manage credentials here: such a token has mc and ga (§6.5.5.7.1).

The enumeration cursors live on the Authenticator (auth.cred_mgmt_state);
the router clears them when any other command arrives.

credProtect: management requires user verification, so every credential is
listed whatever its level, and each carries its level (credProtect, 0x0A).
"""

from micropython import const

import cbor
from firmware import crypto
from firmware import pin_protocol as pp
from firmware import store as st
from firmware.credential import CRED_PROTECT_UV_OPTIONAL
from firmware.ctap2 import params
from firmware.ctap2.params import BYTES, MAP, TEXT, UINT, need, opt
from firmware.status import (
    CtapError,
    CTAP1_ERR_INVALID_PARAMETER,
    CTAP2_ERR_INVALID_SUBCOMMAND,
    CTAP2_ERR_NO_CREDENTIALS,
    CTAP2_ERR_NOT_ALLOWED,
    CTAP2_ERR_PIN_AUTH_INVALID,
)

# CTAP 2.1 §6.8 authenticatorCredentialManagement request
_CM_SUB_COMMAND = const(0x01)
_CM_SUB_COMMAND_PARAMS = const(0x02)
_CM_PIN_UV_AUTH_PROTOCOL = const(0x03)
_CM_PIN_UV_AUTH_PARAM = const(0x04)

# ... subCommandParams
_CM_PARAM_RP_ID_HASH = const(0x01)
_CM_PARAM_CREDENTIAL_ID = const(0x02)
_CM_PARAM_USER = const(0x03)

# ... response
_CM_RESP_EXISTING_RESIDENT_CREDENTIALS_COUNT = const(0x01)
_CM_RESP_MAX_POSSIBLE_REMAINING_RESIDENT_CREDENTIALS_COUNT = const(0x02)
_CM_RESP_RP = const(0x03)
_CM_RESP_RP_ID_HASH = const(0x04)
_CM_RESP_TOTAL_RPS = const(0x05)
_CM_RESP_USER = const(0x06)
_CM_RESP_CREDENTIAL_ID = const(0x07)
_CM_RESP_PUBLIC_KEY = const(0x08)
_CM_RESP_TOTAL_CREDENTIALS = const(0x09)
_CM_RESP_CRED_PROTECT = const(0x0A)
_CM_RESP_LARGE_BLOB_KEY = const(0x0B)
_CM_RESP_THIRD_PARTY_PAYMENT = const(0x0C)  # CTAP 2.2

# ... subcommands
SUB_GET_CREDS_METADATA = const(0x01)
SUB_ENUMERATE_RPS_BEGIN = const(0x02)
SUB_ENUMERATE_RPS_GET_NEXT_RP = const(0x03)
SUB_ENUMERATE_CREDENTIALS_BEGIN = const(0x04)
SUB_ENUMERATE_CREDENTIALS_GET_NEXT_CREDENTIAL = const(0x05)
SUB_DELETE_CREDENTIAL = const(0x06)
SUB_UPDATE_USER_INFORMATION = const(0x07)

_CRED_TYPE = "public-key"

# Cursor kinds
_RPS = const(1)
_CREDENTIALS = const(2)


class _Cursor:
    """What a GetNext subcommand continues: the items not returned yet."""

    def __init__(self, kind, items):
        self.kind = kind
        # _RPS: the slots of the RPs not returned yet, one per RP (store.rk_rps).
        # _CREDENTIALS: (rpIdHash, slot of the last credential returned); the
        # others come newest first from the store's index, one record read at
        # a time (Authenticator.next_credential).
        self.items = items


def continues(req):
    """True for the GetNext subcommands: the router keeps the cursor for them."""
    sub = req.get(_CM_SUB_COMMAND)
    return sub == SUB_ENUMERATE_RPS_GET_NEXT_RP or sub == SUB_ENUMERATE_CREDENTIALS_GET_NEXT_CREDENTIAL


# -- authorization ---------------------------------------------------------------------


def _authorize(auth, req, sub_command, read_only=False):
    """The checks every subcommand but GetNext starts with (§6.8 steps 1-4).

    Returns the permissions RP ID the answer is limited to (None: every RP).

    The token needs the cm permission, on 0x41 as on 0x0A: a getPinToken
    token (mc and ga only, §6.5.5.7.1) manages nothing, used or not. CTAP
    2.2 §6.8: the read-only subcommands (getCredsMetadata, enumerateRPsBegin,
    enumerateCredentialsBegin) also take the persistentPinUvAuthToken (pcmr),
    which is never bound to an RP; deleteCredential and
    updateUserInformation do not: with it they fail as a token without cm
    does, CTAP2_ERR_PIN_AUTH_INVALID.
    """
    message = bytes((sub_command,))
    sub_params = req.get(_CM_SUB_COMMAND_PARAMS)
    if sub_params is not None:
        # The decoder accepts canonical CBOR only, so this re-encoding is
        # byte for byte what the platform sent and MACed.
        message += cbor.dumps(sub_params)
    param = req.get(_CM_PIN_UV_AUTH_PARAM)
    protocol = req.get(_CM_PIN_UV_AUTH_PROTOCOL)
    try:
        pp.authorize(auth, param, protocol, message, pp.PERMISSION_CM)
    except CtapError as e:
        # The pinUvAuthToken is tried first (the common case pays one MAC);
        # only a MAC that fails it is checked against the persistent token.
        if read_only and e.code == CTAP2_ERR_PIN_AUTH_INVALID and pp.verify_persistent_token(auth, protocol, message, param):
            return None
        raise
    return auth.pin_uv.rp_id


def _require_unbound(rp_id):
    # Metadata and the RP list span every RP: not for a token bound to one.
    if rp_id is not None:
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)


def _require_rp(auth, rp_id, rp_id_hash):
    # A token bound to an RP ID reaches only that RP's credentials.
    if rp_id is not None and not auth.pin_uv.rp_id_matches_hash(rp_id_hash):
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)


# -- helpers -----------------------------------------------------------------------------


def _next_rp(auth, slots):
    """The RP response for the first of `slots` (one per RP, store.rk_rps)
    whose record reads back, taking the slots it looks at off the list; None
    when none is left. Each RP's record is read when the RP is returned."""
    while slots:
        rec = auth.store.rk_load(slots.pop(0))
        if rec is not None:
            return {_CM_RESP_RP: {"id": rec[st.RK_RP_ID]}, _CM_RESP_RP_ID_HASH: rec[st.RK_RP_ID_HASH]}
    return None


def _credential_response(cred):
    rec = cred.record
    user = {"id": rec[st.RK_USER_ID]}
    if st.RK_USER_NAME in rec:
        user["name"] = rec[st.RK_USER_NAME]
    if st.RK_USER_DISPLAY_NAME in rec:
        user["displayName"] = rec[st.RK_USER_DISPLAY_NAME]
    resp = {
        _CM_RESP_USER: user,
        _CM_RESP_CREDENTIAL_ID: {"id": cred.id, "type": _CRED_TYPE},
        # Under the credential's own algorithm (-7, -8, -9 or -19).
        _CM_RESP_PUBLIC_KEY: cred.cose_key(),
        # A credential made without credProtect has the default level 1.
        _CM_RESP_CRED_PROTECT: cred.cred_protect or CRED_PROTECT_UV_OPTIONAL,
    }
    if st.RK_LARGE_BLOB_KEY in rec:
        resp[_CM_RESP_LARGE_BLOB_KEY] = rec[st.RK_LARGE_BLOB_KEY]
    if cred.third_party_payment:
        # CTAP 2.2: listed for a credential made with thirdPartyPayment.
        resp[_CM_RESP_THIRD_PARTY_PAYMENT] = True
    return resp


def _find(auth, sub_params):
    """The (slot, record) of the discoverable credential a descriptor names, else NO_CREDENTIALS."""
    cred_type, cred_id = params.descriptor(need(sub_params, _CM_PARAM_CREDENTIAL_ID, MAP))
    if cred_type == _CRED_TYPE:
        found = auth.store.rk_find_id(cred_id)  # reads about one record
        if found is not None:
            return found
    raise CtapError(CTAP2_ERR_NO_CREDENTIALS)


# -- subcommands ---------------------------------------------------------------------------


def _get_creds_metadata(auth, req):
    """§6.8.2 getCredsMetadata."""
    _require_unbound(_authorize(auth, req, SUB_GET_CREDS_METADATA, True))
    return {
        _CM_RESP_EXISTING_RESIDENT_CREDENTIALS_COUNT: auth.store.rk_count(),
        _CM_RESP_MAX_POSSIBLE_REMAINING_RESIDENT_CREDENTIALS_COUNT: auth.store.rk_remaining(),
    }


def _enumerate_rps_begin(auth, req):
    """§6.8.3 enumerateRPsBegin."""
    _require_unbound(_authorize(auth, req, SUB_ENUMERATE_RPS_BEGIN, True))
    slots = auth.store.rk_rps()
    total = len(slots)
    resp = _next_rp(auth, slots)
    if resp is None:
        raise CtapError(CTAP2_ERR_NO_CREDENTIALS)
    auth.cred_mgmt_state = _Cursor(_RPS, slots)  # one slot per RP not returned yet
    resp[_CM_RESP_TOTAL_RPS] = total
    return resp


def _cursor(auth, kind):
    """The cursor of this kind: only right after Begin or another GetNext."""
    cursor = auth.cred_mgmt_state
    if cursor is None or cursor.kind != kind:
        auth.cred_mgmt_state = None
        raise CtapError(CTAP2_ERR_NOT_ALLOWED)
    return cursor


def _enumerate_rps_get_next_rp(auth, req):
    """§6.8.3 enumerateRPsGetNextRP."""
    resp = _next_rp(auth, _cursor(auth, _RPS).items)
    if resp is None:
        auth.cred_mgmt_state = None
        raise CtapError(CTAP2_ERR_NOT_ALLOWED)  # every RP was returned
    return resp


def _enumerate_credentials_begin(auth, req):
    """§6.8.4 enumerateCredentialsBegin."""
    rp_id = _authorize(auth, req, SUB_ENUMERATE_CREDENTIALS_BEGIN, True)
    sub_params = need(req, _CM_SUB_COMMAND_PARAMS, MAP)
    rp_id_hash = need(sub_params, _CM_PARAM_RP_ID_HASH, BYTES)
    _require_rp(auth, rp_id, rp_id_hash)
    # Counted on the store's index; each credential's record is read and
    # unwrapped when it is returned (Authenticator.next_credential).
    total = auth.store.rk_count(rp_id_hash)
    cred = auth.next_credential(rp_id_hash)
    if cred is None:
        raise CtapError(CTAP2_ERR_NO_CREDENTIALS)
    auth.cred_mgmt_state = _Cursor(_CREDENTIALS, (rp_id_hash, cred.slot))
    resp = _credential_response(cred)
    resp[_CM_RESP_TOTAL_CREDENTIALS] = total
    return resp


def _enumerate_credentials_get_next_credential(auth, req):
    """§6.8.4 enumerateCredentialsGetNextCredential."""
    cursor = _cursor(auth, _CREDENTIALS)
    rp_id_hash, slot = cursor.items
    cred = auth.next_credential(rp_id_hash, slot)
    if cred is None:
        auth.cred_mgmt_state = None
        raise CtapError(CTAP2_ERR_NOT_ALLOWED)  # every credential was returned
    cursor.items = (rp_id_hash, cred.slot)
    return _credential_response(cred)


def _delete_credential(auth, req):
    """§6.8.5 deleteCredential."""
    rp_id = _authorize(auth, req, SUB_DELETE_CREDENTIAL)
    sub_params = need(req, _CM_SUB_COMMAND_PARAMS, MAP)
    slot, rec = _find(auth, sub_params)
    _require_rp(auth, rp_id, rec[st.RK_RP_ID_HASH])
    # The record goes: from now on the ID names nothing here, although it
    # still unwraps (Authenticator.find_credential checks for the record).
    auth.store.rk_delete(slot)
    return None


def _update_user_information(auth, req):
    """§6.8.6 updateUserInformation."""
    rp_id = _authorize(auth, req, SUB_UPDATE_USER_INFORMATION)
    sub_params = need(req, _CM_SUB_COMMAND_PARAMS, MAP)
    user = need(sub_params, _CM_PARAM_USER, MAP)
    user_id = need(user, "id", BYTES)
    name = opt(user, "name", TEXT)
    display_name = opt(user, "displayName", TEXT)
    slot, rec = _find(auth, sub_params)
    _require_rp(auth, rp_id, rec[st.RK_RP_ID_HASH])
    # The user handle identifies the account: it cannot change here.
    if not crypto.ct_equal(user_id, rec[st.RK_USER_ID]):
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    # Absent or empty fields are removed; others replace the stored ones.
    rec = dict(rec)
    for key, value in ((st.RK_USER_NAME, name), (st.RK_USER_DISPLAY_NAME, display_name)):
        if value:
            rec[key] = params.truncate_utf8(value)
        else:
            rec.pop(key, None)
    auth.store.rk_update(slot, rec)
    return None


_SUBCOMMANDS = {
    SUB_GET_CREDS_METADATA: _get_creds_metadata,
    SUB_ENUMERATE_RPS_BEGIN: _enumerate_rps_begin,
    SUB_ENUMERATE_RPS_GET_NEXT_RP: _enumerate_rps_get_next_rp,
    SUB_ENUMERATE_CREDENTIALS_BEGIN: _enumerate_credentials_begin,
    SUB_ENUMERATE_CREDENTIALS_GET_NEXT_CREDENTIAL: _enumerate_credentials_get_next_credential,
    SUB_DELETE_CREDENTIAL: _delete_credential,
    SUB_UPDATE_USER_INFORMATION: _update_user_information,
}


def handle(auth, req):
    """CTAP2 authenticatorCredentialManagement command (0x0A, and 0x41: see the module docstring)."""
    # -- parse and validate (types, no side effects) ---------------------------------
    sub_command = need(req, _CM_SUB_COMMAND, UINT)
    opt(req, _CM_SUB_COMMAND_PARAMS, MAP)
    opt(req, _CM_PIN_UV_AUTH_PROTOCOL, UINT)
    opt(req, _CM_PIN_UV_AUTH_PARAM, BYTES)
    fn = _SUBCOMMANDS.get(sub_command)
    if fn is None:
        raise CtapError(CTAP2_ERR_INVALID_SUBCOMMAND)
    # -- act + response ------------------------------------------------------------------
    return fn(auth, req)
