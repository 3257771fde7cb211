"""libfido2 (Yubico's C client library, Debian libfido2-1) driving the virtual key via ctypes.

libfido2 is the second real client: an independent CTAPHID, CTAP1 and CTAP2
implementation in C. fido_dev_set_io_functions() gives it our socket instead
of a hidraw node: its write callback gets 65 bytes (report id 0, then the
report), its read callback fills 64.

    dev = Libfido2Device(virtual_key.address)         # force_u2f=True: CTAP1 only
    info = dev.cbor_info()                            # fido_dev_get_cbor_info
    cred = dev.make_credential("example.com", client_data_hash, b"user", rk=True)
    a = dev.get_assertion("example.com", client_data_hash, [cred.id], cred.public_key)
    assert a.verified == FIDO_OK                      # fido_assert_verify

This is the suite's only libfido2 binding: every libfido2 function a test
calls is declared, typed, in _SIGNATURES below. A missing library is a test
failure (install it with `make sysdeps`), never a skip.
"""

import ctypes
import socket

import pytest

from boards.host.transport import REPORT_SIZE, parse_address

LIBRARY = "libfido2.so.1"  # Debian libfido2-1
FIDO_OK = 0
COSE_ES256 = -7
COSE_EDDSA = -8
FIDO_OPT_OMIT, FIDO_OPT_FALSE, FIDO_OPT_TRUE = 0, 1, 2  # fido_opt_t

# fido/param.h: the extensions fido_cred_set_extensions / fido_assert_set_extensions take
FIDO_EXT_HMAC_SECRET = 0x01
FIDO_EXT_CRED_PROTECT = 0x02
FIDO_EXT_LARGEBLOB_KEY = 0x04
FIDO_EXT_CRED_BLOB = 0x08
FIDO_EXT_MINPINLEN = 0x10

# fido/err.h. libfido2 passes the key's CTAP status codes through as these...
FIDO_ERR_CREDENTIAL_EXCLUDED = 0x19
FIDO_ERR_OPERATION_DENIED = 0x27
FIDO_ERR_NO_CREDENTIALS = 0x2E
FIDO_ERR_NOT_ALLOWED = 0x30
FIDO_ERR_PIN_INVALID = 0x31
FIDO_ERR_PIN_BLOCKED = 0x32
FIDO_ERR_PIN_AUTH_BLOCKED = 0x34
FIDO_ERR_PIN_POLICY_VIOLATION = 0x37
# ...and reports its own checks as negative codes.
FIDO_ERR_INVALID_SIG = -6
FIDO_ERR_NOTFOUND = -10

_OPEN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)
_CLOSE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_READ = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t, ctypes.c_int)
_WRITE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t)


class _Io(ctypes.Structure):
    _fields_ = [("open", _OPEN), ("close", _CLOSE), ("read", _READ), ("write", _WRITE)]


