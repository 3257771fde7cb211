"""CTAP 2.1 §12 authenticator extensions for makeCredential and getAssertion.

  credProtect     §12.1  level 1-3 kept in the credential; getAssertion and
                         makeCredential's excludeList filter by it
  credBlob        §12.2  up to MAX_CRED_BLOB_LENGTH bytes kept with the credential
  largeBlobKey    §12.3  a 32-byte key kept with a discoverable credential
  minPinLength    §12.4  minPINLength, for RP IDs authenticatorConfig allowed
  hmac-secret     §12.5  HMAC-SHA-256(CredRandom, salt) under the PIN/UV auth
                         protocol's shared secret
  hmac-secret-mc  CTAP 2.2: hmac-secret evaluated at makeCredential
  thirdPartyPayment  CTAP 2.2: a credential made with it may be used for a
                  payment that another party than the RP starts; kept as a
                  flag in the credential ID, reported by getAssertion and
                  credential management
  pinComplexityPolicy  CTAP 2.2: tells the RP whether a PIN complexity
                  policy is in force (never, here: minPINLength is the
                  only rule), under the same RP list as minPinLength

Each request's extension map is parsed and checked here before any touch
(wrong CBOR types give CTAP2_ERR_CBOR_UNEXPECTED_TYPE, as everywhere);
unknown extensions are ignored, as the spec requires (§6.1.2 step 15, §6.2.2
step 10). CredRandom is derived from the master secret and the credential
ID (firmware/credential.py), so nothing extra is stored for hmac-secret.
"""

from micropython import const

from firmware import crypto
from firmware import store as st
from firmware.credential import FLAG_HMAC_SECRET, FLAG_THIRD_PARTY_PAYMENT, MAX_CRED_BLOB_LENGTH
from firmware.ctap2 import params, pin_uv
from firmware.ctap2.params import BOOL, BYTES, MAP, UINT, need, opt
from firmware.status import (
    CtapError,
    CTAP1_ERR_INVALID_PARAMETER,
    CTAP2_ERR_INVALID_OPTION,
    CTAP2_ERR_PIN_AUTH_INVALID,
    CTAP2_ERR_UNSUPPORTED_OPTION,
)

# Extension identifiers (getInfo extensions, request and authData map keys)
CRED_PROTECT = "credProtect"
CRED_BLOB = "credBlob"
LARGE_BLOB_KEY = "largeBlobKey"
MIN_PIN_LENGTH = "minPinLength"
HMAC_SECRET = "hmac-secret"
HMAC_SECRET_MC = "hmac-secret-mc"
THIRD_PARTY_PAYMENT = "thirdPartyPayment"
PIN_COMPLEXITY_POLICY = "pinComplexityPolicy"

# CTAP 2.1 §12.5 hmac-secret getAssertion input (hmac-secret-mc: the same)
_HS_KEY_AGREEMENT = const(0x01)
_HS_SALT_ENC = const(0x02)
_HS_SALT_AUTH = const(0x03)
_HS_PIN_UV_AUTH_PROTOCOL = const(0x04)
_SALT_LENGTH = const(32)

# §12.3: the largeBlobKey is a 32-byte AES-256-GCM key. It travels in the
# command response, never in authData: makeCredential 0x05, getAssertion 0x07.
LARGE_BLOB_KEY_LENGTH = const(32)
_MC_RESP_LARGE_BLOB_KEY = const(0x05)
_GA_RESP_LARGE_BLOB_KEY = const(0x07)


def supported(auth):
    """getInfo extensions: exactly the ones the handlers below implement.

    hmac-secret needs the platform's keyAgreement key, which only
    authenticatorClientPIN getKeyAgreement hands out: without a
    pinUvAuthProtocol no platform can use it, so it is not advertised.
    """
    names = [CRED_BLOB, CRED_PROTECT, LARGE_BLOB_KEY, MIN_PIN_LENGTH, THIRD_PARTY_PAYMENT]
    if auth.pin_uv_auth_protocols:
        names.append(HMAC_SECRET)
        names.append(HMAC_SECRET_MC)
        names.append(PIN_COMPLEXITY_POLICY)
    return names


# -- hmac-secret --------------------------------------------------------------------


