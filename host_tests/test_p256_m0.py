"""lib/p256 on a Cortex-M0+: the core built with arm-none-eabi-gcc (-Os, and
-O2 as MicroPython's rp2 port builds it) runs
keygen, public_key, sign, verify and ECDH on rp2040js (the RP2040 emulator)
and every output and error must equal the CPython build's. Cycles and stack
are reported by `make p256-m0` / `make bench-p256`, not asserted."""

import os
import re
import shutil
import sys

import pytest

from p256_support import REPO, load_p256, make

sys.path.insert(0, os.path.join(REPO, "lib", "p256", "m0"))
import m0tool  # noqa: E402

N = m0tool.N
P = 2**256 - 2**224 + 2**192 + 2**96 - 1
G65 = bytes.fromhex("046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")


@pytest.fixture(scope="module")
def image():
    load_p256()
    make("p256-m0-build")
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the Cortex-M0+ test runs rp2040js on Node")
    if not os.path.isdir(os.path.join(REPO, "tools", "node", "node_modules", "rp2040js")):
        make("node-deps")
    return os.path.join(REPO, "build", "m0")


@pytest.mark.parametrize("opt", ["", "-O2"])
def test_m0_outputs_equal_host_build(image, opt):
    mismatches, stats, n = m0tool.check(os.path.join(image + opt, "p256_m0.bin"), cases=2, seed=7)
    assert not mismatches, mismatches[:3]
    assert n >= 20
    assert set(stats) == {"keygen", "public_key", "sign", "verify", "ecdh"}
    for op, s in stats.items():
        assert all(c > 0 for c in s["cycles"]) and all(0 < d < 8192 for d in s["stack"]), op


def test_m0_size_and_stack_report(image):
    text, table, stacks = m0tool.report(os.path.join(image, "p256.o"), os.path.join(image, "p256.ci"))
    assert 0 < table < text
    for fn in ("p256_sign", "p256_verify", "p256_ecdh", "p256_keygen"):
        assert stacks[fn] > 0, fn


@pytest.mark.parametrize("opt", ["", "-O2"])
def test_m0_cycles_do_not_depend_on_secrets(image, opt):
    """rp2040js charges taken branches and loads their real M0+ cycles, so
    an operation whose cycle count varies with the secret would leak it.
    Different keys, digests and nonce randomness: identical cycle counts."""
    p256 = load_p256()
    peer = p256.keygen(bytes(range(40)))[1]
    calls = []
    for i in range(3):
        seed = bytes((i * 37 + j * 11) & 0xFF for j in range(40))
        priv = p256.keygen(seed)[0]
        digest = bytes((i * 53 + j) & 0xFF for j in range(32))
        calls += [
            {"op": "keygen", "args": [seed.hex()]},
            {"op": "sign", "args": [priv.hex(), digest.hex(), (bytes([i + 1]) * 32).hex()]},
            {"op": "ecdh", "args": [priv.hex(), peer.hex()]},
        ]
    # 2 and n - 2 take the ladder's last window through its doubling case
    for d in (1, 2, N - 2, N - 1):
        calls.append({"op": "ecdh", "args": [d.to_bytes(32, "big").hex(), peer.hex()]})
    results = m0tool.run_emulator(os.path.join(image + opt, "p256_m0.bin"), calls)
    by_op = {}
    for r in results:
        assert r["rc"] == 0
        by_op.setdefault(r["op"], set()).add(r["cycles"])
    for op, cycles in by_op.items():
        assert len(cycles) == 1, (op, cycles)


def _u2_signature(p256, d, k, target, spacing=None):
    """(digest, r||s), valid for key d, whose verification ladder scalar
    u2 / 2^(spacing-1) is target (see test_p256.py)."""
    if spacing is None:
        with open(os.path.join(REPO, "lib", "p256", "p256_table.h")) as f:
            spacing = int(re.search(r"#define P256_COMB_SPACING (\d+)", f.read()).group(1))
    r = int.from_bytes(p256.public_key(k.to_bytes(32, "big"))[1:33], "big") % N
    s = r * pow(target * 2 ** (spacing - 1), -1, N) % N
    z = (s * k - r * d) % N
    return z.to_bytes(32, "big"), r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.mark.parametrize("opt", ["", "-O2"])
def test_m0_ladder_edge_cases_equal_host_build(image, opt):
    """The Thumb build (its asm squaring, its own code generation) on the
    ladders' edge cases: ECDH scalars 1, 2, n - 2, n - 1 (2 and n - 2 make
    the last window a doubling) with the peer keys G and -G, and a
    verification whose NAF ladder meets the doubling (u2 / 2^14 = n - 2)."""
    p256 = load_p256()
    minus_g = G65[:33] + (P - int.from_bytes(G65[33:], "big")).to_bytes(32, "big")
    calls, expect = [], []
    for d in (1, 2, N - 2, N - 1):
        for peer in (G65, minus_g, p256.compress(minus_g)):
            args = [d.to_bytes(32, "big"), peer]
            calls.append({"op": "ecdh", "args": [a.hex() for a in args]})
            expect.append(p256.ecdh(*args))
    d = 0x1234567890
    pub = p256.public_key(d.to_bytes(32, "big"))
    digest, sig = _u2_signature(p256, d, 0xABCDEF, N - 2)
    assert p256.verify(pub, digest, sig) is True
    for dg in (digest, bytes(31) + bytes([digest[-1] ^ 1])):
        calls.append({"op": "verify", "args": [pub.hex(), dg.hex(), sig.hex()]})
        expect.append(p256.verify(pub, dg, sig))
    results = m0tool.run_emulator(os.path.join(image + opt, "p256_m0.bin"), calls)
    assert len(results) == len(calls)
    for call, want, got in zip(calls, expect, results):
        assert got["rc"] == 0, call
        out = bytes.fromhex(got["out"][0])
        assert (bool(out[0]) if call["op"] == "verify" else out) == want, call
