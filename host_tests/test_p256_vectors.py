"""lib/p256 against published vectors: Wycheproof (ECDSA P-256 SHA-256 in
DER and P1363 form, ECDH P-256 with ASN.1 and raw point keys), NIST CAVP
from the cryptography_vectors package (ECDSA SigVer, SigGen, PKV, KeyPair;
ECDH KAS ZZ-only validity tests) and RFC 6979 deterministic signatures.

Wycheproof "acceptable" results (only in the ECDH files) are decided per
flag and checked both ways, so the decision cannot drift:
  - CompressedPoint / CompressedPublic: MUST ACCEPT with the expected
    shared secret; lib/p256 takes SEC1 compressed points on purpose.
  - InvalidAsn, UnnamedCurve, UnusedParam, ModifiedGenerator,
    ModifiedCofactor, NoCofactor, WrongOrder, ModifiedCurveParameter: MUST
    REJECT. These are about the SubjectPublicKeyInfo wrapper (BER instead of
    DER, explicit curve parameters); lib/p256 takes only raw SEC1 points,
    and the test's SPKI reader (like any caller on the key) accepts only
    the two exact DER prefixes of a named-curve P-256 key.
"""

import hashlib
import os
import re

import cryptography_vectors
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from vectors import wycheproof_file
from p256_support import load_p256

p256 = load_p256()

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ACCEPT_FLAGS = {"CompressedPoint", "CompressedPublic"}
REJECT_FLAGS = {"InvalidAsn", "UnnamedCurve", "UnusedParam", "ModifiedGenerator", "ModifiedCofactor",
                "NoCofactor", "WrongOrder", "ModifiedCurveParameter"}
SPKI_UNCOMPRESSED = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
SPKI_COMPRESSED = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200")


def b32(i):
    return i.to_bytes(32, "big")


def digest32(h):
    """ECDSA uses the leftmost 256 bits of the hash (SEC1 4.1.3 step 5):
    a shorter hash is the same integer padded on the left."""
    return h[:32] if len(h) >= 32 else bytes(32 - len(h)) + h


# ---------------------------------------------------------------- Wycheproof


def _cases(data):
    for g in data["testGroups"]:
        for t in g["tests"]:
            yield g, t


def _expected(t):
    """True = must accept, False = must reject."""
    if t["result"] == "valid":
        return True
    if t["result"] == "invalid":
        return False
    flags = set(t["flags"])
    if flags & ACCEPT_FLAGS:
        return True
    assert flags & REJECT_FLAGS, "acceptable case with no recorded decision: %r" % t
    return False


@pytest.mark.parametrize("fname,der", [("ecdsa_secp256r1_sha256_test.json", True),
                                       ("ecdsa_secp256r1_sha256_p1363_test.json", False)])
def test_wycheproof_ecdsa(fname, der):
    data = wycheproof_file(fname)
    failures, count = [], 0
    for g, t in _cases(data):
        assert g["sha"] == "SHA-256"
        pub = bytes.fromhex(g["publicKey"]["uncompressed"])
        digest = hashlib.sha256(bytes.fromhex(t["msg"])).digest()
        sig = bytes.fromhex(t["sig"])
        try:
            raw = p256.sig_from_der(sig) if der else sig
            got = p256.verify(pub, digest, raw)
        except ValueError:
            got = False  # malformed encoding or, for P1363, a wrong length
        count += 1
        if got != _expected(t):
            failures.append((t["tcId"], t["comment"], t["result"]))
    assert count == data["numberOfTests"]
    assert not failures, failures[:10]


def _spki_point(spki):
    for prefix, n in ((SPKI_UNCOMPRESSED, 65), (SPKI_COMPRESSED, 33)):
        if spki.startswith(prefix) and len(spki) == len(prefix) + n:
            return spki[len(prefix):]
    return None


@pytest.mark.parametrize("fname", ["ecdh_secp256r1_test.json", "ecdh_secp256r1_ecpoint_test.json"])
def test_wycheproof_ecdh(fname):
    data = wycheproof_file(fname)
    failures, count = [], 0
    for g, t in _cases(data):
        assert g["curve"] == "secp256r1"
        public = bytes.fromhex(t["public"])
        point = _spki_point(public) if g["encoding"] == "asn" else public
        # private keys are ASN.1 INTEGERs: may carry a sign byte
        priv = int(t["private"], 16).to_bytes(32, "big")
        shared = None
        if point is not None:
            try:
                shared = p256.ecdh(priv, point)
            except ValueError:
                shared = None
        count += 1
        if _expected(t):
            ok = shared == bytes.fromhex(t["shared"])
        else:
            ok = shared is None
        if not ok:
            failures.append((t["tcId"], t["comment"], t["result"], t["flags"]))
    assert count == data["numberOfTests"]
    assert not failures, failures[:10]


