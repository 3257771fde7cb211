"""CTAP 2.1 §6.5.4-§6.5.7 PIN/UV auth protocols 1 and 2, and the pinUvAuthToken state (§6.5.2.1).

Who uses what:
  client_pin.py        getKeyAgreement, setPIN, changePIN, token issuing
  ctap2/pin_uv.py      pinUvAuthParam in makeCredential / getAssertion
  credential mgmt, authenticatorConfig, largeBlobs
                       verify_token() + require_permission()
  hmac-secret          protocol(version).decapsulate / encrypt / decrypt /
                       verify with the platform's keyAgreement

Error conventions (the spec lets each caller name the error):
  decapsulate()  raises CtapError(CTAP1_ERR_INVALID_PARAMETER) -- every
                 caller in the spec answers that for a bad platform key;
  decrypt()      returns None for a ciphertext of impossible length;
  verify()       returns a bool; wrong signature lengths are just "no".
  verify_token() and require_permission() raise CTAP2_ERR_PIN_AUTH_INVALID,
                 the error every command step names for a token that fails.

Each protocol has its own key-agreement key pair and its own
pinUvAuthToken (32 random bytes for both versions); the usage state --
permissions, permissions RP ID, timers, flags -- is one for the whole
authenticator. All of it lives in RAM: a power cycle or authenticatorReset
makes new keys and forgets every token.
"""

from micropython import const

from firmware import cose, crypto
from firmware.store import STATE_PERSISTENT_TOKEN
from firmware.ticks import elapsed_ms
from firmware.status import (
    CtapError,
    CTAP1_ERR_INVALID_PARAMETER,
    CTAP2_ERR_MISSING_PARAMETER,
    CTAP2_ERR_PIN_AUTH_INVALID,
    CTAP2_ERR_PUAT_REQUIRED,
)

# CTAP 2.1 §6.5.5.7 pinUvAuthToken permissions
PERMISSION_MC = const(0x01)  # makeCredential
PERMISSION_GA = const(0x02)  # getAssertion
PERMISSION_CM = const(0x04)  # credentialManagement
PERMISSION_BE = const(0x08)  # bioEnrollment
PERMISSION_LBW = const(0x10)  # largeBlobWrite
PERMISSION_ACFG = const(0x20)  # authenticatorConfiguration
PERMISSION_PCMR = const(0x40)  # CTAP 2.2 persistentCredentialManagementReadOnly

# §6.5.6: the key-agreement key is a COSE_Key (firmware/cose.py)
COSE_ALG_ECDH_ES_HKDF_256 = cose.ALG_ECDH_ES_HKDF_256

PIN_UV_AUTH_TOKEN_LENGTH = const(32)
_BLOCK = const(16)
_ZERO_IV = bytes(16)
_HKDF_SALT = bytes(32)

# §6.5.2.1 usage limits. USB: the token must be used within 30 s of being
# issued; once used it lives at most 10 minutes. A token that proved
# presence (never ours: PIN tokens are issued with userIsPresent false)
# loses that flag after 30 s.
INITIAL_USAGE_TIME_LIMIT_MS = const(30000)
USER_PRESENT_TIME_LIMIT_MS = const(30000)
MAX_USAGE_TIME_PERIOD_MS = const(600000)


def _is_int(value, expected):
    # bool is an int subclass on CPython: True must not pass for 1.
    return type(value) is int and value == expected