_P = ctypes.c_void_p
_STRINGS = ctypes.POINTER(ctypes.c_char_p)  # char **
_BUF = ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))  # unsigned char ** (out, malloc'd)
_SIZE = ctypes.POINTER(ctypes.c_size_t)
_SIGNATURES = {
    # name: (restype, argtypes)
    "fido_init": (None, [ctypes.c_int]),
    "fido_strerr": (ctypes.c_char_p, [ctypes.c_int]),
    # the device, and what CTAPHID INIT and getInfo told libfido2 at open
    "fido_dev_new": (_P, []),
    "fido_dev_free": (None, [ctypes.POINTER(_P)]),
    "fido_dev_set_io_functions": (ctypes.c_int, [_P, ctypes.POINTER(_Io)]),
    "fido_dev_open": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "fido_dev_close": (ctypes.c_int, [_P]),
    "fido_dev_force_u2f": (None, [_P]),
    "fido_dev_is_fido2": (ctypes.c_bool, [_P]),
    "fido_dev_protocol": (ctypes.c_uint8, [_P]),
    "fido_dev_supports_cred_prot": (ctypes.c_bool, [_P]),
    "fido_dev_major": (ctypes.c_uint8, [_P]),
    "fido_dev_minor": (ctypes.c_uint8, [_P]),
    "fido_dev_build": (ctypes.c_uint8, [_P]),
    "fido_dev_flags": (ctypes.c_uint8, [_P]),
    "fido_dev_supports_pin": (ctypes.c_bool, [_P]),
    "fido_dev_has_pin": (ctypes.c_bool, [_P]),
    "fido_dev_supports_credman": (ctypes.c_bool, [_P]),
    "fido_dev_reset": (ctypes.c_int, [_P]),
    # authenticatorGetInfo
    "fido_cbor_info_new": (_P, []),
    "fido_cbor_info_free": (None, [ctypes.POINTER(_P)]),
    "fido_dev_get_cbor_info": (ctypes.c_int, [_P, _P]),
    "fido_cbor_info_versions_ptr": (_STRINGS, [_P]),
    "fido_cbor_info_versions_len": (ctypes.c_size_t, [_P]),
    "fido_cbor_info_extensions_ptr": (_STRINGS, [_P]),
    "fido_cbor_info_extensions_len": (ctypes.c_size_t, [_P]),
    "fido_cbor_info_transports_ptr": (_STRINGS, [_P]),
    "fido_cbor_info_transports_len": (ctypes.c_size_t, [_P]),
    "fido_cbor_info_aaguid_ptr": (_P, [_P]),
    "fido_cbor_info_aaguid_len": (ctypes.c_size_t, [_P]),
    "fido_cbor_info_options_name_ptr": (_STRINGS, [_P]),
    "fido_cbor_info_options_value_ptr": (ctypes.POINTER(ctypes.c_bool), [_P]),
    "fido_cbor_info_options_len": (ctypes.c_size_t, [_P]),
    "fido_cbor_info_protocols_ptr": (ctypes.POINTER(ctypes.c_uint8), [_P]),
    "fido_cbor_info_protocols_len": (ctypes.c_size_t, [_P]),
    "fido_cbor_info_algorithm_count": (ctypes.c_size_t, [_P]),
    "fido_cbor_info_algorithm_type": (ctypes.c_char_p, [_P, ctypes.c_size_t]),
    "fido_cbor_info_algorithm_cose": (ctypes.c_int, [_P, ctypes.c_size_t]),
    "fido_cbor_info_maxmsgsiz": (ctypes.c_uint64, [_P]),
    "fido_cbor_info_maxcredcntlst": (ctypes.c_uint64, [_P]),
    "fido_cbor_info_maxcredidlen": (ctypes.c_uint64, [_P]),
    "fido_cbor_info_maxlargeblob": (ctypes.c_uint64, [_P]),
    "fido_cbor_info_maxcredbloblen": (ctypes.c_uint64, [_P]),
    "fido_cbor_info_maxrpid_minpinlen": (ctypes.c_uint64, [_P]),
    "fido_cbor_info_minpinlen": (ctypes.c_uint64, [_P]),
    "fido_cbor_info_fwversion": (ctypes.c_uint64, [_P]),
    "fido_cbor_info_new_pin_required": (ctypes.c_bool, [_P]),
    "fido_cbor_info_rk_remaining": (ctypes.c_int64, [_P]),
    # authenticatorMakeCredential
    "fido_dev_make_cred": (ctypes.c_int, [_P, _P, ctypes.c_char_p]),
    "fido_cred_new": (_P, []),
    "fido_cred_free": (None, [ctypes.POINTER(_P)]),
    "fido_cred_set_type": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_cred_set_clientdata_hash": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_cred_set_rp": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    "fido_cred_set_user": (
        ctypes.c_int,
        [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p],
    ),
    "fido_cred_set_rk": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_cred_exclude": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_cred_set_extensions": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_cred_set_prot": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_cred_set_blob": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_cred_set_pin_minlen": (ctypes.c_int, [_P, ctypes.c_size_t]),
    "fido_cred_verify": (ctypes.c_int, [_P]),
    "fido_cred_verify_self": (ctypes.c_int, [_P]),
    "fido_cred_fmt": (ctypes.c_char_p, [_P]),
    "fido_cred_type": (ctypes.c_int, [_P]),
    "fido_cred_flags": (ctypes.c_uint8, [_P]),
    "fido_cred_sigcount": (ctypes.c_uint32, [_P]),
    "fido_cred_id_ptr": (_P, [_P]),
    "fido_cred_id_len": (ctypes.c_size_t, [_P]),
    "fido_cred_aaguid_ptr": (_P, [_P]),
    "fido_cred_aaguid_len": (ctypes.c_size_t, [_P]),
    "fido_cred_pubkey_ptr": (_P, [_P]),
    "fido_cred_pubkey_len": (ctypes.c_size_t, [_P]),
    "fido_cred_x5c_ptr": (_P, [_P]),
    "fido_cred_x5c_len": (ctypes.c_size_t, [_P]),
    "fido_cred_authdata_raw_ptr": (_P, [_P]),
    "fido_cred_authdata_raw_len": (ctypes.c_size_t, [_P]),
    "fido_cred_largeblob_key_ptr": (_P, [_P]),
    "fido_cred_largeblob_key_len": (ctypes.c_size_t, [_P]),
    # authenticatorGetAssertion (+ authenticatorGetNextAssertion, which libfido2 runs itself)
    "fido_dev_get_assert": (ctypes.c_int, [_P, _P, ctypes.c_char_p]),
    "fido_assert_new": (_P, []),
    "fido_assert_free": (None, [ctypes.POINTER(_P)]),
    "fido_assert_set_clientdata_hash": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_assert_set_rp": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "fido_assert_allow_cred": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_assert_set_extensions": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_assert_set_hmac_salt": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_assert_set_up": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_assert_count": (ctypes.c_size_t, [_P]),
    "fido_assert_verify": (ctypes.c_int, [_P, ctypes.c_size_t, ctypes.c_int, _P]),
    "fido_assert_sigcount": (ctypes.c_uint32, [_P, ctypes.c_size_t]),
    "fido_assert_flags": (ctypes.c_uint8, [_P, ctypes.c_size_t]),
    "fido_assert_sig_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_sig_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "fido_assert_id_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_id_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "fido_assert_user_id_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_user_id_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "fido_assert_hmac_secret_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_hmac_secret_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "fido_assert_largeblob_key_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_largeblob_key_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "fido_assert_blob_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_blob_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "es256_pk_new": (_P, []),
    "es256_pk_free": (None, [ctypes.POINTER(_P)]),
    "es256_pk_from_ptr": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "eddsa_pk_new": (_P, []),
    "eddsa_pk_free": (None, [ctypes.POINTER(_P)]),
    "eddsa_pk_from_ptr": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    # authenticatorClientPIN
    "fido_dev_set_pin": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    "fido_dev_get_retry_count": (ctypes.c_int, [_P, ctypes.POINTER(ctypes.c_int)]),
    # authenticatorCredentialManagement
    "fido_credman_metadata_new": (_P, []),
    "fido_credman_metadata_free": (None, [ctypes.POINTER(_P)]),
    "fido_credman_get_dev_metadata": (ctypes.c_int, [_P, _P, ctypes.c_char_p]),
    "fido_credman_rk_existing": (ctypes.c_uint64, [_P]),
    "fido_credman_rk_remaining": (ctypes.c_uint64, [_P]),
    "fido_credman_rp_new": (_P, []),
    "fido_credman_rp_free": (None, [ctypes.POINTER(_P)]),
    "fido_credman_get_dev_rp": (ctypes.c_int, [_P, _P, ctypes.c_char_p]),
    "fido_credman_rp_count": (ctypes.c_size_t, [_P]),
    "fido_credman_rp_id": (ctypes.c_char_p, [_P, ctypes.c_size_t]),
    "fido_credman_rk_new": (_P, []),
    "fido_credman_rk_free": (None, [ctypes.POINTER(_P)]),
    "fido_credman_get_dev_rk": (ctypes.c_int, [_P, ctypes.c_char_p, _P, ctypes.c_char_p]),
    "fido_credman_rk_count": (ctypes.c_size_t, [_P]),
    "fido_credman_rk": (_P, [_P, ctypes.c_size_t]),
    "fido_credman_del_dev_rk": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p]),
    # authenticatorConfig
    "fido_dev_toggle_always_uv": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "fido_dev_set_pin_minlen": (ctypes.c_int, [_P, ctypes.c_size_t, ctypes.c_char_p]),
    "fido_dev_set_pin_minlen_rpid": (ctypes.c_int, [_P, _STRINGS, ctypes.c_size_t, ctypes.c_char_p]),
    "fido_dev_force_pin_change": (ctypes.c_int, [_P, ctypes.c_char_p]),
    # authenticatorLargeBlobs
    "fido_dev_largeblob_set": (
        ctypes.c_int,
        [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p],
    ),
    "fido_dev_largeblob_get": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, _BUF, _SIZE]),
    "fido_dev_largeblob_remove": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p]),
    "fido_dev_largeblob_get_array": (ctypes.c_int, [_P, _BUF, _SIZE]),
}

