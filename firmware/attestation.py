"""WebAuthn §8.2 "packed" attestation (and "none"), for makeCredential.

Batch attestation (x5c) when tools/ provisioned an attestation key and
certificate into the store; self attestation (signed by the credential's own
key, no x5c) otherwise.
"""

from firmware import crypto
from firmware.ctap2.authenticator_data import COSE_ALG_ES256

FMT_PACKED = "packed"
FMT_NONE = "none"
SUPPORTED_FORMATS = (FMT_PACKED, FMT_NONE)


def choose_format(preference):
    """CTAP 2.2 attestationFormatsPreference: the first format we support, else packed."""
    if preference:
        for fmt in preference:
            if fmt in SUPPORTED_FORMATS:
                return fmt
    return FMT_PACKED


def statement(store, fmt, auth_data, client_data_hash, credential_private_key, identity=None):
    """attStmt for the chosen format over authData || clientDataHash.

    identity: (private key, certificates) to attest with instead of the batch
    attestation -- the enterprise attestation identity (CTAP 2.1 §7.1).
    """
    if fmt == FMT_NONE:
        return {}
    signed = auth_data + client_data_hash
    batch = identity if identity is not None else store.attestation()
    if batch is not None:
        key, certificates = batch
        return {
            "alg": COSE_ALG_ES256,
            "sig": crypto.p256_sign(key, signed),
            "x5c": list(certificates),
        }
    return {"alg": COSE_ALG_ES256, "sig": crypto.p256_sign(credential_private_key, signed)}
