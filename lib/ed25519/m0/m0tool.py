"""Cortex-M0+ proof for lib/ed25519: code size, stack, and an rp2040js run
checked against the host build (lib/p256/m0/m0tool.py's machinery: the
same harness, runner, size and call-graph readers).

    python m0tool.py report --obj build/ed25519/m0/ed25519.o --ci build/ed25519/m0/ed25519.ci
    python m0tool.py check  --bin build/ed25519/m0/ed25519_m0.bin --cases 3

`report` prints the Thumb code size of the core (code, comb table, SHA-512
constants) and the static worst-case stack per API function from GCC's
-fcallgraph-info=su call graph. `check` runs public_key, sign and verify
(good, bad, S >= L, undecodable key, wrong lengths) on the emulated M0+,
compares every output and return code with the CPython build, and prints
cycles and painted-stack depth per operation. Exit status 1 on a mismatch.

Used by `make ed25519-m0`, host_tests/test_ed25519_m0.py and
tools/bench_ed25519.py.
"""

import importlib.util
import os
import random
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
# by path, under its own name: both files are m0tool.py
_spec = importlib.util.spec_from_file_location("p256_m0tool", os.path.join(REPO, "lib", "p256", "m0", "m0tool.py"))
p256_m0 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(p256_m0)

OPCODES = {"public_key": 1, "sign": 2, "verify": 3}  # m0_main.c
API = ("ed25519_public_key", "ed25519_sign", "ed25519_verify")
L = 2**252 + 27742317777372353535851937790883648493


def code_size(obj):
    """{"text", "table", "sha512_k"} bytes of the core object (text
    includes the two constant tables)."""
    out = subprocess.run(["arm-none-eabi-size", "-A", obj], check=True,
                         capture_output=True, text=True).stdout
    sizes = {"text": 0, "table": 0, "sha512_k": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            name, size = parts[0], int(parts[1])
            if name.startswith((".text", ".rodata")):
                sizes["text"] += size
            if name.startswith(".rodata.ed_comb_table"):
                sizes["table"] += size
            if name.startswith(".rodata.SHA512_K"):
                sizes["sha512_k"] += size
    return sizes


def report(obj, ci):
    sizes = code_size(obj)
    print("Cortex-M0+ (thumb) code size of lib/ed25519/ed25519.c:")
    print("  text %(text)d bytes = code %(code)d + comb table %(table)d + SHA-512 K %(sha512_k)d"
          % dict(sizes, code=sizes["text"] - sizes["table"] - sizes["sha512_k"]))
    paths = p256_m0.deepest_paths(ci)
    stacks = {fn: total for fn, (total, _) in paths.items()}
    print("static worst-case stack (call graph, -fcallgraph-info=su), deepest chain:")
    for fn in API:
        if fn in stacks:
            chain = " > ".join("%s %d" % step for step in paths[fn][1][1:])
            print("  %-20s %5d bytes  (own %d; %s)" % (fn, stacks[fn], paths[fn][1][0][1], chain))
    return sizes, stacks


def make_calls(cases, seed):
    """Calls for the emulator and what the host build says they return."""
    ed = p256_m0.host_module("ed25519")
    rnd = random.Random(seed)
    rb = lambda n: bytes(rnd.getrandbits(8) for _ in range(n))  # noqa: E731
    calls, expect = [], []

    def add(op, args, fn):
        calls.append({"op": op, "opcode": OPCODES[op], "args": [a.hex() for a in args]})
        try:
            out, rc = fn(*args), 0
        except ValueError as e:
            out, rc = None, str(e)
        expect.append((rc, out))

    for i in range(cases):
        sk, msg = rb(32), rb(rnd.choice([0, 1, 32, 111, 112, 128]))
        pub = ed.public_key(sk)
        sig = ed.sign(sk, msg)
        add("public_key", [sk], ed.public_key)
        add("sign", [sk, msg], ed.sign)
        add("verify", [pub, msg, sig], ed.verify)
        bad = bytearray(sig)
        bad[rnd.randrange(64)] ^= 1 << rnd.randrange(8)
        add("verify", [pub, msg, bytes(bad)], ed.verify)
    add("verify", [pub, msg, sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")],
        ed.verify)
    add("verify", [(2**255 - 1).to_bytes(32, "little"), msg, sig], ed.verify)  # y >= p
    add("public_key", [bytes(31)], ed.public_key)
    add("verify", [pub, msg, sig[:63]], ed.verify)
    return calls, expect


def _matches(op, out_hex, expected):
    res = bytes.fromhex(out_hex[0]) if out_hex else b""
    return (res == b"\x01") is expected if op == "verify" else res == expected


def check(binary, cases=3, seed=1):
    """Run on the emulator, compare with the host; per-op stats."""
    calls, expect = make_calls(cases, seed)
    results = p256_m0.run_emulator(binary, calls)
    mismatches, stats = p256_m0.tally(calls, expect, results, _matches)
    return mismatches, stats, len(calls)


def main():
    p256_m0.main(report, check, __doc__)


if __name__ == "__main__":
    main()
