"""lib/ed25519 on a Cortex-M0+: the core built with arm-none-eabi-gcc (-Os,
and -O2 as MicroPython's rp2 port builds it) runs public_key, sign and
verify on rp2040js (the RP2040 emulator) in lib/p256's bare-metal harness,
and every output and error must equal the CPython build's; the cycle
counts of public_key and sign must not depend on the seed or the message
content. Cycles and stack are reported by `make ed25519-m0` /
`make bench-ed25519`, not asserted."""

import os
import shutil
import sys

import pytest

from ed25519_support import REPO, load_ed25519, make

sys.path.insert(0, os.path.join(REPO, "lib", "ed25519", "m0"))
import m0tool  # noqa: E402  (lib/ed25519/m0/m0tool.py)

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
