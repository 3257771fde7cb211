"""End to end with libfido2 (C, the second real client): extensions and large blobs.

libfido2 builds hmac-secret's key agreement and salt encryption, the
credProtect/credBlob/largeBlobKey/minPinLength inputs and the large-blob
array (compression, AES-GCM per entry, fragments, MACs) in its own code: an
independent check of the bytes the key accepts and returns.
"""

import ctypes
import hashlib
import hmac
import os

import pytest

from ctap2_helpers import parse_auth_data
from libfido2 import FIDO_OK, Libfido2Error, dev, library  # noqa: F401 (dev: the fixture)

RP_ID = "example.com"
PIN = "97531357"
FLAG_UV = 0x04

# fido/param.h
FIDO_EXT_HMAC_SECRET = 0x01
FIDO_EXT_CRED_PROTECT = 0x02
FIDO_EXT_LARGEBLOB_KEY = 0x04
FIDO_EXT_CRED_BLOB = 0x08
FIDO_EXT_MINPINLEN = 0x10
FIDO_OPT_TRUE = 2
COSE_ES256 = -7
# libfido2 passes CTAP status codes through as its FIDO_ERR_* values.
FIDO_ERR_NO_CREDENTIALS = 0x2E

_P = ctypes.c_void_p
_BUF = ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))
_SIZE = ctypes.POINTER(ctypes.c_size_t)
_SIGNATURES = {
    "fido_cred_set_extensions": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_cred_set_prot": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_cred_set_blob": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_cred_set_pin_minlen": (ctypes.c_int, [_P, ctypes.c_size_t]),
    "fido_cred_authdata_raw_ptr": (_P, [_P]),
    "fido_cred_authdata_raw_len": (ctypes.c_size_t, [_P]),
    "fido_cred_largeblob_key_ptr": (_P, [_P]),
    "fido_cred_largeblob_key_len": (ctypes.c_size_t, [_P]),
    "fido_assert_set_extensions": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_assert_set_hmac_salt": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_assert_hmac_secret_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_hmac_secret_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "fido_assert_largeblob_key_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_largeblob_key_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "fido_assert_blob_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_blob_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "fido_dev_largeblob_set": (
        ctypes.c_int,
        [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p],
    ),
    "fido_dev_largeblob_get": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, _BUF, _SIZE]),
    "fido_dev_largeblob_remove": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p]),
    "fido_dev_largeblob_get_array": (ctypes.c_int, [_P, _BUF, _SIZE]),
    "fido_dev_set_pin_minlen_rpid": (ctypes.c_int, [_P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t, ctypes.c_char_p]),
}
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [_P]


def lib():
    lib = library()
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def check(what, code):
    if code != FIDO_OK:
        raise Libfido2Error(what, code)


def _bytes(ptr, n):
    return ctypes.string_at(ptr, n) if n else b""


def _pin(pin):
    return None if pin is None else pin.encode()


def make_credential(dev, extensions=0, prot=0, blob=None, rk=False, pin=None, min_pin_length=0):
    """fido_dev_make_cred with extensions: a dict of what came back.

    libfido2's fido_cred_verify_self() also checks that the authData
    extensions are exactly the ones requested, with the expected credProtect
    level and minPinLength; "extensions" is the authData map itself.
    """
    f = lib()
    cred = _P(f.fido_cred_new())
    try:
        cdh = os.urandom(32)
        check("set_type", f.fido_cred_set_type(cred, COSE_ES256))
        check("set_cdh", f.fido_cred_set_clientdata_hash(cred, cdh, 32))
        check("set_rp", f.fido_cred_set_rp(cred, RP_ID.encode(), None))
        check("set_user", f.fido_cred_set_user(cred, b"user-1", 6, b"user", None, None))
        if rk:
            check("set_rk", f.fido_cred_set_rk(cred, FIDO_OPT_TRUE))
        if prot:
            check("set_prot", f.fido_cred_set_prot(cred, prot))  # also sets FIDO_EXT_CRED_PROTECT
        if blob is not None:
            check("set_blob", f.fido_cred_set_blob(cred, blob, len(blob)))  # FIDO_EXT_CRED_BLOB
        if min_pin_length:
            check("set_pin_minlen", f.fido_cred_set_pin_minlen(cred, min_pin_length))  # FIDO_EXT_MINPINLEN
        if extensions:
            check("set_extensions", f.fido_cred_set_extensions(cred, extensions))
        check("fido_dev_make_cred", f.fido_dev_make_cred(dev._dev, cred, _pin(pin)))
        return {
            "id": _bytes(f.fido_cred_id_ptr(cred), f.fido_cred_id_len(cred)),
            "public_key": _bytes(f.fido_cred_pubkey_ptr(cred), f.fido_cred_pubkey_len(cred)),
            "verified": f.fido_cred_verify_self(cred),
            "extensions": parse_auth_data(
                _bytes(f.fido_cred_authdata_raw_ptr(cred), f.fido_cred_authdata_raw_len(cred))
            ).get("extensions"),
            "large_blob_key": _bytes(f.fido_cred_largeblob_key_ptr(cred), f.fido_cred_largeblob_key_len(cred)),
        }
    finally:
        f.fido_cred_free(ctypes.byref(cred))


