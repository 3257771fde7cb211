"""CTAP 2.1 §6 and §8: the authenticator API behind CTAPHID_CBOR / CTAPHID_MSG.

The router: decodes the command byte and its CBOR parameter map, calls the
command module (firmware/ctap2/<command>.py), and is the one place where a
result or a CtapError becomes the status byte plus CBOR body (like OpenSK's
process_command). Handlers take the decoded request dict and return a
response dict (or None for an empty body); they never see bytes or reports.
"""

from micropython import const

import cbor
from firmware.status import (
    CtapError,
    CTAP2_OK,
    CTAP1_ERR_INVALID_COMMAND,
    CTAP1_ERR_INVALID_LENGTH,
    CTAP1_ERR_OTHER,
    CTAP2_ERR_INVALID_CBOR,
    CTAP2_ERR_CBOR_UNEXPECTED_TYPE,
)
from firmware.ctaphid import (
    CTAPHID_CBOR,
    CTAPHID_MSG,
    MAX_MESSAGE_SIZE,
    STATUS_PROCESSING,
)
from firmware import crypto, ctap1, device, pin_protocol
from firmware import store as st
from firmware.cose import ALG_ES256
from firmware import credential
from firmware.credential import MAX_CREDENTIAL_ID_LENGTH, Wrapper
from firmware.ctap2 import extensions as exts, get_assertion, get_info, make_credential, reset, selection
from firmware.ctap2 import client_pin, config, credential_management, pin_uv
from firmware.pin_protocol import PinUvAuthTokenState

# Firmware version: CTAPHID INIT device version bytes and getInfo
# firmwareVersion (firmware/device.py).
FIRMWARE_VERSION = device.FIRMWARE_VERSION

# The product's AAGUID (CTAP 2.1 §6.4 aaguid; identifies the model, not the
# device). A batch attestation certificate made by tools/ carries the same
# value in its id-fido-gen-ce-aaguid extension.
AAGUID = b"\x6e\xfa\x7b\x26\xb8\xbb\x40\xb3\x82\x7b\x57\xea\x38\xf7\xbd\x0a"

# CTAP 2.1 §6 command bytes
AUTHENTICATOR_MAKE_CREDENTIAL = const(0x01)
AUTHENTICATOR_GET_ASSERTION = const(0x02)
AUTHENTICATOR_GET_INFO = const(0x04)
AUTHENTICATOR_CLIENT_PIN = const(0x06)
AUTHENTICATOR_RESET = const(0x07)
AUTHENTICATOR_GET_NEXT_ASSERTION = const(0x08)
AUTHENTICATOR_BIO_ENROLLMENT = const(0x09)
AUTHENTICATOR_CREDENTIAL_MANAGEMENT = const(0x0A)
AUTHENTICATOR_SELECTION = const(0x0B)
AUTHENTICATOR_LARGE_BLOBS = const(0x0C)
AUTHENTICATOR_CONFIG = const(0x0D)
AUTHENTICATOR_CREDENTIAL_MANAGEMENT_PREVIEW = const(0x41)  # CTAP 2.1-PRE


def _large_blobs(auth, req):
    # Rarely used: imported on first use, so it costs no RAM until then.
    from firmware.ctap2 import large_blobs

    return large_blobs.handle(auth, req)


# Command byte -> handler(auth, request) -> response dict or None.
_COMMANDS = {
    AUTHENTICATOR_MAKE_CREDENTIAL: make_credential.handle,
    AUTHENTICATOR_GET_ASSERTION: get_assertion.handle,
    AUTHENTICATOR_GET_INFO: get_info.handle,
    AUTHENTICATOR_RESET: reset.handle,
    AUTHENTICATOR_GET_NEXT_ASSERTION: get_assertion.handle_next,
    AUTHENTICATOR_SELECTION: selection.handle,
    AUTHENTICATOR_CLIENT_PIN: client_pin.handle,
    AUTHENTICATOR_LARGE_BLOBS: _large_blobs,
    AUTHENTICATOR_CREDENTIAL_MANAGEMENT: credential_management.handle,
    AUTHENTICATOR_CREDENTIAL_MANAGEMENT_PREVIEW: credential_management.handle,  # same rules (see there)
    AUTHENTICATOR_CONFIG: config.handle,
}