class _HmacSecretRequest:
    """A well-formed hmac-secret input, not yet checked cryptographically."""

    def __init__(self, value):
        params.check(value, MAP)
        self.key_agreement = need(value, _HS_KEY_AGREEMENT, MAP)
        self.salt_enc = need(value, _HS_SALT_ENC, BYTES)
        self.salt_auth = need(value, _HS_SALT_AUTH, BYTES)
        # Absent means protocol one (§12.5), which this key supports.
        version = opt(value, _HS_PIN_UV_AUTH_PROTOCOL, UINT)
        self.version = 1 if version is None else version

    def agree(self, auth):
        """The §12.5 checks; returns the _HmacSecret to answer with.

        Unsupported protocol or a bad platform key: CTAP1_ERR_INVALID_PARAMETER;
        a saltAuth that does not verify: CTAP2_ERR_PIN_AUTH_INVALID; salts
        that do not decrypt to 32 or 64 bytes: CTAP1_ERR_INVALID_PARAMETER.
        """
        protocol = auth.pin_uv.protocol(self.version)
        # 1. decapsulate(keyAgreement): the platform key is validated on the
        # curve before any ECDH (pin_protocol.py).
        shared_secret = protocol.decapsulate(self.key_agreement)
        # 2. verify(shared secret, saltEnc, saltAuth) before decrypting anything.
        if not protocol.verify(shared_secret, self.salt_enc, self.salt_auth):
            raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)
        # 3. salt1 (and salt2) = decrypt(shared secret, saltEnc).
        salts = protocol.decrypt(shared_secret, self.salt_enc)
        if salts is None or len(salts) not in (_SALT_LENGTH, 2 * _SALT_LENGTH):
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        return _HmacSecret(protocol, shared_secret, salts)


class _HmacSecret:
    """Verified salts and the shared secret to encrypt the outputs under."""

    def __init__(self, protocol, shared_secret, salts):
        self._protocol = protocol
        self._shared_secret = shared_secret
        self._salts = salts

    def output(self, cred_random):
        """encrypt(shared secret, output1 [|| output2]), outputN = HMAC-SHA-256(CredRandom, saltN)."""
        salts = memoryview(self._salts)
        out = crypto.hmac_sha256(cred_random, salts[:_SALT_LENGTH])
        if len(salts) > _SALT_LENGTH:
            out += crypto.hmac_sha256(cred_random, salts[_SALT_LENGTH:])
        return self._protocol.encrypt(self._shared_secret, out)


# -- makeCredential -------------------------------------------------------------------


class MakeCredentialExtensions:
    """What makeCredential's extension processing decided.

    :ivar cred_protect: credProtect level to keep (0: none requested).
    :ivar cred_blob: the credBlob to keep (b"": none).
    :ivar large_blob_key: the new credential's largeBlobKey, or None.
    :ivar flags: credential-ID flags the extensions add (FLAG_HMAC_SECRET).
    """

    def __init__(self, uv):
        self.cred_protect = 0
        self.cred_blob = b""
        self.large_blob_key = None
        self.flags = 0
        self._uv = uv
        self._outputs = {}
        self._hmac_secret_mc = None

    def outputs(self, auth, credential_id):
        """The authData extensions map for the new credential (None when empty)."""
        if self._hmac_secret_mc is not None:
            cred_random = auth.wrapper.cred_random(credential_id, self._uv)
            self._outputs[HMAC_SECRET_MC] = self._hmac_secret_mc.output(cred_random)
        return self._outputs or None

    def add_make_credential_response(self, resp):
        # §12.3: the key goes in the response (0x05), never in authData,
        # so it is not part of what the attestation signs.
        if self.large_blob_key is not None:
            resp[_MC_RESP_LARGE_BLOB_KEY] = self.large_blob_key


