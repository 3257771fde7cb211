"""CTAP 2.1 / 2.2 §6.4 authenticatorGetInfo.

Everything here is read from the same attributes the command handlers check,
so what the key advertises and what it does cannot drift apart.

encIdentifier and encCredStoreState (CTAP 2.2) are there while the key
holds a persistentPinUvAuthToken -- from setPIN on (firmware/ctap2/
client_pin.py): they are encrypted under it, so without one (no PIN) nobody
could read them. Each is
IV || AES-128-CBC(HKDF-SHA-256(salt = 32 zero bytes, IKM = that token,
info = "encIdentifier" / "encCredStoreState", 16 bytes), IV, 16 bytes) with
a fresh random IV in every answer (python-fido2 Info._decrypt): the same
ciphertext twice would make the identifier a tracking handle for any host
that sends getInfo, token or not.
"""

from micropython import const

from firmware import attestation, crypto
from firmware import pin_protocol as pp
from firmware.credential import MAX_CRED_BLOB_LENGTH, MAX_CREDENTIAL_ID_LENGTH
from firmware.ctap2 import pin_uv
from firmware.ctap2.config import MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH, supported_sub_commands

# CTAP 2.1 §6.4 authenticatorGetInfo response keys
_GI_RESP_VERSIONS = const(0x01)
_GI_RESP_EXTENSIONS = const(0x02)
_GI_RESP_AAGUID = const(0x03)
_GI_RESP_OPTIONS = const(0x04)
_GI_RESP_MAX_MSG_SIZE = const(0x05)
_GI_RESP_PIN_UV_AUTH_PROTOCOLS = const(0x06)
_GI_RESP_MAX_CREDENTIAL_COUNT_IN_LIST = const(0x07)
_GI_RESP_MAX_CREDENTIAL_ID_LENGTH = const(0x08)
_GI_RESP_TRANSPORTS = const(0x09)
_GI_RESP_ALGORITHMS = const(0x0A)
_GI_RESP_MAX_SERIALIZED_LARGE_BLOB_ARRAY = const(0x0B)
_GI_RESP_FORCE_PIN_CHANGE = const(0x0C)
_GI_RESP_MIN_PIN_LENGTH = const(0x0D)
_GI_RESP_FIRMWARE_VERSION = const(0x0E)
_GI_RESP_MAX_CRED_BLOB_LENGTH = const(0x0F)
_GI_RESP_MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH = const(0x10)
_GI_RESP_REMAINING_DISCOVERABLE_CREDENTIALS = const(0x14)
# CTAP 2.2 §6.4 additions (0x15 vendorPrototypeConfigCommands: none; 0x17
# uvCountSinceLastPinEntry is for built-in UV, which this key has not)
_GI_RESP_ATTESTATION_FORMATS = const(0x16)
_GI_RESP_LONG_TOUCH_FOR_RESET = const(0x18)
_GI_RESP_ENC_IDENTIFIER = const(0x19)
_GI_RESP_TRANSPORTS_FOR_RESET = const(0x1A)
_GI_RESP_PIN_COMPLEXITY_POLICY = const(0x1B)
_GI_RESP_MAX_PIN_LENGTH = const(0x1D)
_GI_RESP_ENC_CRED_STORE_STATE = const(0x1E)
_GI_RESP_AUTHENTICATOR_CONFIG_COMMANDS = const(0x1F)

# encIdentifier / encCredStoreState: a 16-byte IV, then one AES block.
ENC_STATE_LENGTH = const(32)
_STATE_LENGTH = const(16)
_HKDF_SALT = bytes(32)
_INFO_IDENTIFIER = b"encIdentifier"
_INFO_CRED_STORE_STATE = b"encCredStoreState"
# What an encrypted member is while the answer is encoded once and reused
# (Authenticator.get_info_response fills in fresh ciphertexts each time).
PLACEHOLDER = bytes(ENC_STATE_LENGTH)


def identifier(auth):
    """The device identifier: random per key, new after every reset.

    Derived from the master secret -- which is random and which reset
    replaces -- so it costs no record of its own.
    """
    return crypto.hmac_sha256(auth.store.master_secret, _INFO_IDENTIFIER)[:_STATE_LENGTH]


