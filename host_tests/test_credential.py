"""firmware/credential.py: credential IDs wrap the key under the master secret."""

import os

import pytest
from hypothesis import given, settings, strategies as hs

from firmware import credential as credmod, crypto
from firmware.credential import FLAG_HMAC_SECRET, FLAG_RESIDENT, FLAG_U2F, Wrapper

crypto.set_rng(os.urandom)
RP = crypto.sha256(b"example.com")
KEY = bytes(range(1, 33))


@pytest.fixture(scope="module")
def wrapper():
    return Wrapper(bytes(32))


@pytest.mark.parametrize("blob", [b"", b"x", bytes(range(32))])
@pytest.mark.parametrize("flags,protect", [(0, 0), (FLAG_RESIDENT, 3), (FLAG_U2F, 1)])
def test_round_trip(wrapper, blob, flags, protect):
    cid = wrapper.wrap(RP, KEY, flags, protect, blob)
    assert credmod.MIN_CREDENTIAL_ID_LENGTH <= len(cid) <= credmod.MAX_CREDENTIAL_ID_LENGTH
    cred = wrapper.unwrap(RP, cid)
    assert (cred.private_key, cred.flags, cred.cred_protect, cred.cred_blob, cred.id) == (KEY, flags, protect, blob, cid)
    assert cred.resident == bool(flags & FLAG_RESIDENT)


def test_ids_are_randomised(wrapper):
    assert wrapper.wrap(RP, KEY) != wrapper.wrap(RP, KEY)


def test_bound_to_the_rp_and_the_master_secret(wrapper):
    cid = wrapper.wrap(RP, KEY)
    assert wrapper.unwrap(crypto.sha256(b"evil.example"), cid) is None
    assert Wrapper(b"\x01" * 32).unwrap(RP, cid) is None


def test_every_bit_flip_is_rejected(wrapper):
    cid = wrapper.wrap(RP, KEY, 0, 2, b"blob")
    for i in range(len(cid)):
        for bit in (0x01, 0x80):
            altered = bytearray(cid)
            altered[i] ^= bit
            assert wrapper.unwrap(RP, bytes(altered)) is None, (i, bit)


def test_truncated_and_extended_ids_are_rejected(wrapper):
    cid = wrapper.wrap(RP, KEY)
    for n in range(len(cid)):
        assert wrapper.unwrap(RP, cid[:n]) is None
    assert wrapper.unwrap(RP, cid + b"\0") is None
    assert wrapper.unwrap(RP, cid + bytes(16)) is None


def test_a_forged_id_is_never_decrypted(wrapper, monkeypatch):
    """The MAC is checked first; a bad ID costs the same HMAC and no AES."""
    calls = {"hmac": 0, "aes": 0}
    real_hmac, real_aes = crypto.HmacKey.mac, crypto.aes256_cbc_decrypt

    def hmac(key, *message):
        calls["hmac"] += 1
        return real_hmac(key, *message)

    def aes(*a):
        calls["aes"] += 1
        return real_aes(*a)

    monkeypatch.setattr(crypto.HmacKey, "mac", hmac)  # the MAC key's (Wrapper._tag)
    monkeypatch.setattr(crypto, "aes256_cbc_decrypt", aes)
    cid = wrapper.wrap(RP, KEY)
    calls["hmac"] = 0
    for forged in (bytes(len(cid)), b"\x02" + cid[1:], cid[:-1] + bytes([cid[-1] ^ 1])):
        assert wrapper.unwrap(RP, forged) is None
    assert calls == {"hmac": 3, "aes": 0}


@settings(max_examples=500, deadline=None)
@given(hs.binary(max_size=200))
def test_random_bytes_are_never_a_credential(data):
    assert Wrapper(bytes(32)).unwrap(RP, data) is None


def test_bad_material_is_refused(wrapper):
    with pytest.raises(ValueError):
        wrapper.wrap(RP, KEY[:31])
    with pytest.raises(ValueError):
        wrapper.wrap(RP, KEY, cred_blob=bytes(33))


def test_hmac_secret_flag_round_trips(wrapper):
    cred = wrapper.unwrap(RP, wrapper.wrap(RP, KEY, FLAG_HMAC_SECRET | FLAG_RESIDENT))
    assert cred.hmac_secret and cred.resident
    assert not wrapper.unwrap(RP, wrapper.wrap(RP, KEY)).hmac_secret


def test_cred_random_is_per_credential_per_uv_and_per_master_secret(wrapper):
    a, b = wrapper.wrap(RP, KEY, FLAG_HMAC_SECRET), wrapper.wrap(RP, KEY, FLAG_HMAC_SECRET)
    values = {wrapper.cred_random(c, uv) for c in (a, b) for uv in (False, True)}
    values.add(Wrapper(b"\x01" * 32).cred_random(a, False))
    assert len(values) == 5 and all(len(v) == 32 for v in values)
    # deterministic: nothing to store for a non-discoverable credential
    assert wrapper.cred_random(a, True) == Wrapper(bytes(32)).cred_random(a, True)