_lib = None
_libc = ctypes.CDLL(None)  # free() for the buffers libfido2 hands over
_libc.free.argtypes = [_P]
_libc.free.restype = None


def library():
    """The loaded libfido2 with typed functions (loaded and initialised once)."""
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL(LIBRARY)
        except OSError as e:
            pytest.fail("%s is missing (%s): install Debian libfido2-1 (`make sysdeps`)" % (LIBRARY, e))
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        lib.fido_init(0)
        _lib = lib
    return _lib


class Libfido2Error(Exception):
    def __init__(self, what, code):
        super().__init__("%s: %s (%d)" % (what, library().fido_strerr(code).decode(), code))
        self.code = code


def _check(what, code):
    if code != FIDO_OK:
        raise Libfido2Error(what, code)


def _bytes(ptr, n):
    return ctypes.string_at(ptr, n) if n else b""


def _strings(ptr, n):
    return [ptr[i].decode() for i in range(n)]


def _take(buf, n):
    """The bytes of a buffer libfido2 allocated for us, then free it."""
    data = ctypes.string_at(buf, n.value) if n.value else b""
    _libc.free(buf)
    return data


class CborInfo:
    """authenticatorGetInfo as libfido2 parsed it (fido_cbor_info_t), as plain values."""

    def __init__(self, lib, ci):
        self.versions = _strings(lib.fido_cbor_info_versions_ptr(ci), lib.fido_cbor_info_versions_len(ci))
        self.extensions = _strings(lib.fido_cbor_info_extensions_ptr(ci), lib.fido_cbor_info_extensions_len(ci))
        self.transports = _strings(lib.fido_cbor_info_transports_ptr(ci), lib.fido_cbor_info_transports_len(ci))
        self.aaguid = _bytes(lib.fido_cbor_info_aaguid_ptr(ci), lib.fido_cbor_info_aaguid_len(ci))
        names, values = lib.fido_cbor_info_options_name_ptr(ci), lib.fido_cbor_info_options_value_ptr(ci)
        self.options = {names[i].decode(): bool(values[i]) for i in range(lib.fido_cbor_info_options_len(ci))}
        protocols = lib.fido_cbor_info_protocols_ptr(ci)
        self.pin_protocols = [protocols[i] for i in range(lib.fido_cbor_info_protocols_len(ci))]
        self.algorithms = [
            (lib.fido_cbor_info_algorithm_type(ci, i).decode(), lib.fido_cbor_info_algorithm_cose(ci, i))
            for i in range(lib.fido_cbor_info_algorithm_count(ci))
        ]
        self.max_msg_size = lib.fido_cbor_info_maxmsgsiz(ci)
        self.max_cred_count_in_list = lib.fido_cbor_info_maxcredcntlst(ci)
        self.max_cred_id_length = lib.fido_cbor_info_maxcredidlen(ci)
        self.max_large_blob = lib.fido_cbor_info_maxlargeblob(ci)
        self.max_cred_blob_length = lib.fido_cbor_info_maxcredbloblen(ci)
        self.max_rpids_for_min_pin = lib.fido_cbor_info_maxrpid_minpinlen(ci)
        self.min_pin_length = lib.fido_cbor_info_minpinlen(ci)
        self.firmware_version = lib.fido_cbor_info_fwversion(ci)
        self.force_pin_change = bool(lib.fido_cbor_info_new_pin_required(ci))
        self.rk_remaining = lib.fido_cbor_info_rk_remaining(ci)  # -1: not reported


