"""CTAP 2.1 §6.10 authenticatorLargeBlobs (0x0C).

The authenticator keeps one opaque byte string, the serialized large-blob
array: a CBOR array of entries the platform encrypts under each credential's
largeBlobKey, followed by LEFT(SHA-256(array), 16). The authenticator never
parses the array; it checks only the trailing hash when a write completes.

Reads return any slice of the stored array. A write arrives in fragments of
at most maxFragmentLength (maxMsgSize - 64) bytes at increasing offsets; the
fragments collect in RAM (auth.large_blob_write) and replace the stored
array in one atomic Store.save once the last one is in and the hash checks
out. Any other command in between drops the pending write (the router does
that), so a half-written array is never stored: a power cut at any instant
leaves the old array or the new one.
"""

from micropython import const

from firmware import crypto, pin_protocol
from firmware import store as st
from firmware.ctap2 import pin_uv
from firmware.ctap2.params import BYTES, UINT, opt
from firmware.pin_protocol import PERMISSION_LBW
from firmware.status import (
    CtapError,
    CTAP1_ERR_INVALID_LENGTH,
    CTAP1_ERR_INVALID_PARAMETER,
    CTAP1_ERR_INVALID_SEQ,
    CTAP2_ERR_INTEGRITY_FAILURE,
    CTAP2_ERR_LARGE_BLOB_STORAGE_FULL,
    CTAP2_ERR_MISSING_PARAMETER,
    CTAP2_ERR_PUAT_REQUIRED,
)

# CTAP 2.1 §6.10 authenticatorLargeBlobs request
_LB_GET = const(0x01)
_LB_SET = const(0x02)
_LB_OFFSET = const(0x03)
_LB_LENGTH = const(0x04)
_LB_PIN_UV_AUTH_PARAM = const(0x05)
_LB_PIN_UV_AUTH_PROTOCOL = const(0x06)

# ... and response
_LB_RESP_CONFIG = const(0x01)

# §6.10.2: maxFragmentLength = maxMsgSize - 64.
_FRAGMENT_OVERHEAD = const(64)
# The trailing truncated SHA-256 of the serialized array.
_HASH_LENGTH = const(16)
# §6.10.2 step 5.2.3: the shortest array is the empty CBOR array plus its hash.
_MIN_LENGTH = const(17)
# §6.10.3: the pinUvAuthParam message starts with 32 bytes of 0xff, then the
# command byte 0x0c and 0x00.
_AUTH_PREFIX = b"\xff" * 32 + b"\x0c\x00"

# §6.10.2: the initial serialized large-blob array, "an empty CBOR array
# (0x80) followed by LEFT(SHA-256(h'80'), 16)".
_EMPTY = b"\x80"
INITIAL_ARRAY = _EMPTY + crypto.sha256(_EMPTY)[:_HASH_LENGTH]


class PendingWrite:
    """A large-blob write in progress: RAM only, dropped on any other command."""

    def __init__(self, length):
        self.expected_length = length
        self.buffer = bytearray(length)
        self.expected_next_offset = 0


def stored_array(auth):
    """The serialized large-blob array as stored (the initial one if none is)."""
    value = auth.store.load(st.REC_LARGE_BLOBS)
    return value if isinstance(value, bytes) else INITIAL_ARRAY


def _protected_by_uv(auth):
    # "protected by some form of user verification": a PIN is set (this key
    # has no built-in UV); alwaysUv demands a token even without one.
    return pin_uv.pin_is_set(auth) or pin_uv.always_uv(auth)


def handle(auth, req):
    """CTAP2 authenticatorLargeBlobs command."""
    # -- parse and validate (no side effects) ----------------------------------
    get = opt(req, _LB_GET, UINT)
    fragment = opt(req, _LB_SET, BYTES)
    offset = opt(req, _LB_OFFSET, UINT)
    length = opt(req, _LB_LENGTH, UINT)
    pin_uv_auth_param = opt(req, _LB_PIN_UV_AUTH_PARAM, BYTES)
    pin_uv_auth_protocol = opt(req, _LB_PIN_UV_AUTH_PROTOCOL, UINT)
    max_fragment_length = auth.max_msg_size - _FRAGMENT_OVERHEAD

    # 1. offset is required -- the spec names INVALID_PARAMETER, not
    # MISSING_PARAMETER, for its absence.
    if offset is None:
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    # 2-3. Exactly one of get and set.
    if (get is None) == (fragment is None):
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)

    if get is not None:
        return _get(auth, get, offset, length, pin_uv_auth_param, pin_uv_auth_protocol, max_fragment_length)
    _set(auth, fragment, offset, length, pin_uv_auth_param, pin_uv_auth_protocol, max_fragment_length)
    return None


