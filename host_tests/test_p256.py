"""lib/p256: API behaviour, malformed input, and differential tests against
`cryptography` (OpenSSL) with hypothesis. Known-answer vectors are in
test_p256_vectors.py, the Cortex-M0+ run in test_p256_m0.py and the
constant-time check in test_p256_ct.py."""

import os
import re
import subprocess
import sys

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from hypothesis import given, settings
from hypothesis import strategies as st

from p256_support import REPO, load_p256

p256 = load_p256()

P = 2**256 - 2**224 + 2**192 + 2**96 - 1
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ALG = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
FAST = settings(max_examples=60, deadline=None)

scalars = st.one_of(
    st.integers(min_value=1, max_value=N - 1),
    st.sampled_from([1, 2, 3, N - 1, N - 2, N // 2, 2**128, 2**255, N - 2**128]),
)
digests = st.binary(min_size=32, max_size=32)
extras = st.one_of(st.just(b""), st.binary(min_size=32, max_size=32))


def b32(i):
    return i.to_bytes(32, "big")


def ossl_key(d):
    return ec.derive_private_key(d, ec.SECP256R1())


def ossl_pub(key, compressed=False):
    fmt = serialization.PublicFormat.CompressedPoint if compressed else serialization.PublicFormat.UncompressedPoint
    return key.public_key().public_bytes(serialization.Encoding.X962, fmt)


def raw_from_der(der):
    r, s = utils.decode_dss_signature(der)
    return b32(r) + b32(s)


# ---------------------------------------------------------------- keys


@FAST
@given(seed=st.binary(min_size=40, max_size=40))
def test_keygen_is_seed_mod_n_minus_1_plus_1(seed):
    priv, pub = p256.keygen(seed)
    d = int.from_bytes(seed, "big") % (N - 1) + 1
    assert priv == b32(d)
    assert pub == ossl_pub(ossl_key(d))


@pytest.mark.parametrize("seed_int,d", [(0, 1), (N - 2, N - 1), (N - 1, 1), (2**320 - 1, (2**320 - 1) % (N - 1) + 1)])
def test_keygen_edges(seed_int, d):
    priv, pub = p256.keygen(seed_int.to_bytes(40, "big"))
    assert priv == b32(d)
    assert pub == ossl_pub(ossl_key(d))


@FAST
@given(d=scalars)
def test_public_key_matches_openssl(d):
    assert p256.public_key(b32(d)) == ossl_pub(ossl_key(d))


# ---------------------------------------------------------------- ECDSA


@FAST
@given(d=scalars, digest=digests, extra=extras)
def test_our_signatures_verify_in_openssl_and_here(d, digest, extra):
    sig = p256.sign(b32(d), digest, extra)
    assert len(sig) == 64
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    assert 0 < r < N and 0 < s < N
    ossl_key(d).public_key().verify(utils.encode_dss_signature(r, s), digest, ALG)
    pub = p256.public_key(b32(d))
    assert p256.verify(pub, digest, sig)
    assert p256.verify(p256.compress(pub), digest, sig)


@FAST
@given(d=scalars, digest=digests, extra=st.binary(min_size=32, max_size=32))
def test_nonce_is_deterministic_and_hedged(d, digest, extra):
    plain = p256.sign(b32(d), digest, b"")
    assert p256.sign(b32(d), digest, b"") == plain  # RFC 6979: same inputs, same k
    hedged = p256.sign(b32(d), digest, extra)
    assert hedged == p256.sign(b32(d), digest, extra)
    assert hedged != plain  # the extra data changes the nonce
    other = bytes([extra[0] ^ 1]) + extra[1:]
    assert p256.sign(b32(d), digest, other) != hedged


@FAST
@given(d=scalars, digest=digests, flip=st.integers(min_value=0, max_value=64 * 8 - 1))
def test_openssl_signatures_verify_here(d, digest, flip):
    key = ossl_key(d)
    pub = ossl_pub(key)
    raw = raw_from_der(key.sign(digest, ALG))
    assert p256.verify(pub, digest, raw)
    bad = bytearray(raw)
    bad[flip // 8] ^= 1 << (flip % 8)
    assert not p256.verify(pub, digest, bytes(bad))
    bad_digest = bytes([digest[0] ^ 0x80]) + digest[1:]
    assert not p256.verify(pub, bad_digest, raw)


@pytest.mark.parametrize("digest", [b"\xff" * 32, b32(N), b32(N - 1), b32(N + 1), bytes(32)])
def test_digest_at_or_above_n_is_reduced(digest):
    d = 0x1234567
    sig = p256.sign(b32(d), digest, b"")
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    ossl_key(d).public_key().verify(utils.encode_dss_signature(r, s), digest, ALG)
    assert p256.verify(p256.public_key(b32(d)), digest, sig)


@pytest.mark.parametrize(
    "r,s", [(0, 1), (1, 0), (0, 0), (N, 1), (1, N), (N + 1, 1), (2**256 - 1, 1), (1, 2**256 - 1)]
)
def test_verify_r_s_out_of_range_is_false(r, s):
    pub = p256.public_key(b32(7))
    assert p256.verify(pub, b"\x01" * 32, b32(r) + b32(s)) is False


# ---------------------------------------------------------------- ECDH


@FAST
@given(d1=scalars, d2=scalars, compressed=st.booleans())
def test_ecdh_matches_openssl(d1, d2, compressed):
    k1, k2 = ossl_key(d1), ossl_key(d2)
    expect = k1.exchange(ec.ECDH(), k2.public_key())
    assert p256.ecdh(b32(d1), ossl_pub(k2, compressed)) == expect
    assert p256.ecdh(b32(d2), p256.public_key(b32(d1))) == expect


# ------------------------------------------- the variable-base ladders' edge cases
#
# ECDH (4-bit signed windows, constant time) and the u2 Q of verification
# (width-4 NAF, public data) run in Jacobian coordinates with an addition
# formula that fails when its two points are equal or opposite. For ECDH
# p256.c proves that this can only happen at the last window, which it
# adds with the complete formula; verification checks every addition.
# The models below recode a scalar exactly as p256.c does and list the
# additions that meet that case, so the tests can aim at them.

G_X = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
G_Y = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
G65 = b"\x04" + b32(G_X) + b32(G_Y)
MINUS_G65 = b"\x04" + b32(G_X) + b32(P - G_Y)
ECDH_W = 4
with open(os.path.join(REPO, "lib", "p256", "p256_table.h")) as _f:
    COMB_SPACING = int(re.search(r"#define P256_COMB_SPACING (\d+)", _f.read()).group(1))


def ladder_digits(k, w):
    """(k', digits low first) as var_mul sees them."""
    kp = k if k & 1 else N - k
    windows = -(-256 // w)
    m = (kp >> 1) | (1 << (w * windows - 1))
    bits = [2 * ((m >> i) & 1) - 1 for i in range(w * windows)]
    digits = [sum(bits[j * w + t] << t for t in range(w)) for j in range(windows)]
    assert sum(d << (w * j) for j, d in enumerate(digits)) == kp
    return kp, digits


def exceptional_windows(k, w):
    """Windows j whose addition adds +-d_j P to 2^w A_(j+1) P with
    2^w A_(j+1) = +-d_j (mod n): a doubling or a sum at infinity."""
    _, digits = ladder_digits(k, w)
    acc, out = digits[-1], []
    for j in range(len(digits) - 2, -1, -1):
        left = (acc << w) % N
        if left in (digits[j] % N, -digits[j] % N):
            out.append(j)
        acc = (acc << w) + digits[j]
    return out


def exceptional_scalars(w):
    """Every k (1 <= k < n) whose ladder meets an exceptional addition:
    k' = n + 2 d_0 with d_0 < 0, so k' is n - 2, n - 6, ..., or n - 2 (2^w - 1)."""
    cands = [c for m in range(1, 1 << w, 2) for c in (2 * m, N - 2 * m)]
    return sorted(c for c in cands if exceptional_windows(c, w))


def wnaf_exceptions(k):
    """The additions of verification's width-4 NAF ladder (wnaf_mul) that
    meet p = q ("dbl") or p = -q ("inf")."""
    digits, pos, t = [], 0, k
    while t:
        if t & 1:
            v = t & 15
            v = v - 16 if v > 8 else v
            t -= v
            digits.append((pos, v))
        t >>= 1
        pos += 1
    acc, out = None, []
    for i in range(len(digits) - 1, -1, -1):
        pos, v = digits[i]
        if acc is not None and acc % N in (v % N, -v % N):
            out.append("dbl" if acc % N == v % N else "inf")
        acc = v if acc is None else acc + v
        acc <<= pos - (digits[i - 1][0] if i else 0)
    assert acc % N == k
    return out


def test_ladder_model_only_the_last_window_is_exceptional():
    hits = exceptional_scalars(ECDH_W)
    assert hits == [2, N - 2]  # both are k' = n - 2, whose last digit is -1
    for k in hits:
        assert exceptional_windows(k, ECDH_W) == [0]
    rnd = __import__("random").Random(4)
    for k in [1, 3, N - 1, N - 3, N // 2, 2**255] + [rnd.randrange(1, N) for _ in range(200)]:
        assert exceptional_windows(k, ECDH_W) == [], k


def test_wnaf_model_finds_the_doubling():
    """u2 / 2^(S-1) = n - 2 makes verification's last addition a doubling
    (no small k or n - k below 3000 does otherwise, nor any random one)."""
    assert wnaf_exceptions(N - 2) == ["dbl"]
    rnd = __import__("random").Random(5)
    for k in [1, 2, 3, N - 1, N - 3] + [rnd.randrange(1, N) for _ in range(200)]:
        assert wnaf_exceptions(k) == [], k


@pytest.mark.parametrize("d", sorted(set(exceptional_scalars(ECDH_W) + [1, 2, 3, N - 1, N - 2, N - 3, 2**255, N // 2])))
@pytest.mark.parametrize("peer", ["random", "G", "-G"])
def test_ecdh_edge_scalars_match_openssl(d, peer):
    """Scalars whose last addition is a doubling, the smallest and largest
    scalars, and the peer key G and -G (whose table is G, 3G, ..., 15G or
    its negation)."""
    if peer == "random":
        other = ossl_key(0x1234567 * d % (N - 1) + 1)
        pub = ossl_pub(other)
    else:
        pub = G65 if peer == "G" else MINUS_G65
    expect = ossl_key(d).exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub))
    assert p256.ecdh(b32(d), pub) == expect
    assert p256.ecdh(b32(d), p256.compress(pub)) == expect


def _signature_with_u2(d, k, target):
    """A valid (digest, r||s) for key d and nonce k whose u2 = r / s is
    target * 2^(S-1) mod n, so that the verification ladder's scalar
    u2 / 2^(S-1) (p256.c folds the comb's doublings into it) is target."""
    key = ossl_key(k)
    r = int.from_bytes(ossl_pub(key)[1:33], "big") % N
    s = r * pow(target * 2 ** (COMB_SPACING - 1), -1, N) % N
    z = (s * k - r * d) % N
    return b32(z), b32(r) + b32(s)


@pytest.mark.parametrize("target", [1, 2, 3, N - 1, N - 2])
def test_verify_with_exceptional_u2(target):
    """N - 2 is the doubling of the NAF ladder (wnaf_exceptions)."""
    d, k = 0xC0FFEE + target % 1000, 0xBADCAFE + target % 977
    digest, sig = _signature_with_u2(d, k, target)
    key = ossl_key(d)
    pub = ossl_pub(key)
    der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.public_key().verify(der, digest, ALG)  # a valid signature: OpenSSL agrees
    assert p256.verify(pub, digest, sig) is True
    assert p256.verify(p256.compress(pub), digest, sig) is True
    bad = bytearray(digest)
    bad[-1] ^= 1
    assert p256.verify(pub, bytes(bad), sig) is False


def test_verify_with_public_key_minus_g():
    """Q = -G: the verification ladder's table is -G, -3G, -5G, -7G."""
    d = N - 1  # public key -G
    pub = p256.public_key(b32(d))
    assert pub == MINUS_G65
    for i in range(4):
        digest = bytes([i]) * 32
        sig = p256.sign(b32(d), digest, b"")
        assert p256.verify(pub, digest, sig) is True
        ossl_key(d).public_key().verify(
            utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
            digest, ALG)


# ---------------------------------------------------------------- encodings


@FAST
@given(d=scalars)
def test_compress_decompress_round_trip(d):
    key = ossl_key(d)
    pub, comp = ossl_pub(key), ossl_pub(key, compressed=True)
    assert p256.compress(pub) == comp
    assert p256.decompress(comp) == pub
    assert p256.validate_public_key(pub) and p256.validate_public_key(comp)


@FAST
@given(r=st.integers(min_value=0, max_value=2**256 - 1), s=st.integers(min_value=0, max_value=2**256 - 1))
def test_der_matches_cryptography_and_round_trips(r, s):
    raw = b32(r) + b32(s)
    der = p256.sig_to_der(raw)
    assert der == utils.encode_dss_signature(r, s)
    assert p256.sig_from_der(der) == raw


@pytest.mark.parametrize("r,s", [(0, 0), (1, 1), (0x80, 0x7F), (2**255, 2**256 - 1), (N - 1, N - 1)])
def test_der_edges(r, s):
    raw = b32(r) + b32(s)
    assert p256.sig_from_der(utils.encode_dss_signature(r, s)) == raw
    assert p256.sig_to_der(raw) == utils.encode_dss_signature(r, s)


def _der(*ints):
    body = b""
    for v in ints:
        body += bytes([0x02, len(v)]) + v
    return bytes([0x30, len(body)]) + body


BAD_DER = {
    "empty": b"",
    "sequence only": b"\x30\x00",
    "wrong outer tag": b"\x31" + _der(b"\x01", b"\x01")[1:],
    "long-form length": b"\x30\x81\x06" + _der(b"\x01", b"\x01")[2:],
    "length too long": b"\x30\x07" + _der(b"\x01", b"\x01")[2:],
    "length too short": b"\x30\x05" + _der(b"\x01", b"\x01")[2:],
    "trailing byte": _der(b"\x01", b"\x01") + b"\x00",
    "trailing inside": b"\x30\x07" + _der(b"\x01", b"\x01")[2:] + b"\x00",
    "wrong int tag": b"\x30\x06\x03\x01\x01\x02\x01\x01",
    "empty integer": _der(b"", b"\x01"),
    "negative r": _der(b"\x80", b"\x01"),
    "negative s": _der(b"\x01", b"\xff\x01"),
    "non-minimal zero": _der(b"\x00\x01", b"\x01"),
    "non-minimal 00 00": _der(b"\x00\x00", b"\x01"),
    "33 bytes without sign pad": _der(b"\x01" + b"\x00" * 32, b"\x01"),
    "34 bytes": _der(b"\x00\x80" + b"\x00" * 32, b"\x01"),
    "int long-form length": b"\x30\x07\x02\x81\x01\x01\x02\x01\x01",
    "one integer": b"\x30\x03\x02\x01\x01",
    "three integers": _der(b"\x01", b"\x01", b"\x01"),
    "truncated": _der(b"\x01", b"\x01")[:-1],
    "indefinite length": b"\x30\x80\x02\x01\x01\x02\x01\x01\x00\x00",
}


@pytest.mark.parametrize("name", sorted(BAD_DER))
def test_sig_from_der_is_strict(name):
    with pytest.raises(ValueError):
        p256.sig_from_der(BAD_DER[name])


# ---------------------------------------------------------------- malformed input

PRIV = b32(0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721)
PUB = p256.public_key(PRIV)
SIG = p256.sign(PRIV, b"\x00" * 32, b"")

# function -> valid positional arguments
VALID = {
    "keygen": (b"\x01" * 40,),
    "public_key": (PRIV,),
    "sign": (PRIV, b"\x00" * 32, b""),
    "verify": (PUB, b"\x00" * 32, SIG),
    "ecdh": (PRIV, PUB),
    "sig_to_der": (SIG,),
    "sig_from_der": (p256.sig_to_der(SIG),),
    "compress": (PUB,),
    "decompress": (p256.compress(PUB),),
    "validate_public_key": (PUB,),
}


@pytest.mark.parametrize("fn", sorted(VALID))
def test_accepts_any_bytes_like(fn):
    args = VALID[fn]
    want = getattr(p256, fn)(*args)
    for conv in (bytearray, memoryview):
        assert getattr(p256, fn)(*[conv(a) for a in args]) == want


@pytest.mark.parametrize("fn", sorted(VALID))
@pytest.mark.parametrize("bad", ["text", 7, None, [1, 2], 1.5])
def test_non_bytes_raise_type_error(fn, bad):
    args = VALID[fn]
    for i in range(len(args)):
        with pytest.raises(TypeError):
            getattr(p256, fn)(*args[:i], bad, *args[i + 1 :])


@pytest.mark.parametrize("fn", sorted(VALID))
def test_wrong_argument_count_raises_type_error(fn):
    args = VALID[fn]
    with pytest.raises(TypeError):
        getattr(p256, fn)(*args[:-1])
    with pytest.raises(TypeError):
        getattr(p256, fn)(*args, b"")


WRONG_LENGTHS = [
    ("keygen", 0, [0, 32, 39, 41, 64]),
    ("public_key", 0, [0, 31, 33, 64]),
    ("sign", 0, [0, 31, 33]),
    ("sign", 1, [0, 20, 31, 33, 48, 64]),
    ("sign", 2, [1, 16, 31, 33, 64]),
    ("verify", 0, [0, 32, 34, 64, 66]),
    ("verify", 1, [0, 31, 33]),
    ("verify", 2, [0, 63, 65, 70, 72]),
    ("ecdh", 0, [0, 31, 33]),
    ("ecdh", 1, [0, 32, 34, 64, 66]),
    ("sig_to_der", 0, [0, 32, 63, 65]),
    ("compress", 0, [0, 33, 64, 66]),
    ("decompress", 0, [0, 32, 34, 65]),
]


@pytest.mark.parametrize("fn,pos,lengths", WRONG_LENGTHS)
def test_wrong_lengths_raise_value_error(fn, pos, lengths):
    args = list(VALID[fn])
    for n in lengths:
        args[pos] = (args[pos] * 3)[:n] if args[pos] else b"\x01" * n
        with pytest.raises(ValueError, match="must be"):
            getattr(p256, fn)(*args)


@pytest.mark.parametrize("d", [0, N, N + 1, 2**256 - 1])
def test_private_key_out_of_range(d):
    for call in (
        lambda: p256.public_key(b32(d)),
        lambda: p256.sign(b32(d), b"\x00" * 32, b""),
        lambda: p256.ecdh(b32(d), PUB),
    ):
        with pytest.raises(ValueError, match=r"\[1, n-1\]"):
            call()


def _bad_points():
    x, y = int.from_bytes(PUB[1:33], "big"), int.from_bytes(PUB[33:], "big")
    yield "off curve", b"\x04" + b32(x) + b32((y + 1) % P)
    yield "zero point", b"\x04" + bytes(64)
    yield "x = p", b"\x04" + b32(P) + b32(y)
    yield "y + p", b"\x04" + b32(x) + b32(y + P) if y + P < 2**256 else b"\x04" + b32(x) + b32(2**256 - 1)
    yield "x all ones", b"\x04" + b"\xff" * 64
    yield "prefix 05", b"\x05" + PUB[1:]
    yield "hybrid 06", b"\x06" + PUB[1:]
    yield "hybrid 07", b"\x07" + PUB[1:]
    yield "compressed prefix 04", b"\x04" + PUB[1:33]
    yield "compressed prefix 01", b"\x01" + PUB[1:33]
    yield "compressed x = p", b"\x02" + b32(P)
    # x with no y: x^3 - 3x + b is a non-residue (the first such x >= 1)
    for cand in range(1, 100):
        rhs = (cand**3 - 3 * cand + 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B) % P
        if pow(rhs, (P - 1) // 2, P) == P - 1:
            yield "compressed, no such point", b"\x02" + b32(cand)
            yield "compressed odd, no such point", b"\x03" + b32(cand)
            break


@pytest.mark.parametrize("name,point", list(_bad_points()))
def test_invalid_points_are_rejected(name, point):
    assert p256.validate_public_key(point) is False
    with pytest.raises(ValueError, match="invalid public key"):
        p256.ecdh(PRIV, point)
    with pytest.raises(ValueError, match="invalid public key"):
        p256.verify(point, b"\x00" * 32, SIG)
    if len(point) == 65:
        with pytest.raises(ValueError, match="invalid public key"):
            p256.compress(point)
    else:
        with pytest.raises(ValueError, match="invalid public key"):
            p256.decompress(point)


def test_validate_public_key_wrong_length_is_false():
    for n in (0, 1, 32, 34, 64, 66):
        assert p256.validate_public_key(PUB[:n] if n <= 65 else PUB + b"\x00") is False


# ---------------------------------------------------------------- the three builds


def test_comb_table_is_what_the_generator_makes():
    res = subprocess.run([sys.executable, os.path.join(REPO, "lib", "p256", "gen_table.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_micropython_binding_has_the_same_api():
    """The MicroPython binding (user module and native module) can't be
    built here, so check its source declares exactly this module's API:
    the same names, arities and messages."""
    with open(os.path.join(REPO, "lib", "p256", "p256_mpy.c")) as f:
        src = f.read()
    arity = {name: int(n) for n, name in re.findall(r"MP_DEFINE_CONST_FUN_OBJ_(\d)\(mod_(\w+)_obj", src)}
    native = set(re.findall(r"mp_store_global\(MP_QSTR_(\w+),", src))
    frozen = set(re.findall(r"MP_ROM_QSTR\(MP_QSTR_(\w+)\), MP_ROM_PTR", src))
    public = {n for n in dir(p256) if not n.startswith("_")}
    assert set(arity) == native == frozen == public == set(VALID)
    for name, n in arity.items():
        assert len(VALID[name]) == n, name
    with open(os.path.join(REPO, "lib", "p256", "p256.h")) as f:
        header = f.read()
    codes = re.findall(r"P256_ERR_(\w+)", header)
    for code in codes:
        assert "case P256_ERR_%s: mp_raise_ValueError(MP_ERROR_TEXT(P256_MSG_%s))" % (code, code) in src \
            or code == "INTERNAL", code


# lengths each argument accepts, so random content also reaches the checks
# behind the length checks (point decoding, range checks, DER parsing)
GOOD_LENGTHS = {
    "keygen": ([40],),
    "public_key": ([32],),
    "sign": ([32], [32], [0, 32]),
    "verify": ([33, 65], [32], [64]),
    "ecdh": ([32], [33, 65]),
    "sig_to_der": ([64],),
    "sig_from_der": (list(range(6, 73)),),
    "compress": ([65],),
    "decompress": ([33],),
    "validate_public_key": ([33, 65],),
}


@settings(max_examples=300, deadline=None)
@given(fn=st.sampled_from(sorted(VALID)), data=st.data())
def test_random_input_gives_a_result_or_value_error(fn, data):
    args = []
    for lengths in GOOD_LENGTHS[fn]:
        n = data.draw(st.one_of(st.sampled_from(lengths), st.integers(min_value=0, max_value=80)))
        b = bytearray(data.draw(st.binary(min_size=n, max_size=n)))
        if b and data.draw(st.booleans()):  # plausible SEC1 / DER first bytes
            b[0] = data.draw(st.sampled_from([0x02, 0x03, 0x04, 0x30]))
        args.append(bytes(b))
    try:
        out = getattr(p256, fn)(*args)
    except ValueError as e:
        assert str(e)  # a message, never an empty error
        return
    assert isinstance(out, (bytes, bool, tuple))
