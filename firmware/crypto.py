"""The one crypto facade of the core: P-256, SHA-256, HMAC, AES-256-CBC, randomness.

Backends, chosen once at import and the same on every board:
  p256        lib/p256 in C -- frozen into firmware, a native .mpy on stock
              firmware, a CPython extension on the host board
  hashlib     SHA-256 (MicroPython, CircuitPython and CPython all have it;
              CircuitPython's offers it only as hashlib.new("sha256", data))
  cryptolib   AES (MicroPython's `cryptolib`/`ucryptolib`; on CPython the shim
              in lib/cryptolib.py); CircuitPython's `aesio` is used where
              `cryptolib` is missing
Randomness comes from the board (set_rng), never from `random`.
"""

import hashlib

import p256

try:
    import cryptolib as _aes_mod
except ImportError:
    try:
        import ucryptolib as _aes_mod
    except ImportError:
        _aes_mod = None
        import aesio  # CircuitPython

_CBC = 2  # cryptolib mode number for CBC
_BLOCK = 64  # SHA-256 block size, for HMAC

_rng = None

try:
    _sha256 = hashlib.sha256
except AttributeError:  # CircuitPython: new(name, data) is its hashlib's only constructor

    def _sha256(data=b""):
        return hashlib.new("sha256", data)



def set_rng(fn):
    """Install the board's random source: fn(n) -> n random bytes."""
    global _rng
    _rng = fn


def random_bytes(n):
    return _rng(n)


# -- hashing ----------------------------------------------------------------


def sha256(data):
    return _sha256(data).digest()


# RFC 2104's ipad and opad, a block each: a padded key starts as one of these
# and only its first len(key) bytes are XORed (the rest of K0 is zeros).
_IPAD = b"\x36" * _BLOCK
_OPAD = b"\x5c" * _BLOCK


def _xor_key_into(pad, key):
    for i in range(len(key)):
        pad[i] ^= key[i]


def hmac_sha256(key, *message):
    """RFC 2104 HMAC over SHA-256 of message, given as one or more parts.

    The parts are MACed as their concatenation without being joined in
    memory: hmac_sha256(k, a, b) == hmac_sha256(k, a + b). On MicroPython
    this costs one 64-byte block for the padded key, two hash objects and
    their two digests; the Python loops run over the key's bytes only (32
    for every key here), not the whole block twice. A key used again and
    again is an HmacKey instead.
    """
    if len(key) > _BLOCK:
        key = sha256(key)
    pad = bytearray(_IPAD)
    _xor_key_into(pad, key)
    inner = _sha256(pad)
    for part in message:
        inner.update(part)
    pad[:] = _OPAD  # the same length: copied in place
    _xor_key_into(pad, key)
    outer = _sha256(pad)
    outer.update(inner.digest())
    return outer.digest()


class HmacKey:
    """HMAC-SHA-256 under one key, used again and again: its padded blocks are made once.

    mac(*message) == hmac_sha256(key, *message), without a loop in Python
    (the padding loops were 1.8 ms of an HMAC at 125 MHz on a Cortex-M0+).
    """

    def __init__(self, key):
        if len(key) > _BLOCK:
            key = sha256(key)
        pad = bytearray(_IPAD)
        _xor_key_into(pad, key)
        self._ipad = bytes(pad)
        pad[:] = _OPAD
        _xor_key_into(pad, key)
        self._opad = bytes(pad)

    def mac(self, *message):
        inner = _sha256(self._ipad)
        for part in message:
            inner.update(part)
        outer = _sha256(self._opad)
        outer.update(inner.digest())
        return outer.digest()


def hkdf_sha256(salt, ikm, info, length):
    """RFC 5869 HKDF-SHA-256: Extract, then Expand."""
    return hkdf_expand_sha256(hmac_sha256(salt, ikm), info, length)


def hkdf_expand_sha256(prk, info, length):
    """RFC 5869 HKDF-Expand with SHA-256 (CTAP only needs length <= 32: one block)."""
    t = hmac_sha256(prk, info, b"\x01")
    if length <= len(t):
        return t if length == len(t) else t[:length]
    out = t
    i = 2
    while len(out) < length:
        t = hmac_sha256(prk, t, info, bytes((i,)))
        out += t
        i += 1
    return out[:length]


def ct_equal(a, b):
    """Constant-time comparison (time depends only on the lengths)."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


# -- AES-256-CBC (no padding: callers pass whole blocks) ----------------------


def aes256_cbc_encrypt(key, iv, data):
    if _aes_mod is not None:
        return _aes_mod.aes(key, _CBC, iv).encrypt(data)
    out = bytearray(len(data))
    aesio.AES(key, aesio.MODE_CBC, iv).encrypt_into(data, out)
    return bytes(out)


def aes256_cbc_decrypt(key, iv, data):
    if _aes_mod is not None:
        return _aes_mod.aes(key, _CBC, iv).decrypt(data)
    out = bytearray(len(data))
    aesio.AES(key, aesio.MODE_CBC, iv).decrypt_into(data, out)
    return bytes(out)


# -- P-256 ----------------------------------------------------------------------


def p256_keygen():
    """A fresh key pair: (private key 32 bytes, public key 65 bytes 04||X||Y)."""
    return p256.keygen(random_bytes(40))


def p256_public_key(private_key):
    return p256.public_key(private_key)


def p256_sign(private_key, *message):
    """ECDSA P-256 with SHA-256 over message; DER signature (WebAuthn, U2F).

    message is one or more parts, signed as their concatenation (WebAuthn's
    authenticatorData || clientDataHash) without being joined in memory.
    """
    h = _sha256()
    for part in message:
        h.update(part)
    raw = p256.sign(private_key, h.digest(), random_bytes(32))
    return p256.sig_to_der(raw)


def p256_verify(public_key, message, der_signature):
    try:
        raw = p256.sig_from_der(der_signature)
    except ValueError:
        return False
    return p256.verify(public_key, sha256(message), raw)


def p256_ecdh(private_key, peer_public_key):
    """Shared secret X coordinate; ValueError when the peer point is invalid."""
    return p256.ecdh(private_key, peer_public_key)


def p256_valid_public_key(public_key):
    return p256.validate_public_key(public_key)
