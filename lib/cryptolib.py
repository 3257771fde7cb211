"""CPython shim for MicroPython's `cryptolib` (AES), over `cryptography`.

Host board and tests only: a board has the built-in module and never gets
this file (tools/provision.py and the MicroPython test harness leave it out).
Semantics follow MicroPython: aes(key, mode, iv) with mode 1 = ECB, 2 = CBC;
one object encrypts or decrypts (not both); data must be whole 16-byte blocks.
"""

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MODE_ECB = 1
MODE_CBC = 2


class aes:
    def __init__(self, key, mode, iv=None):
        if len(key) not in (16, 32):
            raise ValueError("key must be 16 or 32 bytes")
        if mode == MODE_ECB:
            m = modes.ECB()
        elif mode == MODE_CBC:
            if iv is None or len(iv) != 16:
                raise ValueError("CBC needs a 16-byte IV")
            m = modes.CBC(bytes(iv))
        else:
            raise ValueError("unsupported mode")
        self._cipher = Cipher(algorithms.AES(bytes(key)), m)
        self._op = None

    def _run(self, op, data):
        if len(data) % 16:
            raise ValueError("data must be whole 16-byte blocks")
        if self._op is None:
            self._op = op
            self._ctx = self._cipher.encryptor() if op == "e" else self._cipher.decryptor()
        elif self._op != op:
            raise OSError("can't encrypt & decrypt with the same object")
        return self._ctx.update(bytes(data))

    def encrypt(self, data):
        return self._run("e", data)

    def decrypt(self, data):
        return self._run("d", data)
