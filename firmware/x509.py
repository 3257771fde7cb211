"""RFC 5280 X.509 v3: the self-signed certificate of a U2F registration.

Without a provisioned batch identity, each U2F registration is attested by
its own new key with a certificate for that key alone (firmware/attestation.py).
Such a certificate is a fixed template around two values -- a 16-byte
serial and the 65-byte public key -- so it is written from constants:

  Certificate ::= SEQUENCE {
    tbsCertificate      SEQUENCE (258 bytes) {
      version           [0] INTEGER 2 (v3)
      serialNumber      INTEGER, 16 bytes: random, positive, minimal
      signature         ecdsa-with-SHA256
      issuer            CN "PyFIDO U2F self attestation" (UTF8String)
      validity          2024-01-01 00:00:00 to 9999-12-31 23:59:59 (RFC 5280
                        §4.1.2.5's "no well-defined expiration date"; the key
                        has no clock)
      subject           the issuer's name: self-signed
      subjectPublicKeyInfo  id-ecPublicKey, prime256v1, 04 || X || Y
      extensions        [3] basicConstraints, critical, cA FALSE
    }
    signatureAlgorithm  ecdsa-with-SHA256
    signatureValue      BIT STRING: the DER ECDSA signature by the same key
  }

Nothing in the template belongs to a device: every key of this product
writes the same bytes around its serial, key and signature. The
tbsCertificate is signed in its parts (crypto.p256_sign hashes them in
turn) and the certificate is appended where it goes, to the response.
"""

from micropython import const

from firmware import crypto

SERIAL_LENGTH = const(16)
_PUBLIC_KEY_LENGTH = const(65)

# DER of the tbsCertificate around the serial and the public key
_TBS_HEAD = (
    b"\x30\x82\x01\x02"  # SEQUENCE, 258 bytes
    b"\xa0\x03\x02\x01\x02"  # [0] EXPLICIT version: INTEGER 2 (v3)
    b"\x02\x10"  # serialNumber: INTEGER, 16 bytes (they follow)
)
_SIGNATURE_ALGORITHM = b"\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"  # { 1.2.840.10045.4.3.2 }
_NAME = (
    b"\x30\x26\x31\x24\x30\x22"  # Name: SEQUENCE OF SET OF AttributeTypeAndValue
    b"\x06\x03\x55\x04\x03"  # 2.5.4.3 commonName
    b"\x0c\x1bPyFIDO U2F self attestation"  # UTF8String, 27 bytes
)
_VALIDITY = (
    b"\x30\x20"
    b"\x17\x0d240101000000Z"  # notBefore: UTCTime (dates before 2050)
    b"\x18\x0f99991231235959Z"  # notAfter: GeneralizedTime
)
_SPKI_HEAD = (
    b"\x30\x59\x30\x13"  # SubjectPublicKeyInfo { AlgorithmIdentifier {
    b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"  # 1.2.840.10045.2.1 id-ecPublicKey
    b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"  # 1.2.840.10045.3.1.7 prime256v1 }
    b"\x03\x42\x00"  # BIT STRING, 66 bytes, no unused bits: the point follows }
)
_EXTENSIONS = (
    b"\xa3\x10\x30\x0e\x30\x0c"  # [3] EXPLICIT Extensions { Extension {
    b"\x06\x03\x55\x1d\x13"  # 2.5.29.19 basicConstraints
    b"\x01\x01\xff"  # critical TRUE
    b"\x04\x02\x30\x00"  # OCTET STRING { SEQUENCE { } }: cA FALSE, no pathLen }}
)
_TBS_LENGTH = const(262)  # with its own 4-byte header


def self_signed_p256_into(out, private_key, public_key, serial):
    """Append to out (a bytearray) the DER of the self-signed certificate of public_key, signed by private_key.

    Written where it goes -- the U2F_REGISTER response -- rather than into
    a buffer of its own that would then be copied there.

    :param private_key: 32 bytes
    :param public_key: 65 bytes, 04 || X || Y, the key certified
    :param serial: SERIAL_LENGTH bytes, the serial number's content octets:
        positive and minimal, so the first byte is 0x01..0x7F
    """
    if len(serial) != SERIAL_LENGTH or not 0 < serial[0] < 0x80 or len(public_key) != _PUBLIC_KEY_LENGTH:
        raise ValueError("certificate fields")
    tbs = (_TBS_HEAD, serial, _SIGNATURE_ALGORITHM, _NAME, _VALIDITY, _NAME, _SPKI_HEAD, public_key, _EXTENSIONS)
    signature = crypto.p256_sign(private_key, *tbs)
    n = len(signature)  # at most 72: the BIT STRING's length fits one byte
    body = _TBS_LENGTH + len(_SIGNATURE_ALGORITHM) + 3 + n
    out.append(0x30)  # Certificate: SEQUENCE, two length bytes
    out.append(0x82)
    out.append(body >> 8)
    out.append(body & 0xFF)
    for part in tbs:
        out.extend(part)
    out.extend(_SIGNATURE_ALGORITHM)
    out.append(0x03)  # signatureValue: BIT STRING, no unused bits
    out.append(n + 1)
    out.append(0)
    out.extend(signature)