class Credential:
    def __init__(self, lib, cred):
        self.fmt = lib.fido_cred_fmt(cred).decode()
        self.id = _bytes(lib.fido_cred_id_ptr(cred), lib.fido_cred_id_len(cred))
        self.type = lib.fido_cred_type(cred)  # the COSE algorithm libfido2 read from the attested key
        # ES256: X || Y (64 bytes); EdDSA: the Ed25519 public key (32 bytes)
        self.public_key = _bytes(lib.fido_cred_pubkey_ptr(cred), lib.fido_cred_pubkey_len(cred))
        self.aaguid = _bytes(lib.fido_cred_aaguid_ptr(cred), lib.fido_cred_aaguid_len(cred))
        self.x5c = _bytes(lib.fido_cred_x5c_ptr(cred), lib.fido_cred_x5c_len(cred))
        self.flags = lib.fido_cred_flags(cred)  # authenticator data flags (UP 0x01, UV 0x04, AT 0x40)
        self.sign_count = lib.fido_cred_sigcount(cred)
        self.auth_data = _bytes(lib.fido_cred_authdata_raw_ptr(cred), lib.fido_cred_authdata_raw_len(cred))
        self.large_blob_key = _bytes(lib.fido_cred_largeblob_key_ptr(cred), lib.fido_cred_largeblob_key_len(cred))
        # The attestation signature over authData || clientDataHash: fido_cred_verify
        # with an x5c, fido_cred_verify_self (signed by the credential key) without.
        # Both also check that authData carries exactly the extensions requested.
        self.verified = lib.fido_cred_verify(cred) if self.x5c else lib.fido_cred_verify_self(cred)