def make_credential(auth, extensions, rk, uv, rp_id):
    """makeCredential step 15: check and process the extension inputs.

    Runs before the touch, so malformed input or a bad hmac-secret-mc MAC
    fails without bothering the user.
    """
    ext = MakeCredentialExtensions(uv)
    out = ext._outputs

    # §12.1 credProtect: 1 userVerificationOptional, 2 ...OptionalWithCredentialIDList,
    # 3 userVerificationRequired.
    level = opt(extensions, CRED_PROTECT, UINT)
    if level is not None:
        if level < 1 or level > 3:
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        ext.cred_protect = level
        out[CRED_PROTECT] = level

    # §12.2 credBlob: kept when it fits, and the output says whether it was.
    blob = opt(extensions, CRED_BLOB, BYTES)
    if blob is not None:
        stored = len(blob) <= MAX_CRED_BLOB_LENGTH
        if stored:
            ext.cred_blob = bytes(blob)
        out[CRED_BLOB] = stored

    # §12.3 largeBlobKey: only true is meaningful, and only for a
    # discoverable credential (the platform finds its blob through the key
    # that getAssertion returns with the credential).
    want_key = opt(extensions, LARGE_BLOB_KEY, BOOL)
    if want_key is not None:
        if want_key is not True or not rk:
            raise CtapError(CTAP2_ERR_INVALID_OPTION)
        ext.large_blob_key = crypto.random_bytes(LARGE_BLOB_KEY_LENGTH)

    # §12.4 minPinLength: only RPs on the list set by authenticatorConfig
    # setMinPINLength learn the length; others get no output at all.
    if opt(extensions, MIN_PIN_LENGTH, BOOL) is True and pin_uv.min_pin_length_allowed(auth, rp_id):
        out[MIN_PIN_LENGTH] = pin_uv.min_pin_length(auth)

    # §12.5 hmac-secret: the credential is marked; CredRandom is derived.
    hmac_secret = opt(extensions, HMAC_SECRET, BOOL)
    if hmac_secret is True:
        ext.flags |= FLAG_HMAC_SECRET
        out[HMAC_SECRET] = True

    # thirdPartyPayment (CTAP 2.2): true enables the credential for
    # payments, for good (the flag is in its ID); false asks for nothing.
    if opt(extensions, THIRD_PARTY_PAYMENT, BOOL) is True:
        ext.flags |= FLAG_THIRD_PARTY_PAYMENT
        out[THIRD_PARTY_PAYMENT] = True

    # pinComplexityPolicy (CTAP 2.2): like minPinLength, only RPs that
    # setMinPINLength allowed learn it (getInfo pinComplexityPolicy is
    # false: no policy beyond minPINLength is enforced here).
    if opt(extensions, PIN_COMPLEXITY_POLICY, BOOL) is True and pin_uv.min_pin_length_allowed(auth, rp_id):
        out[PIN_COMPLEXITY_POLICY] = False

    # hmac-secret-mc (CTAP 2.2): hmac-secret's getAssertion processing at
    # creation. It evaluates the credential's CredRandom, so without
    # "hmac-secret": true there is none to evaluate and the input is
    # ignored, like an input for a credential made without hmac-secret.
    mc = extensions.get(HMAC_SECRET_MC)
    if mc is not None:
        request = _HmacSecretRequest(mc)
        if hmac_secret is True:
            ext._hmac_secret_mc = request.agree(auth)
    return ext


# -- getAssertion ---------------------------------------------------------------------


class AssertionExtensions:
    """getAssertion's extension inputs, checked once and kept for getNextAssertion."""

    def __init__(self, extensions, up):
        # §12.2: "credBlob": true asks for the stored blob.
        self.cred_blob = opt(extensions, CRED_BLOB, BOOL) is True
        # §12.3: false is not a valid input.
        want_key = opt(extensions, LARGE_BLOB_KEY, BOOL)
        if want_key is False:
            raise CtapError(CTAP2_ERR_INVALID_OPTION)
        self.large_blob_key = want_key is True
        # CTAP 2.2 thirdPartyPayment: true asks whether the credential is
        # enabled for payments; the answer is its flag, true or false.
        self.third_party_payment = opt(extensions, THIRD_PARTY_PAYMENT, BOOL) is True
        # §12.5: hmac-secret needs user presence.
        self._hmac_request = None
        self._hmac_secret = None
        value = extensions.get(HMAC_SECRET)
        if value is not None:
            self._hmac_request = _HmacSecretRequest(value)
            if not up:
                raise CtapError(CTAP2_ERR_UNSUPPORTED_OPTION)

    def agree(self, auth):
        """hmac-secret's key agreement and salt checks, once, before the touch."""
        if self._hmac_request is not None:
            self._hmac_secret = self._hmac_request.agree(auth)
            self._hmac_request = None

    def outputs(self, auth, cred, uv):
        """The authData extensions map for one assertion (None when empty)."""
        out = {}
        if self.cred_blob:
            # An empty byte string when the credential has none (§12.2).
            record = cred.record
            out[CRED_BLOB] = record.get(st.RK_CRED_BLOB, b"") if record is not None else cred.cred_blob
        if self.third_party_payment:
            out[THIRD_PARTY_PAYMENT] = cred.third_party_payment
        if self._hmac_secret is not None and cred.hmac_secret:
            # The uv bit of this response picks CredRandomWithUV or ...WithoutUV.
            out[HMAC_SECRET] = self._hmac_secret.output(auth.wrapper.cred_random(cred.id, uv))
        return out or None

    def add_assertion_response(self, resp, cred):
        """largeBlobKey (0x07) when asked for and the credential has one."""
        record = cred.record
        if self.large_blob_key and record is not None and st.RK_LARGE_BLOB_KEY in record:
            resp[_GA_RESP_LARGE_BLOB_KEY] = record[st.RK_LARGE_BLOB_KEY]


def get_assertion(extensions, up):
    """Check getAssertion's extension inputs (no side effects)."""
    return AssertionExtensions(extensions, up)