class PinProtocolV1:
    """CTAP 2.1 §6.5.6 PIN/UV auth protocol one.

    :cvar VERSION: the pinUvAuthProtocol number.
    :ivar pin_uv_auth_token: this protocol's current pinUvAuthToken.
    """

    VERSION = 1

    def __init__(self):
        self.regenerate()
        self.reset_pin_uv_auth_token()

    # -- §6.5.4 initialize / regenerate / resetPinUvAuthToken ------------

    def regenerate(self):
        """A fresh key-agreement key pair (power-up, reset, PIN mismatch).

        Made when it is first needed (getKeyAgreement or a decapsulation),
        not here: a key generation is ~24 ms on a Pico at 125 MHz, twice at
        power-up for the two protocols, and the host is waiting for the
        key's first CTAPHID INIT then. Nothing can observe the difference:
        the pair is still random, fixed from its first use until the next
        regenerate(), and never seen by anyone before that use.
        """
        self._private_key = None
        self._public_key = None

    def _key_pair(self):
        if self._private_key is None:
            self._private_key, self._public_key = crypto.p256_keygen()
        return self._private_key, self._public_key

    def reset_pin_uv_auth_token(self):
        """A fresh random pinUvAuthToken; the old one is worthless from now on."""
        self.pin_uv_auth_token = crypto.random_bytes(PIN_UV_AUTH_TOKEN_LENGTH)

    def get_public_key(self):
        """getPublicKey(): the key-agreement public key as a COSE_Key map."""
        return cose.p256_key(self._key_pair()[1], COSE_ALG_ECDH_ES_HKDF_256)

    # -- §6.5.6 / §6.5.7 ---------------------------------------------------

    def decapsulate(self, peer_cose_key):
        """decapsulate(peerCoseKey) -> shared secret.

        Raises CtapError(CTAP1_ERR_INVALID_PARAMETER) unless peer_cose_key is a
        P-256 key-agreement COSE_Key (kty 2, alg -25, crv 1) whose point is on
        the curve: an invalid point must never reach ECDH (invalid-curve
        attacks would leak the private key).
        """
        if not isinstance(peer_cose_key, dict):
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        x = peer_cose_key.get(cose.EC2_X)
        y = peer_cose_key.get(cose.EC2_Y)
        if (
            not _is_int(peer_cose_key.get(cose.KTY), cose.KTY_EC2)
            or not _is_int(peer_cose_key.get(cose.ALG), COSE_ALG_ECDH_ES_HKDF_256)
            or not _is_int(peer_cose_key.get(cose.EC2_CRV), cose.CRV_P256)
            or not isinstance(x, bytes)
            or not isinstance(y, bytes)
            or len(x) != 32
            or len(y) != 32
        ):
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        peer = b"".join((b"\x04", x, y))
        if not crypto.p256_valid_public_key(peer):
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        try:
            z = crypto.p256_ecdh(self._key_pair()[0], peer)
        except ValueError:
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        return self.kdf(z)

    def kdf(self, z):
        """kdf(Z) = SHA-256(Z): one 32-byte key for both HMAC and AES."""
        return crypto.sha256(z)

    def encrypt(self, key, plaintext):
        """AES-256-CBC with an all-zero IV; plaintext is whole blocks."""
        return crypto.aes256_cbc_encrypt(key, _ZERO_IV, plaintext)

    def decrypt(self, key, ciphertext):
        """The plaintext, or None when the ciphertext is not whole blocks."""
        if len(ciphertext) % _BLOCK:
            return None
        if not ciphertext:
            return b""
        return crypto.aes256_cbc_decrypt(key, _ZERO_IV, ciphertext)

    def authenticate(self, key, message):
        """LEFT(HMAC-SHA-256(key, message), 16)."""
        return crypto.hmac_sha256(key, message)[:16]

    def verify(self, key, message, signature):
        """True when signature == authenticate(key, message), in constant time."""
        return crypto.ct_equal(self.authenticate(key, message), signature)


class PinProtocolV2(PinProtocolV1):
    """CTAP 2.1 §6.5.7 PIN/UV auth protocol two: HKDF keys, random IVs, full MACs."""

    VERSION = 2

    def kdf(self, z):
        """HKDF-SHA-256(salt = 32 zero bytes): HMAC key (32) || AES key (32)."""
        # Both keys share salt and Z, so HKDF-Extract runs once for the two.
        prk = crypto.hmac_sha256(_HKDF_SALT, z)
        return crypto.hkdf_expand_sha256(prk, b"CTAP2 HMAC key", 32) + crypto.hkdf_expand_sha256(
            prk, b"CTAP2 AES key", 32
        )

    # A shared secret is HMAC key || AES key; a pinUvAuthToken (32 bytes) is
    # only ever an HMAC key. The halves are views, not copies.

    @staticmethod
    def _hmac_key(key):
        return memoryview(key)[:32]

    @staticmethod
    def _aes_key(key):
        return memoryview(key)[32:]

    def encrypt(self, key, plaintext):
        """A random 16-byte IV || AES-256-CBC(AES key, IV, plaintext)."""
        iv = crypto.random_bytes(_BLOCK)
        return iv + crypto.aes256_cbc_encrypt(self._aes_key(key), iv, plaintext)

    def decrypt(self, key, ciphertext):
        """The plaintext, or None when there is no IV or a partial block."""
        if len(ciphertext) < _BLOCK or len(ciphertext) % _BLOCK:
            return None
        if len(ciphertext) == _BLOCK:
            return b""
        ciphertext = memoryview(ciphertext)
        return crypto.aes256_cbc_decrypt(self._aes_key(key), ciphertext[:_BLOCK], ciphertext[_BLOCK:])

    def authenticate(self, key, message):
        """HMAC-SHA-256 over the first 32 bytes of key (the HMAC-key half of a
        shared secret; all of a pinUvAuthToken)."""
        return crypto.hmac_sha256(self._hmac_key(key), message)


