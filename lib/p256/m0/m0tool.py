"""Cortex-M0+ proof for lib/p256: code size, stack, and an rp2040js run
checked against the host build.

    python m0tool.py report --obj build/m0/p256.o --ci build/m0/p256.ci
    python m0tool.py check  --bin build/m0/p256_m0.bin --cases 4

`report` prints the Thumb code size of the core (text, split into code and
the comb table) and a static worst-case stack bound per API function from
GCC's -fcallgraph-info=su call graph (the core has no recursion and no
function pointers, so the bound is exact up to inline asm, which uses no
stack).

`check` makes deterministic random inputs, runs keygen, public_key, sign
(hedged and plain RFC 6979), verify (good and bad signatures) and ECDH
(uncompressed and compressed peer keys, plus rejected inputs) on the
emulated M0+ (tools/node/run_p256_m0.mjs), compares every output and return
code with the CPython build of the same C core, and prints cycles and
painted-stack depth per operation. Exit status 1 on any mismatch.

Used by `make p256-m0`, host_tests/test_p256_m0.py and tools/bench_p256.py.
"""

import argparse
import importlib
import json
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
RUNNER = os.path.join(REPO, "tools", "node", "run_p256_m0.mjs")
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
API = ("p256_keygen", "p256_public_key", "p256_sign", "p256_verify", "p256_ecdh",
       "p256_sig_from_der", "p256_decompress")


def code_size(obj, table_bytes=None):
    """(text, table) in bytes for the core object; text includes the table."""
    out = subprocess.run(["arm-none-eabi-size", "-A", obj], check=True,
                         capture_output=True, text=True).stdout
    text = table = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            name, size = parts[0], int(parts[1])
            if name.startswith((".text", ".rodata")):
                text += size
            if name.startswith(".rodata.comb_table"):
                table += size
    return text, table


