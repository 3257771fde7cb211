"""Benchmark lib/ed25519 (run by `make bench-ed25519`, part of `make bench`;
prints numbers, asserts nothing).

From one run on this machine:
  - public_key, sign and verify per second for the ed25519 module and for
    OpenSSL through `cryptography`, both called from Python, back to back,
    and the time ratio (the goal: within 3x of OpenSSL);
  - the Cortex-M0+ figures: Thumb code size (code, comb table, SHA-512
    constants), worst-case stack (static call graph and painted stack in
    rp2040js) and cycles per operation on rp2040js, for the -Os build and
    the -O2 build, next to issue 15's goals (sign <= 2.5 M cycles, <= 8 KB
    of Thumb code, <= 1 KB of stack).

Times are the CPU time of the measuring thread (waiting for a core on a
busy machine does not count), best of a few rounds (tools/bench_p256.py's
rate()).
"""

import argparse
import importlib.util
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
from bench_p256 import rate  # noqa: E402

_spec = importlib.util.spec_from_file_location("ed25519_m0tool", os.path.join(REPO, "lib", "ed25519", "m0", "m0tool.py"))
m0tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(m0tool)

OPS = ("public_key", "sign", "verify")
M0_API = {"public_key": "ed25519_public_key", "sign": "ed25519_sign", "verify": "ed25519_verify"}
GOAL_SIGN_CYCLES = 2_500_000
GOAL_CODE = 8192
GOAL_STACK = 1024
GOAL_OPENSSL_RATIO = 3.0
MSG = bytes(range(100))  # a WebAuthn authenticatorData || clientDataHash is ~70-100 bytes


def python_rates(seconds, host_dir):
    sys.path.insert(0, host_dir)
    import ed25519
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if os.path.dirname(os.path.abspath(ed25519.__file__)) != os.path.abspath(host_dir):
        raise SystemExit("imported %s, expected the build in %s" % (ed25519.__file__, host_dir))
    seed = os.urandom(32)
    pub, sig = ed25519.public_key(seed), ed25519.sign(seed, MSG)
    key = Ed25519PrivateKey.from_private_bytes(seed)
    opub = key.public_key()
    assert opub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == pub
    assert key.sign(MSG) == sig
    ours = {
        "public_key": lambda: ed25519.public_key(seed),
        "sign": lambda: ed25519.sign(seed, MSG),
        "verify": lambda: ed25519.verify(pub, MSG, sig),
    }
    ossl = {
        # from the seed, as ours: the key object computes the public key
        "public_key": lambda: Ed25519PrivateKey.from_private_bytes(seed).public_key(),
        # from the seed too: OpenSSL's key object keeps the public key, ours
        # recomputes it; both are measured, the first is the like-for-like one
        "sign": lambda: Ed25519PrivateKey.from_private_bytes(seed).sign(MSG),
        "verify": lambda: opub.verify(sig, MSG),
    }
    out = {op: (rate(ours[op], seconds), rate(ossl[op], seconds)) for op in OPS}
    out["sign (key object kept)"] = (out["sign"][0], rate(lambda: key.sign(MSG), seconds))
    return out


def m0_figures(m0_dir):
    sizes = m0tool.code_size(os.path.join(m0_dir, "ed25519.o"))
    stacks = m0tool.p256_m0.static_stack(os.path.join(m0_dir, "ed25519.ci"))
    mismatches, stats, _ = m0tool.check(os.path.join(m0_dir, "ed25519_m0.bin"), cases=2, seed=3)
    ops = {}
    for op in OPS:
        cyc = sorted(stats[op]["cycles"])
        ops[op] = {"cycles": cyc[len(cyc) // 2], "static": stacks[M0_API[op]],
                   "painted": max(stats[op]["stack"])}
    return sizes, len(mismatches), ops


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--seconds", type=float, default=0.05, help="per round, per operation")
    args = ap.parse_args()

    rows = python_rates(args.seconds, os.path.join(args.build, "host"))
    print("x86-64 host, from Python (ops/s; time = our time / OpenSSL's; goal <= %.1fx):" % GOAL_OPENSSL_RATIO)
    print("  %-24s %10s %10s %8s %10s" % ("op", "ed25519", "OpenSSL", "time", "us per op"))
    for op, (a, b) in rows.items():
        print("  %-24s %10.0f %10.0f %7.2fx %10.1f" % (op, a, b, b / a, 1e6 / a))

    for opt in ("", "-O2"):
        m0_dir = os.path.join(args.build, "ed25519", "m0" + opt)
        sizes, mism, ops = m0_figures(m0_dir)
        print("Cortex-M0+ on rp2040js, %s build (%d mismatches with the host build):"
              % (opt.strip("-") or "Os", mism))
        print("  Thumb text %d bytes = code %d + comb table %d + SHA-512 K %d  (goal <= %d: %.2fx)" % (
            sizes["text"], sizes["text"] - sizes["table"] - sizes["sha512_k"], sizes["table"],
            sizes["sha512_k"], GOAL_CODE, sizes["text"] / GOAL_CODE))
        print("  %-11s %12s %14s %14s" % ("op", "cycles", "static stack", "painted stack"))
        for op in OPS:
            o = ops[op]
            print("  %-11s %12d %14d %14d" % (op, o["cycles"], o["static"], o["painted"]))
        print("  sign: %.2f M cycles (goal <= %.1f M: %.2fx), %.1f ms at 125 MHz; stack: sign %d, "
              "public_key %d, verify %d bytes (goal <= %d)" % (
                  ops["sign"]["cycles"] / 1e6, GOAL_SIGN_CYCLES / 1e6, ops["sign"]["cycles"] / GOAL_SIGN_CYCLES,
                  ops["sign"]["cycles"] / 125e3, ops["sign"]["static"], ops["public_key"]["static"],
                  ops["verify"]["static"], GOAL_STACK))


if __name__ == "__main__":
    main()
