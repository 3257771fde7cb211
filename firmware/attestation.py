"""WebAuthn §8.2 "packed" attestation (and "none"), for makeCredential; the U2F attestation identity.

Batch attestation (x5c) when tools/ provisioned an attestation key and
certificate into the store; self attestation (signed by the credential's own
key, no x5c) otherwise.

U2F registration (firmware/ctap1.py) always needs a certificate: the batch one
when provisioned, else a self-signed one made once on the device.
"""

from firmware import crypto, x509
from firmware import store as st
from firmware.ctap2.authenticator_data import COSE_ALG_ES256

# Issuer and subject of the self-signed U2F attestation certificate. The same
# for every device: what is unique is the key, which authenticatorReset replaces.
U2F_SELF_ATTESTATION_CN = b"PyFIDO U2F self attestation"

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
    batch = identity if identity is not None else store.attestation()
    if batch is not None:
        key, certificates = batch
        return {
            "alg": COSE_ALG_ES256,
            "sig": crypto.p256_sign(key, auth_data, client_data_hash),
            "x5c": list(certificates),
        }
    return {"alg": COSE_ALG_ES256, "sig": crypto.p256_sign(credential_private_key, auth_data, client_data_hash)}


def u2f_identity(store):
    """(private key, certificate DER) that signs U2F registrations (U2F §4.3).

    The provisioned batch attestation when there is one (its leaf
    certificate). Otherwise a self-signed certificate for a key made on the
    device at the first U2F registration and kept in the store; made again
    after authenticatorReset (see Store.wipe).
    """
    batch = store.attestation()
    if batch is not None:
        key, certificates = batch
        return key, certificates[0]
    rec = store.load(st.REC_U2F_ATTESTATION)
    if isinstance(rec, dict) and rec.get(st.U2F_ATT_EPOCH) == store.epoch:
        return rec[st.U2F_ATT_PRIVATE_KEY], rec[st.U2F_ATT_CERTIFICATE]
    private_key, public_key = crypto.p256_keygen()
    # A random positive serial (RFC 5280 §4.1.2.2: unique per issuer; the
    # issuer is this key alone), first byte 0x40..0x7F so it stays minimal.
    serial = crypto.random_bytes(16)
    serial = bytes(((serial[0] & 0x3F) | 0x40,)) + serial[1:]
    certificate = x509.self_signed_p256(private_key, public_key, serial, U2F_SELF_ATTESTATION_CN)
    store.save(
        st.REC_U2F_ATTESTATION,
        {
            st.U2F_ATT_PRIVATE_KEY: private_key,
            st.U2F_ATT_CERTIFICATE: certificate,
            st.U2F_ATT_EPOCH: store.epoch,
        },
    )
    return private_key, certificate