def get_assertion(dev, cred, extensions=0, salt=None, pin=None, allow=True):
    """fido_dev_get_assert (verified against the credential's key): a dict of what came back."""
    f = lib()
    assertion = _P(f.fido_assert_new())
    pk = _P(f.es256_pk_new())
    try:
        cdh = os.urandom(32)
        check("set_cdh", f.fido_assert_set_clientdata_hash(assertion, cdh, 32))
        check("set_rp", f.fido_assert_set_rp(assertion, RP_ID.encode()))
        if allow:
            check("allow_cred", f.fido_assert_allow_cred(assertion, cred["id"], len(cred["id"])))
        if extensions:
            check("set_extensions", f.fido_assert_set_extensions(assertion, extensions))
        if salt is not None:
            check("set_hmac_salt", f.fido_assert_set_hmac_salt(assertion, salt, len(salt)))
        check("fido_dev_get_assert", f.fido_dev_get_assert(dev._dev, assertion, _pin(pin)))
        check("es256_pk_from_ptr", f.es256_pk_from_ptr(pk, cred["public_key"], len(cred["public_key"])))
        return {
            "verified": f.fido_assert_verify(assertion, 0, COSE_ES256, pk),
            "flags": f.fido_assert_flags(assertion, 0),
            "hmac_secret": _bytes(f.fido_assert_hmac_secret_ptr(assertion, 0), f.fido_assert_hmac_secret_len(assertion, 0)),
            "large_blob_key": _bytes(
                f.fido_assert_largeblob_key_ptr(assertion, 0), f.fido_assert_largeblob_key_len(assertion, 0)
            ),
            "blob": _bytes(f.fido_assert_blob_ptr(assertion, 0), f.fido_assert_blob_len(assertion, 0)),
        }
    finally:
        f.es256_pk_free(ctypes.byref(pk))
        f.fido_assert_free(ctypes.byref(assertion))


def _take(buf, n):
    data = ctypes.string_at(buf, n.value) if n.value else b""
    _libc.free(buf)
    return data


def largeblob_get(dev, key):
    buf, n = ctypes.POINTER(ctypes.c_ubyte)(), ctypes.c_size_t()
    check("fido_dev_largeblob_get", lib().fido_dev_largeblob_get(dev._dev, key, len(key), ctypes.byref(buf), ctypes.byref(n)))
    return _take(buf, n)


def largeblob_array(dev):
    buf, n = ctypes.POINTER(ctypes.c_ubyte)(), ctypes.c_size_t()
    check("fido_dev_largeblob_get_array", lib().fido_dev_largeblob_get_array(dev._dev, ctypes.byref(buf), ctypes.byref(n)))
    return _take(buf, n)


def expected_hmac(virtual_key, cred_id, salt, uv):
    """The documented CredRandom derivation (firmware/credential.py), computed independently."""
    key = hmac.new(virtual_key.authenticator.store.master_secret, b"hmac-secret CredRandom v1", hashlib.sha256).digest()
    cred_random = hmac.new(key, (b"\x01" if uv else b"\x00") + cred_id, hashlib.sha256).digest()
    return b"".join(hmac.new(cred_random, salt[i : i + 32], hashlib.sha256).digest() for i in range(0, len(salt), 32))


