"""RFC 5280 X.509 v3: a DER writer for one kind of certificate only.

Self-signed, P-256 subject key, ECDSA with SHA-256. Used once per device
(and once after each authenticatorReset) for the U2F attestation identity
when no batch certificate was provisioned, so it favours small code over
generality: definite lengths up to 65535, fixed validity, one extension.
"""

from micropython import const

from firmware import crypto

# DER tags (X.690)
_BOOLEAN = const(0x01)
_INTEGER = const(0x02)
_BIT_STRING = const(0x03)
_OCTET_STRING = const(0x04)
_OID = const(0x06)
_UTF8_STRING = const(0x0C)
_SEQUENCE = const(0x30)
_SET = const(0x31)
_UTC_TIME = const(0x17)
_GENERALIZED_TIME = const(0x18)
_EXPLICIT_0 = const(0xA0)  # tbsCertificate version
_EXPLICIT_3 = const(0xA3)  # tbsCertificate extensions

# Object identifiers (content octets)
_OID_ECDSA_WITH_SHA256 = b"\x2a\x86\x48\xce\x3d\x04\x03\x02"  # 1.2.840.10045.4.3.2
_OID_EC_PUBLIC_KEY = b"\x2a\x86\x48\xce\x3d\x02\x01"  # 1.2.840.10045.2.1
_OID_PRIME256V1 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"  # 1.2.840.10045.3.1.7
_OID_COMMON_NAME = b"\x55\x04\x03"  # 2.5.4.3
_OID_BASIC_CONSTRAINTS = b"\x55\x1d\x13"  # 2.5.29.19

_X509_V3 = const(2)
# The key has no clock: a fixed notBefore, and RFC 5280 §4.1.2.5's value for
# "no well-defined expiration date".
_NOT_BEFORE = b"240101000000Z"  # UTCTime (dates before 2050)
_NOT_AFTER = b"99991231235959Z"  # GeneralizedTime


def _tlv(tag, value):
    n = len(value)
    if n < 0x80:
        head = bytes((tag, n))
    elif n < 0x100:
        head = bytes((tag, 0x81, n))
    else:
        head = bytes((tag, 0x82, n >> 8, n & 0xFF))
    return head + value


def _name(common_name):
    # Name ::= SEQUENCE OF SET OF AttributeTypeAndValue, here one CN.
    attribute = _tlv(_SEQUENCE, _tlv(_OID, _OID_COMMON_NAME) + _tlv(_UTF8_STRING, common_name))
    return _tlv(_SEQUENCE, _tlv(_SET, attribute))


def self_signed_p256(private_key, public_key, serial, common_name):
    """DER of a self-signed X.509 v3 certificate for a P-256 key.

    :param private_key: 32 bytes; signs the certificate
    :param public_key: 65 bytes, 04 || X || Y, the key certified
    :param serial: serial number content octets: positive and minimal
        (first byte 0x01..0x7F), at most 20 bytes (RFC 5280 §4.1.2.2)
    :param common_name: bytes (UTF-8), issuer and subject CN
    """
    signature_algorithm = _tlv(_SEQUENCE, _tlv(_OID, _OID_ECDSA_WITH_SHA256))
    name = _name(common_name)
    spki = _tlv(
        _SEQUENCE,
        _tlv(_SEQUENCE, _tlv(_OID, _OID_EC_PUBLIC_KEY) + _tlv(_OID, _OID_PRIME256V1))
        + _tlv(_BIT_STRING, b"\x00" + bytes(public_key)),
    )
    # An end-entity certificate: basicConstraints cA FALSE, marked critical.
    basic_constraints = _tlv(
        _SEQUENCE,
        _tlv(_OID, _OID_BASIC_CONSTRAINTS)
        + _tlv(_BOOLEAN, b"\xff")
        + _tlv(_OCTET_STRING, _tlv(_SEQUENCE, b"")),
    )
    tbs = _tlv(
        _SEQUENCE,
        _tlv(_EXPLICIT_0, _tlv(_INTEGER, bytes((_X509_V3,))))
        + _tlv(_INTEGER, bytes(serial))
        + signature_algorithm
        + name
        + _tlv(_SEQUENCE, _tlv(_UTC_TIME, _NOT_BEFORE) + _tlv(_GENERALIZED_TIME, _NOT_AFTER))
        + name
        + spki
        + _tlv(_EXPLICIT_3, _tlv(_SEQUENCE, basic_constraints)),
    )
    signature = crypto.p256_sign(private_key, tbs)
    return _tlv(_SEQUENCE, tbs + signature_algorithm + _tlv(_BIT_STRING, b"\x00" + signature))