class PinUvAuthTokenState:
    """CTAP 2.1 §6.5.2.1 pinUvAuthToken state, plus the protocols that issue tokens.

    One object per power-up, held by the Authenticator as `auth.pin_uv`.

    :param board: gives ticks_ms() and ticks_diff() for the usage timers.
    :ivar protocols: pinUvAuthProtocol number -> protocol object.
    :ivar permissions: the token's permission bits (PERMISSION_*).
    :ivar rp_id: the permissions RP ID, or None.
    :ivar in_use: True between beginUsing and stopUsing (or expiry).
    """

    # getInfo pinUvAuthProtocols, in order of preference
    VERSIONS = (2, 1)

    def __init__(self, board):
        self._board = board
        self.protocols = {2: PinProtocolV2(), 1: PinProtocolV1()}
        self.stop_using()

    def protocol(self, version):
        """The protocol object for a pinUvAuthProtocol number.

        Raises CtapError(CTAP1_ERR_INVALID_PARAMETER) for an unsupported one,
        the error every command names for it.
        """
        if type(version) is not int or version not in self.protocols:
            raise CtapError(CTAP1_ERR_INVALID_PARAMETER)
        return self.protocols[version]

    def reset(self):
        """authenticatorReset: new key-agreement keys, new tokens, none in use."""
        for v in self.protocols:
            self.protocols[v].regenerate()
        self.reset_tokens()

    def reset_tokens(self):
        """resetPinUvAuthToken() for every protocol: outstanding tokens die."""
        for v in self.protocols:
            self.protocols[v].reset_pin_uv_auth_token()
        self.stop_using()

    # -- §6.5.2.1 usage ---------------------------------------------------------

    def begin_using(self, user_is_present, permissions, rp_id=None):
        """beginUsingPinUvAuthToken(userIsPresent), then permissions and RP ID."""
        self.user_present = bool(user_is_present)
        self.user_verified = True
        self.permissions = permissions
        self.rp_id = rp_id
        self.in_use = True
        self.used = False
        self._start = self._board.ticks_ms()

    def stop_using(self):
        """stopUsingPinUvAuthToken(): no permissions, no RP ID, flags false."""
        self.in_use = False
        self.used = False
        self.permissions = 0
        self.rp_id = None
        self.user_present = False
        self.user_verified = False
        self._start = 0

    def observe(self):
        """pinUvAuthTokenUsageTimerObserver(): expire what has timed out.

        The router calls this once before every command, and the main loop
        (Authenticator.tick) on every turn, so an expired token is dropped
        before its start time could look recent again (firmware/ticks.py).
        """
        if not self.in_use:
            return
        elapsed = elapsed_ms(self._board, self._start)
        if elapsed > MAX_USAGE_TIME_PERIOD_MS or (not self.used and elapsed > INITIAL_USAGE_TIME_LIMIT_MS):
            self.stop_using()
            return
        if elapsed > USER_PRESENT_TIME_LIMIT_MS:
            self.user_present = False

    def get_user_present_flag_value(self):
        return self.in_use and self.user_present

    def get_user_verified_flag_value(self):
        return self.in_use and self.user_verified

    def clear_user_present_flag(self):
        self.user_present = False

    def clear_user_verified_flag(self):
        self.user_verified = False

    def clear_permissions_except_lbw(self):
        self.permissions &= PERMISSION_LBW

    def has_permission(self, permission):
        return self.in_use and (self.permissions & permission) == permission

    def rp_id_matches_hash(self, rp_id_hash):
        """True when the token has a permissions RP ID whose hash is rp_id_hash."""
        return self.rp_id is not None and crypto.ct_equal(crypto.sha256(self.rp_id.encode()), rp_id_hash)


