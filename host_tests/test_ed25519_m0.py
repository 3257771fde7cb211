"""lib/ed25519 on a Cortex-M0+: the core built with arm-none-eabi-gcc (-Os,
and -O2 as MicroPython's rp2 port builds it) runs public_key, sign and
verify on rp2040js (the RP2040 emulator) in lib/p256's bare-metal harness,
and every output and error must equal the CPython build's; the cycle
counts of public_key and sign must not depend on the seed or the message
content. Cycles and stack are reported by `make ed25519-m0` /
`make bench-ed25519`, not asserted."""

import importlib.util
import os
import shutil

import pytest

from ed25519_support import REPO, load_ed25519, make

# lib/ed25519/m0/m0tool.py, loaded by path under its own name: lib/p256's
# tool is also m0tool.py, and test_p256_m0 imports that one as `m0tool` in
# the same pytest worker.
_spec = importlib.util.spec_from_file_location("ed25519_m0tool", os.path.join(REPO, "lib", "ed25519", "m0", "m0tool.py"))
m0tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(m0tool)

M0 = os.path.join(REPO, "build", "ed25519", "m0")


@pytest.fixture(scope="module")
def image():
    load_ed25519()
    make("ed25519-m0-build")
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the Cortex-M0+ test runs rp2040js on Node")
    if not os.path.isdir(os.path.join(REPO, "tools", "node", "node_modules", "rp2040js")):
        make("node-deps")
    return M0


@pytest.mark.parametrize("opt", ["", "-O2"])
def test_m0_outputs_equal_host_build(image, opt):
    mismatches, stats, n = m0tool.check(os.path.join(image + opt, "ed25519_m0.bin"), cases=2, seed=7)
    assert not mismatches, mismatches[:3]
    assert n >= 12
    assert set(stats) == {"public_key", "sign", "verify"}
    for op, s in stats.items():
        assert all(c > 0 for c in s["cycles"]) and all(0 < d < 8192 for d in s["stack"]), op


def test_m0_size_and_stack_report(image):
    sizes, stacks = m0tool.report(os.path.join(image, "ed25519.o"), os.path.join(image, "ed25519.ci"))
    assert 0 < sizes["table"] < sizes["text"] and sizes["sha512_k"] == 640
    for fn in m0tool.API:
        assert stacks[fn] > 0, fn


@pytest.mark.parametrize("opt", ["", "-O2"])
def test_m0_cycles_do_not_depend_on_secrets(image, opt):
    """rp2040js charges taken branches and loads their real M0+ cycles, so
    an operation whose cycle count varied with the seed (or with the nonce
    and scalar made from it) would leak it. Different seeds, same-length
    messages: identical cycle counts."""
    calls = []
    for i in range(3):
        seed = bytes((i * 37 + j * 11) & 0xFF for j in range(32))
        msg = bytes((i * 53 + j) & 0xFF for j in range(40))
        calls += [
            {"op": "public_key", "opcode": m0tool.OPCODES["public_key"], "args": [seed.hex()]},
            {"op": "sign", "opcode": m0tool.OPCODES["sign"], "args": [seed.hex(), msg.hex()]},
        ]
    calls.append({"op": "public_key", "opcode": 1, "args": [bytes(32).hex()]})
    results = m0tool.p256_m0.run_emulator(os.path.join(image + opt, "ed25519_m0.bin"), calls)
    by_op = {}
    for r in results:
        assert r["rc"] == 0
        by_op.setdefault(r["op"], set()).add(r["cycles"])
    assert set(by_op) == {"public_key", "sign"}
    for op, cycles in by_op.items():
        assert len(cycles) == 1, (op, cycles)


P = 2**255 - 19
# Limb patterns the carry chains and the folds by 38 meet at their limits
EDGES = [0, 1, 2, 19, 37, 38, P - 1, P, P + 1, P + 18, 2 * P - 1, 2**255 - 1, 2**256 - 1, 2**256 - 38,
         2**256 - 39, 2**255, 2**32 - 1, 2**64 - 1, 2**224 - 1, int("ffffffff00000000" * 4, 16),
         int("00000000ffffffff" * 4, 16), int("ffff0000" * 8, 16), int("0000ffff" * 8, 16),
         int("80000000" * 8, 16), int("7fffffff" * 8, 16),
         # Karatsuba halves (low 128 bits L, high H): L < H, L > H, L = H, one
         # half zero, |L - H| at its extremes, so every sign of the middle term
         2**128 - 1, (2**128 - 1) << 128, 2**128, 2**128 + 1, (2**128 + 1) * 5, (2**128 + 1) * (2**128 - 1),
         (1 << 128) | (2**128 - 1), ((2**128 - 2) << 128) | (2**128 - 1), (2**127) * (2**128 + 1),
         ((2**128 - 1) << 128) | 1, int("0000ffff" * 4 + "ffff0000" * 4, 16)]


def test_m0_field_arithmetic_equals_python_at_the_edges(image):
    """The Cortex-M0+ inline asm (the Karatsuba multiply over the Comba
    128-bit product, the squaring, carry-flag
    addition and subtraction, the folds by 38) on operands anywhere in
    [0, 2^256), edge patterns and random ones, against Python integers:
    each result fully reduced mod p. (ED25519_TEST_HOOKS image only.)"""
    import random
    rnd = random.Random(11)
    vals = EDGES + [rnd.getrandbits(256) for _ in range(6)]
    calls, want = [], []
    for i, a in enumerate(vals):
        for b in (vals[(i * 7 + 3) % len(vals)], vals[(i * 5 + 1) % len(vals)], a):
            for op, f in enumerate((lambda x, y: x * y, lambda x, y: x * x, lambda x, y: x + y,
                                    lambda x, y: x - y)):
                calls.append({"op": "fe", "opcode": 4,
                              "args": [bytes([op]).hex(), a.to_bytes(32, "little").hex(),
                                       b.to_bytes(32, "little").hex()]})
                want.append(f(a, b) % P)
    results = m0tool.p256_m0.run_emulator(os.path.join(image + "-hooks", "ed25519_m0.bin"), calls)
    assert len(results) == len(calls)
    bad = [(c, w, r) for c, w, r in zip(calls, want, results)
           if r["rc"] != 0 or int.from_bytes(bytes.fromhex(r["out"][0]), "little") != w]
    assert not bad, bad[:3]