def call_graph(ci_path):
    """(frames, edges) from GCC's -fcallgraph-info=su file: bytes of each
    function's own frame and the functions each one calls."""
    frames, edges = {}, {}
    node_re = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*\\n[^"]*\\n(\d+) bytes')
    edge_re = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
    with open(ci_path) as f:
        for line in f:
            m = node_re.search(line)
            if m:
                frames[m.group(1)] = int(m.group(2))
                continue
            m = edge_re.search(line)
            if m:
                edges.setdefault(m.group(1), set()).add(m.group(2))
    return frames, edges


def deepest_paths(ci_path, skip=()):
    """{function: (worst-case stack in bytes, [(function, frame), ...])}:
    the deepest call chain from each function, its own frame included.
    Callees whose names start with a prefix in skip are left out."""
    frames, edges = call_graph(ci_path)
    memo = {}

    def worst(fn, depth=0):
        if depth > 64:
            raise RuntimeError("recursion in the call graph at " + fn)
        if fn not in memo:
            best = (0, [])
            for callee in edges.get(fn, ()):
                if callee.split(":")[-1].startswith(tuple(skip)):
                    continue
                w = worst(callee, depth + 1)
                if w[0] > best[0]:
                    best = w
            memo[fn] = (frames.get(fn, 0) + best[0], [(fn.split(":")[-1], frames.get(fn, 0))] + best[1])
        return memo[fn]

    return {fn.split(":")[-1]: worst(fn) for fn in frames}


def static_stack(ci_path):
    """Worst-case stack (bytes) of each function, following calls."""
    return {fn: total for fn, (total, _) in deepest_paths(ci_path).items()}


def report(obj, ci):
    text, table = code_size(obj)
    print("Cortex-M0+ (thumb, -Os) code size of lib/p256/p256.c:")
    print("  text %d bytes = code %d + comb table %d" % (text, text - table, table))
    paths = deepest_paths(ci)
    stacks = {fn: total for fn, (total, _) in paths.items()}
    print("static worst-case stack (call graph, -fcallgraph-info=su), deepest chain:")
    for fn in API:
        if fn in stacks:
            chain = " > ".join("%s %d" % step for step in paths[fn][1][1:])
            print("  %-20s %5d bytes  (own %d; %s)" % (fn, stacks[fn], paths[fn][1][0][1], chain))
    return text, table, stacks


def host_module(name="p256"):
    """The CPython build of a library's C core (build/host/NAME), to compare the M0+ build with."""
    build_host = os.path.join(REPO, "build", "host")
    if build_host not in sys.path:
        sys.path.insert(0, build_host)
    module = importlib.import_module(name)
    if not hasattr(module, "sign"):
        raise SystemExit("build/host/%s is missing: run `make %s-host` first" % (name, name))
    return module


def make_calls(cases, seed):
    """Calls for the emulator and what the host build says they return."""
    p256 = host_module()
    rnd = random.Random(seed)
    rb = lambda n: bytes(rnd.getrandbits(8) for _ in range(n))  # noqa: E731
    calls, expect = [], []

    def add(op, args, fn):
        calls.append({"op": op, "args": [a.hex() for a in args]})
        try:
            out = fn(*args)
            rc = 0
        except ValueError as e:
            out, rc = None, str(e)
        expect.append((rc, out))

    for i in range(cases):
        priv, pub = p256.keygen(rb(40))
        peer_priv, peer_pub = p256.keygen(rb(40))
        digest, extra = rb(32), rb(32)
        add("keygen", [rb(40)], p256.keygen)
        add("public_key", [priv], p256.public_key)
        add("sign", [priv, digest, extra], p256.sign)
        add("sign", [priv, digest, b""], p256.sign)
        sig = p256.sign(priv, digest, extra)
        add("verify", [pub, digest, sig], p256.verify)
        bad = bytearray(sig)
        bad[rnd.randrange(64)] ^= 1 << rnd.randrange(8)
        add("verify", [p256.compress(pub), digest, bytes(bad)], p256.verify)
        add("ecdh", [priv, peer_pub], p256.ecdh)
        add("ecdh", [peer_priv, p256.compress(pub)], p256.ecdh)
    # rejected inputs give an error code, never an answer
    add("public_key", [bytes(32)], p256.public_key)
    add("public_key", [N.to_bytes(32, "big")], p256.public_key)
    off_curve = bytes([4]) + bytes(31) + b"\x01" + bytes(31) + b"\x01"
    add("ecdh", [priv, off_curve], p256.ecdh)
    add("verify", [pub, digest, bytes(64)], p256.verify)
    return calls, expect


def run_emulator(binary, calls):
    res = subprocess.run(["node", RUNNER, binary], input=json.dumps(calls),
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("rp2040js run failed:\n" + res.stderr[-3000:])
    return json.loads(res.stdout)["results"]


def _decode(op, out_hex):
    out = [bytes.fromhex(h) for h in out_hex]
    if op == "keygen":
        return (out[0], out[1])
    if op == "verify":
        return bool(out[0][0])
    return out[0]


def tally(calls, expect, results, matches):
    """Compare the emulator's results with the host's: (mismatches, per-op stats).

    matches(op, out_hex, expected) says whether a successful call's output is
    the host's; a call the host refused must fail on the emulator too.
    """
    if len(results) != len(calls):
        raise RuntimeError("emulator returned %d results for %d calls" % (len(results), len(calls)))
    mismatches = []
    stats = {}
    for call, (rc, out), got in zip(calls, expect, results):
        if rc:
            ok = got["rc"] != 0
        else:
            ok = got["rc"] == 0 and matches(call["op"], got["out"], out)
        if not ok:
            mismatches.append((call, rc, out, got))
        elif not rc:
            s = stats.setdefault(call["op"], {"cycles": [], "stack": []})
            s["cycles"].append(got["cycles"])
            s["stack"].append(got["stack"])
    return mismatches, stats


def check(binary, cases=3, seed=1):
    """Run on the emulator, compare with the host; returns per-op stats."""
    calls, expect = make_calls(cases, seed)
    results = run_emulator(binary, calls)
    mismatches, stats = tally(calls, expect, results, lambda op, out_hex, out: _decode(op, out_hex) == out)
    return mismatches, stats, len(calls)


def main(report=report, check=check, doc=__doc__):
    """The command line of a library's m0tool: `report` (code size, stack) and `check`."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report")
    r.add_argument("--obj", required=True)
    r.add_argument("--ci", required=True)
    c = sub.add_parser("check")
    c.add_argument("--bin", required=True)
    c.add_argument("--cases", type=int, default=3)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--json", help="also write the per-op stats here")
    args = ap.parse_args()
    if args.cmd == "report":
        report(args.obj, args.ci)
        return
    mismatches, stats, n = check(args.bin, args.cases, args.seed)
    print("rp2040js (Cortex-M0+) vs host build: %d calls, %d mismatches" % (n, len(mismatches)))
    for call, rc, out, got in mismatches[:5]:
        print("  MISMATCH", call["op"], "host:", rc or out, "m0:", got)
    print("  %-11s %12s %12s %8s" % ("operation", "cycles(med)", "cycles(max)", "stack"))
    for op, s in stats.items():
        cyc = sorted(s["cycles"])
        print("  %-11s %12d %12d %8d" % (op, cyc[len(cyc) // 2], cyc[-1], max(s["stack"])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(stats, f)
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
