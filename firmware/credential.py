"""Credential IDs: the credential's private key, wrapped under the master secret.

A non-discoverable credential lives only in its ID (CTAP 2.1 §6.1.2: the
authenticator may "wrap" the key into the credential ID); discoverable ones
carry an ID in the same format, and U2F key handles are the same format too,
so a key handle made by U2F_REGISTER works in getAssertion and vice versa.

Format, version 1 (encrypt-then-MAC):

  version(1) | iv(16) | AES-256-CBC(enc_key, iv, plaintext) | tag(16)
  plaintext = private_key(32) | flags(1) | cred_protect(1) | len(cred_blob)(1)
              | cred_blob | zero padding to a whole block
  tag = LEFT(HMAC-SHA-256(mac_key, version | rpIdHash | iv | ciphertext), 16)

The MAC covers the rpIdHash, which is not stored: an ID presented for
another RP fails the MAC like a forged one. enc_key and mac_key are derived
from the master secret, so authenticatorReset (a new master secret) kills
every old ID. Unwrapping does the same work for every ID of a plausible
length and reports only "not found".

hmac-secret's CredRandom (CTAP 2.1 §12.5) is derived, never stored, so a
non-discoverable credential needs no storage for it either:

  cred_random_key = HMAC-SHA-256(master_secret, "hmac-secret CredRandom v1")
  CredRandomWithoutUV = HMAC-SHA-256(cred_random_key, 0x00 | credential ID)
  CredRandomWithUV    = HMAC-SHA-256(cred_random_key, 0x01 | credential ID)

The credential ID is unique per credential (a random IV under a MAC), so
each credential gets its own pair of 32-byte values; they are as secret as
the master secret (HMAC is a PRF), differ from each other, and die with it
on authenticatorReset. FLAG_HMAC_SECRET in the ID records that the
credential was made with hmac-secret, so only those credentials answer.
"""

from micropython import const

from firmware import crypto

_VERSION = const(1)
_VERSION_BYTE = b"\x01"
_UV_BYTE = (b"\x00", b"\x01")  # CredRandom's first byte: without, with UV
_IV_LEN = const(16)
_TAG_LEN = const(16)
_HEADER = const(35)  # private key, flags, credProtect, credBlob length
MAX_CRED_BLOB_LENGTH = const(32)
# 1 + 16 + 80 (a 35 + 32 byte plaintext rounds up to five blocks) + 16
MAX_CREDENTIAL_ID_LENGTH = const(113)
MIN_CREDENTIAL_ID_LENGTH = const(81)

# CTAP 2.1 §12.1 credProtect levels (0: the credential was made without it)
CRED_PROTECT_UV_OPTIONAL = const(1)
CRED_PROTECT_UV_OPTIONAL_WITH_LIST = const(2)
CRED_PROTECT_UV_REQUIRED = const(3)

# flags
FLAG_RESIDENT = const(0x01)  # discoverable: the store holds the user record
FLAG_U2F = const(0x02)  # made by U2F_REGISTER
FLAG_HMAC_SECRET = const(0x04)  # made with the hmac-secret extension
FLAG_THIRD_PARTY_PAYMENT = const(0x08)  # CTAP 2.2 thirdPartyPayment: enabled at creation


class Credential:
    """An unwrapped credential: what its ID says about it."""

    def __init__(self, credential_id, private_key, flags, cred_protect, cred_blob):
        self.id = credential_id
        self.private_key = private_key
        self.flags = flags
        self.cred_protect = cred_protect
        self.cred_blob = cred_blob

    @property
    def resident(self):
        return bool(self.flags & FLAG_RESIDENT)

    @property
    def hmac_secret(self):
        return bool(self.flags & FLAG_HMAC_SECRET)

    @property
    def third_party_payment(self):
        return bool(self.flags & FLAG_THIRD_PARTY_PAYMENT)


class Wrapper:
    """Wraps and unwraps credential IDs under keys derived from one master secret."""

    def __init__(self, master_secret):
        self._enc_key = crypto.hmac_sha256(master_secret, b"credential-id enc v1")
        self._mac_key = crypto.hmac_sha256(master_secret, b"credential-id mac v1")
        self._cred_random_key = crypto.hmac_sha256(master_secret, b"hmac-secret CredRandom v1")
        # HmacKeys of the two MAC keys, made on first use (not at boot): every
        # wrap and unwrap MACs under the first, hmac-secret under the second.
        self._mac = None
        self._cred_random = None

    def cred_random(self, credential_id, uv):
        """hmac-secret's CredRandomWithUV (uv true) or CredRandomWithoutUV."""
        key = self._cred_random
        if key is None:
            key = self._cred_random = crypto.HmacKey(self._cred_random_key)
        return key.mac(_UV_BYTE[1 if uv else 0], credential_id)

    def _tag(self, version, rp_id_hash, iv, ciphertext):
        key = self._mac
        if key is None:
            key = self._mac = crypto.HmacKey(self._mac_key)
        return key.mac(version, rp_id_hash, iv, ciphertext)[:_TAG_LEN]

    def wrap(self, rp_id_hash, private_key, flags=0, cred_protect=0, cred_blob=b""):
        if len(private_key) != 32 or len(cred_blob) > MAX_CRED_BLOB_LENGTH:
            raise ValueError("bad credential material")
        # private key | flags | credProtect | len(credBlob) | credBlob, zero
        # padded to whole blocks, filled in place
        n = _HEADER + len(cred_blob)
        plaintext = bytearray(n + (-n % 16))
        plaintext[:32] = private_key
        plaintext[32] = flags
        plaintext[33] = cred_protect
        plaintext[34] = len(cred_blob)
        plaintext[_HEADER:n] = cred_blob
        iv = crypto.random_bytes(_IV_LEN)
        ciphertext = crypto.aes256_cbc_encrypt(self._enc_key, iv, plaintext)
        return b"".join((_VERSION_BYTE, iv, ciphertext, self._tag(_VERSION_BYTE, rp_id_hash, iv, ciphertext)))

    def unwrap(self, rp_id_hash, credential_id):
        """The Credential behind an ID made for this RP by this key, else None."""
        n = len(credential_id)
        if n < MIN_CREDENTIAL_ID_LENGTH or n > MAX_CREDENTIAL_ID_LENGTH or (n - 1 - _IV_LEN - _TAG_LEN) % 16:
            return None  # not a length this key makes: public information
        credential_id = bytes(credential_id)
        # Views, not copies, of the ID's fields.
        fields = memoryview(credential_id)
        iv = fields[1 : 1 + _IV_LEN]
        ciphertext = fields[1 + _IV_LEN : n - _TAG_LEN]
        tag = self._tag(fields[:1], rp_id_hash, iv, ciphertext)
        good = crypto.ct_equal(tag, fields[n - _TAG_LEN :])
        if not good or credential_id[0] != _VERSION:
            return None
        plaintext = crypto.aes256_cbc_decrypt(self._enc_key, iv, ciphertext)
        blob_len = plaintext[34]
        if blob_len > MAX_CRED_BLOB_LENGTH or _HEADER + blob_len > len(plaintext):
            return None  # cannot happen for an ID that passed the MAC
        return Credential(
            credential_id,
            plaintext[:32],
            plaintext[32],
            plaintext[33],
            plaintext[_HEADER : _HEADER + blob_len],
        )
