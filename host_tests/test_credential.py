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


# -- algorithms: version 2 IDs name theirs ---------------------------------------------

ES256, EDDSA, ESP256, ED25519 = -7, -8, -9, -19
ALL_ALGS = (ES256, EDDSA, ESP256, ED25519)


def test_the_host_build_offers_every_algorithm():
    """On CPython the facade has lib/ed25519's extension (build/host), so every
    algorithm is offered, ES256 first; never a stand-in module."""
    assert crypto.HAS_ED25519
    assert "build/host" in crypto.ed25519.__file__.replace("\\", "/")
    assert credmod.ALGORITHMS == ALL_ALGS


@pytest.mark.parametrize("alg", ALL_ALGS)
@pytest.mark.parametrize("blob", [b"", bytes(range(32))])
def test_each_algorithm_round_trips_in_the_id(wrapper, alg, blob):
    cid = wrapper.wrap(RP, KEY, FLAG_RESIDENT, 2, blob, alg)
    assert credmod.MIN_CREDENTIAL_ID_LENGTH <= len(cid) <= credmod.MAX_CREDENTIAL_ID_LENGTH
    # ES256 keeps the format of every ID made before (version 1); the others say theirs
    assert cid[0] == (1 if alg == ES256 else 2)
    cred = wrapper.unwrap(RP, cid)
    assert (cred.alg, cred.private_key, cred.flags, cred.cred_protect, cred.cred_blob) == (
        alg, KEY, FLAG_RESIDENT, 2, blob)


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_keys_signatures_and_cose_keys_follow_the_algorithm(alg):
    from fido2.cose import CoseKey

    private_key, public_key = credmod.keygen(alg)
    cred = credmod.Credential(b"id", private_key, 0, 0, b"", alg)
    assert cred.public_key() == public_key
    cose = CoseKey.parse(cred.cose_key())  # python-fido2 picks its class by alg
    assert cose.ALGORITHM == alg
    if alg in (EDDSA, ED25519):
        assert len(public_key) == 32 and cred.cose_key() == {1: 1, 3: alg, -1: 6, -2: public_key}
    else:
        assert cred.cose_key() == {1: 2, 3: alg, -1: 1, -2: public_key[1:33], -3: public_key[33:]}
    signature = cred.sign(b"authData", b"clientDataHash")
    cose.verify(b"authDataclientDataHash", signature)  # raises if it does not verify
    if alg in (EDDSA, ED25519):
        assert len(signature) == 64


# An ID made by the key before it knew other algorithms (firmware/credential.py
# at main 7b4d290, master secret 00..1f, IV 40..4f, key 64..83, rpId example.com):
# resident + hmac-secret, credProtect 2, credBlob "blob"; and a U2F key handle.
_OLD_ID = bytes.fromhex(
    "01404142434445464748494a4b4c4d4e4fd99f21ef0b118d6d3751a5d026f4fe521ff2abb96fdacac995d56c36b02c0427"
    "e6fd55324176c084dac6194f90dd67212d40cafb1993da3eceda145241c5596d")
_OLD_U2F_KEY_HANDLE = bytes.fromhex(
    "01404142434445464748494a4b4c4d4e4fd99f21ef0b118d6d3751a5d026f4fe521ff2abb96fdacac995d56c36b02c0427"
    "a6aa35c3af3c9a5a2be893347fbdbc21e263bd14ee46796b9aed497ff6dea39d")


def test_ids_made_before_algorithms_were_carried_still_unwrap_as_es256():
    w = Wrapper(bytes(range(32)))
    rp = crypto.sha256(b"example.com")
    cred = w.unwrap(rp, _OLD_ID)
    assert (cred.alg, cred.private_key, cred.flags, cred.cred_protect, cred.cred_blob) == (
        ES256, bytes(range(100, 132)), FLAG_RESIDENT | FLAG_HMAC_SECRET, 2, b"blob")
    cred = w.unwrap(rp, _OLD_U2F_KEY_HANDLE)
    assert (cred.alg, cred.flags) == (ES256, FLAG_U2F)


