"""firmware/crypto.py: the facade over p256, hashlib, cryptolib and the board's RNG."""

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings, strategies as hs

from firmware import crypto
from vectors import nist_blocks, wycheproof

crypto.set_rng(os.urandom)


# -- HMAC-SHA-256 (our own code over hashlib) -----------------------------------


def test_hmac_rfc_4231():
    blocks = nist_blocks("HMAC/rfc-4231-sha256.txt")
    assert len(blocks) >= 6
    for b in blocks:
        key, msg = bytes.fromhex(b["KEY"]), bytes.fromhex(b["MSG"])
        assert crypto.hmac_sha256(key, msg).hex() == b["MD"]


def test_hmac_wycheproof():
    n = 0
    for group in wycheproof("hmac_sha256_test.json"):
        for t in group["tests"]:
            tag = crypto.hmac_sha256(bytes.fromhex(t["key"]), bytes.fromhex(t["msg"]))
            expect = bytes.fromhex(t["tag"])
            ok = crypto.ct_equal(tag[: len(expect)], expect)
            assert ok == (t["result"] == "valid"), t["tcId"]
            n += 1
    assert n > 100


@settings(max_examples=300, deadline=None)
@given(hs.binary(max_size=200), hs.binary(max_size=300))
def test_hmac_matches_the_standard_library(key, msg):
    assert crypto.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


def test_hmac_key_rfc_4231_and_wycheproof():
    # HmacKey: the padded blocks made once (Wrapper's MAC keys), the same MACs.
    for b in nist_blocks("HMAC/rfc-4231-sha256.txt"):
        key = crypto.HmacKey(bytes.fromhex(b["KEY"]))
        assert key.mac(bytes.fromhex(b["MSG"])).hex() == b["MD"]
        assert key.mac(bytes.fromhex(b["MSG"])).hex() == b["MD"]  # and again: nothing used up
    n = 0
    for group in wycheproof("hmac_sha256_test.json"):
        for t in group["tests"]:
            tag = crypto.HmacKey(bytes.fromhex(t["key"])).mac(bytes.fromhex(t["msg"]))
            expect = bytes.fromhex(t["tag"])
            assert crypto.ct_equal(tag[: len(expect)], expect) == (t["result"] == "valid"), t["tcId"]
            n += 1
    assert n > 100


@settings(max_examples=300, deadline=None)
@given(hs.binary(max_size=200), hs.lists(hs.binary(max_size=80), max_size=5))
def test_hmac_key_matches_the_standard_library(key, parts):
    expect = hmac.new(key, b"".join(parts), hashlib.sha256).digest()
    assert crypto.HmacKey(key).mac(*parts) == expect
    assert crypto.HmacKey(memoryview(key)).mac(*[memoryview(p) for p in parts]) == expect


@settings(max_examples=300, deadline=None)
@given(hs.binary(max_size=100), hs.lists(hs.binary(max_size=80), max_size=5))
def test_hmac_over_parts_is_hmac_over_their_concatenation(key, parts):
    # Callers pass fields separately (credential-ID MAC, CredRandom) rather
    # than joining them first; also memoryview slices of a larger buffer.
    joined = b"".join(parts)
    expect = hmac.new(key, joined, hashlib.sha256).digest()
    assert crypto.hmac_sha256(key, *parts) == expect
    assert crypto.hmac_sha256(memoryview(key), *[memoryview(p) for p in parts]) == expect


def test_hmac_leaves_no_trace_of_its_key_in_its_padding_block():
    # hmac_sha256 pads the key in one block kept for every call (no 80-byte
    # block per MAC on MicroPython); between calls, and after a call that
    # failed half way, the block is a constant again.
    key = bytes(range(1, 33))
    crypto.hmac_sha256(key, b"message")
    assert crypto._PAD == b"\x5c" * 64
    with pytest.raises(TypeError):
        crypto.hmac_sha256(key, b"fine", 12345)  # a part that is not bytes
    assert crypto._PAD == b"\x5c" * 64
    assert crypto.hmac_sha256(key, b"message") == hmac.new(key, b"message", hashlib.sha256).digest()


@settings(max_examples=100, deadline=None)
@given(hs.binary(max_size=64), hs.binary(min_size=1, max_size=64), hs.binary(max_size=40), hs.integers(1, 64))
def test_hkdf_matches_cryptography(salt, ikm, info, length):
    expect = HKDF(hashes.SHA256(), length, salt or None, info).derive(ikm)
    assert crypto.hkdf_sha256(salt or bytes(32), ikm, info, length) == expect
    assert crypto.hkdf_expand_sha256(crypto.hmac_sha256(salt or bytes(32), ikm), info, length) == expect


def test_ct_equal():
    assert crypto.ct_equal(b"abc", b"abc") and crypto.ct_equal(b"", b"")
    assert not crypto.ct_equal(b"abc", b"abd") and not crypto.ct_equal(b"abc", b"ab")


