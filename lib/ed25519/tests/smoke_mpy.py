# Smoke test of the ed25519 module under MicroPython (and CPython): RFC 8032
# 7.1 TEST 2 and TEST 3, verification failures and the argument errors.
# Runs unchanged on the unix port with the user C module, with the native
# module (import ed25519 from ed25519.mpy), and on a board.
import ed25519

SK2 = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
PK2 = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
SIG2 = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)
SK3 = bytes.fromhex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")
PK3 = bytes.fromhex("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025")
SIG3 = bytes.fromhex(
    "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
    "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
)

assert ed25519.public_key(SK2) == PK2
assert ed25519.sign(SK2, b"\x72") == SIG2
assert ed25519.verify(PK2, b"\x72", SIG2) is True
assert ed25519.public_key(SK3) == PK3
assert ed25519.sign(bytearray(SK3), memoryview(b"\xaf\x82")) == SIG3
assert ed25519.verify(PK3, b"\xaf\x82", SIG3) is True
assert ed25519.verify(PK3, b"\xaf\x83", SIG3) is False
assert ed25519.verify(PK2, b"\xaf\x82", SIG3) is False
# S >= L
L = bytes.fromhex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
assert ed25519.verify(PK3, b"\xaf\x82", SIG3[:32] + L) is False
long = bytes(range(256)) * 5
assert ed25519.verify(PK2, long, ed25519.sign(SK2, long))
for bad in (lambda: ed25519.public_key(SK2[:31]), lambda: ed25519.sign(SK2 + b"\x00", b""),
            lambda: ed25519.verify(PK2[:31], b"", SIG2), lambda: ed25519.verify(PK2, b"", SIG2[:63])):
    try:
        bad()
        raise AssertionError("no ValueError")
    except ValueError:
        pass
try:
    ed25519.public_key("not bytes")
    raise AssertionError("no TypeError")
except TypeError:
    pass
print("ed25519 smoke test: ok")