def test_an_es256_id_is_still_made_as_before(wrapper, monkeypatch):
    """Byte for byte what the key made before algorithms were carried (the
    vector above): a firmware rolled back still knows every ES256 credential."""
    monkeypatch.setattr(crypto, "random_bytes", lambda n: bytes(range(0x40, 0x40 + n)))
    w = Wrapper(bytes(range(32)))
    rp = crypto.sha256(b"example.com")
    key = bytes(range(100, 132))
    assert w.wrap(rp, key, FLAG_RESIDENT | FLAG_HMAC_SECRET, 2, b"blob") == _OLD_ID
    assert w.wrap(rp, key, FLAG_U2F, alg=ES256) == _OLD_U2F_KEY_HANDLE


def _forge_version_2(wrapper, alg_byte, header=b""):
    """A version 2 ID MACed under the wrapper's own keys, with any algorithm
    byte: what only the key itself could make. The checks that do not rest
    on the MAC are tested with it."""
    plaintext = bytearray(48)
    plaintext[:32] = KEY
    plaintext[35] = alg_byte
    iv = bytes(16)
    ciphertext = crypto.aes256_cbc_encrypt(wrapper._enc_key, iv, bytes(plaintext))
    return b"\x02" + iv + ciphertext + wrapper._tag(b"\x02", RP, iv, ciphertext)


def test_version_2_never_holds_es256_or_an_unknown_algorithm(wrapper):
    assert wrapper.unwrap(RP, _forge_version_2(wrapper, 9)).alg == ESP256  # the forger is right
    for alg_byte in (7, 0, 1, 6, 35, 257 & 0xFF, 0xFF):
        assert wrapper.unwrap(RP, _forge_version_2(wrapper, alg_byte)) is None, alg_byte


@pytest.mark.parametrize("alg", (EDDSA, ESP256, ED25519))
def test_the_algorithm_cannot_be_swapped(wrapper, alg):
    """Every other algorithm of the same ID: the version byte or the
    ciphertext changes, and the MAC fails (no ID made for -8 is ever used as
    P-256, or an ESP256 one as ES256)."""
    cid = wrapper.wrap(RP, KEY, 0, 0, b"", alg)
    as_version_1 = b"\x01" + cid[1:]
    assert wrapper.unwrap(RP, as_version_1) is None
    # the algorithm byte (plaintext[35]) is the 4th byte of the third block
    # of plaintext: under CBC, flipping bits of the second ciphertext block's
    # 4th byte flips exactly these bits of it -- an undetected swap, but for the MAC
    for other in ALL_ALGS:
        if other == alg:
            continue
        altered = bytearray(cid)
        altered[1 + 16 + 16 + 3] ^= (-alg) ^ (-other)  # version, IV, ciphertext block 1, then block 2
        assert wrapper.unwrap(RP, bytes(altered)) is None


def test_an_algorithm_the_firmware_cannot_sign_with_is_not_found(wrapper, monkeypatch):
    """A board whose firmware lacks the ed25519 module neither makes nor uses
    Ed25519 credentials: their IDs unwrap to nothing there."""
    ids = {alg: wrapper.wrap(RP, KEY, 0, 0, b"", alg) for alg in ALL_ALGS}
    monkeypatch.setattr(credmod, "ALGORITHMS", (ES256, ESP256))
    assert {alg: wrapper.unwrap(RP, cid) is not None for alg, cid in ids.items()} == {
        ES256: True, EDDSA: False, ESP256: True, ED25519: False}
    with pytest.raises(ValueError):
        wrapper.wrap(RP, KEY, alg=EDDSA)


@pytest.mark.parametrize("alg", (-257, -35, 0, -25, 7))
def test_wrap_refuses_an_algorithm_it_does_not_know(wrapper, alg):
    with pytest.raises(ValueError):
        wrapper.wrap(RP, KEY, alg=alg)
