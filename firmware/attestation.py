"""WebAuthn §8.2 "packed" attestation (and "none"), for makeCredential; the U2F attestation identity.

Batch attestation (x5c) when tools/ provisioned an attestation key and
certificate into the store; self attestation (signed by the credential's own
key, no x5c) otherwise. The batch (and enterprise) attestation key is P-256
whatever the credential's algorithm, so its statement says ES256 (-7); a
self attestation is signed with the credential's key under the credential's
own algorithm (-7, -8, -9 or -19), as WebAuthn §8.2.1 checks: "alg matches
the algorithm of the credentialPublicKey in authenticatorData".

U2F registration (firmware/ctap1.py) always needs a certificate: the batch one
when provisioned, else one made for that registration alone (u2f_identity).
"""

from firmware import credential, crypto, x509
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


def statement(store, fmt, auth_data, client_data_hash, alg, credential_private_key, identity=None):
    """attStmt for the chosen format over authData || clientDataHash.

    alg, credential_private_key: the new credential's algorithm and key,
    which sign a self attestation.

    identity: (private key, certificates) to attest with instead of the batch
    attestation -- the enterprise attestation identity (CTAP 2.1 §7.1).
    """
    if fmt == FMT_NONE:
        return {}
    batch = identity if identity is not None else store.attestation()
    if batch is not None:
        key, certificates = batch
        return {
            "alg": COSE_ALG_ES256,
            "sig": crypto.p256_sign(key, auth_data, client_data_hash),
            "x5c": list(certificates),
        }
    return {"alg": alg, "sig": credential.sign(alg, credential_private_key, auth_data, client_data_hash)}


def u2f_certificate_into(out, store, private_key, public_key):
    """Append to out the certificate of a U2F registration (U2F §4.3); return the key that signs it.

    The provisioned batch attestation when there is one (its leaf
    certificate), shared by every key of the batch. Otherwise self
    attestation, as WebAuthn's packed format does it: the new credential's
    own key (private_key, public_key) signs the registration, with a
    certificate for that key alone, signed by it, under a random serial.
    Two registrations -- of one site or of two -- then share no key,
    certificate, serial or signature key, so they cannot be linked (a
    certificate kept by the device would link all of them). U2F clients and
    relying parties verify the registration signature with the
    certificate's key and need no chain (python-fido2's
    RegistrationData.verify, libfido2's fido-u2f verification, py_webauthn
    without trusted roots).
    """
    batch = store.attestation()
    if batch is not None:
        key, certificates = batch
        out.extend(certificates[0])
        return key
    # A random positive serial (RFC 5280 §4.1.2.2: unique per issuer; the
    # issuer is this key alone), first byte 0x40..0x7F so it stays minimal.
    serial = bytearray(crypto.random_bytes(x509.SERIAL_LENGTH))
    serial[0] = (serial[0] & 0x3F) | 0x40
    x509.self_signed_p256_into(out, private_key, public_key, serial)
    return private_key