class Assertion:
    def __init__(self, lib, assertion, i, public_key):
        self.id = _bytes(lib.fido_assert_id_ptr(assertion, i), lib.fido_assert_id_len(assertion, i))
        self.user_id = _bytes(lib.fido_assert_user_id_ptr(assertion, i), lib.fido_assert_user_id_len(assertion, i))
        self.sign_count = lib.fido_assert_sigcount(assertion, i)
        self.flags = lib.fido_assert_flags(assertion, i)
        self.signature = _bytes(lib.fido_assert_sig_ptr(assertion, i), lib.fido_assert_sig_len(assertion, i))
        self.hmac_secret = _bytes(
            lib.fido_assert_hmac_secret_ptr(assertion, i), lib.fido_assert_hmac_secret_len(assertion, i)
        )
        self.large_blob_key = _bytes(
            lib.fido_assert_largeblob_key_ptr(assertion, i), lib.fido_assert_largeblob_key_len(assertion, i)
        )
        self.blob = _bytes(lib.fido_assert_blob_ptr(assertion, i), lib.fido_assert_blob_len(assertion, i))
        self.verified = None  # fido_assert_verify() result; None: no public key to check it with
        if public_key is not None:
            # the key's length says its type: X || Y for ES256, 32 bytes for EdDSA
            kind = "eddsa" if len(public_key) == 32 else "es256"
            new, free, from_ptr = (getattr(lib, kind + "_pk_" + f) for f in ("new", "free", "from_ptr"))
            pk = _P(new())
            try:
                _check(kind + "_pk_from_ptr", from_ptr(pk, public_key, len(public_key)))
                self.verified = lib.fido_assert_verify(assertion, i, COSE_EDDSA if kind == "eddsa" else COSE_ES256, pk)
            finally:
                free(ctypes.byref(pk))


