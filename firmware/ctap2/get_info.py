"""CTAP 2.1 §6.4 authenticatorGetInfo.

Everything here is read from the same attributes the command handlers check,
so what the key advertises and what it does cannot drift apart.
"""

from micropython import const

from firmware.credential import MAX_CRED_BLOB_LENGTH, MAX_CREDENTIAL_ID_LENGTH
from firmware.ctap2 import pin_uv
from firmware.ctap2.config import MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH

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


def handle(auth, req):
    """CTAP2 authenticatorGetInfo command (no parameters)."""
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
    }
    if auth.pin_uv_auth_protocols:
        resp[_GI_RESP_PIN_UV_AUTH_PROTOCOLS] = auth.pin_uv_auth_protocols
        resp[_GI_RESP_FORCE_PIN_CHANGE] = pin_uv.force_pin_change(auth)
        resp[_GI_RESP_MIN_PIN_LENGTH] = pin_uv.min_pin_length(auth)
        resp[_GI_RESP_MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH] = MAX_RPIDS_FOR_SET_MIN_PIN_LENGTH
    extensions = auth.extensions()
    if extensions:
        resp[_GI_RESP_EXTENSIONS] = extensions
    return resp
