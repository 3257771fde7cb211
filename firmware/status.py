"""CTAP 2.1 §8.2 status codes, and the one exception that carries them.

Handlers raise CtapError(code) anywhere; firmware/authenticator.py is the only
place that turns it into the status byte of a response.
"""

from micropython import const

# CTAP 2.1 §8.2 Status codes (names as in the spec; hex as in python-fido2's
# CtapError.ERR). Gaps are codes the spec dropped.
CTAP2_OK = const(0x00)
CTAP1_ERR_INVALID_COMMAND = const(0x01)
CTAP1_ERR_INVALID_PARAMETER = const(0x02)
CTAP1_ERR_INVALID_LENGTH = const(0x03)
CTAP1_ERR_INVALID_SEQ = const(0x04)
CTAP1_ERR_TIMEOUT = const(0x05)
CTAP1_ERR_CHANNEL_BUSY = const(0x06)
CTAP1_ERR_LOCK_REQUIRED = const(0x0A)
CTAP1_ERR_INVALID_CHANNEL = const(0x0B)
CTAP2_ERR_CBOR_UNEXPECTED_TYPE = const(0x11)
CTAP2_ERR_INVALID_CBOR = const(0x12)
CTAP2_ERR_MISSING_PARAMETER = const(0x14)
CTAP2_ERR_LIMIT_EXCEEDED = const(0x15)
# 0x16 CTAP2_ERR_UNSUPPORTED_EXTENSION: no longer in spec
CTAP2_ERR_FP_DATABASE_FULL = const(0x17)
CTAP2_ERR_LARGE_BLOB_STORAGE_FULL = const(0x18)
CTAP2_ERR_CREDENTIAL_EXCLUDED = const(0x19)
CTAP2_ERR_PROCESSING = const(0x21)
CTAP2_ERR_INVALID_CREDENTIAL = const(0x22)
CTAP2_ERR_USER_ACTION_PENDING = const(0x23)
CTAP2_ERR_OPERATION_PENDING = const(0x24)
CTAP2_ERR_NO_OPERATIONS = const(0x25)
CTAP2_ERR_UNSUPPORTED_ALGORITHM = const(0x26)
CTAP2_ERR_OPERATION_DENIED = const(0x27)
CTAP2_ERR_KEY_STORE_FULL = const(0x28)
# 0x29 CTAP2_ERR_NOT_BUSY, 0x2A CTAP2_ERR_NO_OPERATION_PENDING: no longer in spec
CTAP2_ERR_UNSUPPORTED_OPTION = const(0x2B)
CTAP2_ERR_INVALID_OPTION = const(0x2C)
CTAP2_ERR_KEEPALIVE_CANCEL = const(0x2D)
CTAP2_ERR_NO_CREDENTIALS = const(0x2E)
CTAP2_ERR_USER_ACTION_TIMEOUT = const(0x2F)
CTAP2_ERR_NOT_ALLOWED = const(0x30)
CTAP2_ERR_PIN_INVALID = const(0x31)
CTAP2_ERR_PIN_BLOCKED = const(0x32)
CTAP2_ERR_PIN_AUTH_INVALID = const(0x33)
CTAP2_ERR_PIN_AUTH_BLOCKED = const(0x34)
CTAP2_ERR_PIN_NOT_SET = const(0x35)
CTAP2_ERR_PUAT_REQUIRED = const(0x36)
CTAP2_ERR_PIN_POLICY_VIOLATION = const(0x37)
# 0x38 CTAP2_ERR_PIN_TOKEN_EXPIRED: reserved for future use
CTAP2_ERR_REQUEST_TOO_LARGE = const(0x39)
CTAP2_ERR_ACTION_TIMEOUT = const(0x3A)
CTAP2_ERR_UP_REQUIRED = const(0x3B)
CTAP2_ERR_UV_BLOCKED = const(0x3C)
CTAP2_ERR_INTEGRITY_FAILURE = const(0x3D)
CTAP2_ERR_INVALID_SUBCOMMAND = const(0x3E)
CTAP2_ERR_UV_INVALID = const(0x3F)
CTAP2_ERR_UNAUTHORIZED_PERMISSION = const(0x40)
CTAP1_ERR_OTHER = const(0x7F)


class CtapError(Exception):
    """A CTAP status code raised by a handler; .code is the status byte."""

    def __init__(self, code):
        # super(): MicroPython has no Exception.__init__ to call directly.
        super().__init__(code)
        self.code = code