# ---------------------------------------------------------------- NIST CAVP


def _cavp(*parts):
    path = os.path.join(os.path.dirname(cryptography_vectors.__file__), "asymmetric", *parts)
    with open(path) as f:
        return f.read()


def _records(text, section_re):
    """Yield (section, {key: value}) for the records in matching sections.
    Sections are the curve headers ([P-256], [P-256,SHA-1], [EC - SHA256]);
    other bracketed lines ([B.4.2 ...], [Curve selected: ...]) are ignored."""
    section = None
    rec = {}
    for line in text.splitlines() + [""]:
        line = line.strip()
        m = re.match(r"^\[(([PKB]-\d+|E[A-E]\b).*)\]$", line)
        if m:
            section = m.group(1)
            continue
        if line.startswith("["):
            continue
        if not line or line.startswith("#"):
            if rec and section is not None and re.match(section_re, section):
                yield section, rec
            rec = {}
            continue
        if "=" in line:
            k, v = line.split("=", 1)
            rec[k.strip()] = v.strip()


HASHES = {"SHA-1": hashlib.sha1, "SHA-224": hashlib.sha224, "SHA-256": hashlib.sha256,
          "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512}


@pytest.mark.parametrize("fips", ["FIPS_186-2", "FIPS_186-3"])
def test_cavp_sigver(fips):
    n = 0
    for section, r in _records(_cavp("ECDSA", fips, "SigVer.rsp"), r"^P-256(,|$)"):
        h = HASHES[section.split(",")[1]] if "," in section else hashlib.sha1
        pub = b"\x04" + bytes.fromhex(r["Qx"]) + bytes.fromhex(r["Qy"])
        digest = digest32(h(bytes.fromhex(r["Msg"])).digest())
        sig = bytes.fromhex(r["R"]) + bytes.fromhex(r["S"])
        assert p256.verify(pub, digest, sig) == r["Result"].startswith("P"), r
        n += 1
    assert n >= 15


@pytest.mark.parametrize("fips", ["FIPS_186-2", "FIPS_186-3"])
def test_cavp_siggen_signatures_verify(fips):
    n = 0
    fname = "SigGen.txt"
    for section, r in _records(_cavp("ECDSA", fips, fname), r"^P-256(,|$)"):
        if "Msg" not in r:
            continue
        h = HASHES[section.split(",")[1]] if "," in section else hashlib.sha1
        pub = b"\x04" + bytes.fromhex(r["Qx"]) + bytes.fromhex(r["Qy"])
        assert p256.public_key(bytes.fromhex(r["d"])) == pub
        digest = digest32(h(bytes.fromhex(r["Msg"])).digest())
        sig = bytes.fromhex(r["R"]) + bytes.fromhex(r["S"])
        assert p256.verify(pub, digest, sig), r
        n += 1
    assert n >= 15


@pytest.mark.parametrize("fips", ["FIPS_186-2", "FIPS_186-3"])
def test_cavp_pkv(fips):
    n = 0
    for _, r in _records(_cavp("ECDSA", fips, "PKV.rsp"), r"^P-256$"):
        qx, qy = int(r["Qx"], 16), int(r["Qy"], 16)
        if qx >= 2**256 or qy >= 2**256:
            pub = None  # does not even fit the encoding: invalid by construction
        else:
            pub = b"\x04" + b32(qx) + b32(qy)
        ok = pub is not None and p256.validate_public_key(pub)
        assert ok == r["Result"].startswith("P"), r
        n += 1
    assert n >= 10


@pytest.mark.parametrize("fips", ["FIPS_186-2", "FIPS_186-3"])
def test_cavp_keypair(fips):
    n = 0
    for _, r in _records(_cavp("ECDSA", fips, "KeyPair.rsp"), r"^P-256$"):
        if "d" not in r:
            continue  # the "N = 10" count line
        pub = b"\x04" + bytes.fromhex(r["Qx"].rjust(64, "0")) + bytes.fromhex(r["Qy"].rjust(64, "0"))
        assert p256.public_key(bytes.fromhex(r["d"].rjust(64, "0"))) == pub
        n += 1
    assert n >= 10


@pytest.mark.parametrize("role", ["init", "resp"])
def test_cavp_ecdh_kas(role):
    """KAS ECC static-unified ZZ-only validity tests, P-256 ([EC] sets): a
    record passes exactly when the CAVS key is valid, the IUT key pair is
    consistent and ecdh gives Z."""
    text = _cavp("ECDH", "KASValidityTest_ECCStaticUnified_NOKC_ZZOnly_%s.fax" % role)
    n = 0
    for _, r in _records(text, r"^EC - SHA256$"):
        cavs = b"\x04" + bytes.fromhex(r["QsCAVSx"]) + bytes.fromhex(r["QsCAVSy"])
        iut = b"\x04" + bytes.fromhex(r["QsIUTx"]) + bytes.fromhex(r["QsIUTy"])
        d_iut = bytes.fromhex(r["dsIUT"])
        try:
            z = p256.ecdh(d_iut, cavs)
        except ValueError:
            z = None
        ok = z == bytes.fromhex(r["Z"]) and p256.validate_public_key(iut) and p256.public_key(d_iut) == iut
        assert ok == r["Result"].startswith("P"), r
        if ok:  # and the other side agrees
            assert p256.ecdh(bytes.fromhex(r["dsCAVS"]), iut) == z
        n += 1
    assert n == 30


# ---------------------------------------------------------------- RFC 6979


def _rfc6979_p256():
    """(digest name, message, DER signature, is_sign, expect_ok) from
    cryptography_vectors' copy of the RFC 6979 A.2.5 tests."""
    text = _cavp("ECDSA", "RFC6979", "evppkey_ecdsa_rfc6979.txt")
    block = text.split("Title = RFC 6979 P-256 deterministic ECDSA tests")[1].split("Title =")[0]
    for para in block.split("\n\n"):
        kv = dict(line.split(" = ", 1) for line in para.strip().splitlines() if " = " in line)
        kind = next((k for k in ("DigestSign", "DigestVerify") if k in kv), None)
        if kind:
            yield kv[kind], kv["Input"].strip('"').encode(), bytes.fromhex(kv["Output"]), \
                kind == "DigestSign", kv.get("Result") != "VERIFY_ERROR"


RFC6979_X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721


def test_rfc6979_a25_key_pair():
    text = _cavp("ECDSA", "RFC6979", "evppkey_ecdsa_rfc6979.txt")
    pem = text.split("PrivateKey=P-256_PRIV\n")[1].split("-----END PRIVATE KEY-----")[0] + "-----END PRIVATE KEY-----\n"
    from cryptography.hazmat.primitives import serialization
    key = serialization.load_pem_private_key(pem.encode(), None)
    assert key.private_numbers().private_value == RFC6979_X
    pub = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert p256.public_key(b32(RFC6979_X)) == pub


def test_rfc6979_a25_deterministic_nonces():
    """With SHA-256 the RFC's HMAC is HMAC-SHA-256, ours: sign with no extra
    data must give exactly the published signatures ("sample", "test")."""
    vectors = [v for v in _rfc6979_p256() if v[0] == "SHA256" and v[3]]
    assert len(vectors) == 2
    for _, msg, der, _, _ in vectors:
        sig = p256.sign(b32(RFC6979_X), hashlib.sha256(msg).digest(), b"")
        assert p256.sig_to_der(sig) == der
        assert sig == p256.sig_from_der(der)


def test_rfc6979_a25_all_signatures_verify():
    pub = p256.public_key(b32(RFC6979_X))
    names = {"SHA1": "SHA-1", "SHA224": "SHA-224", "SHA256": "SHA-256", "SHA384": "SHA-384", "SHA512": "SHA-512"}
    n = 0
    for hname, msg, der, _, expect in _rfc6979_p256():
        digest = digest32(HASHES[names[hname]](msg).digest())
        assert p256.verify(pub, digest, p256.sig_from_der(der)) == expect
        n += 1
    assert n >= 15


def test_hedged_signature_verifies_in_openssl_for_rfc_key():
    digest = hashlib.sha256(b"sample").digest()
    sig = p256.sign(b32(RFC6979_X), digest, os.urandom(32))
    key = ec.derive_private_key(RFC6979_X, ec.SECP256R1())
    key.public_key().verify(p256.sig_to_der(sig), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
