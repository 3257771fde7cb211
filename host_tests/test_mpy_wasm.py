"""The MicroPython (WebAssembly) harness itself: tools/mpy_wasm.mjs, host_tests/mpy.py
and the test-only bridges in host_tests/mpy_wasm/ (p256, cryptolib), each
checked on MicroPython against `cryptography` on CPython.
"""

import os
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import mpy
from mpy import MicroPythonError, run_micropython

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.fixture(autouse=True)
def _wasm_only():
    # The unix port's runner is tested by test_mpy_unix.py.
    mpy.only_on("wasm", "tests the Node runner and its bridges to Node's crypto")

# ---------------------------------------------------------------------------
# Runner and helper


def test_runner_selftest():
    # BigInt ECDSA/point code of the JS services against Node's own crypto.
    r = subprocess.run([mpy.node_executable(), mpy.RUNNER, "--selftest"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "selftest ok" in r.stdout, r.stdout + r.stderr


def test_output_is_streamed_and_complete():
    r = run_micropython("print('one')\nprint('two', end='')\nprint('\\u00e9', end='')")
    assert r.returncode == 0
    assert r.stdout == "one\ntwo\u00e9"


def test_exception_fails_with_traceback():
    script = "print('before')\ndef f():\n    raise KeyError('boom')\nf()\n"
    with pytest.raises(MicroPythonError) as e:
        run_micropython(script)
    message = str(e.value)
    assert "KeyError: boom" in message and "line 3" in message and "before" in message
    r = run_micropython(script, check=False)
    assert r.returncode == 1 and "Traceback" in r.stderr and r.stdout == "before\n"


def test_assertion_in_script_fails():
    with pytest.raises(MicroPythonError, match="AssertionError"):
        run_micropython("assert 1 == 2, 'nope'")


@pytest.mark.parametrize("code,status", [(0, 0), (3, 3)])
def test_sys_exit_status(code, status):
    assert run_micropython("import sys\nsys.exit(%d)" % code, check=False).returncode == status


def test_timeout_fails():
    with pytest.raises(MicroPythonError, match="timed out"):
        run_micropython("while True:\n    pass\n", timeout=2)


def test_board_filesystem_layout():
    r = run_micropython("""
import sys
import cbor, cryptolib, p256, testcrypto
import firmware.status
print(sys.implementation.name)
print(cbor.__file__, cryptolib.__file__, p256.__file__)
print(sys.path[0], '/lib' in sys.path)
print(firmware.status.CTAP2_ERR_INVALID_CBOR)
""")
    lines = r.stdout.splitlines()
    assert lines[0] == "micropython"
    assert lines[1] == "/lib/cbor.py /bridges/cryptolib.py /bridges/p256.py"
    assert lines[2] == "/bridges True"
    assert lines[3] == "18"


def test_extra_files():
    r = run_micropython("import vectors_extra\nprint(vectors_extra.X)",
                        extra_files={"/lib/vectors_extra.py": "X = 42\n"})
    assert r.stdout == "42\n"


def test_wasm_files_follow_globs_and_exclusions(tmp_path, monkeypatch):
    for rel in ("firmware/__init__.py", "firmware/ctap2/__init__.py", "firmware/ctap2/get_info.py",
                "lib/cbor.py", "lib/cryptolib.py", "lib/p256/setup.py", "lib/pkg/__init__.py",
                "lib/pkg/mod.py", "lib/notes.txt", "bridges/p256.py", "board/pipe_key.py"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    monkeypatch.setattr(mpy, "REPO", str(tmp_path))
    monkeypatch.setattr(mpy, "BRIDGES", str(tmp_path / "bridges"))
    monkeypatch.setattr(mpy, "KEY_BOARD", str(tmp_path / "board"))
    got = sorted(fs for _, fs in mpy.wasm_files())
    assert got == sorted([
        "/firmware/__init__.py", "/firmware/ctap2/__init__.py", "/firmware/ctap2/get_info.py",
        "/lib/cbor.py", "/lib/pkg/__init__.py", "/lib/pkg/mod.py", "/bridges/p256.py",
        "/harness/pipe_key.py"])


def test_missing_npm_package_fails_with_instructions(monkeypatch):
    monkeypatch.setattr(mpy, "NODE_PACKAGE", "/nonexistent/micropython.mjs")
    with pytest.raises(pytest.fail.Exception, match="make node-deps"):
        run_micropython("print(1)")


def test_missing_node_fails_with_instructions(monkeypatch):
    monkeypatch.setattr(mpy.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="node not found.*make node-deps"):
        run_micropython("print(1)")


def test_js_errors_do_not_escape_python_try():
    # A JS exception would abort the script past Python's except clause; the
    # services return error strings and the bridges raise ValueError.
    r = run_micropython("""
import p256
for bad in (lambda: p256.public_key(bytes(32)),
            lambda: p256.ecdh(b'\\x01' * 32, b'\\x04' + bytes(64)),
            lambda: p256.decompress(b'\\x02' + b'\\xff' * 32)):
    try:
        bad()
        print('no error')
    except ValueError as e:
        print('ValueError', e)
print('still running')
""")
    assert r.stdout.splitlines() == [
        "ValueError private key out of range", "ValueError invalid point",
        "ValueError invalid point", "still running"]


def test_random_bytes():
    r = run_micropython("""
import testcrypto, binascii
a = bytes(testcrypto.random_bytes(32)); b = bytes(testcrypto.random_bytes(32))
print(len(a), a != b, len(bytes(testcrypto.random_bytes(0))))
""")
    assert r.stdout == "32 True 0\n"


# ---------------------------------------------------------------------------
# p256 bridge vs cryptography


def _pub_bytes(key):
    return key.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)


def test_p256_bridge_matches_cryptography():
    seeds = [bytes([i]) * 40 for i in (1, 2, 0xFF)] + [N.to_bytes(40, "big"), bytes(40)]
    digests = [hashes.Hash(hashes.SHA256()) for _ in range(3)]
    for i, h in enumerate(digests):
        h.update(b"message %d" % i)
    digests = [h.finalize() for h in digests]
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_pub = _pub_bytes(peer)
    foreign = ec.generate_private_key(ec.SECP256R1())
    foreign_sig = foreign.sign(digests[0], ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    r = run_micropython("""
import p256, binascii
h = lambda b: binascii.hexlify(b).decode()
u = binascii.unhexlify
PEER = u(%r)
for seed in %r:
    priv, pub = p256.keygen(u(seed))
    assert p256.public_key(priv) == pub
    print("KEY", seed, h(priv), h(pub), h(p256.compress(pub)), h(p256.ecdh(priv, PEER)))
    for d in %r:
        for extra in (b"", b"extra entropy"):
            sig = p256.sign(priv, u(d), extra)
            assert p256.verify(pub, u(d), sig)
            assert p256.verify(p256.compress(pub), u(d), sig)
            assert not p256.verify(pub, u(d)[1:] + u(d)[:1], sig)
            der = p256.sig_to_der(sig)
            assert p256.sig_from_der(der) == sig
            print("SIG", h(priv), d, h(extra) or "-", h(sig), h(der))
# Deterministic for equal inputs; the extra data changes the nonce.
priv, pub = p256.keygen(bytes(40))
d = bytes(32)
assert p256.sign(priv, d, b"a") == p256.sign(priv, d, b"a")
assert len({p256.sign(priv, d, b""), p256.sign(priv, d, b"a"), p256.sign(priv, d, b"b")}) == 3
FPUB, FSIG, D0 = u(%r), u(%r), u(%r)
raw = p256.sig_from_der(FSIG)
print("FOREIGN", p256.verify(FPUB, D0, raw), p256.verify(FPUB, D0[:-1] + b"\\x00", raw),
      h(p256.decompress(p256.compress(FPUB))))
""" % (peer_pub.hex(), [s.hex() for s in seeds], [d.hex() for d in digests],
       _pub_bytes(foreign).hex(), foreign_sig.hex(), digests[0].hex()))
    lines = [line.split() for line in r.stdout.splitlines()]
    keys = [line for line in lines if line[0] == "KEY"]
    sigs = [line for line in lines if line[0] == "SIG"]
    assert len(keys) == len(seeds) and len(sigs) == len(seeds) * 3 * 2
    for _, seed, priv, pub, compressed, shared in keys:
        d = int.from_bytes(bytes.fromhex(seed), "big") % (N - 1) + 1
        assert int(priv, 16) == d
        key = ec.derive_private_key(d, ec.SECP256R1())
        assert bytes.fromhex(pub) == _pub_bytes(key)
        assert bytes.fromhex(compressed) == key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        assert bytes.fromhex(shared) == key.exchange(ec.ECDH(), peer.public_key())
    for _, priv, digest, extra, sig, der in sigs:
        key = ec.derive_private_key(int(priv, 16), ec.SECP256R1())
        r_, s_ = int(sig[:64], 16), int(sig[64:], 16)
        assert bytes.fromhex(der) == utils.encode_dss_signature(r_, s_)
        key.public_key().verify(bytes.fromhex(der), bytes.fromhex(digest),
                                ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        if extra == "-":
            # RFC 6979 nonce: identical to cryptography's deterministic ECDSA.
            det = key.sign(bytes.fromhex(digest), ec.ECDSA(utils.Prehashed(hashes.SHA256()),
                                                           deterministic_signing=True))
            assert utils.decode_dss_signature(det) == (r_, s_)
    foreign_line = next(line for line in lines if line[0] == "FOREIGN")
    assert foreign_line[1:] == ["True", "False", _pub_bytes(foreign).hex()]


def test_p256_bridge_rejects_bad_input():
    r = run_micropython("""
import p256
priv, pub = p256.keygen(bytes(range(40)))
d = bytes(32)
sig = p256.sign(priv, d)
off_curve = pub[:-1] + bytes([pub[-1] ^ 1])
cases = [
    ("keygen short seed", lambda: p256.keygen(bytes(32))),
    ("public_key zero", lambda: p256.public_key(bytes(32))),
    ("public_key n", lambda: p256.public_key(bytes.fromhex(%r))),
    ("public_key str", lambda: p256.public_key("x" * 32)),
    ("sign short digest", lambda: p256.sign(priv, bytes(31))),
    ("verify short sig", lambda: p256.verify(pub, d, sig[:-1])),
    ("verify off-curve key", lambda: p256.verify(off_curve, d, sig)),
    ("ecdh off-curve", lambda: p256.ecdh(priv, off_curve)),
    ("ecdh compressed peer", lambda: p256.ecdh(priv, p256.compress(pub))),
    ("compress off-curve", lambda: p256.compress(off_curve)),
    ("sig_from_der garbage", lambda: p256.sig_from_der(b"\\x30\\x02\\x02\\x00")),
    ("sig_from_der negative", lambda: p256.sig_from_der(b"\\x30\\x06\\x02\\x01\\x80\\x02\\x01\\x01")),
    ("sig_from_der padded", lambda: p256.sig_from_der(b"\\x30\\x07\\x02\\x02\\x00\\x01\\x02\\x01\\x01")),
    ("sig_from_der trailing", lambda: p256.sig_from_der(p256.sig_to_der(sig) + b"\\x00")),
]
for name, fn in cases:
    try:
        fn()
        print(name, "->", "accepted")
    except (ValueError, TypeError) as e:
        print(name, "->", type(e).__name__)
print("zero r", p256.verify(pub, d, bytes(32) + sig[32:]))
print("r = n", p256.verify(pub, d, bytes.fromhex(%r) + sig[32:]))
print("valid", p256.validate_public_key(pub), p256.validate_public_key(p256.compress(pub)))
print("invalid", p256.validate_public_key(off_curve), p256.validate_public_key(pub[:64]),
      p256.validate_public_key(b"\\x04" + bytes(64)))
""" % (("%064x" % N), ("%064x" % N)))
    out = dict(line.split(" -> ") for line in r.stdout.splitlines() if " -> " in line)
    assert out.pop("public_key str") == "TypeError"
    assert set(out.values()) == {"ValueError"}, out
    assert "zero r False" in r.stdout and "r = n False" in r.stdout
    assert "valid True True" in r.stdout and "invalid False False False" in r.stdout


# ---------------------------------------------------------------------------
# cryptolib bridge vs cryptography


def test_cryptolib_bridge_matches_cryptography():
    key32, key16, iv = bytes(range(32)), bytes(range(16)), bytes(range(100, 116))
    pt = bytes(range(64))
    r = run_micropython("""
import cryptolib, binascii
h = lambda b: binascii.hexlify(b).decode()
key32, key16, iv, pt = %r, %r, %r, %r
print("CBC256", h(cryptolib.aes(key32, 2, iv).encrypt(pt)))
print("CBC128", h(cryptolib.aes(key16, 2, iv).encrypt(pt)))
print("ECB256", h(cryptolib.aes(key32, 1).encrypt(pt)))
c = cryptolib.aes(key32, 2, iv)
print("CHAIN", h(c.encrypt(pt[:16]) + c.encrypt(pt[16:])))
ct = cryptolib.aes(key32, 2, iv).encrypt(pt)
d = cryptolib.aes(key32, 2, iv)
print("DECRYPT", d.decrypt(ct[:32]) + d.decrypt(ct[32:]) == pt)
out = bytearray(64)
print("OUTBUF", cryptolib.aes(key32, 2, iv).encrypt(pt, out) is out, h(out))
for name, fn in [
    ("blksize", lambda: cryptolib.aes(key32, 2, iv).encrypt(pt[:15])),
    ("both directions", lambda: (lambda a: (a.encrypt(pt), a.decrypt(pt)))(cryptolib.aes(key32, 2, iv))),
    ("key length", lambda: cryptolib.aes(bytes(24), 2, iv)),
    ("no IV", lambda: cryptolib.aes(key32, 2)),
    ("mode", lambda: cryptolib.aes(key32, 7, iv)),
    ("out too small", lambda: cryptolib.aes(key32, 2, iv).encrypt(pt, bytearray(16))),
]:
    try:
        fn()
        print("ERR", name, "accepted")
    except ValueError as e:
        print("ERR", name, e)
print("CONSTANTS", hasattr(cryptolib, "MODE_CBC"))
""" % (key32, key16, iv, pt))
    got = {}
    for line in r.stdout.splitlines():
        tag, rest = line.split(" ", 1)
        got.setdefault(tag, []).append(rest)

    def cbc(key):
        e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return (e.update(pt) + e.finalize()).hex()

    ecb = Cipher(algorithms.AES(key32), modes.ECB()).encryptor()
    assert got["CBC256"] == [cbc(key32)]
    assert got["CBC128"] == [cbc(key16)]
    assert got["ECB256"] == [(ecb.update(pt) + ecb.finalize()).hex()]
    assert got["CHAIN"] == [cbc(key32)]
    assert got["DECRYPT"] == ["True"]
    assert got["OUTBUF"] == ["True " + cbc(key32)]
    assert got["ERR"] == ["blksize blksize % 16", "both directions can't encrypt & decrypt",
                          "key length key", "no IV IV", "mode mode",
                          "out too small output too small"]
    assert got["CONSTANTS"] == ["False"]  # as on boards: no MODE_* names


def test_bridges_are_not_shipped():
    # The bridges must stay test-only: nothing under firmware/ or lib/ may
    # shadow the board's built-ins with them.
    repo = mpy.REPO
    for name in os.listdir(mpy.BRIDGES):
        if name.endswith(".py"):
            assert not os.path.exists(os.path.join(repo, "lib", name)) or \
                os.path.join("lib", name) in mpy.WASM_EXCLUDE, name
            assert not os.path.exists(os.path.join(repo, "firmware", name)), name


def test_ed25519_bridge_runs_lib_ed25519s_smoke_test():
    """The wasm stand-in for lib/ed25519 (host_tests/mpy_wasm/ed25519.py on
    Node's crypto) passes the smoke test the C module passes on the unix
    port: RFC 8032 vectors, S >= L, wrong lengths and types."""
    with open(os.path.join(mpy.REPO, "lib", "ed25519", "tests", "smoke_mpy.py")) as f:
        r = run_micropython(f.read())
    assert r.stdout.strip().endswith("ed25519 smoke test: ok"), r.stdout


def test_ed25519_bridge_agrees_with_cryptography():
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    seeds = [bytes([i]) * 32 for i in range(1, 4)]
    msgs = [b"", b"abc", bytes(range(200))]
    r = run_micropython("""
import ed25519
for seed in %r:
    for m in %r:
        print(ed25519.public_key(seed).hex(), ed25519.sign(seed, m).hex())
print(ed25519.verify(bytes(32), b'x', bytes(64)), ed25519.verify(b'\\xff' * 32, b'x', bytes(64)))
""" % (seeds, msgs))
    lines = r.stdout.split("\n")
    n = 0
    for seed in seeds:
        key = Ed25519PrivateKey.from_private_bytes(seed)
        pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        for m in msgs:
            assert lines[n] == "%s %s" % (pub.hex(), key.sign(m).hex())
            n += 1
    # a small-order key (y = 0) whose all-zero signature OpenSSL accepts
    # (cofactorless: [k]A = -R for this k), and a key that does not decode
    want = []
    for pub in (bytes(32), b"\xff" * 32):
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(bytes(64), b"x")
            want.append("True")
        except (InvalidSignature, ValueError):
            want.append("False")
    assert want == ["True", "False"] and lines[n] == " ".join(want)
