"""CTAP 2.1 §6.1 authenticatorMakeCredential (0x01)."""

from micropython import const

from firmware import attestation, cose, credential as cr, crypto, presence
from firmware.credential import CRED_PROTECT_UV_REQUIRED, FLAG_RESIDENT
from firmware.ctap2 import authenticator_data, extensions as exts, params, pin_uv
from firmware.ctap2.authenticator_data import FLAG_UP, FLAG_UV
from firmware.ctap2.params import ARRAY, BYTES, INT, MAP, TEXT, UINT, need, opt
from firmware import store as st
from firmware.status import (
    CtapError,
    CTAP1_ERR_INVALID_PARAMETER,
    CTAP2_ERR_CREDENTIAL_EXCLUDED,
    CTAP2_ERR_INVALID_CBOR,
    CTAP2_ERR_INVALID_OPTION,
    CTAP2_ERR_KEEPALIVE_CANCEL,
    CTAP2_ERR_UNSUPPORTED_ALGORITHM,
)

# CTAP 2.1 §6.1 authenticatorMakeCredential request
_MC_CLIENT_DATA_HASH = const(0x01)
_MC_RP = const(0x02)
_MC_USER = const(0x03)
_MC_PUB_KEY_CRED_PARAMS = const(0x04)
_MC_EXCLUDE_LIST = const(0x05)
_MC_EXTENSIONS = const(0x06)
_MC_OPTIONS = const(0x07)
_MC_PIN_UV_AUTH_PARAM = const(0x08)
_MC_PIN_UV_AUTH_PROTOCOL = const(0x09)
_MC_ENTERPRISE_ATTESTATION = const(0x0A)
_MC_ATTESTATION_FORMATS_PREFERENCE = const(0x0B)  # CTAP 2.2

# ... and response
_MC_RESP_FMT = const(0x01)
_MC_RESP_AUTH_DATA = const(0x02)
_MC_RESP_ATT_STMT = const(0x03)
_MC_RESP_EP_ATT = const(0x04)

# CTAP 2.1 §6.1 enterpriseAttestation values
_EA_VENDOR_FACILITATED = const(1)
_EA_PLATFORM_MANAGED = const(2)

# WebAuthn §5.4.3: a user handle is at most 64 bytes.
_MAX_USER_ID_LENGTH = const(64)
# The RP ID a discoverable credential's record keeps, in bytes: longer ones
# are truncated as CTAP 2.1 §6.8.7 allows (params.truncate_rp_id). Every
# domain name fits (253 characters), so a WebAuthn RP ID is kept whole; with
# user id, names (64 bytes each, params.truncate_utf8), credBlob and
# largeBlobKey at their largest the record stays under store.RK_MAX_RECORD
# (host_tests/test_make_credential.py builds that record).
_STORED_RP_ID_LIMIT = const(253)
_CRED_TYPE = "public-key"


def _choose_algorithm(pub_key_cred_params):
    # Step 3: every element must be well formed; the first supported one wins
    # (the RP's order of preference, not ours). Supported: what the crypto
    # facade can sign with (credential.ALGORITHMS, getInfo `algorithms`); a
    # board without the ed25519 module passes over -8 and -19 here.
    chosen = None
    for p in pub_key_cred_params:
        params.check(p, MAP)
        if "alg" not in p or "type" not in p:
            raise CtapError(CTAP2_ERR_INVALID_CBOR)  # the spec's own example error
        cred_type = params.check(p["type"], TEXT)
        alg = params.check(p["alg"], INT)
        if chosen is None and cred_type == _CRED_TYPE and alg in cr.ALGORITHMS:
            chosen = alg
    if chosen is None:
        raise CtapError(CTAP2_ERR_UNSUPPORTED_ALGORITHM)
    return chosen


