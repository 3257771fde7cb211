"""WebAuthn §6.1 authenticator data and §6.5.1.1 COSE_Key, as CTAP2 returns them.

  rpIdHash(32) | flags(1) | signCount(4, big endian)
  | attestedCredentialData: aaguid(16) | L(2) | credentialId(L) | COSE_Key
  | extensions (CBOR map)
"""

from micropython import const
import struct

import cbor
from firmware import cose

_RP_ID_HASH_LENGTH = const(32)

# WebAuthn §6.1 flags
FLAG_UP = const(0x01)  # user present
FLAG_UV = const(0x04)  # user verified
_FLAG_AT = const(0x40)  # attested credential data included
_FLAG_ED = const(0x80)  # extension data included
# BE/BS (0x08/0x10) stay 0: a hardware key's credentials are never backed up.

COSE_ALG_ES256 = cose.ALG_ES256


def build(rp_id_hash, flags, sign_count, aaguid=None, credential_id=None, public_key=None, extensions=None, alg=COSE_ALG_ES256):
    """Serialized authenticator data; attested credential data when credential_id is given.

    public_key is the credential's (P-256 04||X||Y or Ed25519 32 bytes), put
    in as a COSE_Key under the credential's algorithm alg (firmware/cose.py).

    A bytearray, filled field by field: the COSE_Key and the extensions are
    encoded into it directly rather than into copies that are then joined.
    """
    if credential_id is not None:
        flags |= _FLAG_AT
    if extensions:
        flags |= _FLAG_ED
    out = bytearray(_RP_ID_HASH_LENGTH + 5)
    out[:_RP_ID_HASH_LENGTH] = rp_id_hash
    struct.pack_into(">BI", out, _RP_ID_HASH_LENGTH, flags, sign_count)
    if credential_id is not None:
        out.extend(aaguid)
        n = len(credential_id)
        out.append(n >> 8)
        out.append(n & 0xFF)
        out.extend(credential_id)
        cbor.dump_into(out, cose.credential_key(public_key, alg))
    if extensions:
        cbor.dump_into(out, extensions)
    return out
