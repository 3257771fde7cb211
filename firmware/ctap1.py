"""FIDO U2F Raw Message Formats v1.2 (CTAP1) over CTAPHID_MSG.

U2F_REGISTER, U2F_AUTHENTICATE and U2F_VERSION, carried as ISO 7816-4
command APDUs; every answer is response data || SW1 SW2.

firmware/authenticator.py routes CTAPHID_MSG here. process() is the one place
an ApduError becomes a status word (as authenticator.process_cbor is for
CtapError): handlers raise, never catch.

Credentials are shared with CTAP2. A key handle is a credential ID in the
format of firmware/credential.py, wrapped under the application parameter,
so a key handle made here works in authenticatorGetAssertion with
rpIdHash = application parameter, and a non-discoverable credential made by
authenticatorMakeCredential works here. Signature counters come from the same
store counter as CTAP2 assertions.

U2F never blocks the channel for a touch: a request that needs user presence
and finds none is answered SW_CONDITIONS_NOT_SATISFIED at once and the
client asks again (firmware/presence.py check()).
"""

from micropython import const
import struct

from firmware import attestation, crypto, presence
from firmware.cose import is_p256
from firmware.credential import CRED_PROTECT_UV_REQUIRED, FLAG_U2F

# U2F Raw Message Formats v1.2 §3.3 status words (ISO 7816-4 §5.1.3 values)
SW_NO_ERROR = const(0x9000)
SW_CONDITIONS_NOT_SATISFIED = const(0x6985)
SW_WRONG_DATA = const(0x6A80)
SW_WRONG_LENGTH = const(0x6700)
SW_CLA_NOT_SUPPORTED = const(0x6E00)
SW_INS_NOT_SUPPORTED = const(0x6D00)
# ISO 7816-4 "no precise diagnosis": an internal fault, for which U2F names
# no status word. Logged; the main loop goes on.
SW_NO_PRECISE_DIAGNOSIS = const(0x6F00)

# §3 command APDU: CLA is 0 for every U2F command
U2F_CLA = const(0x00)
# §4, §5, §6 instructions
U2F_REGISTER = const(0x01)
U2F_AUTHENTICATE = const(0x02)
U2F_VERSION = const(0x03)

# §5.1 U2F_AUTHENTICATE control byte (P1)
U2F_AUTH_ENFORCE = const(0x03)  # enforce-user-presence-and-sign
U2F_AUTH_CHECK_ONLY = const(0x07)  # check-only
U2F_AUTH_DONT_ENFORCE = const(0x08)  # dont-enforce-user-presence-and-sign

U2F_VERSION_STRING = b"U2F_V2"

_HEADER_LEN = const(4)  # CLA INS P1 P2
_PARAM_LEN = const(32)  # challenge and application parameters
_REGISTER_RESERVED = const(0x05)  # §4.3 first byte of a registration response
_REGISTER_SIGNED_RESERVED = b"\x00"  # §4.3 first byte of the signed data
_USER_PRESENT = const(0x01)  # §5.4 user presence byte


class ApduError(Exception):
    """A U2F status word raised by a handler; .sw is SW1 SW2 as an int."""

    def __init__(self, sw):
        super().__init__(sw)  # MicroPython has no Exception.__init__ to call directly
        self.sw = sw


# -- ISO 7816-4 §5.1 command APDU ------------------------------------------------


