"""RFC 9052/9053 COSE_Key for P-256 public keys, as CTAP carries them.

One encoder for the two places the key sends a P-256 public key: a
credential's public key in authenticator data (ES256, alg -7) and the
key-agreement key of the PIN/UV auth protocols (alg -25, CTAP 2.1 §6.5.6).
"""

from micropython import const

KTY = const(1)
ALG = const(3)
EC2_CRV = const(-1)
EC2_X = const(-2)
EC2_Y = const(-3)
KTY_EC2 = const(2)
CRV_P256 = const(1)

ALG_ES256 = const(-7)
# "ECDH-ES+HKDF-256": what CTAP 2.1 §6.5.6 says to put in a key-agreement
# COSE_Key, although it is not the algorithm actually used.
ALG_ECDH_ES_HKDF_256 = const(-25)


def p256_key(public_key, alg):
    """COSE_Key of an uncompressed P-256 public key (04 || X || Y)."""
    return {
        KTY: KTY_EC2,
        ALG: alg,
        EC2_CRV: CRV_P256,
        EC2_X: bytes(public_key[1:33]),
        EC2_Y: bytes(public_key[33:65]),
    }