_GET_INFO = get_info.handle  # its answer is cached (Authenticator.get_info_response)

_CRED_MGMT_COMMANDS = (AUTHENTICATOR_CREDENTIAL_MANAGEMENT, AUTHENTICATOR_CREDENTIAL_MANAGEMENT_PREVIEW)

# What a key whose store is damaged (firmware/store.py: no good copy of the
# state or the counter) still answers: getInfo, so that platforms find the
# key and offer to reset it; authenticatorReset, the only way out; and
# authenticatorSelection, which needs nothing but a touch. Everything else
# needs the master secret, the PIN state or the counter, and gets
# store.STORE_DAMAGED_STATUS.
_WITHOUT_STATE = (AUTHENTICATOR_GET_INFO, AUTHENTICATOR_RESET, AUTHENTICATOR_SELECTION)

# getInfo maxSerializedLargeBlobArray unless CONFIG says otherwise
# (CTAP 2.1 §6.10: at least 1024; this key promises 8 KiB).
MAX_SERIALIZED_LARGE_BLOB_ARRAY = const(8192)

# getInfo maxCredentialCountInList: allowList/excludeList entries looked at.
MAX_CREDENTIAL_COUNT_IN_LIST = const(16)


def _same_alg(record, cred):
    """A discoverable credential's record and its ID name the same algorithm
    (a record from before algorithms were recorded is ES256). They always do
    for a record this key wrote; one that does not is not used."""
    return record.get(st.RK_ALG, ALG_ES256) == cred.alg


def open_store(board):
    """The board's Store (firmware/store.py), sized by the board's CONFIG."""
    return st.Store(board.storage, board.CONFIG.get("max_resident_credentials", 256))


class _NoTransport:
    """Stands in for CTAPHID when a handler is called directly (host tests)."""

    cancelled = False

    def keepalive(self, status):
        return False


