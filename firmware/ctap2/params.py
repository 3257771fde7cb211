"""Typed getters for CTAP2 parameter maps, shared by every command module.

need() raises CTAP2_ERR_MISSING_PARAMETER for an absent key and
CTAP2_ERR_CBOR_UNEXPECTED_TYPE for a value of the wrong CBOR type; opt()
returns None for an absent key. Kinds are CBOR major types as the decoder
(lib/cbor.py) returns them.
"""

from micropython import const

from firmware.status import (
    CtapError,
    CTAP2_ERR_MISSING_PARAMETER,
    CTAP2_ERR_CBOR_UNEXPECTED_TYPE,
    CTAP1_ERR_INVALID_LENGTH,
    CTAP1_ERR_INVALID_PARAMETER,
)

BYTES = const(0)
TEXT = const(1)
MAP = const(2)
ARRAY = const(3)
UINT = const(4)
INT = const(5)
BOOL = const(6)


def is_kind(value, kind):
    if kind == BYTES:
        return isinstance(value, bytes)
    if kind == TEXT:
        return isinstance(value, str)
    if kind == MAP:
        return isinstance(value, dict)
    if kind == ARRAY:
        return isinstance(value, list)
    if kind == BOOL:
        return value is True or value is False
    if value is True or value is False or not isinstance(value, int):
        return False
    return kind == INT or value >= 0


def check(value, kind):
    if not is_kind(value, kind):
        raise CtapError(CTAP2_ERR_CBOR_UNEXPECTED_TYPE)
    return value


def need(req, key, kind):
    value = req.get(key)
    if value is None:
        raise CtapError(CTAP2_ERR_MISSING_PARAMETER)
    return check(value, kind)


def opt(req, key, kind):
    value = req.get(key)
    if value is None:
        return None
    return check(value, kind)


# WebAuthn §5.8.1: clientDataHash is SHA-256 of the client data.
CLIENT_DATA_HASH_LENGTH = const(32)


def client_data_hash(req, key):
    """clientDataHash (makeCredential 0x01, getAssertion 0x02): 32 bytes.

    Another length is CTAP1_ERR_INVALID_LENGTH, "invalid message or item
    length" in CTAP 2.1's status-code table (§8.2): the item has the right
    CBOR type (so not CTAP2_ERR_CBOR_UNEXPECTED_TYPE) and only its length is
    wrong; CTAP1_ERR_INVALID_PARAMETER is the catch-all for values the spec
    names no better error for. The spec answers a byte string of the wrong
    size the same way in §6.10.2 (largeBlobs set longer than
    maxFragmentLength, large_blobs.py); so does Solo, a certified CTAP2 key,
    for every fixed-size byte string (parse_fixed_byte_string). Checked while
    parsing, so such a request never asks for a touch, and nothing is signed
    over a hash that is not one.
    """
    value = need(req, key, BYTES)
    if len(value) != CLIENT_DATA_HASH_LENGTH:
        raise CtapError(CTAP1_ERR_INVALID_LENGTH)
    return value


def options(req, key):
    """An options map: text keys, boolean values (unknown keys kept, ignored by callers)."""
    value = opt(req, key, MAP)
    if value is None:
        return {}
    for k in value:
        check(k, TEXT)
        check(value[k], BOOL)
    return value


def extensions(req, key):
    """An extensions map: text keys; values are checked by each extension."""
    value = opt(req, key, MAP)
    if value is None:
        return {}
    for k in value:
        check(k, TEXT)
    return value


def descriptor(value):
    """PublicKeyCredentialDescriptor (WebAuthn §5.8.3) -> (type, id)."""
    check(value, MAP)
    cred_type = need(value, "type", TEXT)
    cred_id = need(value, "id", BYTES)
    transports = value.get("transports")
    if transports is not None:
        check(transports, ARRAY)
    return cred_type, cred_id


def descriptor_list(req, key):
    """A list of credential descriptors; each must be well formed."""
    value = opt(req, key, ARRAY)
    if value is None:
        return None
    return [descriptor(d) for d in value]


def pin_uv_auth_protocol(req, key, supported):
    """pinUvAuthProtocol: an unsigned int this key supports."""
    value = need(req, key, UINT)
    if value not in supported:
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    return value


_ELLIPSIS = b"\xe2\x80\xa6"  # U+2026 HORIZONTAL ELLIPSIS in UTF-8


def truncate_rp_id(rp_id, limit):
    """An RP ID as an authenticator may store it: CTAP 2.1 §6.8.7.

    RP IDs are unbounded; one longer than `limit` bytes (at least 32, says
    §6.8.7) keeps its protocol -- everything up to and including the first
    ':' ("ssh:"), as far as it fits -- then U+2026 and as many of its last
    bytes as fit: "ssh:…ple.com". A stored RP ID is only ever shown (credential
    management's enumerateRPs); credentials are found by the full rpIdHash.
    Cuts fall on UTF-8 character boundaries, so the result is valid text of at
    most `limit` bytes (shorter by up to three bytes when a character would
    be split).
    """
    data = rp_id.encode()
    if len(data) <= limit:
        return rp_id
    end = data.find(b":") + 1  # 0 without a protocol
    if end > limit:
        end = limit
    while end > 0 and end < len(data) and (data[end] & 0xC0) == 0x80:
        end -= 1
    head = data[:end]
    room = limit - end - len(_ELLIPSIS)
    if room < 0:
        return head.decode()
    start = len(data) - room
    while start < len(data) and (data[start] & 0xC0) == 0x80:
        start += 1
    return b"".join((head, _ELLIPSIS, data[start:])).decode()


def truncate_utf8(text, limit=64):
    """Cut a string to at most `limit` bytes of UTF-8 on a character boundary
    (CTAP 2.1 §6.1.2: authenticators may truncate user and RP names)."""
    data = text.encode()
    if len(data) <= limit:
        return text
    end = limit
    while end > 0 and (data[end] & 0xC0) == 0x80:
        end -= 1
    return data[:end].decode()