# -- AES-256-CBC ---------------------------------------------------------------------


def test_aes_cbc_nist_cavp():
    n = 0
    for name in ("CBCMMT256.rsp", "CBCGFSbox256.rsp", "CBCKeySbox256.rsp", "CBCVarKey256.rsp", "CBCVarTxt256.rsp"):
        for b in nist_blocks("ciphers/AES/CBC/" + name):
            key, iv = bytes.fromhex(b["KEY"]), bytes.fromhex(b["IV"])
            pt, ct = bytes.fromhex(b["PLAINTEXT"]), bytes.fromhex(b["CIPHERTEXT"])
            if b["_section"] == "ENCRYPT":
                assert crypto.aes256_cbc_encrypt(key, iv, pt) == ct
            else:
                assert crypto.aes256_cbc_decrypt(key, iv, ct) == pt
            n += 1
    assert n > 500


def test_aes_cbc_wycheproof_256():
    n = 0
    for group in wycheproof("aes_cbc_pkcs5_test.json"):
        if group["keySize"] != 256:
            continue
        for t in group["tests"]:
            if t["result"] != "valid":
                continue  # invalid cases are about PKCS#5 padding, which CTAP never uses
            key, iv = bytes.fromhex(t["key"]), bytes.fromhex(t["iv"])
            msg = bytes.fromhex(t["msg"])
            pad = 16 - len(msg) % 16
            assert crypto.aes256_cbc_encrypt(key, iv, msg + bytes([pad]) * pad).hex() == t["ct"]
            n += 1
    assert n > 20


# -- P-256 through the facade ----------------------------------------------------------


def _pub(raw):
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def _raw(public_key):
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def test_keygen_sign_and_verify_against_cryptography():
    for _ in range(20):
        priv, pub = crypto.p256_keygen()
        assert len(priv) == 32 and len(pub) == 65 and pub[0] == 4
        assert crypto.p256_public_key(priv) == pub
        msg = os.urandom(100)
        sig = crypto.p256_sign(priv, msg)
        _pub(pub).verify(sig, msg, ec.ECDSA(hashes.SHA256()))
        assert crypto.p256_verify(pub, msg, sig)
        assert not crypto.p256_verify(pub, msg + b"x", sig)
        # A message in parts is signed as their concatenation (authData || clientDataHash).
        sig = crypto.p256_sign(priv, msg[:37], memoryview(msg)[37:60], msg[60:])
        _pub(pub).verify(sig, msg, ec.ECDSA(hashes.SHA256()))


def test_verify_signatures_made_by_cryptography():
    key = ec.generate_private_key(ec.SECP256R1())
    pub = _raw(key.public_key())
    msg = b"message"
    assert crypto.p256_verify(pub, msg, key.sign(msg, ec.ECDSA(hashes.SHA256())))
    assert not crypto.p256_verify(pub, msg, b"\x30\x00")  # malformed DER is just "no"


def test_ecdh_agrees_with_cryptography():
    priv, pub = crypto.p256_keygen()
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_pub = _raw(peer.public_key())
    assert crypto.p256_ecdh(priv, peer_pub) == peer.exchange(ec.ECDH(), _pub(pub))
    with pytest.raises(ValueError):
        crypto.p256_ecdh(priv, b"\x04" + bytes(64))
    assert crypto.p256_valid_public_key(peer_pub) and not crypto.p256_valid_public_key(b"\x04" + bytes(64))


# (Randomness -- the DRBG over the board's source -- is tested in test_drbg.py.)


def test_circuitpython_hashlib_with_only_new(monkeypatch):
    """CircuitPython's hashlib has no sha256(): only new("sha256", data) (shared-bindings/hashlib).
    The facade takes that constructor there, with the same results."""
    import importlib
    import sys
    import types

    cp_hashlib = types.ModuleType("hashlib")
    cp_hashlib.new = lambda name, data=b"": hashlib.new(name, data)
    monkeypatch.setitem(sys.modules, "hashlib", cp_hashlib)
    cp_crypto = importlib.reload(crypto)
    try:
        assert not hasattr(cp_hashlib, "sha256")
        assert cp_crypto.sha256(b"abc") == hashlib.sha256(b"abc").digest()
        key = bytes(range(32))
        assert cp_crypto.hmac_sha256(key, b"a", b"bc") == hmac.new(key, b"abc", "sha256").digest()
        assert cp_crypto.HmacKey(key).mac(b"abc") == hmac.new(key, b"abc", "sha256").digest()
        cp_crypto.set_rng(os.urandom)
        priv, pub = cp_crypto.p256_keygen()
        der = cp_crypto.p256_sign(priv, b"auth", b"cdh")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub).verify(
            der, b"authcdh", ec.ECDSA(hashes.SHA256()))
    finally:
        monkeypatch.undo()
        importlib.reload(crypto)
        crypto.set_rng(os.urandom)