def parse_apdu(apdu):
    """Split a command APDU into (cla, ins, p1, p2, data, ne).

    Accepts the short and the extended length encodings of cases 1-4:

      case 1   header
      case 2S  header Le                     Le = 00 means Ne = 256
      case 3S  header Lc data                Lc = 01..FF
      case 4S  header Lc data Le
      case 2E  header 00 Le1 Le2             Le = 0000 means Ne = 65536
      case 3E  header 00 Lc1 Lc2 data        Lc = 0001..FFFF
      case 4E  header 00 Lc1 Lc2 data Le1 Le2

    plus one encoding ISO 7816-4 does not have: "00 0000" (an extended Lc of
    zero) followed by Le1 Le2 for a command without data, which is how
    python-fido2, libfido2 and Firefox send U2F_VERSION; it is read as case 2E.

    ne is the response length the host accepts (0 when Le is absent). U2F
    over CTAPHID carries a whole response in one message, so ne bounds
    nothing here; it is parsed so that a malformed Le is refused.
    data is a slice of apdu: a view into CTAPHID's message buffer when apdu
    is one (as process() gets it), valid while the command runs.
    Raises ApduError(SW_WRONG_LENGTH) for any other length layout.
    """
    n = len(apdu)
    if n < _HEADER_LEN:
        raise ApduError(SW_WRONG_LENGTH)
    body = n - _HEADER_LEN
    data_at = _HEADER_LEN
    nc = 0
    ne = 0
    if body == 0:
        pass  # case 1
    elif body == 1:
        ne = apdu[4] or 256  # case 2S
    elif apdu[4]:
        # short Lc: case 3S or 4S
        nc = apdu[4]
        data_at = 5
        if body == 2 + nc:
            ne = apdu[n - 1] or 256
        elif body != 1 + nc:
            raise ApduError(SW_WRONG_LENGTH)
    elif body == 3:
        ne = ((apdu[5] << 8) | apdu[6]) or 65536  # case 2E
    elif body < 3:
        raise ApduError(SW_WRONG_LENGTH)  # "00" then one byte: no case
    else:
        # extended Lc: case 3E or 4E
        nc = (apdu[5] << 8) | apdu[6]
        data_at = 7
        if nc == 0:
            # The "00 0000 Le1 Le2" of U2F clients for commands without data.
            if body != 5:
                raise ApduError(SW_WRONG_LENGTH)
            ne = ((apdu[7] << 8) | apdu[8]) or 65536
        elif body == 5 + nc:
            ne = ((apdu[n - 2] << 8) | apdu[n - 1]) or 65536
        elif body != 3 + nc:
            raise ApduError(SW_WRONG_LENGTH)
    return apdu[0], apdu[1], apdu[2], apdu[3], apdu[data_at : data_at + nc], ne


# -- the commands ------------------------------------------------------------------


def _register(auth, p1, data):
    """U2F_REGISTER (§4): a new P-256 credential for an application.

    P1 is ignored: clients send 0x00 or 0x03, and Chrome sets 0x80 to ask for
    individual attestation, which this key does not offer.
    """
    # -- parse and validate (no side effects) ----------------------------------
    if len(data) != 2 * _PARAM_LEN:
        raise ApduError(SW_WRONG_LENGTH)
    challenge = data[:_PARAM_LEN]
    application = data[_PARAM_LEN:]

    # -- act ----------------------------------------------------------------------
    # 1. Test of user presence, without blocking the channel (§4.1: the token
    #    answers "test-of-user-presence-required" and the client retries).
    if not presence.check(auth):
        raise ApduError(SW_CONDITIONS_NOT_SATISFIED)
    # 2. The key pair; the key handle is a non-discoverable credential ID
    #    bound to the application parameter (the MAC covers it). The slow
    #    steps tell the host the key is working (CTAP 2.1 §11.2.9.2.1: KEEPALIVE
    #    is sent while processing a CTAPHID_MSG, at least every 100 ms).
    auth.processing()
    private_key, public_key = crypto.p256_keygen()
    key_handle = auth.wrapper.wrap(application, private_key, FLAG_U2F)

    # -- response, with the attestation (§4.3) ----------------------------------
    # 0x05 | user public key | L | key handle | attestation certificate | signature
    out = bytearray((_REGISTER_RESERVED,))
    out.extend(public_key)
    out.append(len(key_handle))
    out.extend(key_handle)
    # 3. The attestation certificate, and the key that signs the registration:
    #    without a batch identity, the new key itself, with a certificate of
    #    its own, so nothing links two registrations (firmware/attestation.py).
    attestation_key = attestation.u2f_certificate_into(out, auth.store, private_key, public_key)
    auth.processing()
    # 4. The registration signature: 0x00 | application | challenge | key handle | user public key.
    out.extend(
        crypto.p256_sign(attestation_key, _REGISTER_SIGNED_RESERVED, application, challenge, key_handle, public_key)
    )
    return out