def _get(auth, get, offset, length, pin_uv_auth_param, pin_uv_auth_protocol, max_fragment_length):
    # 4.1. No length with get.
    if length is not None:
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    # 4.2. Reading needs no authorization, so it takes none.
    if pin_uv_auth_param is not None or pin_uv_auth_protocol is not None:
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    # 4.3. At most one fragment per response.
    if get > max_fragment_length:
        raise CtapError(CTAP1_ERR_INVALID_LENGTH)
    array = stored_array(auth)
    # 4.4. An offset past the end is an error; at the end, an empty slice.
    if offset > len(array):
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
    # 4.5. At most `get` bytes from offset (fewer at the end).
    return {_LB_RESP_CONFIG: array[offset : offset + get]}


def _set(auth, fragment, offset, length, pin_uv_auth_param, pin_uv_auth_protocol, max_fragment_length):
    # 5.1. One fragment at most maxFragmentLength.
    if len(fragment) > max_fragment_length:
        raise CtapError(CTAP1_ERR_INVALID_LENGTH)
    if offset == 0:
        # 5.2.1-5.2.3. The first fragment announces the total length; it
        # must fit this key and hold at least an empty array and its hash.
        if length is None:
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        if length > auth.max_serialized_large_blob_array:
            raise CtapError(CTAP2_ERR_LARGE_BLOB_STORAGE_FULL)
        if length < _MIN_LENGTH:
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        # 5.2.4-5.2.5. A new write starts: whatever was pending is gone,
        # whether or not this fragment passes the checks below.
        auth.large_blob_write = None
        expected_length = length
        expected_next_offset = 0
    else:
        # 5.3. Only the first fragment carries length.
        if length is not None:
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        pending = auth.large_blob_write
        expected_length = pending.expected_length if pending is not None else 0
        expected_next_offset = pending.expected_next_offset if pending is not None else 0
    # 5.4. Fragments arrive in order, without gaps or repeats (with no write
    # in progress only offset 0 can start one).
    if offset != expected_next_offset:
        raise CtapError(CTAP1_ERR_INVALID_SEQ)

    # 5.5. With a PIN set (or alwaysUv), every fragment carries a MAC from a
    # pinUvAuthToken that has the largeBlobWrite permission.
    if _protected_by_uv(auth):
        if pin_uv_auth_param is None:
            raise CtapError(CTAP2_ERR_PUAT_REQUIRED)
        if pin_uv_auth_protocol is None:
            raise CtapError(CTAP2_ERR_MISSING_PARAMETER)
        # verify(pinUvAuthToken, 32x0xff || h'0c00' || uint32LE(offset) ||
        # SHA-256(set), pinUvAuthParam); an unsupported protocol is
        # CTAP1_ERR_INVALID_PARAMETER, a bad MAC CTAP2_ERR_PIN_AUTH_INVALID.
        message = _AUTH_PREFIX + offset.to_bytes(4, "little") + crypto.sha256(fragment)
        pin_protocol.verify_token(auth, pin_uv_auth_protocol, message, pin_uv_auth_param)
        pin_protocol.require_permission(auth, PERMISSION_LBW)

    # 5.6. Nothing beyond the announced length.
    end = offset + len(fragment)
    if end > expected_length:
        raise CtapError(CTAP1_ERR_INVALID_PARAMETER)

    # -- act ------------------------------------------------------------------
    # 5.7. The first fragment gets a fresh buffer for the new array.
    if offset == 0:
        auth.large_blob_write = PendingWrite(length)
    pending = auth.large_blob_write
    # 5.8-5.9. Append; the next fragment starts where this one ended.
    pending.buffer[offset:end] = fragment
    pending.expected_next_offset = end
    if end < expected_length:
        return  # 5.11: more fragments to come
    # 5.10. Complete: the write is over whatever happens next.
    auth.large_blob_write = None
    array = pending.buffer
    body = memoryview(array)[: len(array) - _HASH_LENGTH]
    # 5.10.1. The trailing 16 bytes must be the truncated hash of the rest.
    if not crypto.ct_equal(crypto.sha256(body)[:_HASH_LENGTH], array[-_HASH_LENGTH:]):
        raise CtapError(CTAP2_ERR_INTEGRITY_FAILURE)
    # 5.10.2. Replace the stored array in one atomic write (Store.save writes
    # "lb.new", then renames it over "lb").
    auth.processing()
    auth.store.save(st.REC_LARGE_BLOBS, array)
