"""WebAuthn §6.1 authenticator data and §6.5.1.1 COSE_Key, as CTAP2 returns them.

  rpIdHash(32) | flags(1) | signCount(4, big endian)
  | attestedCredentialData: aaguid(16) | L(2) | credentialId(L) | COSE_Key
  | extensions (CBOR map)
"""

from micropython import const
import struct

import cbor

# WebAuthn §6.1 flags
FLAG_UP = const(0x01)  # user present
FLAG_UV = const(0x04)  # user verified
FLAG_AT = const(0x40)  # attested credential data included
FLAG_ED = const(0x80)  # extension data included
# BE/BS (0x08/0x10) stay 0: a hardware key's credentials are never backed up.

# RFC 9053 / COSE: EC2 key, P-256, ES256
COSE_ALG_ES256 = const(-7)
_COSE_KTY = const(1)
_COSE_ALG = const(3)
_COSE_EC2_CRV = const(-1)
_COSE_EC2_X = const(-2)
_COSE_EC2_Y = const(-3)
_COSE_KTY_EC2 = const(2)
_COSE_CRV_P256 = const(1)


def cose_key_es256(public_key):
    """COSE_Key of an uncompressed P-256 public key (04 || X || Y)."""
    return {
        _COSE_KTY: _COSE_KTY_EC2,
        _COSE_ALG: COSE_ALG_ES256,
        _COSE_EC2_CRV: _COSE_CRV_P256,
        _COSE_EC2_X: bytes(public_key[1:33]),
        _COSE_EC2_Y: bytes(public_key[33:65]),
    }


def build(rp_id_hash, flags, sign_count, aaguid=None, credential_id=None, public_key=None, extensions=None):
    """Serialized authenticator data; attested credential data when credential_id is given."""
    if credential_id is not None:
        flags |= FLAG_AT
    if extensions:
        flags |= FLAG_ED
    out = bytes(rp_id_hash) + struct.pack(">BI", flags, sign_count)
    if credential_id is not None:
        out += aaguid + struct.pack(">H", len(credential_id)) + credential_id
        out += cbor.dumps(cose_key_es256(public_key))
    if extensions:
        out += cbor.dumps(extensions)
    return out
