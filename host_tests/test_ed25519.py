"""lib/ed25519 (the C Ed25519 of the key), CPython build: differential tests
against `cryptography` (OpenSSL) with hypothesis, RFC 8032 verification
rules at their edges (S >= L, undecodable and non-canonical public keys,
small-order points, non-canonical R), the argument contract (bytes-like
in, ValueError for wrong lengths, TypeError for non-buffers) and the
MicroPython binding's API. Published vectors: test_ed25519_vectors.py."""

import os
import re
import subprocess
import sys

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ed25519_support import REPO, load_ed25519

ed25519 = load_ed25519()

sys.path.insert(0, os.path.join(REPO, "lib", "ed25519"))
import gen_table as ref  # noqa: E402  (plain-integer Edwards arithmetic)

P = ref.P
L = 2**252 + 27742317777372353535851937790883648493

seeds = st.binary(min_size=32, max_size=32)
messages = st.binary(max_size=300)


def openssl_pub(seed):
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def openssl_verify(pub, msg, sig):
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


def encode(pt):
    x, y = pt
    return (y | (x & 1) << 255).to_bytes(32, "little")


@settings(max_examples=200, deadline=None)
@given(seed=seeds)
def test_public_key_matches_openssl(seed):
    assert ed25519.public_key(seed) == openssl_pub(seed)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, msg=messages)
def test_signature_equals_openssl_and_verifies_in_both(seed, msg):
    sig = ed25519.sign(seed, msg)
    assert sig == Ed25519PrivateKey.from_private_bytes(seed).sign(msg)  # deterministic: equal bytes
    pub = ed25519.public_key(seed)
    assert ed25519.verify(pub, msg, sig) is True
    assert openssl_verify(pub, msg, sig)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, msg=messages, pos=st.integers(min_value=0, max_value=64 + 32 + 300 - 1),
       bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_rejected_as_openssl_does(seed, msg, pos, bit):
    pub = bytearray(ed25519.public_key(seed))
    sig = bytearray(ed25519.sign(seed, msg))
    msg = bytearray(msg)
    target, i = (sig, pos) if pos < 64 else (pub, pos - 64) if pos < 96 else (msg, pos - 96)
    if i >= len(target):
        msg.append(1 << bit)
    else:
        target[i] ^= 1 << bit
    args = bytes(pub), bytes(msg), bytes(sig)
    assert ed25519.verify(*args) is False
    assert openssl_verify(*args) is False


@settings(max_examples=300, deadline=None)
@given(pub=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=40), sig=st.binary(min_size=64, max_size=64))
def test_random_verify_inputs_agree_with_openssl(pub, msg, sig):
    assert ed25519.verify(pub, msg, sig) is openssl_verify(pub, msg, sig)


@settings(max_examples=50, deadline=None)
@given(seed=seeds, msg=messages, j=st.integers(min_value=1, max_value=15))
def test_s_plus_multiple_of_l_is_rejected(seed, msg, j):
    """S' = S + jL passes the group equation but not RFC 8032's S < L rule
    (malleability); both we and OpenSSL refuse it."""
    pub, sig = ed25519.public_key(seed), ed25519.sign(seed, msg)
    s = int.from_bytes(sig[32:], "little") + j * L
    if s >= 2**256:
        return
    bad = sig[:32] + s.to_bytes(32, "little")
    assert ed25519.verify(pub, msg, bad) is False
    assert openssl_verify(pub, msg, bad) is False


def test_s_equal_l_and_all_ones_are_rejected():
    seed = bytes(range(32))
    pub, sig = ed25519.public_key(seed), ed25519.sign(seed, b"m")
    for s in (L, L + 1, 2**256 - 1, 2**253):
        assert ed25519.verify(pub, b"m", sig[:32] + s.to_bytes(32, "little")) is False


def _small_order_points():
    """The 8 points of order dividing 8: [L] P for points P of full order."""
    pts = set()
    y = 2
    while len(pts) < 8:
        try:
            x = ref.recover_x(y, 0)
        except AssertionError:
            y += 1
            continue
        pts.add(ref.mul(L, (x, y)))
        y += 1
    return sorted(pts)


SMALL = _small_order_points()


def test_small_order_points_are_eight_and_of_order_dividing_8():
    assert len(SMALL) == 8 and (0, 1) in SMALL
    for pt in SMALL:
        assert ref.mul(8, pt) == (0, 1)


@pytest.mark.parametrize("idx", range(8))
def test_small_order_public_keys_agree_with_openssl(idx):
    """A of small order: [k]A is then a small-order point, and the
    cofactorless equation can hold for crafted R. Both implementations
    compute the same answer on honest-looking and crafted signatures."""
    a = SMALL[idx]
    pub = encode(a)
    for m in (b"", b"abc", bytes(range(50))):
        for s in (0, 1, 12345):
            sb = ref.mul(s, ref.BASE)
            # R = [S]B - [k]A for the k this R gives is circular; try R = [S]B
            # and R = [S]B + each small-order point
            for t in SMALL:
                r = encode(ref.add(sb, t))
                sig = r + s.to_bytes(32, "little")
                assert ed25519.verify(pub, m, sig) is openssl_verify(pub, m, sig), (idx, m, s, t)


@pytest.mark.parametrize("y", [P, P + 1, P + 18, 2**255 - 1])
@pytest.mark.parametrize("sign", [0, 1])
def test_non_canonical_public_key_encodings_are_rejected(y, sign):
    """y >= p does not decode (RFC 8032 5.1.3 step 1), whatever it would
    reduce to; OpenSSL agrees for signatures made under the reduced y."""
    enc = (y | sign << 255).to_bytes(32, "little")
    seed = bytes(32)
    sig = ed25519.sign(seed, b"x")
    assert ed25519.verify(enc, b"x", sig) is False
    assert ed25519.verify(enc, b"x", sig) is openssl_verify(enc, b"x", sig)