def _enterprise_identity(auth, enterprise_attestation, rp_id):
    """Step 9: the enterprise attestation identity to use, or None."""
    if enterprise_attestation is None:
        return None
    # 9.1 Not capable (nothing provisioned), or capable but ep disabled.
    identity = auth.store.enterprise_attestation()
    if identity is None or not pin_uv.enterprise_attestation_enabled(auth):
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    # 9.2 Only the two defined modes.
    if enterprise_attestation != _EA_VENDOR_FACILITATED and enterprise_attestation != _EA_PLATFORM_MANAGED:
        raise CtapError(CTAP2_ERR_INVALID_OPTION)
    key, certificates, rp_ids = identity
    # 9.3 Vendor-facilitated: only RP IDs provisioned with the certificate;
    # for any other RP the ordinary attestation is used. 9.4 Platform-managed:
    # the platform vouches for the RP (its own enterprise policy).
    if enterprise_attestation == _EA_VENDOR_FACILITATED and rp_id not in rp_ids:
        return None
    return key, certificates


def handle(auth, req):
    """CTAP2 authenticatorMakeCredential command."""
    # -- parse and validate (no side effects) ----------------------------------
    client_data_hash = params.client_data_hash(req, _MC_CLIENT_DATA_HASH)
    rp = need(req, _MC_RP, MAP)
    user = need(req, _MC_USER, MAP)
    pub_key_cred_params = need(req, _MC_PUB_KEY_CRED_PARAMS, ARRAY)
    rp_id = need(rp, "id", TEXT)
    opt(rp, "name", TEXT)
    user_id = need(user, "id", BYTES)
    user_name = opt(user, "name", TEXT)
    user_display_name = opt(user, "displayName", TEXT)
    if len(user_id) > _MAX_USER_ID_LENGTH:
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    exclude_list = params.descriptor_list(req, _MC_EXCLUDE_LIST)
    extensions = params.extensions(req, _MC_EXTENSIONS)
    options = params.options(req, _MC_OPTIONS)
    pin_uv_auth_param = opt(req, _MC_PIN_UV_AUTH_PARAM, BYTES)
    opt(req, _MC_PIN_UV_AUTH_PROTOCOL, UINT)
    enterprise_attestation = opt(req, _MC_ENTERPRISE_ATTESTATION, UINT)
    formats = opt(req, _MC_ATTESTATION_FORMATS_PREFERENCE, ARRAY)
    if formats is not None:
        for f in formats:
            params.check(f, TEXT)
    rp_id_hash = crypto.sha256(rp_id.encode())

    # Steps 1-2: zero-length pinUvAuthParam probe, pinUvAuthProtocol.
    pin_uv.check_param(auth, req, _MC_PIN_UV_AUTH_PARAM, _MC_PIN_UV_AUTH_PROTOCOL)
    # Step 3: pubKeyCredParams.
    alg = _choose_algorithm(pub_key_cred_params)

    # Step 5: options. Unknown option keys are ignored.
    uv = options.get("uv", False) and pin_uv_auth_param is None
    if uv:
        raise CtapError(CTAP2_ERR_INVALID_OPTION)  # no built-in user verification
    rk = options.get("rk", False)
    if options.get("up") is False:
        raise CtapError(CTAP2_ERR_INVALID_OPTION)

    # Steps 6-8: alwaysUv, makeCredUvNotRqd.
    pin_uv.require_uv_policy(auth, req, _MC_PIN_UV_AUTH_PARAM, rk, True)
    # Step 9: enterpriseAttestation.
    enterprise_identity = _enterprise_identity(auth, enterprise_attestation, rp_id)
    # Step 10: pinUvAuthParam verification.
    uv_performed = pin_uv.verify_param(
        auth, req, _MC_PIN_UV_AUTH_PARAM, _MC_PIN_UV_AUTH_PROTOCOL, client_data_hash, pin_uv.PERMISSION_MC, rp_id
    )

    # -- act ------------------------------------------------------------------
    # Step 11: excludeList. A match still waits for a touch, so the exclude
    # list cannot be used to probe silently which credentials exist here.
    # "A credential ID created by this authenticator" means one that still
    # names a credential: a discoverable one deleted by credential
    # management still unwraps, but has no record (find_credential).
    if exclude_list:
        for cred_type, cred_id in exclude_list:
            if cred_type != _CRED_TYPE:
                continue
            cred = auth.find_credential(rp_id_hash, cred_id)
            if cred is None or (cred.cred_protect == CRED_PROTECT_UV_REQUIRED and not uv_performed):
                continue
            try:
                presence.wait(auth)
            except CtapError as e:
                if e.code == CTAP2_ERR_KEEPALIVE_CANCEL:
                    raise
            raise CtapError(CTAP2_ERR_CREDENTIAL_EXCLUDED)

    # Step 15: extensions (validated before the touch so bad input fails fast).
    ext = exts.make_credential(auth, extensions, rk, uv_performed, rp_id)

    # Step 17 asks for room after the touch; checking first spares the user a
    # touch that could only end in CTAP2_ERR_KEY_STORE_FULL. A free slot is
    # all it takes: every field of the record is bounded (the RP ID by
    # §6.8.7 truncation, see _STORED_RP_ID_LIMIT), so no request, however
    # long its rpId, builds a record the store refuses for its size.
    if rk:
        auth.store.rk_room_for(rp_id_hash, user_id)

    # Step 14: user presence (always required for makeCredential).
    pin_uv.user_presence(auth, uv_performed)
    flags = FLAG_UP | (FLAG_UV if uv_performed else 0)

    # Step 16: the credential key pair and its ID.
    auth.processing()
    private_key, public_key = cr.keygen(alg)
    credential_id = auth.wrapper.wrap(
        rp_id_hash,
        private_key,
        (FLAG_RESIDENT if rk else 0) | ext.flags,
        ext.cred_protect,
        b"" if rk else ext.cred_blob,
        alg,
    )

    # Steps 18-19: authenticator data and attestation statement.
    auth_data = authenticator_data.build(
        rp_id_hash,
        flags,
        auth.store.next_sign_count(),
        auth.aaguid,
        credential_id,
        public_key,
        ext.outputs(auth, credential_id),
        alg,
    )
    fmt = attestation.choose_format(formats)
    auth.processing()
    if fmt == attestation.FMT_NONE:
        enterprise_identity = None
    att_stmt = attestation.statement(
        auth.store, fmt, auth_data, client_data_hash, alg, private_key, enterprise_identity
    )

    # Step 17: store a discoverable credential last, once nothing can fail
    # after it (same RP + user.id replaces the old record atomically).
    if rk:
        record = {
            st.RK_CREDENTIAL_ID: credential_id,
            st.RK_RP_ID: params.truncate_rp_id(rp_id, _STORED_RP_ID_LIMIT),
            st.RK_RP_ID_HASH: rp_id_hash,
            st.RK_USER_ID: user_id,
        }
        if alg != cose.ALG_ES256:
            record[st.RK_ALG] = alg  # absent: ES256, as in every record made before
        if user_name is not None:
            record[st.RK_USER_NAME] = params.truncate_utf8(user_name)
        if user_display_name is not None:
            record[st.RK_USER_DISPLAY_NAME] = params.truncate_utf8(user_display_name)
        if ext.cred_protect:
            record[st.RK_CRED_PROTECT] = ext.cred_protect
        if ext.cred_blob:
            record[st.RK_CRED_BLOB] = ext.cred_blob
        if ext.large_blob_key is not None:
            record[st.RK_LARGE_BLOB_KEY] = ext.large_blob_key
        auth.store.rk_put(record)

    # -- response -----------------------------------------------------------------
    resp = {
        _MC_RESP_FMT: fmt,
        _MC_RESP_AUTH_DATA: auth_data,
        _MC_RESP_ATT_STMT: att_stmt,
    }
    if enterprise_identity is not None:
        resp[_MC_RESP_EP_ATT] = True
    ext.add_make_credential_response(resp)
    return resp
