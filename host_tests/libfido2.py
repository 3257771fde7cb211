"""libfido2 (Yubico's C client library, Debian libfido2-1) driving the virtual key via ctypes.

libfido2 is the second real client: an independent CTAPHID, CTAP1 and CTAP2
implementation in C. fido_dev_set_io_functions() gives it our socket instead
of a hidraw node: its write callback gets 65 bytes (report id 0, then the
report), its read callback fills 64.

    dev = Libfido2Device(virtual_key.address, force_u2f=True)
    cred = dev.make_credential("example.com", client_data_hash, b"user")
    assertion = dev.get_assertion("example.com", client_data_hash, [cred.id])

A missing library is a test failure (install it with `make sysdeps`), never
a skip.
"""

import ctypes
import socket

import pytest

from boards.host.transport import REPORT_SIZE, parse_address

LIBRARY = "libfido2.so.1"  # Debian libfido2-1
FIDO_OK = 0
COSE_ES256 = -7

_OPEN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)
_CLOSE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_READ = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t, ctypes.c_int)
_WRITE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t)


class _Io(ctypes.Structure):
    _fields_ = [("open", _OPEN), ("close", _CLOSE), ("read", _READ), ("write", _WRITE)]


_P = ctypes.c_void_p
_SIGNATURES = {
    # name: (restype, argtypes)
    "fido_init": (None, [ctypes.c_int]),
    "fido_strerr": (ctypes.c_char_p, [ctypes.c_int]),
    "fido_dev_new": (_P, []),
    "fido_dev_free": (None, [ctypes.POINTER(_P)]),
    "fido_dev_set_io_functions": (ctypes.c_int, [_P, ctypes.POINTER(_Io)]),
    "fido_dev_open": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "fido_dev_close": (ctypes.c_int, [_P]),
    "fido_dev_force_u2f": (None, [_P]),
    "fido_dev_is_fido2": (ctypes.c_bool, [_P]),
    "fido_dev_make_cred": (ctypes.c_int, [_P, _P, ctypes.c_char_p]),
    "fido_dev_get_assert": (ctypes.c_int, [_P, _P, ctypes.c_char_p]),
    "fido_cred_new": (_P, []),
    "fido_cred_free": (None, [ctypes.POINTER(_P)]),
    "fido_cred_set_type": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_cred_set_clientdata_hash": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_cred_set_rp": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    "fido_cred_set_user": (
        ctypes.c_int,
        [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p],
    ),
    "fido_cred_verify": (ctypes.c_int, [_P]),
    "fido_cred_verify_self": (ctypes.c_int, [_P]),
    "fido_cred_fmt": (ctypes.c_char_p, [_P]),
    "fido_cred_id_ptr": (_P, [_P]),
    "fido_cred_id_len": (ctypes.c_size_t, [_P]),
    "fido_cred_pubkey_ptr": (_P, [_P]),
    "fido_cred_pubkey_len": (ctypes.c_size_t, [_P]),
    "fido_cred_x5c_ptr": (_P, [_P]),
    "fido_cred_x5c_len": (ctypes.c_size_t, [_P]),
    "fido_assert_new": (_P, []),
    "fido_assert_free": (None, [ctypes.POINTER(_P)]),
    "fido_assert_set_clientdata_hash": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_assert_set_rp": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "fido_assert_allow_cred": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "fido_assert_count": (ctypes.c_size_t, [_P]),
    "fido_assert_verify": (ctypes.c_int, [_P, ctypes.c_size_t, ctypes.c_int, _P]),
    "fido_assert_sigcount": (ctypes.c_uint32, [_P, ctypes.c_size_t]),
    "fido_assert_flags": (ctypes.c_uint8, [_P, ctypes.c_size_t]),
    "fido_assert_id_ptr": (_P, [_P, ctypes.c_size_t]),
    "fido_assert_id_len": (ctypes.c_size_t, [_P, ctypes.c_size_t]),
    "es256_pk_new": (_P, []),
    "es256_pk_free": (None, [ctypes.POINTER(_P)]),
    "es256_pk_from_ptr": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    # PIN, user verification, credential management, authenticatorConfig
    "fido_dev_set_pin": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    "fido_dev_get_retry_count": (ctypes.c_int, [_P, ctypes.POINTER(ctypes.c_int)]),
    "fido_cred_set_rk": (ctypes.c_int, [_P, ctypes.c_int]),
    "fido_cred_flags": (ctypes.c_uint8, [_P]),
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
    "fido_dev_toggle_always_uv": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "fido_dev_set_pin_minlen": (ctypes.c_int, [_P, ctypes.c_size_t, ctypes.c_char_p]),
    "fido_dev_force_pin_change": (ctypes.c_int, [_P, ctypes.c_char_p]),
}

