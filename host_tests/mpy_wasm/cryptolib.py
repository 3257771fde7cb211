"""Test-only stand-in for MicroPython's `cryptolib`, for the wasm build (which lacks it).

Copied only into the WebAssembly MicroPython's filesystem by host_tests/mpy.py,
never onto a board (boards have the built-in module). Semantics follow
extmod/modcryptolib.c: aes(key, mode[, IV]) with mode 1 = ECB, 2 = CBC (no
MODE_* names, as on most boards); 16- or 32-byte keys; encrypt/decrypt take
a multiple of 16 bytes and an optional out_buf (filled and returned); the
CBC chain carries over between calls on one object; one object encrypts or
decrypts, never both. The AES itself is Node's crypto
(tools/mpy_wasm_services.mjs).
"""

import testcrypto

_MODE_ECB = 1
_MODE_CBC = 2


class aes:
    def __init__(self, key, mode, IV=None):
        if not isinstance(key, (bytes, bytearray, memoryview)):
            raise TypeError("key must be bytes")
        key = bytes(key)
        if len(key) not in (16, 32):
            raise ValueError("key")
        if mode == _MODE_CBC:
            if IV is None or len(IV) != 16:
                raise ValueError("IV")
            self._iv = bytes(IV)
        elif mode == _MODE_ECB:
            self._iv = None
        else:
            raise ValueError("mode")
        self._key = key
        self._mode = mode
        self._direction = None

    def _run(self, encrypt, in_buf, out_buf):
        # Same checks, messages and order as extmod/modcryptolib.c.
        data = bytes(in_buf)
        if len(data) % 16:
            raise ValueError("blksize % 16")
        if out_buf is not None and len(out_buf) < len(data):
            raise ValueError("output too small")
        if self._direction is None:
            self._direction = encrypt
        elif self._direction != encrypt:
            raise ValueError("can't encrypt & decrypt")
        if self._mode == _MODE_CBC:
            fn = testcrypto.aes_cbc_encrypt if encrypt else testcrypto.aes_cbc_decrypt
            r = fn(self._key, self._iv, data)
        else:
            fn = testcrypto.aes_ecb_encrypt if encrypt else testcrypto.aes_ecb_decrypt
            r = fn(self._key, data)
        if isinstance(r, str):
            raise ValueError(r)
        r = bytes(r)
        if self._mode == _MODE_CBC and data:
            self._iv = (r if encrypt else data)[-16:]
        if out_buf is None:
            return r
        out_buf[:len(r)] = r
        return out_buf

    def encrypt(self, in_buf, out_buf=None):
        return self._run(True, in_buf, out_buf)

    def decrypt(self, in_buf, out_buf=None):
        return self._run(False, in_buf, out_buf)