def test_non_canonical_r_is_rejected():
    """R is compared as bytes with the canonical encoding of [S]B - [k]A:
    a valid signature whose R is re-encoded with y + p (possible when
    y < 19) or with the sign bit on x = 0 fails, as in OpenSSL."""
    seed = bytes(32)
    pub = ed25519.public_key(seed)
    # R = identity = (0, 1): non-canonical forms y = 1 + p, and x = 0 with sign 1
    for r in ((1 + P).to_bytes(32, "little"), (1 | 1 << 255).to_bytes(32, "little")):
        for s in (0, 5):
            sig = r + s.to_bytes(32, "little")
            assert ed25519.verify(pub, b"", sig) is False
            assert openssl_verify(pub, b"", sig) is False


def test_points_not_on_the_curve_are_rejected():
    """y values whose x^2 = (y^2 - 1)/(d y^2 + 1) is not a square."""
    seed = bytes([7]) * 32
    sig = ed25519.sign(seed, b"m")
    found = 0
    for y in range(2, 60):
        xx = (y * y - 1) * pow(ref.D * y * y + 1, -1, P) % P
        if pow(xx, (P - 1) // 2, P) == P - 1:
            found += 1
            for sign in (0, 1):
                assert ed25519.verify((y | sign << 255).to_bytes(32, "little"), b"m", sig) is False
    assert found > 10


def test_x_zero_with_sign_bit_is_rejected_as_public_key():
    """y = 1 (x = 0) with the sign bit set: RFC 8032 5.1.3 step 4."""
    enc = (1 | 1 << 255).to_bytes(32, "little")
    sig = encode(ref.BASE) + (1).to_bytes(32, "little")  # [1]B = R + [k]identity
    assert ed25519.verify(encode((0, 1)), b"q", sig) is True
    assert ed25519.verify(enc, b"q", sig) is False


# --------------------------------------------------------------- the contract

VALID = {
    "public_key": (bytes(32),),
    "sign": (bytes(32), b"message"),
    "verify": (bytes(32), b"message", bytes(64)),
}


@pytest.mark.parametrize("fn", sorted(VALID))
@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_accepts_any_bytes_like(fn, kind):
    args = VALID[fn]
    assert getattr(ed25519, fn)(*[kind(a) for a in args]) == getattr(ed25519, fn)(*args)


@pytest.mark.parametrize("fn", sorted(VALID))
@pytest.mark.parametrize("bad", ["text", 5, None, [1, 2]])
def test_non_bytes_raise_type_error(fn, bad):
    for i in range(len(VALID[fn])):
        args = list(VALID[fn])
        args[i] = bad
        with pytest.raises(TypeError):
            getattr(ed25519, fn)(*args)


@pytest.mark.parametrize("fn", sorted(VALID))
def test_wrong_argument_count_raises_type_error(fn):
    with pytest.raises(TypeError):
        getattr(ed25519, fn)(*VALID[fn][:-1])
    with pytest.raises(TypeError):
        getattr(ed25519, fn)(*(VALID[fn] + (b"",)))


@pytest.mark.parametrize("fn,pos,message", [
    ("public_key", 0, "seed must be 32 bytes"),
    ("sign", 0, "seed must be 32 bytes"),
    ("verify", 0, "public key must be 32 bytes"),
    ("verify", 2, "signature must be 64 bytes"),
])
@pytest.mark.parametrize("n", [0, 1, 31, 33, 63, 65, 128])
def test_wrong_lengths_raise_value_error(fn, pos, message, n):
    args = list(VALID[fn])
    if len(args[pos]) == n:
        return
    args[pos] = bytes(n)
    with pytest.raises(ValueError, match=message):
        getattr(ed25519, fn)(*args)


def test_any_message_length_is_fine():
    seed = bytes(range(32))
    pub = ed25519.public_key(seed)
    for n in (0, 1, 111, 112, 127, 128, 129, 239, 240, 1000, 70000):
        msg = bytes(i & 0xFF for i in range(n))
        sig = ed25519.sign(seed, msg)
        assert openssl_verify(pub, msg, sig) and ed25519.verify(pub, msg, sig)


def test_comb_table_is_what_the_generator_makes():
    res = subprocess.run([sys.executable, os.path.join(REPO, "lib", "ed25519", "gen_table.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_micropython_binding_has_the_same_api():
    """The MicroPython binding (user module and native module; run on the
    unix port by make firmware-ed25519-unix and
    test_ed25519_micropython_wipe.py) declares exactly this module's API:
    the same names, arities and messages."""
    with open(os.path.join(REPO, "lib", "ed25519", "ed25519_mpy.c")) as f:
        src = f.read()
    arity = {name: int(n) for n, name in re.findall(r"MP_DEFINE_CONST_FUN_OBJ_(\d)\(mod_(\w+)_obj", src)}
    native = set(re.findall(r"mp_store_global\(MP_QSTR_(\w+),", src))
    frozen = set(re.findall(r"MP_ROM_QSTR\(MP_QSTR_(\w+)\), MP_ROM_PTR", src))
    public = {n for n in dir(ed25519) if not n.startswith("_")}
    assert set(arity) == native == frozen == public == set(VALID)
    for name, n in arity.items():
        assert len(VALID[name]) == n, name
    with open(os.path.join(REPO, "lib", "ed25519", "ed25519.h")) as f:
        codes = re.findall(r"ED25519_ERR_(\w+)", f.read())
    assert codes
    for code in codes:
        assert "mp_raise_ValueError(MP_ERROR_TEXT(ED25519_MSG_%s))" % code in src, code