FIDO_OPT_TRUE = 2  # fido_opt_t

_lib = None


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


class Credential:
    def __init__(self, fmt, credential_id, public_key, x5c, verified, flags=0):
        self.fmt = fmt
        self.id = credential_id
        self.public_key = public_key  # libfido2's ES256 form: X || Y
        self.x5c = x5c
        self.verified = verified  # fido_cred_verify() (fido_cred_verify_self() without x5c)
        self.flags = flags  # authenticator data flags (UP 0x01, UV 0x04)


class Assertion:
    def __init__(self, credential_id, sign_count, flags, verified):
        self.id = credential_id
        self.sign_count = sign_count
        self.flags = flags
        self.verified = verified  # fido_assert_verify() result


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

    @property
    def is_fido2(self):
        return bool(self._lib.fido_dev_is_fido2(self._dev))

    def close(self):
        if self._dev:
            self._lib.fido_dev_close(self._dev)
            self._lib.fido_dev_free(ctypes.byref(self._dev))
            self._dev = _P()

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

    # -- operations ----------------------------------------------------------------

    def make_credential(self, rp_id, client_data_hash, user_id, pin=None, rk=False):
        """pin: libfido2 gets a pinUvAuthToken with it; rk: a discoverable credential."""
        lib = self._lib
        cred = _P(lib.fido_cred_new())
        try:
            _check("set_type", lib.fido_cred_set_type(cred, COSE_ES256))
            _check("set_cdh", lib.fido_cred_set_clientdata_hash(cred, client_data_hash, len(client_data_hash)))
            _check("set_rp", lib.fido_cred_set_rp(cred, rp_id.encode(), None))
            _check("set_user", lib.fido_cred_set_user(cred, user_id, len(user_id), b"user", None, None))
            if rk:
                _check("set_rk", lib.fido_cred_set_rk(cred, FIDO_OPT_TRUE))
            _check("fido_dev_make_cred", lib.fido_dev_make_cred(self._dev, cred, _pin(pin)))
            x5c = _bytes(lib.fido_cred_x5c_ptr(cred), lib.fido_cred_x5c_len(cred))
            return Credential(
                lib.fido_cred_fmt(cred).decode(),
                _bytes(lib.fido_cred_id_ptr(cred), lib.fido_cred_id_len(cred)),
                _bytes(lib.fido_cred_pubkey_ptr(cred), lib.fido_cred_pubkey_len(cred)),
                x5c,
                lib.fido_cred_verify(cred) if x5c else lib.fido_cred_verify_self(cred),
                lib.fido_cred_flags(cred),
            )
        finally:
            lib.fido_cred_free(ctypes.byref(cred))

    def get_assertion(self, rp_id, client_data_hash, allow, public_key, pin=None):
        """One assertion for a credential of `allow`, verified with `public_key` (X || Y)."""
        lib = self._lib
        assertion = _P(lib.fido_assert_new())
        pk = _P(lib.es256_pk_new())
        try:
            _check("set_cdh", lib.fido_assert_set_clientdata_hash(assertion, client_data_hash, len(client_data_hash)))
            _check("set_rp", lib.fido_assert_set_rp(assertion, rp_id.encode()))
            for credential_id in allow:
                _check("allow_cred", lib.fido_assert_allow_cred(assertion, credential_id, len(credential_id)))
            _check("fido_dev_get_assert", lib.fido_dev_get_assert(self._dev, assertion, _pin(pin)))
            assert lib.fido_assert_count(assertion) == 1
            _check("es256_pk_from_ptr", lib.es256_pk_from_ptr(pk, public_key, len(public_key)))
            return Assertion(
                _bytes(lib.fido_assert_id_ptr(assertion, 0), lib.fido_assert_id_len(assertion, 0)),
                lib.fido_assert_sigcount(assertion, 0),
                lib.fido_assert_flags(assertion, 0),
                lib.fido_assert_verify(assertion, 0, COSE_ES256, pk),
            )
        finally:
            lib.es256_pk_free(ctypes.byref(pk))
            lib.fido_assert_free(ctypes.byref(assertion))

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
        lib = self._lib
        rk = _P(lib.fido_credman_rk_new())
        try:
            _check("fido_credman_get_dev_rk", lib.fido_credman_get_dev_rk(self._dev, rp_id.encode(), rk, _pin(pin)))
            out = []
            for i in range(lib.fido_credman_rk_count(rk)):
                cred = lib.fido_credman_rk(rk, i)
                out.append(_bytes(lib.fido_cred_id_ptr(cred), lib.fido_cred_id_len(cred)))
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
