"""TEMPORARY host backend for `p256` over `cryptography` (same API as lib/p256).

Removed when the C module (lib/p256, built into build/host) lands; it exists
only so the host board has P-256 until then.
"""

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.exceptions import InvalidSignature

_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_CURVE = ec.SECP256R1()


def _priv(d):
    if not isinstance(d, (bytes, bytearray, memoryview)):
        raise TypeError("private key must be bytes")
    if len(d) != 32:
        raise ValueError("private key must be 32 bytes")
    k = int.from_bytes(d, "big")
    if not 0 < k < _N:
        raise ValueError("private key out of range")
    return ec.derive_private_key(k, _CURVE)


def _pub(q):
    if not isinstance(q, (bytes, bytearray, memoryview)):
        raise TypeError("public key must be bytes")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, bytes(q))
    except ValueError:
        raise ValueError("invalid public key")


def _enc(key):
    n = key.public_numbers()
    return b"\x04" + n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")


def keygen(seed):
    if len(seed) != 40:
        raise ValueError("seed must be 40 bytes")
    d = int.from_bytes(seed, "big") % (_N - 1) + 1
    priv = d.to_bytes(32, "big")
    return priv, public_key(priv)


def public_key(private_key):
    return _enc(_priv(private_key).public_key())


def sign(private_key, digest, extra):
    if len(digest) != 32:
        raise ValueError("digest must be 32 bytes")
    der = _priv(private_key).sign(bytes(digest), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    r, s = utils.decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(public_key, digest, signature):
    if len(digest) != 32 or len(signature) != 64:
        raise ValueError("bad length")
    key = _pub(public_key)
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < _N and 0 < s < _N):
        return False
    try:
        key.verify(utils.encode_dss_signature(r, s), bytes(digest), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        return True
    except InvalidSignature:
        return False


def ecdh(private_key, peer_public_key):
    return _priv(private_key).exchange(ec.ECDH(), _pub(peer_public_key))


def sig_to_der(raw):
    if len(raw) != 64:
        raise ValueError("raw signature must be 64 bytes")
    return utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def sig_from_der(der):
    try:
        r, s = utils.decode_dss_signature(bytes(der))
    except ValueError:
        raise ValueError("malformed DER signature")
    if r >= 2**256 or s >= 2**256:
        raise ValueError("r or s too large")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def validate_public_key(pub):
    try:
        _pub(pub)
        return True
    except (ValueError, TypeError):
        return False