def _authenticate(auth, p1, data):
    """U2F_AUTHENTICATE (§5): sign a challenge with a credential the key handle names."""
    # -- parse and validate (no side effects) ----------------------------------
    # challenge(32) | application(32) | L(1) | key handle(L)
    if len(data) < 2 * _PARAM_LEN + 1:
        raise ApduError(SW_WRONG_LENGTH)
    key_handle_length = data[2 * _PARAM_LEN]
    if len(data) != 2 * _PARAM_LEN + 1 + key_handle_length:
        raise ApduError(SW_WRONG_LENGTH)
    if p1 != U2F_AUTH_ENFORCE and p1 != U2F_AUTH_CHECK_ONLY and p1 != U2F_AUTH_DONT_ENFORCE:
        raise ApduError(SW_WRONG_DATA)  # no other control byte is defined (§5.1)
    challenge = data[:_PARAM_LEN]
    application = data[_PARAM_LEN : 2 * _PARAM_LEN]
    key_handle = data[2 * _PARAM_LEN + 1 :]

    # -- act ----------------------------------------------------------------------
    # 1. The key handle must be one this key made for this application
    #    (§5.3 "bad key handle"). Checked before the touch, so a touch is
    #    never spent on a request that cannot succeed.
    #    Usable over CTAP1: non-discoverable credentials only. A discoverable
    #    credential belongs to CTAP2 (user handle, credential management), and
    #    U2F cannot verify the user, so credProtect level 3 hides a credential
    #    here exactly as getAssertion step 7 hides it without UV
    #    (firmware/ctap2/get_assertion.py _applicable).
    #    U2F signs with ECDSA P-256 only (§5.4): an EdDSA credential made
    #    over CTAP2 is not one of this application's key handles here.
    cred = auth.find_credential(application, key_handle)
    if cred is None or cred.resident or cred.cred_protect == CRED_PROTECT_UV_REQUIRED or not is_p256(cred.alg):
        raise ApduError(SW_WRONG_DATA)
    # 2. check-only: "test-of-user-presence-required" means "this key handle
    #    is mine" (§5.1, a success despite its name); nothing is signed.
    if p1 == U2F_AUTH_CHECK_ONLY:
        raise ApduError(SW_CONDITIONS_NOT_SATISFIED)
    # 3. Test of user presence unless the client waived it (0x08).
    user_presence = 0
    if p1 == U2F_AUTH_ENFORCE:
        if not presence.check(auth):
            raise ApduError(SW_CONDITIONS_NOT_SATISFIED)
        user_presence = _USER_PRESENT
    # 4. The counter (the store's, shared with CTAP2: never repeats, never
    #    goes back) and the signature over
    #    application | user presence | counter | challenge (§5.4).
    presence_and_counter = struct.pack(">BI", user_presence, auth.store.next_sign_count())
    auth.processing()
    signature = crypto.p256_sign(cred.private_key, application, presence_and_counter, challenge)

    # -- response -------------------------------------------------------------------
    out = bytearray(presence_and_counter)
    out.extend(signature)
    return out


def _version(auth, p1, data):
    """U2F_VERSION (§6): "U2F_V2"; the request has no data."""
    if data:
        raise ApduError(SW_WRONG_LENGTH)
    return bytearray(U2F_VERSION_STRING)


# Instruction -> handler(auth, p1, data) -> response data (a bytearray: process
# appends the status word to it in place)
_COMMANDS = {
    U2F_REGISTER: _register,
    U2F_AUTHENTICATE: _authenticate,
    U2F_VERSION: _version,
}


def process(auth, apdu):
    """One CTAPHID_MSG: a command APDU in, response data || SW1 SW2 out.

    Checks in this order: a complete header (SW_WRONG_LENGTH), the class
    (SW_CLA_NOT_SUPPORTED), the instruction (SW_INS_NOT_SUPPORTED), then the
    length encoding and the command's own checks. Never raises.
    """
    try:
        if len(apdu) < _HEADER_LEN:
            raise ApduError(SW_WRONG_LENGTH)
        if apdu[0] != U2F_CLA:
            raise ApduError(SW_CLA_NOT_SUPPORTED)
        handler = _COMMANDS.get(apdu[1])
        if handler is None:
            raise ApduError(SW_INS_NOT_SUPPORTED)
        _cla, _ins, p1, _p2, data, _ne = parse_apdu(apdu)
        out = handler(auth, p1, data)
        sw = SW_NO_ERROR
    except ApduError as e:
        out = bytearray()
        sw = e.sw
    except Exception as e:  # logged once here; the host sees a status word
        auth.log_exception(e)
        out = bytearray()
        sw = SW_NO_PRECISE_DIAGNOSIS
    out.append(sw >> 8)
    out.append(sw & 0xFF)
    return out
