"""RFC 9052/9053 COSE_Key, as CTAP carries public keys; RFC 9864 fully-specified algorithms.

Two key types:
  EC2 P-256 (kty 2, crv 1): a credential's public key in authenticator data
      and credential management (ES256 -7 or ESP256 -9), and the
      key-agreement key of the PIN/UV auth protocols (alg -25, CTAP 2.1
      §6.5.6)
  OKP Ed25519 (kty 1, crv 6, RFC 9053 §7.2): a credential's public key
      (EdDSA -8 or Ed25519 -19)

RFC 9864 (fully-specified algorithms) gives P-256 ECDSA with SHA-256 its own
identifier, ESP256 (-9), and Ed25519 its own, Ed25519 (-19), beside the
polymorphic ES256 (-7) and EdDSA (-8) that WebAuthn has used so far. The
signatures are the same (ESP256 == ES256 on P-256; Ed25519 == EdDSA on
Ed25519); what differs is the identifier, and a credential keeps the one the
relying party chose: in its COSE_Key's alg, in the self-attestation
statement's alg and in credential management.
"""

from micropython import const

KTY = const(1)
ALG = const(3)
EC2_CRV = const(-1)
EC2_X = const(-2)
EC2_Y = const(-3)
OKP_CRV = const(-1)
OKP_X = const(-2)
KTY_OKP = const(1)
KTY_EC2 = const(2)
CRV_P256 = const(1)
CRV_ED25519 = const(6)

# Signature algorithms of credentials (IANA COSE Algorithms)
ALG_ES256 = const(-7)  # ECDSA w/ SHA-256 (polymorphic: the curve is the key's)
ALG_EDDSA = const(-8)  # EdDSA (polymorphic: RFC 9864 deprecates it in favour of -19)
ALG_ESP256 = const(-9)  # RFC 9864: ECDSA using P-256 and SHA-256
ALG_ED25519 = const(-19)  # RFC 9864: EdDSA using the Ed25519 parameter set
# "ECDH-ES+HKDF-256": what CTAP 2.1 §6.5.6 says to put in a key-agreement
# COSE_Key, although it is not the algorithm actually used.
ALG_ECDH_ES_HKDF_256 = const(-25)


def is_p256(alg):
    """True for the credential algorithms whose key is a P-256 key (ECDSA, SHA-256)."""
    return alg == ALG_ES256 or alg == ALG_ESP256


def is_ed25519(alg):
    """True for the credential algorithms whose key is an Ed25519 key (PureEdDSA)."""
    return alg == ALG_EDDSA or alg == ALG_ED25519


def p256_key(public_key, alg):
    """COSE_Key of an uncompressed P-256 public key (04 || X || Y)."""
    return {
        KTY: KTY_EC2,
        ALG: alg,
        EC2_CRV: CRV_P256,
        EC2_X: bytes(public_key[1:33]),
        EC2_Y: bytes(public_key[33:65]),
    }


def ed25519_key(public_key, alg):
    """COSE_Key of an Ed25519 public key (32 bytes, RFC 8032 encoding; RFC 9053 §7.2)."""
    return {KTY: KTY_OKP, ALG: alg, OKP_CRV: CRV_ED25519, OKP_X: bytes(public_key)}


def credential_key(public_key, alg):
    """COSE_Key of a credential's public key, under the algorithm it was made for."""
    if is_ed25519(alg):
        return ed25519_key(public_key, alg)
    return p256_key(public_key, alg)
