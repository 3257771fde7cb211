"""Test-only stand-in for the `p256` C module (lib/p256/), for MicroPython on wasm.

Copied only into the WebAssembly MicroPython's filesystem by host_tests/mpy.py,
never onto a board. Same API as the C module; the arithmetic runs in Node
(tools/mpy_wasm_services.mjs: Node's crypto for keys and ECDH, a BigInt
RFC 6979 ECDSA for signing a ready-made digest).

Error behaviour (to match the C module): wrong argument types raise
TypeError; wrong lengths, out-of-range scalars, points not on the curve and
malformed DER raise ValueError; verify() returns False for a well-formed
signature that does not verify (including r or s outside [1, n-1]).
"""

import testcrypto

_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _bytes(x, name, *lengths):
    if not isinstance(x, (bytes, bytearray, memoryview)):
        raise TypeError(name + " must be bytes")
    x = bytes(x)
    if lengths and len(x) not in lengths:
        raise ValueError(name + " has the wrong length")
    return x


def _result(r):
    # The JS side returns an error message as a str instead of throwing.
    if isinstance(r, str):
        raise ValueError(r)
    if r is True or r is False:
        return r
    return bytes(r)


def keygen(seed):
    """seed (40 bytes) -> (private key 32, public key 65); d = seed mod (n-1) + 1."""
    r = _result(testcrypto.p256_keygen(_bytes(seed, "seed", 40)))
    return r[:32], r[32:]


def public_key(priv):
    return _result(testcrypto.p256_public_key(_bytes(priv, "private key", 32)))


def sign(priv, digest, extra=b""):
    """ECDSA over a 32-byte digest; raw r||s (64 bytes). RFC 6979 nonce, extra = k'."""
    return _result(testcrypto.p256_sign(
        _bytes(priv, "private key", 32), _bytes(digest, "digest", 32), _bytes(extra, "extra")))


def verify(pub, digest, sig):
    return _result(testcrypto.p256_verify(
        _bytes(pub, "public key", 33, 65), _bytes(digest, "digest", 32), _bytes(sig, "signature", 64)))


def ecdh(priv, peer_pub):
    """x coordinate (32 bytes) of priv * peer_pub; ValueError on an invalid point."""
    return _result(testcrypto.p256_ecdh(
        _bytes(priv, "private key", 32), _bytes(peer_pub, "public key", 65)))


def compress(pub):
    return _result(testcrypto.p256_compress(_bytes(pub, "public key", 65)))


def decompress(pub):
    return _result(testcrypto.p256_decompress(_bytes(pub, "public key", 33)))


def validate_public_key(pub):
    pub = _bytes(pub, "public key")
    return _result(testcrypto.p256_validate(pub))


def _der_int(v):
    b = v.to_bytes(32, "big")
    i = 0
    while i < 31 and b[i] == 0:
        i += 1
    b = b[i:]
    if b[0] & 0x80:
        b = b"\x00" + b
    return bytes((0x02, len(b))) + b


def sig_to_der(raw):
    """raw r||s (64 bytes) -> DER SEQUENCE { INTEGER r, INTEGER s } (X9.62)."""
    raw = _bytes(raw, "signature", 64)
    body = _der_int(int.from_bytes(raw[:32], "big")) + _der_int(int.from_bytes(raw[32:], "big"))
    return bytes((0x30, len(body))) + body


def _read_der_int(der, pos):
    if pos + 2 > len(der) or der[pos] != 0x02:
        raise ValueError("bad DER signature")
    n = der[pos + 1]
    pos += 2
    if n == 0 or n > 33 or pos + n > len(der):
        raise ValueError("bad DER signature")
    v = der[pos:pos + n]
    if v[0] & 0x80:
        raise ValueError("bad DER signature")  # negative
    if n > 1 and v[0] == 0 and not v[1] & 0x80:
        raise ValueError("bad DER signature")  # not minimal
    x = int.from_bytes(v, "big")
    if x >= 1 << 256:
        raise ValueError("bad DER signature")
    return x, pos + n


def sig_from_der(der):
    """Strict DER ECDSA signature -> raw r||s (64 bytes); ValueError otherwise."""
    der = _bytes(der, "signature")
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        raise ValueError("bad DER signature")
    r, pos = _read_der_int(der, 2)
    s, pos = _read_der_int(der, pos)
    if pos != len(der):
        raise ValueError("bad DER signature")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
