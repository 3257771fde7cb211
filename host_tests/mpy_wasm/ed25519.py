"""Test-only stand-in for the `ed25519` C module (lib/ed25519/), for MicroPython on wasm.

Copied only into the WebAssembly MicroPython's filesystem by host_tests/mpy.py,
never onto a board. Same API as the C module; the arithmetic runs in Node's
crypto (tools/mpy_wasm_services.mjs), which is OpenSSL's Ed25519, the one
host_tests/test_ed25519.py checks lib/ed25519 against.

Errors as the C module's: TypeError for a non-bytes-like argument, ValueError
for a wrong length; verify() returns False for a signature that does not
verify, S >= L and a public key that does not decode included.
"""

import testcrypto


def _bytes(x, what, *lengths):
    if not isinstance(x, (bytes, bytearray, memoryview)):
        raise TypeError(what + " must be bytes")
    x = bytes(x)
    if lengths and len(x) not in lengths:
        raise ValueError("%s must be %d bytes" % (what, lengths[0]))
    return x


def _result(r):
    # The JS side returns an error message as a str instead of throwing.
    if isinstance(r, str):
        raise ValueError(r)
    if r is True or r is False:
        return r
    return bytes(r)


def public_key(seed):
    return _result(testcrypto.ed25519_public_key(_bytes(seed, "seed", 32)))


def sign(seed, message):
    return _result(testcrypto.ed25519_sign(_bytes(seed, "seed", 32), _bytes(message, "message")))


def verify(public_key, message, signature):
    return _result(testcrypto.ed25519_verify(
        _bytes(public_key, "public key", 32), _bytes(message, "message"), _bytes(signature, "signature", 64)))