class Libfido2Device:
    """One libfido2 fido_dev_t talking CTAPHID to the virtual key's socket."""

    def __init__(self, address, force_u2f=False, timeout=30):
        self._lib = lib = library()
        self._address = address
        self._timeout = timeout
        self._sock = None
        # ctypes callbacks must outlive the device: keep them on self.
        self._io = _Io(_OPEN(self._open), _CLOSE(self._close), _READ(self._read), _WRITE(self._write))
        self._dev = _P(lib.fido_dev_new())
        _check("fido_dev_set_io_functions", lib.fido_dev_set_io_functions(self._dev, ctypes.byref(self._io)))
        _check("fido_dev_open", lib.fido_dev_open(self._dev, b"virtual-key"))
        if force_u2f:
            lib.fido_dev_force_u2f(self._dev)

    def close(self):
        if self._dev:
            self._lib.fido_dev_close(self._dev)
            self._lib.fido_dev_free(ctypes.byref(self._dev))
            self._dev = _P()

    # -- what libfido2 learned when it opened the device (CTAPHID INIT, getInfo) --

    @property
    def is_fido2(self):
        return bool(self._lib.fido_dev_is_fido2(self._dev))

    @property
    def ctaphid_protocol(self):
        return self._lib.fido_dev_protocol(self._dev)

    @property
    def ctaphid_version(self):
        """(major, minor, build) from the CTAPHID INIT response."""
        lib = self._lib
        return lib.fido_dev_major(self._dev), lib.fido_dev_minor(self._dev), lib.fido_dev_build(self._dev)

    @property
    def ctaphid_capabilities(self):
        return self._lib.fido_dev_flags(self._dev)

    @property
    def supports_pin(self):
        return bool(self._lib.fido_dev_supports_pin(self._dev))

    @property
    def has_pin(self):
        return bool(self._lib.fido_dev_has_pin(self._dev))

    @property
    def supports_cred_prot(self):
        return bool(self._lib.fido_dev_supports_cred_prot(self._dev))

    @property
    def supports_credman(self):
        return bool(self._lib.fido_dev_supports_credman(self._dev))

    # -- the io callbacks (exceptions must not cross into C) ----------------------

    def _open(self, path):
        try:
            family, addr = parse_address(self._address)
            self._sock = socket.socket(family, socket.SOCK_STREAM)
            self._sock.connect(addr)
            return 1  # any non-NULL handle
        except OSError:
            return None

    def _close(self, handle):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _read(self, handle, buf, n, ms):
        try:
            self._sock.settimeout(self._timeout if ms < 0 else max(ms, 1) / 1000)
            data = b""
            while len(data) < REPORT_SIZE:
                chunk = self._sock.recv(REPORT_SIZE - len(data))
                if not chunk:
                    return -1
                data += chunk
            n = min(n, REPORT_SIZE)
            ctypes.memmove(buf, data, n)
            return n
        except OSError:
            return -1

    def _write(self, handle, buf, n):
        try:
            data = ctypes.string_at(buf, n)
            assert n == REPORT_SIZE + 1 and data[0] == 0  # report id 0, then the report
            self._sock.sendall(data[1:])
            return n
        except (OSError, AssertionError):
            return -1

    # -- getInfo, makeCredential, getAssertion, reset ---------------------------------

    def cbor_info(self):
        """authenticatorGetInfo through fido_dev_get_cbor_info: a CborInfo."""
        lib = self._lib
        ci = _P(lib.fido_cbor_info_new())
        try:
            _check("fido_dev_get_cbor_info", lib.fido_dev_get_cbor_info(self._dev, ci))
            return CborInfo(lib, ci)
        finally:
            lib.fido_cbor_info_free(ctypes.byref(ci))

    def make_credential(
        self,
        rp_id,
        client_data_hash,
        user_id,
        pin=None,
        rk=False,
        exclude=(),
        extensions=0,
        cred_protect=0,
        cred_blob=None,
        min_pin_length=0,
        cose_alg=COSE_ES256,
        user_name="user",
        display_name=None,
    ):
        """A credential of type cose_alg (ES256 or EdDSA, fido_cred_set_type):
        a Credential whose attestation libfido2 verified.

        pin: libfido2 gets a pinUvAuthToken with it; rk: discoverable;
        exclude: credential IDs for the exclude list; extensions: FIDO_EXT_*
        flags; cred_protect, cred_blob and min_pin_length set the extension
        and its input.
        """
        lib = self._lib
        cred = _P(lib.fido_cred_new())
        try:
            _check("set_type", lib.fido_cred_set_type(cred, cose_alg))
            _check("set_cdh", lib.fido_cred_set_clientdata_hash(cred, client_data_hash, len(client_data_hash)))
            _check("set_rp", lib.fido_cred_set_rp(cred, rp_id.encode(), None))
            _check(
                "set_user",
                lib.fido_cred_set_user(
                    cred, user_id, len(user_id), user_name.encode(),
                    display_name.encode() if display_name is not None else None, None,
                ),
            )
            if rk:
                _check("set_rk", lib.fido_cred_set_rk(cred, FIDO_OPT_TRUE))
            for credential_id in exclude:
                _check("exclude", lib.fido_cred_exclude(cred, credential_id, len(credential_id)))
            if cred_protect:
                _check("set_prot", lib.fido_cred_set_prot(cred, cred_protect))  # + FIDO_EXT_CRED_PROTECT
            if cred_blob is not None:
                _check("set_blob", lib.fido_cred_set_blob(cred, cred_blob, len(cred_blob)))  # + FIDO_EXT_CRED_BLOB
            if min_pin_length:
                _check("set_pin_minlen", lib.fido_cred_set_pin_minlen(cred, min_pin_length))  # + FIDO_EXT_MINPINLEN
            if extensions:
                _check("set_extensions", lib.fido_cred_set_extensions(cred, extensions))
            _check("fido_dev_make_cred", lib.fido_dev_make_cred(self._dev, cred, _pin(pin)))
            return Credential(lib, cred)
        finally:
            lib.fido_cred_free(ctypes.byref(cred))

    def get_assertions(
        self, rp_id, client_data_hash, allow=(), public_keys=None, pin=None, extensions=0, hmac_salt=None, up=None
    ):
        """getAssertion and every getNextAssertion the key announces: a list of Assertion.

        Each is checked with fido_assert_verify against public_keys[its
        credential ID] (X || Y, or an EdDSA key); one whose ID is not there
        has verified None. up: fido_assert_set_up (None: left as libfido2's
        default, which omits the option).
        """
        keys = public_keys or {}
        return self._get_assert(rp_id, client_data_hash, allow, keys.get, pin, extensions, hmac_salt, up)

    def get_assertion(
        self, rp_id, client_data_hash, allow, public_key, pin=None, extensions=0, hmac_salt=None, up=None
    ):
        """Exactly one assertion, checked with fido_assert_verify against `public_key` (X || Y, or EdDSA's 32 bytes)."""
        found = self._get_assert(
            rp_id, client_data_hash, allow, lambda _id: public_key, pin, extensions, hmac_salt, up
        )
        assert len(found) == 1, "%d assertions, expected one" % len(found)
        return found[0]

    def _get_assert(self, rp_id, client_data_hash, allow, key_for, pin, extensions, hmac_salt, up=None):
        lib = self._lib
        assertion = _P(lib.fido_assert_new())
        try:
            _check("set_cdh", lib.fido_assert_set_clientdata_hash(assertion, client_data_hash, len(client_data_hash)))
            _check("set_rp", lib.fido_assert_set_rp(assertion, rp_id.encode()))
            for credential_id in allow:
                _check("allow_cred", lib.fido_assert_allow_cred(assertion, credential_id, len(credential_id)))
            if extensions:
                _check("set_extensions", lib.fido_assert_set_extensions(assertion, extensions))
            if hmac_salt is not None:
                _check("set_hmac_salt", lib.fido_assert_set_hmac_salt(assertion, hmac_salt, len(hmac_salt)))
            if up is not None:
                _check("set_up", lib.fido_assert_set_up(assertion, FIDO_OPT_TRUE if up else FIDO_OPT_FALSE))
            _check("fido_dev_get_assert", lib.fido_dev_get_assert(self._dev, assertion, _pin(pin)))
            out = []
            for i in range(lib.fido_assert_count(assertion)):
                credential_id = _bytes(lib.fido_assert_id_ptr(assertion, i), lib.fido_assert_id_len(assertion, i))
                out.append(Assertion(lib, assertion, i, key_for(credential_id)))
            return out
        finally:
            lib.fido_assert_free(ctypes.byref(assertion))

    def reset(self):
        """authenticatorReset (the key allows it only within 10 s of power-up)."""
        _check("fido_dev_reset", self._lib.fido_dev_reset(self._dev))

    # -- PIN, credential management, authenticatorConfig ----------------------------

    def set_pin(self, pin, old_pin=None):
        """setPIN, or changePIN when old_pin is given."""
        _check("fido_dev_set_pin", self._lib.fido_dev_set_pin(self._dev, _pin(pin), _pin(old_pin)))

    def retry_count(self):
        n = ctypes.c_int(-1)
        _check("fido_dev_get_retry_count", self._lib.fido_dev_get_retry_count(self._dev, ctypes.byref(n)))
        return n.value

    def credman_metadata(self, pin):
        """(existing, remaining) discoverable credentials."""
        lib = self._lib
        meta = _P(lib.fido_credman_metadata_new())
        try:
            _check("fido_credman_get_dev_metadata", lib.fido_credman_get_dev_metadata(self._dev, meta, _pin(pin)))
            return lib.fido_credman_rk_existing(meta), lib.fido_credman_rk_remaining(meta)
        finally:
            lib.fido_credman_metadata_free(ctypes.byref(meta))

    def credman_rp_ids(self, pin):
        lib = self._lib
        rp = _P(lib.fido_credman_rp_new())
        try:
            _check("fido_credman_get_dev_rp", lib.fido_credman_get_dev_rp(self._dev, rp, _pin(pin)))
            return [lib.fido_credman_rp_id(rp, i).decode() for i in range(lib.fido_credman_rp_count(rp))]
        finally:
            lib.fido_credman_rp_free(ctypes.byref(rp))

    def credman_credential_ids(self, rp_id, pin):
        return [c[0] for c in self.credman_credentials(rp_id, pin)]

    def credman_credentials(self, rp_id, pin):
        """The RP's discoverable credentials as libfido2 lists them (fido_credman_get_dev_rk):
        [(credential ID, COSE type, public key), ...] -- what ssh-keygen -K reads."""
        lib = self._lib
        rk = _P(lib.fido_credman_rk_new())
        try:
            _check("fido_credman_get_dev_rk", lib.fido_credman_get_dev_rk(self._dev, rp_id.encode(), rk, _pin(pin)))
            out = []
            for i in range(lib.fido_credman_rk_count(rk)):
                cred = lib.fido_credman_rk(rk, i)
                out.append((
                    _bytes(lib.fido_cred_id_ptr(cred), lib.fido_cred_id_len(cred)),
                    lib.fido_cred_type(cred),
                    _bytes(lib.fido_cred_pubkey_ptr(cred), lib.fido_cred_pubkey_len(cred)),
                ))
            return out
        finally:
            lib.fido_credman_rk_free(ctypes.byref(rk))

    def credman_delete(self, credential_id, pin):
        _check(
            "fido_credman_del_dev_rk",
            self._lib.fido_credman_del_dev_rk(self._dev, credential_id, len(credential_id), _pin(pin)),
        )

    def toggle_always_uv(self, pin=None):
        _check("fido_dev_toggle_always_uv", self._lib.fido_dev_toggle_always_uv(self._dev, _pin(pin)))

    def set_pin_minlen(self, length, pin=None):
        _check("fido_dev_set_pin_minlen", self._lib.fido_dev_set_pin_minlen(self._dev, length, _pin(pin)))

    def set_pin_minlen_rp_ids(self, rp_ids, pin=None):
        """setMinPINLength with minPinLengthRPIDs: the RPs the minPinLength extension may tell."""
        names = (ctypes.c_char_p * len(rp_ids))(*[rp_id.encode() for rp_id in rp_ids])
        _check(
            "fido_dev_set_pin_minlen_rpid",
            self._lib.fido_dev_set_pin_minlen_rpid(self._dev, names, len(rp_ids), _pin(pin)),
        )

    # -- large blobs (libfido2 builds the array: compression, AES-GCM per entry) -----

    def largeblob_set(self, key, blob, pin=None):
        _check(
            "fido_dev_largeblob_set",
            self._lib.fido_dev_largeblob_set(self._dev, key, len(key), blob, len(blob), _pin(pin)),
        )

    def largeblob_get(self, key):
        buf, n = ctypes.POINTER(ctypes.c_ubyte)(), ctypes.c_size_t()
        _check(
            "fido_dev_largeblob_get",
            self._lib.fido_dev_largeblob_get(self._dev, key, len(key), ctypes.byref(buf), ctypes.byref(n)),
        )
        return _take(buf, n)

    def largeblob_remove(self, key, pin=None):
        _check("fido_dev_largeblob_remove", self._lib.fido_dev_largeblob_remove(self._dev, key, len(key), _pin(pin)))

    def largeblob_array(self):
        """The serialized large-blob array (CBOR) as libfido2 read it from the key."""
        buf, n = ctypes.POINTER(ctypes.c_ubyte)(), ctypes.c_size_t()
        _check(
            "fido_dev_largeblob_get_array",
            self._lib.fido_dev_largeblob_get_array(self._dev, ctypes.byref(buf), ctypes.byref(n)),
        )
        return _take(buf, n)


def _pin(pin):
    return None if pin is None else pin.encode()


@pytest.fixture
def dev(virtual_key):
    """A libfido2 device on the test's virtual key, closed afterwards.

    Test modules use it with `from libfido2 import dev`.
    """
    d = Libfido2Device(virtual_key.address)
    try:
        yield d
    finally:
        d.close()
