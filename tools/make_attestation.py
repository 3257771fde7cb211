"""Make a test attestation CA and a batch attestation certificate for the key.

    python tools/make_attestation.py --out attestation/

writes
    attestation-ca.pem      the CA certificate (give it to your relying party
                            as a trust anchor, e.g. Fido2Server's verify_attestation)
    attestation-ca.key.pem  the CA private key (keep it off the key)
    device-cert.der         the batch attestation certificate
    att.rec                 the store record for the key: its attestation private
                            key and certificate, ready to be written as the record
                            "att" into the key's storage (tools/provision.py does it;
                            boards/host/run.py --attestation DIR too)

The certificate meets WebAuthn §8.2.1 (packed attestation certificate
requirements) and the FIDO metadata rules: X.509 v3; subject C, O,
OU = "Authenticator Attestation", CN; basic constraints CA:FALSE; the
id-fido-gen-ce-aaguid extension (1.3.6.1.4.1.45724.1.1.4) carrying the AAGUID.
This is a TEST CA: a product would use its vendor's attestation CA and one
certificate per batch of at least 100,000 keys.
"""

import argparse
import datetime
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (os.path.join(REPO, "build", "host"), os.path.join(REPO, "boards", "host"), os.path.join(REPO, "lib"), REPO):
    if p not in sys.path:
        sys.path.insert(0, p)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from firmware.authenticator import AAGUID  # noqa: E402

OID_FIDO_GEN_CE_AAGUID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


def _name(cn, ou=None):
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PyFIDO Test"),
    ]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def make(aaguid=AAGUID, days=3650):
    """A fresh test CA and device certificate: (ca_cert, ca_key, device_cert, device_key)."""
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("PyFIDO Test Attestation Root CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    dev_key = ec.generate_private_key(ec.SECP256R1())
    # The extension value is an OCTET STRING holding the 16-byte AAGUID.
    aaguid_ext = x509.UnrecognizedExtension(OID_FIDO_GEN_CE_AAGUID, b"\x04\x10" + bytes(aaguid))
    dev_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("PyFIDO Key Batch 1", ou="Authenticator Attestation"))
        .issuer_name(ca_name)
        .public_key(dev_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(aaguid_ext, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca_cert, ca_key, dev_cert, dev_key


def private_key_bytes(key):
    return key.private_numbers().private_value.to_bytes(32, "big")


def record(device_key, device_cert):
    """The store record "att" for this attestation identity."""
    from firmware import store

    return store.encode_record(
        {
            store.ATT_PRIVATE_KEY: private_key_bytes(device_key),
            store.ATT_CERTIFICATES: [device_cert.public_bytes(serialization.Encoding.DER)],
        }
    )


def install(storage, device_key, device_cert):
    """Write the attestation record into a board's storage (before the key starts)."""
    from firmware import store

    storage.write(store.REC_ATTESTATION, record(device_key, device_cert))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--out", required=True, help="directory to write into")
    ap.add_argument("--aaguid", help="AAGUID as 32 hex digits (default: the firmware's)")
    args = ap.parse_args(argv)
    aaguid = bytes.fromhex(args.aaguid) if args.aaguid else AAGUID
    if len(aaguid) != 16:
        ap.error("an AAGUID is 16 bytes")
    ca_cert, ca_key, dev_cert, dev_key = make(aaguid)
    os.makedirs(args.out, exist_ok=True)

    def put(name, data, mode=0o644):
        path = os.path.join(args.out, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        print("wrote", path)

    put("attestation-ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM))
    put(
        "attestation-ca.key.pem",
        ca_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    put("device-cert.der", dev_cert.public_bytes(serialization.Encoding.DER))
    put("att.rec", record(dev_key, dev_cert), 0o600)


if __name__ == "__main__":
    main()
