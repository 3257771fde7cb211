# Smoke test of the p256 module under MicroPython (and CPython): the known
# answer of RFC 6979 A.2.5 and the round trips of the API. Runs unchanged on
# the unix port with the user C module (make firmware-p256-unix) or the
# native module (import p256 from p256.mpy), and on a board.
import hashlib

import p256

X = bytes.fromhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
UX = bytes.fromhex("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6")
UY = bytes.fromhex("7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299")
SAMPLE = bytes.fromhex(
    "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
    "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
)

pub = p256.public_key(X)
assert pub == b"\x04" + UX + UY
h = hashlib.sha256(b"sample").digest()
sig = p256.sign(X, h, b"")
assert sig == SAMPLE, sig
assert p256.verify(pub, h, sig)
assert p256.verify(p256.compress(pub), h, sig)
assert not p256.verify(pub, hashlib.sha256(b"other").digest(), sig)
hedged = p256.sign(X, h, b"\x55" * 32)
assert hedged != sig and p256.verify(pub, h, hedged)
assert p256.sig_from_der(p256.sig_to_der(sig)) == sig
assert p256.decompress(p256.compress(pub)) == pub
assert p256.validate_public_key(pub) and not p256.validate_public_key(pub[:-1] + b"\x00")
d1, q1 = p256.keygen(bytes(range(40)))
d2, q2 = p256.keygen(bytes(range(1, 41)))
assert p256.ecdh(d1, q2) == p256.ecdh(d2, q1)
for bad in (lambda: p256.sign(X, h[:31], b""), lambda: p256.public_key(bytes(32)),
            lambda: p256.ecdh(X, b"\x04" + bytes(64)), lambda: p256.sig_from_der(b"\x30\x00")):
    try:
        bad()
        raise AssertionError("no ValueError")
    except ValueError:
        pass
try:
    p256.public_key("not bytes")
    raise AssertionError("no TypeError")
except TypeError:
    pass
print("p256 smoke test: ok")