@pytest.mark.parametrize("salt_len", [32, 64])
def test_hmac_secret_without_and_with_uv(dev, virtual_key, salt_len):
    cred = make_credential(dev, FIDO_EXT_HMAC_SECRET)
    assert cred["verified"] == FIDO_OK and cred["extensions"] == {"hmac-secret": True}
    salt = os.urandom(salt_len)
    a = get_assertion(dev, cred, FIDO_EXT_HMAC_SECRET, salt)
    assert a["verified"] == FIDO_OK and not a["flags"] & FLAG_UV
    assert a["hmac_secret"] == expected_hmac(virtual_key, cred["id"], salt, uv=False)
    assert get_assertion(dev, cred, FIDO_EXT_HMAC_SECRET, salt)["hmac_secret"] == a["hmac_secret"]
    dev.set_pin(PIN)
    b = get_assertion(dev, cred, FIDO_EXT_HMAC_SECRET, salt, pin=PIN)
    assert b["verified"] == FIDO_OK and b["flags"] & FLAG_UV
    assert b["hmac_secret"] == expected_hmac(virtual_key, cred["id"], salt, uv=True) != a["hmac_secret"]


def test_cred_protect_cred_blob_and_large_blob_key(dev):
    blob = os.urandom(32)
    cred = make_credential(dev, FIDO_EXT_LARGEBLOB_KEY, prot=2, blob=blob, rk=True)
    assert cred["verified"] == FIDO_OK and cred["extensions"] == {"credProtect": 2, "credBlob": True}
    assert len(cred["large_blob_key"]) == 32
    a = get_assertion(dev, cred, FIDO_EXT_LARGEBLOB_KEY | FIDO_EXT_CRED_BLOB)
    assert a["verified"] == FIDO_OK
    assert a["large_blob_key"] == cred["large_blob_key"] and a["blob"] == blob
    # credProtect 2: not discoverable without UV
    with pytest.raises(Libfido2Error) as e:
        get_assertion(dev, cred, allow=False)
    assert e.value.code == FIDO_ERR_NO_CREDENTIALS


def test_cred_protect_required_needs_uv(dev):
    dev.set_pin(PIN)
    cred = make_credential(dev, prot=3, pin=PIN)
    assert cred["verified"] == FIDO_OK and cred["extensions"] == {"credProtect": 3}
    with pytest.raises(Libfido2Error) as e:
        get_assertion(dev, cred)
    assert e.value.code == FIDO_ERR_NO_CREDENTIALS
    assert get_assertion(dev, cred, pin=PIN)["verified"] == FIDO_OK


def test_large_blobs_set_get_remove(dev):
    f = lib()
    dev.set_pin(PIN)
    keys = [make_credential(dev, FIDO_EXT_LARGEBLOB_KEY, rk=True, pin=PIN)["large_blob_key"]]
    keys.append(os.urandom(32))
    data = [os.urandom(3000), b"compressible " * 400]
    for key, blob in zip(keys, data):
        check("largeblob_set", f.fido_dev_largeblob_set(dev._dev, key, 32, blob, len(blob), PIN.encode()))
    for key, blob in zip(keys, data):
        assert largeblob_get(dev, key) == blob
    # the serialized array libfido2 reads back is the CBOR array of both entries
    assert largeblob_array(dev)[0] == 0x82
    check("largeblob_remove", f.fido_dev_largeblob_remove(dev._dev, keys[0], 32, PIN.encode()))
    with pytest.raises(Libfido2Error):
        largeblob_get(dev, keys[0])
    assert largeblob_get(dev, keys[1]) == data[1]


def test_min_pin_length_for_listed_rps(dev):
    f = lib()
    dev.set_pin(PIN)
    assert make_credential(dev, FIDO_EXT_MINPINLEN, pin=PIN)["extensions"] is None  # not listed: no output
    rp_ids = (ctypes.c_char_p * 1)(RP_ID.encode())
    check("set_pin_minlen_rpid", f.fido_dev_set_pin_minlen_rpid(dev._dev, rp_ids, 1, PIN.encode()))
    cred = make_credential(dev, pin=PIN, min_pin_length=4)
    assert cred["verified"] == FIDO_OK and cred["extensions"] == {"minPinLength": 4}