class Authenticator:
    """One security key: the state behind every CTAP command.

    :param board: the board adapter (boards/<name>/board.py); nothing in the
        core talks to hardware except through it.
    :param store: the key's Store when the caller already opened it
        (firmware/main_loop.py does, to answer INIT before this is built).
    :param boot_ms: board.ticks_ms() at power-up (the reset window counts
        from it); now when not given.
    """

    # getInfo's encoded answer, and store.changes when it was made
    # (get_info_response): platforms ask for it before nearly every command.
    _info_response = None
    _info_changes = -1
    # With a persistentPinUvAuthToken: where encIdentifier's and
    # encCredStoreState's placeholders are in _info_response, and what
    # encrypts them (get_info.EncryptedState); None without one.
    _info_encrypted = None

    def __init__(self, board, store=None, boot_ms=None):
        self.board = board
        config = board.CONFIG
        self.max_msg_size = min(config.get("max_msg_size", MAX_MESSAGE_SIZE), MAX_MESSAGE_SIZE)
        self.transports = config.get("transports", ["usb"])
        self.aaguid = config.get("aaguid", AAGUID)
        self.firmware_version = FIRMWARE_VERSION
        self.max_credential_count_in_list = MAX_CREDENTIAL_COUNT_IN_LIST
        self.reset_window_ms = config.get("reset_window_ms", reset.RESET_WINDOW_MS)
        # CTAP 2.2 longTouchForReset: only a board that can time a press
        # (wait_long_touch) may ask for it, and then reset needs it.
        self.long_touch_for_reset = bool(config.get("long_touch_for_reset")) and hasattr(board, "wait_long_touch")
        self.max_serialized_large_blob_array = config.get(
            "max_serialized_large_blob_array", MAX_SERIALIZED_LARGE_BLOB_ARRAY
        )
        self.transport = _NoTransport()
        if store is None:
            # The board's source and the chip's id for the DRBG, which the
            # store seeds as it opens; a caller that opened the store did both.
            crypto.set_rng(board.random, getattr(board, "unique_id", b""))
        self.boot_ms = board.ticks_ms() if boot_ms is None else boot_ms
        self.reset_window_open = True  # authenticatorReset allowed (reset.window_open)
        self.store = store if store is not None else open_store(board)
        # None while the store is damaged: there is no master secret to wrap under.
        self.wrapper = None if self.store.damaged is not None else Wrapper(self.store.master_secret)
        self.store.report(board)
        # pinUvAuthProtocols (getInfo order: preferred first); the key-agreement
        # keys and pinUvAuthTokens of this power-up (firmware/pin_protocol.py)
        self.pin_uv_auth_protocols = list(PinUvAuthTokenState.VERSIONS)
        self.pin_uv = PinUvAuthTokenState(board)
        # Wrong PINs in a row since power-up (3 -> PIN_AUTH_BLOCKED); RAM only
        self.pin_consecutive_mismatches = 0
        # Runtime state spanning commands (the router clears it, see process_cbor)
        self.assertion_state = None
        self.cred_mgmt_state = None
        self.large_blob_write = None  # a large-blob write in progress

    def reset_state(self):
        """authenticatorReset: new master secret, no credentials, no PIN."""
        self.store.wipe()  # also the way out of a damaged store
        self.wrapper = Wrapper(self.store.master_secret)
        self.assertion_state = None
        self.cred_mgmt_state = None
        # New key-agreement keys, no token, no mismatches (§6.6).
        self.pin_uv.reset()
        self.pin_consecutive_mismatches = 0

    # -- credentials ----------------------------------------------------------

    def find_credential(self, rp_id_hash, credential_id):
        """The credential an ID names for this RP, or None.

        A discoverable credential also needs its record: once deleted (by
        credential management) its ID names nothing, although it unwraps.
        The store's index names the slot: one record is read, not the RP's.
        """
        if len(credential_id) > MAX_CREDENTIAL_ID_LENGTH:
            return None
        cred = self.wrapper.unwrap(rp_id_hash, credential_id)
        if cred is None:
            return None
        cred.record = None
        if cred.resident:
            found = self.store.rk_find_id(cred.id, rp_id_hash)
            if found is None or not _same_alg(found[1], cred):
                return None
            cred.slot, cred.record = found
        return cred

    def next_credential(self, rp_id_hash, after=None, max_cred_protect=3):
        """The Credential of the RP's next discoverable credential, newest
        first, after the one in slot `after` (None: from the newest), with a
        credProtect level of at most max_cred_protect; None when none is left.

        Requests that go through many discoverable credentials (getAssertion
        without an allowList and getNextAssertion, credential enumeration)
        keep only the slot of the last one they returned, and read and unwrap
        a record only when they return it (store.rk_next): the heap they
        take does not grow with the passkeys of a site.
        """
        store = self.store
        slot = after
        while True:
            slot = store.rk_next(rp_id_hash, slot, max_cred_protect)
            if slot is None:
                return None
            rec = store.rk_load(slot, rp_id_hash)
            if rec is not None:  # else damaged since boot: the next one
                cred = self.unwrap_record(rp_id_hash, slot, rec)
                if cred is not None:
                    return cred

    def unwrap_record(self, rp_id_hash, slot, rec):
        """The Credential of a discoverable-credential record, or None.

        None cannot happen for a record in the store: records carry the epoch
        of the master secret their ID was wrapped under, and boot drops those
        of an earlier one (firmware/store.py).
        """
        cred = self.wrapper.unwrap(rp_id_hash, rec[st.RK_CREDENTIAL_ID])
        if cred is None or not _same_alg(rec, cred):
            return None
        cred.record = rec
        cred.slot = slot
        return cred

    def tick(self):
        """Look at every timer; the main loop calls this on each turn.

        Expired tokens, getNextAssertion state and the reset window are
        dropped as soon as they run out, not when the next command comes:
        measured later, on MicroPython's wrapping ticks, they could look
        fresh again (firmware/ticks.py).
        """
        self.pin_uv.observe()
        get_assertion.expire(self)
        reset.window_open(self)

    def processing(self):
        """Tell the host we are still working (KEEPALIVE PROCESSING after 100 ms)."""
        self.transport.keepalive(STATUS_PROCESSING)

    # -- what getInfo advertises: derived from what is implemented ---------

    def versions(self):
        # U2F_V2: CTAP1 over CTAPHID_MSG (firmware/ctap1.py) -- but not under
        # alwaysUv: without built-in UV, CTAP 2.1 §7.2.4 requires CTAP1 off
        # (capabilities below sets NMSG, so CTAPHID answers ERR_INVALID_CMD).
        # A damaged store: U2F off too -- whether alwaysUv was on is unknown.
        versions = [] if self._ctap1_off() else ["U2F_V2"]
        versions.append("FIDO_2_0")
        # FIDO_2_1 promises the whole of CTAP 2.1's mandatory set; credProtect
        # (required with discoverable credentials) arrives with the extensions.
        extensions = self.extensions()
        if "credProtect" in extensions and 2 in self.pin_uv_auth_protocols:
            versions.append("FIDO_2_1")
            # No "FIDO_2_2": CTAP 2.2 (Proposed Standard 2025-02-28) defines
            # no version string of its own; its features are announced by
            # their own getInfo members and extensions (get_info.py), which
            # is how platforms find them. "FIDO_2_3" (CTAP 2.3, 2026-02-26)
            # would also promise 2.3's changes, which are not checked here.
        return versions

    def extensions(self):
        return exts.supported(self)

    def options(self):
        options = {
            "plat": False,  # a roaming authenticator, not part of a platform
            "rk": True,  # discoverable credentials
            "up": True,  # user presence (the button)
            "largeBlobs": True,  # authenticatorLargeBlobs
            # No "uv": no built-in user verification; the PIN is the only way.
            "clientPin": pin_uv.pin_is_set(self),
            "pinUvAuthToken": True,
            "credMgmt": True,
            # CTAP 2.2: the persistentPinUvAuthToken (pcmr) reads the
            # credential list (firmware/ctap2/credential_management.py).
            "perCredMgmtRO": True,
            "authnrCfg": True,
            "setMinPINLength": True,
            "alwaysUv": pin_uv.always_uv(self),
            "makeCredUvNotRqd": pin_uv.make_cred_uv_not_rqd(self),
        }
        if self.store.enterprise_attestation() is not None:
            options["ep"] = pin_uv.enterprise_attestation_enabled(self)
        return options

    def algorithms(self):
        # What makeCredential accepts (credential.ALGORITHMS): the Ed25519
        # ones only where the firmware has the ed25519 module.
        return [{"alg": alg, "type": "public-key"} for alg in credential.ALGORITHMS]

    # -- CTAPHID-facing -----------------------------------------------------

    def _ctap1_off(self):
        return self.store.damaged is not None or pin_uv.always_uv(self)

    @property
    def capabilities(self):
        """CTAPHID INIT capability flags (firmware/device.py; NMSG under alwaysUv, see versions())."""
        return device.capabilities(self._ctap1_off())

    def handle(self, cmd, payload, transport):
        """A complete CTAPHID message for the application layer."""
        self.transport = transport
        try:
            if cmd == CTAPHID_CBOR:
                return self.process_cbor(payload)
            if cmd == CTAPHID_MSG and self.store.damaged is None:  # else NMSG (capabilities)
                # Any other command ends getNextAssertion's state, U2F too.
                self.assertion_state = None
                return ctap1.process(self, payload)
            raise ValueError("no handler for CTAPHID command %d" % cmd)
        finally:
            self.transport = _NoTransport()

    # -- CTAP2 --------------------------------------------------------------

    def process_cbor(self, data):
        """CTAP 2.1 §8.1: command byte + CBOR map in, status byte + CBOR map out."""
        if self.store.damaged is None:
            return self._process_cbor(data)
        try:
            return self._process_cbor(data)
        finally:
            if self.store.damaged is not None:  # (a reset ends it)
                self.store.report(self.board)  # the LED again, whatever the request showed

    def _process_cbor(self, data):
        if len(data) < 1:
            return bytes((CTAP1_ERR_INVALID_LENGTH,))
        cmd = data[0]
        handler = _COMMANDS.get(cmd)
        if handler is None:
            return bytes((CTAP1_ERR_INVALID_COMMAND,))
        if self.store.damaged is not None and cmd not in _WITHOUT_STATE:
            # No good copy of the state (or counter) is left: answer so, and
            # wait for an explicit reset rather than make a new one (store.py).
            self.assertion_state = None
            self.cred_mgmt_state = None
            return bytes((st.STORE_DAMAGED_STATUS,))
        # State spanning commands lives only until another command comes
        # (CTAP 2.1 §6.3: getNextAssertion follows getAssertion directly;
        # §6.8: credential management GetNext follows its Begin).
        if cmd != AUTHENTICATOR_GET_NEXT_ASSERTION:
            self.assertion_state = None
        if cmd != AUTHENTICATOR_LARGE_BLOBS:
            self.large_blob_write = None  # §6.10: fragments of one write come back to back
        # pinUvAuthTokenUsageTimerObserver, once before any command.
        self.pin_uv.observe()
        if len(data) > 1:
            try:
                request = cbor.loads(data[1:])
            except ValueError:
                self.cred_mgmt_state = None
                return bytes((CTAP2_ERR_INVALID_CBOR,))
            if not isinstance(request, dict):
                self.cred_mgmt_state = None
                return bytes((CTAP2_ERR_CBOR_UNEXPECTED_TYPE,))
        else:
            request = {}
        if not (cmd in _CRED_MGMT_COMMANDS and credential_management.continues(request)):
            self.cred_mgmt_state = None
        if handler is _GET_INFO:
            return self.get_info_response()
        try:
            response = handler(self, request)
        except CtapError as e:
            return bytes((e.code,))
        except Exception as e:  # logged once here; the host sees ERR_OTHER
            self.log_exception(e)
            return bytes((CTAP1_ERR_OTHER,))
        if response is None:
            return bytes((CTAP2_OK,))
        # The body is encoded right after the status byte, into the buffer
        # that goes out: no copy of it, and no copy of the copy.
        out = bytearray((CTAP2_OK,))
        cbor.dump_into(out, response)
        if len(out) > self.max_msg_size:
            self.log_exception(ValueError("response of %d bytes too large" % (len(out) - 1)))
            return bytes((CTAP1_ERR_OTHER,))
        return out

    def get_info_response(self):
        """authenticatorGetInfo's answer, status byte and CBOR (firmware/ctap2/get_info.py).

        Built and encoded once, then again only after the store changed:
        everything getInfo reports that can change (PIN set, alwaysUv,
        minPINLength, forcePINChange, enterprise attestation, the room for
        discoverable credentials, a reset) is store state, and every change
        of it is a write or removal of a record (Store.changes). The rest is
        this key's fixed configuration. Encoding it took 10 ms at 125 MHz.
        """
        changes = self.store.changes
        if self._info_changes != changes:
            out = bytearray((CTAP2_OK,))
            cbor.dump_into(out, get_info.handle(self, {}, True))
            self._info_response = bytes(out)  # handed out again and again: immutable
            self._info_changes = changes
            self._info_encrypted = None
            token = pin_protocol.persistent_token(self)
            if token is not None:
                # CTAP 2.2: the two encrypted members get a fresh IV in every
                # answer; the rest of it is encoded once, as without them.
                # Each sits after its map key and a 32-byte string header.
                placeholder = get_info.PLACEHOLDER
                at_id = self._info_response.find(b"\x18\x19\x58\x20" + placeholder) + 4
                at_cs = self._info_response.find(b"\x18\x1e\x58\x20" + placeholder) + 4
                self._info_encrypted = (at_id, at_cs, get_info.EncryptedState(self, token))
        encrypted = self._info_encrypted
        if encrypted is None:
            return self._info_response
        at_id, at_cs, state = encrypted
        out = bytearray(self._info_response)
        n = get_info.ENC_STATE_LENGTH
        out[at_id : at_id + n] = state.enc_identifier()
        out[at_cs : at_cs + n] = state.enc_cred_store_state()
        return out

    def log_exception(self, e):
        log = getattr(self.board, "log_exception", None)
        if log:
            log(e)
