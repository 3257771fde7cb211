"""End to end with libfido2 (C, the second real client): extensions and large blobs.

libfido2 builds hmac-secret's key agreement and salt encryption, the
credProtect/credBlob/largeBlobKey/minPinLength inputs and the large-blob
array (compression, AES-GCM per entry, fragments, MACs) in its own code: an
independent check of the bytes the key accepts and returns.
fido_cred_verify_self() also checks that the authData extensions are exactly
the ones requested, with the expected credProtect level and minPinLength.
"""

import hashlib
import hmac
import os

import pytest

from ctap2_helpers import parse_auth_data
from libfido2 import (  # noqa: F401 (dev: the fixture)
    FIDO_ERR_NO_CREDENTIALS,
    FIDO_ERR_NOTFOUND,
    FIDO_EXT_CRED_BLOB,
    FIDO_EXT_HMAC_SECRET,
    FIDO_EXT_LARGEBLOB_KEY,
    FIDO_EXT_MINPINLEN,
    FIDO_OK,
    Libfido2Error,
    dev,
)

RP_ID = "example.com"
PIN = "97531357"
FLAG_UV = 0x04


def make_credential(dev, **kw):
    return dev.make_credential(RP_ID, os.urandom(32), b"user-1", **kw)


def get_assertion(dev, cred, allow=True, **kw):
    """One assertion of `cred`, verified against its key; allow=False: found as discoverable."""
    return dev.get_assertion(RP_ID, os.urandom(32), [cred.id] if allow else [], cred.public_key, **kw)


def extensions(cred):
    """The extensions map of the credential's authData (None: none)."""
    return parse_auth_data(cred.auth_data).get("extensions")


def expected_hmac(virtual_key, cred_id, salt, uv):
    """The documented CredRandom derivation (firmware/credential.py), computed independently."""
    key = hmac.new(virtual_key.authenticator.store.master_secret, b"hmac-secret CredRandom v1", hashlib.sha256).digest()
    cred_random = hmac.new(key, (b"\x01" if uv else b"\x00") + cred_id, hashlib.sha256).digest()
    return b"".join(hmac.new(cred_random, salt[i : i + 32], hashlib.sha256).digest() for i in range(0, len(salt), 32))


@pytest.mark.parametrize("salt_len", [32, 64])
def test_hmac_secret_without_and_with_uv(dev, virtual_key, salt_len):
    cred = make_credential(dev, extensions=FIDO_EXT_HMAC_SECRET)
    assert cred.verified == FIDO_OK and extensions(cred) == {"hmac-secret": True}
    salt = os.urandom(salt_len)
    a = get_assertion(dev, cred, extensions=FIDO_EXT_HMAC_SECRET, hmac_salt=salt)
    assert a.verified == FIDO_OK and not a.flags & FLAG_UV
    assert a.hmac_secret == expected_hmac(virtual_key, cred.id, salt, uv=False)
    assert get_assertion(dev, cred, extensions=FIDO_EXT_HMAC_SECRET, hmac_salt=salt).hmac_secret == a.hmac_secret
    dev.set_pin(PIN)
    b = get_assertion(dev, cred, extensions=FIDO_EXT_HMAC_SECRET, hmac_salt=salt, pin=PIN)
    assert b.verified == FIDO_OK and b.flags & FLAG_UV
    assert b.hmac_secret == expected_hmac(virtual_key, cred.id, salt, uv=True) != a.hmac_secret


def test_cred_protect_cred_blob_and_large_blob_key(dev):
    blob = os.urandom(32)
    cred = make_credential(dev, extensions=FIDO_EXT_LARGEBLOB_KEY, cred_protect=2, cred_blob=blob, rk=True)
    assert cred.verified == FIDO_OK and extensions(cred) == {"credProtect": 2, "credBlob": True}
    assert len(cred.large_blob_key) == 32
    a = get_assertion(dev, cred, extensions=FIDO_EXT_LARGEBLOB_KEY | FIDO_EXT_CRED_BLOB)
    assert a.verified == FIDO_OK
    assert a.large_blob_key == cred.large_blob_key and a.blob == blob
    # credProtect 2: not discoverable without UV
    with pytest.raises(Libfido2Error) as e:
        get_assertion(dev, cred, allow=False)
    assert e.value.code == FIDO_ERR_NO_CREDENTIALS


def test_cred_protect_required_needs_uv(dev):
    dev.set_pin(PIN)
    cred = make_credential(dev, cred_protect=3, pin=PIN)
    assert cred.verified == FIDO_OK and extensions(cred) == {"credProtect": 3}
    with pytest.raises(Libfido2Error) as e:
        get_assertion(dev, cred)
    assert e.value.code == FIDO_ERR_NO_CREDENTIALS
    assert get_assertion(dev, cred, pin=PIN).verified == FIDO_OK


def test_large_blobs_set_get_remove(dev):
    dev.set_pin(PIN)
    keys = [make_credential(dev, extensions=FIDO_EXT_LARGEBLOB_KEY, rk=True, pin=PIN).large_blob_key]
    keys.append(os.urandom(32))
    data = [os.urandom(3000), b"compressible " * 400]
    for key, blob in zip(keys, data):
        dev.largeblob_set(key, blob, PIN)
    for key, blob in zip(keys, data):
        assert dev.largeblob_get(key) == blob
    # the serialized array libfido2 reads back is the CBOR array of both entries
    assert dev.largeblob_array()[0] == 0x82
    dev.largeblob_remove(keys[0], PIN)
    with pytest.raises(Libfido2Error) as e:
        dev.largeblob_get(keys[0])
    assert e.value.code == FIDO_ERR_NOTFOUND
    assert dev.largeblob_get(keys[1]) == data[1]


def test_min_pin_length_for_listed_rps(dev):
    dev.set_pin(PIN)
    assert extensions(make_credential(dev, extensions=FIDO_EXT_MINPINLEN, pin=PIN)) is None  # not listed: no output
    dev.set_pin_minlen_rp_ids([RP_ID], PIN)
    cred = make_credential(dev, pin=PIN, min_pin_length=4)
    assert cred.verified == FIDO_OK and extensions(cred) == {"minPinLength": 4}
