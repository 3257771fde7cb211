"""Credential IDs: the credential's private key, wrapped under the master secret.

A non-discoverable credential lives only in its ID (CTAP 2.1 §6.1.2: the
authenticator may "wrap" the key into the credential ID); discoverable ones
carry an ID in the same format, and U2F key handles are the same format too,
so a key handle made by U2F_REGISTER works in getAssertion and vice versa.

Two formats, told apart by their first byte, which the MAC covers
(encrypt-then-MAC; the same lengths, 81 to 113 bytes):

  version(1) | iv(16) | AES-256-CBC(enc_key, iv, plaintext) | tag(16)
  tag = LEFT(HMAC-SHA-256(mac_key, version | rpIdHash | iv | ciphertext), 16)

  version 1: an ES256 credential (P-256, COSE alg -7) -- every ID made
    before the key knew other algorithms, and still every ES256 one (U2F key
    handles included), so IDs in the field keep working and a firmware
    rolled back still knows the ones made now
    plaintext = private_key(32) | flags(1) | cred_protect(1) | len(cred_blob)(1)
                | cred_blob | zero padding to a whole block
  version 2: any other algorithm, named inside
    plaintext = private_key(32) | flags(1) | cred_protect(1) | len(cred_blob)(1)
                | -alg(1) | cred_blob | zero padding to a whole block
    alg is the COSE algorithm the credential was made for: EdDSA (-8) or
    Ed25519 (-19) with an Ed25519 seed as private key, ESP256 (-9) with a
    P-256 scalar (firmware/cose.py)

The algorithm is authenticated with the rest: an ID made for EdDSA cannot
be presented as a P-256 one (or an ESP256 one as ES256) without failing the
MAC, like a forged ID. An ID whose algorithm this firmware cannot sign with
(an Ed25519 credential on a board whose firmware lacks the ed25519 module)
unwraps to nothing, as if it were not this key's.

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

from firmware import cose, crypto

_VERSION_ES256 = const(1)
_VERSION_ALG = const(2)
_VERSION_BYTES = (None, b"\x01", b"\x02")
_UV_BYTE = (b"\x00", b"\x01")  # CredRandom's first byte: without, with UV
_IV_LEN = const(16)
_TAG_LEN = const(16)
_HEADER = const(35)  # private key, flags, credProtect, credBlob length
_ALG_AT = const(35)  # version 2: -alg follows the header
MAX_CRED_BLOB_LENGTH = const(32)
# 1 + 16 + 80 (a 35 + 32 or 36 + 32 byte plaintext rounds up to five blocks) + 16
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

# The credential algorithms this firmware can make and use, most preferred
# first (getInfo `algorithms`, CTAP 2.1 §6.4): what the crypto facade can
# sign with, nothing more. ES256 first: every relying party and platform
# knows it; EdDSA is what `ssh-keygen -t ed25519-sk` asks for; the RFC 9864
# identifiers follow. makeCredential takes the first of the request's
# pubKeyCredParams found here.
if crypto.HAS_ED25519:
    ALGORITHMS = (cose.ALG_ES256, cose.ALG_EDDSA, cose.ALG_ESP256, cose.ALG_ED25519)
else:
    ALGORITHMS = (cose.ALG_ES256, cose.ALG_ESP256)


def keygen(alg):
    """A new key pair for a credential of algorithm alg (one of ALGORITHMS):
    (private key 32 bytes, public key as the COSE_Key encoder takes it)."""
    if cose.is_ed25519(alg):
        return crypto.ed25519_keygen()
    return crypto.p256_keygen()


def public_key(alg, private_key):
    if cose.is_ed25519(alg):
        return crypto.ed25519_public_key(private_key)
    return crypto.p256_public_key(private_key)


def sign(alg, private_key, auth_data, client_data_hash):
    """A WebAuthn signature over authenticatorData || clientDataHash with a
    credential's key, in its algorithm: DER ECDSA for P-256 (ES256,
    ESP256), R || S (64 bytes) for Ed25519 (EdDSA, Ed25519). Two parts, not
    *message: no tuple is made on the way (heap per request)."""
    if cose.is_ed25519(alg):
        return crypto.ed25519_sign(private_key, auth_data, client_data_hash)
    return crypto.p256_sign(private_key, auth_data, client_data_hash)


class Credential:
    """An unwrapped credential: what its ID says about it."""

    def __init__(self, credential_id, private_key, flags, cred_protect, cred_blob, alg=cose.ALG_ES256):
        self.id = credential_id
        self.private_key = private_key
        self.flags = flags
        self.cred_protect = cred_protect
        self.cred_blob = cred_blob
        self.alg = alg  # the COSE algorithm it was made for (one of ALGORITHMS)

    def public_key(self):
        return public_key(self.alg, self.private_key)

    def cose_key(self):
        """The credential's public key as a COSE_Key, under its own algorithm."""
        return cose.credential_key(self.public_key(), self.alg)

    def sign(self, auth_data, client_data_hash):
        return sign(self.alg, self.private_key, auth_data, client_data_hash)

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

    def wrap(self, rp_id_hash, private_key, flags=0, cred_protect=0, cred_blob=b"", alg=cose.ALG_ES256):
        if len(private_key) != 32 or len(cred_blob) > MAX_CRED_BLOB_LENGTH or alg not in ALGORITHMS:
            raise ValueError("bad credential material")
        # private key | flags | credProtect | len(credBlob) [| -alg] |
        # credBlob, zero padded to whole blocks, filled in place
        version = _VERSION_ES256 if alg == cose.ALG_ES256 else _VERSION_ALG
        header = _HEADER if version == _VERSION_ES256 else _HEADER + 1
        n = header + len(cred_blob)
        plaintext = bytearray(n + (-n % 16))
        plaintext[:32] = private_key
        plaintext[32] = flags
        plaintext[33] = cred_protect
        plaintext[34] = len(cred_blob)
        if version == _VERSION_ALG:
            plaintext[_ALG_AT] = -alg
        plaintext[header:n] = cred_blob
        iv = crypto.random_bytes(_IV_LEN)
        ciphertext = crypto.aes256_cbc_encrypt(self._enc_key, iv, plaintext)
        version_byte = _VERSION_BYTES[version]
        return b"".join((version_byte, iv, ciphertext, self._tag(version_byte, rp_id_hash, iv, ciphertext)))

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
        version = credential_id[0]
        if not good or (version != _VERSION_ES256 and version != _VERSION_ALG):
            return None
        plaintext = crypto.aes256_cbc_decrypt(self._enc_key, iv, ciphertext)
        if version == _VERSION_ES256:
            header = _HEADER
            alg = cose.ALG_ES256
        else:
            header = _HEADER + 1
            alg = -plaintext[_ALG_AT]
            # An algorithm this firmware cannot sign with (an Ed25519
            # credential on a board without the ed25519 module): not usable
            # here, so not found. Version 2 never holds ES256.
            if alg not in ALGORITHMS or alg == cose.ALG_ES256:
                return None
        blob_len = plaintext[34]
        if blob_len > MAX_CRED_BLOB_LENGTH or header + blob_len > len(plaintext):
            return None  # cannot happen for an ID that passed the MAC
        return Credential(
            credential_id,
            plaintext[:32],
            plaintext[32],
            plaintext[33],
            plaintext[header : header + blob_len],
            alg,
        )