def verify_token(auth, protocol, message, param):
    """verify(pinUvAuthToken, message, pinUvAuthParam) for the token of `protocol`.

    :param auth: the Authenticator (its `pin_uv` state).
    :param protocol: the request's pinUvAuthProtocol number (already checked
        with PinUvAuthTokenState.protocol, or checked here).
    :param message: exactly the bytes the platform MACed.
    :param param: the request's pinUvAuthParam.
    Raises CtapError(CTAP2_ERR_PIN_AUTH_INVALID) unless a token is in use and
    the MAC verifies. Counts as a use of the token (its initial usage limit
    stops applying).
    """
    state = auth.pin_uv
    p = state.protocol(protocol)
    # Compute the MAC even with no token in use, so timing says nothing.
    good = p.verify(p.pin_uv_auth_token, message, param)
    if not good or not state.in_use:
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)
    state.used = True


def require_permission(auth, permission, rp_id=None, rp_id_hash=None):
    """Check the token in use for `permission`; raise CTAP2_ERR_PIN_AUTH_INVALID if not.

    rp_id (makeCredential/getAssertion rule): a token bound to another RP ID
        fails; an unbound token becomes bound to rp_id.
    rp_id_hash (credential management rule): a token bound to an RP ID whose
        hash differs fails; an unbound token stays unbound.
    """
    state = auth.pin_uv
    if not state.has_permission(permission):
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)
    if rp_id is not None:
        if state.rp_id is None:
            state.rp_id = rp_id
        elif state.rp_id != rp_id:
            raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)
    if rp_id_hash is not None and state.rp_id is not None and not state.rp_id_matches_hash(rp_id_hash):
        raise CtapError(CTAP2_ERR_PIN_AUTH_INVALID)


def persistent_token(auth):
    """The persistentPinUvAuthToken (CTAP 2.2 §6.5.5.7, pcmr), or None.

    Unlike the pinUvAuthToken it lives in the store: it survives power
    cycles and has no usage timers; changePIN and authenticatorReset end it
    (firmware/ctap2/client_pin.py, store.wipe).
    """
    return auth.store.get(STATE_PERSISTENT_TOKEN)


def verify_persistent_token(auth, protocol, message, param):
    """True when param is the MAC of message under the persistentPinUvAuthToken.

    :param protocol: the request's pinUvAuthProtocol number; an unsupported
        one raises CTAP1_ERR_INVALID_PARAMETER, as for the pinUvAuthToken.
    """
    p = auth.pin_uv.protocol(protocol)
    token = persistent_token(auth)
    if token is None:
        return False
    return p.verify(token, message, param)


def authorize(auth, param, protocol, message, permission):
    """The pinUvAuthParam steps of a command that requires a token (credential
    management, authenticatorConfig, largeBlobs writes).

    :param param: the request's pinUvAuthParam, or None.
    :param protocol: the request's pinUvAuthProtocol, or None.
    :param message: exactly the bytes the platform MACed.
    :param permission: PERMISSION_* the token must carry (0: any token in use).
    CTAP2_ERR_PUAT_REQUIRED without pinUvAuthParam, CTAP2_ERR_MISSING_PARAMETER
    without pinUvAuthProtocol, CTAP1_ERR_INVALID_PARAMETER for an unsupported
    one, CTAP2_ERR_PIN_AUTH_INVALID for a bad MAC or a missing permission.
    """
    if param is None:
        raise CtapError(CTAP2_ERR_PUAT_REQUIRED)
    if protocol is None:
        raise CtapError(CTAP2_ERR_MISSING_PARAMETER)
    verify_token(auth, protocol, message, param)
    require_permission(auth, permission)