class EncryptedState:
    """The keys and plaintexts behind encIdentifier and encCredStoreState for
    one persistentPinUvAuthToken and one state of the store."""

    def __init__(self, auth, token):
        self._identifier = identifier(auth)
        self._cred_store_state = auth.store.rk_state()
        self._id_key = crypto.hkdf_sha256(_HKDF_SALT, token, _INFO_IDENTIFIER, 16)
        self._cs_key = crypto.hkdf_sha256(_HKDF_SALT, token, _INFO_CRED_STORE_STATE, 16)

    @staticmethod
    def _encrypt(key, plaintext):
        iv = crypto.random_bytes(16)
        return iv + crypto.aes_cbc_encrypt(key, iv, plaintext)

    def enc_identifier(self):
        return self._encrypt(self._id_key, self._identifier)

    def enc_cred_store_state(self):
        return self._encrypt(self._cs_key, self._cred_store_state)


def handle(auth, req, placeholders=False):
    """CTAP2 authenticatorGetInfo command (no parameters).

    :param placeholders: PLACEHOLDER for the encrypted members instead of
        ciphertexts (for an answer encoded once, whose ciphertexts are
        filled in for each request).
    """
    v = auth.firmware_version
    resp = {
        _GI_RESP_VERSIONS: auth.versions(),
        _GI_RESP_AAGUID: auth.aaguid,
        _GI_RESP_OPTIONS: auth.options(),
        _GI_RESP_MAX_MSG_SIZE: auth.max_msg_size,
        _GI_RESP_MAX_CREDENTIAL_COUNT_IN_LIST: auth.max_credential_count_in_list,
        _GI_RESP_MAX_CREDENTIAL_ID_LENGTH: MAX_CREDENTIAL_ID_LENGTH,
        _GI_RESP_TRANSPORTS: auth.transports,
        _GI_RESP_ALGORITHMS: auth.algorithms(),
        _GI_RESP_FIRMWARE_VERSION: v[0] * 10000 + v[1] * 100 + v[2],
        _GI_RESP_MAX_SERIALIZED_LARGE_BLOB_ARRAY: auth.max_serialized_large_blob_array,
        _GI_RESP_MAX_CRED_BLOB_LENGTH: MAX_CRED_BLOB_LENGTH,
        _GI_RESP_REMAINING_DISCOVERABLE_CREDENTIALS: auth.store.rk_remaining(),
        _GI_RESP_ATTESTATION_FORMATS: list(attestation.SUPPORTED_FORMATS),
        # authenticatorReset is answered over every transport the key has.
        _GI_RESP_TRANSPORTS_FOR_RESET: auth.transports,
        _GI_RESP_AUTHENTICATOR_CONFIG_COMMANDS: supported_sub_commands(auth),
    }
    if auth.long_touch_for_reset:
        resp[_GI_RESP_LONG_TOUCH_FOR_RESET] = True
    if auth.pin_uv_auth_protocols:
        resp[_GI_RESP_PIN_UV_AUTH_PROTOCOLS] = auth.pin_uv_auth_protocols
        resp[_GI_RESP_FORCE_PIN_CHANGE] = pin_uv.force_pin_change(auth)
        resp[_GI_RESP_MIN_PIN_LENGTH] = pin_uv.min_pin_length(auth)
        resp[_GI_RESP_MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH] = MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH
        resp[_GI_RESP_MAX_PIN_LENGTH] = pin_uv.MAX_PIN_LENGTH
        # No PIN complexity policy beyond minPINLength (and no policy URL).
        resp[_GI_RESP_PIN_COMPLEXITY_POLICY] = False
        token = pp.persistent_token(auth)
        if token is not None:
            if placeholders:
                resp[_GI_RESP_ENC_IDENTIFIER] = PLACEHOLDER
                resp[_GI_RESP_ENC_CRED_STORE_STATE] = PLACEHOLDER
            else:
                state = EncryptedState(auth, token)
                resp[_GI_RESP_ENC_IDENTIFIER] = state.enc_identifier()
                resp[_GI_RESP_ENC_CRED_STORE_STATE] = state.enc_cred_store_state()
    extensions = auth.extensions()
    if extensions:
        resp[_GI_RESP_EXTENSIONS] = extensions
    return resp
