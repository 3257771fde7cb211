"""On-device self-test, run by tools/provision.py after installing: `from boards.common import selftest; selftest.run()`.

Checks the crypto backends against known answers (SHA-256, AES-256-CBC,
a P-256 signature made elsewhere), then runs getInfo, makeCredential and
getAssertion through the real router on a throwaway RAM store, so the key's
own records are never touched. Prints "PYFIDO-SELFTEST OK" or one
"PYFIDO-SELFTEST FAIL <what>" per failure.
"""

import binascii

_h = binascii.unhexlify
# SHA-256("abc"), FIPS 180-2 B.1
_SHA256_ABC = _h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
# AES-256-CBC, key 00..1f, IV 00..0f, made with `cryptography`
_AES_PT = b"PyFIDO self-test AES-256-CBC ok!"
_AES_CT = _h("88968334e91f04cffa3ad39a869112cc3d6524643fe57ff5167293b1db57232f")
# ECDSA P-256 over SHA-256(b"PyFIDO self-test"), made with `cryptography`
_P256_PUB = _h(
    "04a44776bff7ba873e7a5942f585ce6bc88d530b471d9d0fb433482957e0387fcb"
    "d837065f4aff1fe5642d6f56b67c81450bbd6b81181292ff8e7646285991e6d3"
)
_P256_SIG = _h(
    "4932d9f0c2b109d99716040712d0e0c373ae4bb3c280a00ac6589c368c4f65c9"
    "182253be354b2800ccff1e1d41120db902e0f89b49ab11c7c0840bc4265c4077"
)


class _RamStorage:
    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        self.files[name] = bytes(data)

    def rename(self, old, new):
        self.files[new] = self.files.pop(old)

    def remove(self, name):
        self.files.pop(name, None)

    def list(self):
        return list(self.files)


class _Board:
    """A board that approves every touch, for the flow check."""

    CONFIG = {"max_msg_size": 7609, "transports": ["usb"], "max_resident_credentials": 4}

    def __init__(self, random):
        self.storage = _RamStorage()
        self.random = random
        self._t = 0

    def ticks_ms(self):
        self._t += 1
        return self._t

    def ticks_diff(self, new, old):
        return new - old

    def wait_touch(self, timeout_ms):
        from firmware.presence import TOUCH_OK

        return TOUCH_OK

    def led(self, pattern):
        pass

    def log_exception(self, e):
        from boards.common.board_base import print_exception

        print_exception(e)


def _check(failures, ok, what):
    if not ok:
        failures.append(what)
        print("PYFIDO-SELFTEST FAIL", what)


def run(random=None):
    import os

    import cbor
    from firmware import crypto
    from firmware.authenticator import Authenticator

    random = random or os.urandom
    failures = []
    _check(failures, crypto.sha256(b"abc") == _SHA256_ABC, "sha256")
    key = bytes(range(32))
    iv = bytes(range(16))
    _check(failures, crypto.aes256_cbc_encrypt(key, iv, _AES_PT) == _AES_CT, "aes256-cbc encrypt")
    _check(failures, crypto.aes256_cbc_decrypt(key, iv, _AES_CT) == _AES_PT, "aes256-cbc decrypt")
    digest = crypto.sha256(b"PyFIDO self-test")
    import p256

    _check(failures, p256.verify(_P256_PUB, digest, _P256_SIG), "p256 verify (known answer)")
    bad = bytearray(_P256_SIG)
    bad[5] ^= 1
    _check(failures, not p256.verify(_P256_PUB, digest, bytes(bad)), "p256 rejects a bad signature")

    auth = Authenticator(_Board(random))  # installs the RNG for crypto too
    a_priv, a_pub = crypto.p256_keygen()
    b_priv, b_pub = crypto.p256_keygen()
    _check(failures, crypto.p256_ecdh(a_priv, b_pub) == crypto.p256_ecdh(b_priv, a_pub), "p256 ecdh")

    rp_hash = crypto.sha256(b"selftest.invalid")
    cdh = crypto.sha256(b"client data")
    r = auth.process_cbor(b"\x04")
    _check(failures, r[:1] == b"\x00", "getInfo")
    mc = {1: cdh, 2: {"id": "selftest.invalid"}, 3: {"id": b"u", "name": "u"}, 4: [{"alg": -7, "type": "public-key"}]}
    r = auth.process_cbor(b"\x01" + cbor.dumps(mc))
    _check(failures, r[:1] == b"\x00", "makeCredential")
    if r[:1] == b"\x00":
        att = cbor.loads(r[1:])
        auth_data = att[2]
        _check(failures, auth_data[:32] == rp_hash, "makeCredential rpIdHash")
        # attestedCredentialData: aaguid(16) len(2) id cose_key
        n = (auth_data[53] << 8) | auth_data[54]
        cred_id = auth_data[55 : 55 + n]
        cose = cbor.loads(auth_data[55 + n :])
        pub = b"\x04" + cose[-2] + cose[-3]
        ga = {1: "selftest.invalid", 2: cdh, 3: [{"id": cred_id, "type": "public-key"}]}
        r = auth.process_cbor(b"\x02" + cbor.dumps(ga))
        _check(failures, r[:1] == b"\x00", "getAssertion")
        if r[:1] == b"\x00":
            resp = cbor.loads(r[1:])
            signed = resp[2] + cdh
            _check(failures, crypto.p256_verify(pub, signed, resp[3]), "assertion signature")
    print("PYFIDO-SELFTEST", "OK" if not failures else "FAILED %d" % len(failures))
    return not failures
