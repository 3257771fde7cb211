"""Benchmark lib/p256 (run by `make bench-p256`; prints numbers, asserts nothing).

From one run on this machine:
  - sign, verify, ECDH and keygen per second for the p256 module and for
    OpenSSL through `cryptography`, both called from Python, and the ratio;
  - the same for the p256 C core and mbedtls (Debian's libmbedtls-dev)
    called from C (lib/p256/bench/bench_c.c), and the ratio;
  - the Cortex-M0+ figures: Thumb code size (+ comb table), worst-case
    stack (static call graph and painted stack in rp2040js) and cycles per
    operation on rp2040js.

Each rate is the best of a few timed rounds, which damps interference from
other processes; on a loaded machine the absolute numbers still move, the
ratios (measured back to back) much less.
"""

import argparse
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "build", "host"))
sys.path.insert(0, os.path.join(REPO, "lib", "p256", "m0"))

OPS = ("sign", "verify", "ecdh", "keygen")


def rate(fn, seconds, rounds=3):
    best = 0.0
    for _ in range(rounds):
        n, t0 = 0, time.perf_counter()
        while True:
            for _ in range(16):
                fn()
            n += 16
            t = time.perf_counter() - t0
            if t >= seconds:
                break
        best = max(best, n / t)
    return best


def python_rates(seconds):
    import p256
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    seed, digest, extra = os.urandom(40), os.urandom(32), os.urandom(32)
    priv, pub = p256.keygen(seed)
    peer = p256.keygen(os.urandom(40))[1]
    sig = p256.sign(priv, digest, extra)
    ours = {
        "sign": lambda: p256.sign(priv, digest, extra),
        "verify": lambda: p256.verify(pub, digest, sig),
        "ecdh": lambda: p256.ecdh(priv, peer),
        "keygen": lambda: p256.keygen(seed),
    }
    alg = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
    key = ec.derive_private_key(int.from_bytes(priv, "big"), ec.SECP256R1())
    ossl_pub = key.public_key()
    der = key.sign(digest, alg)
    ossl_peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer)
    ossl = {
        "sign": lambda: key.sign(digest, alg),
        "verify": lambda: ossl_pub.verify(der, digest, alg),
        "ecdh": lambda: key.exchange(ec.ECDH(), ossl_peer),
        # generate_private_key also computes the public key, like keygen
        "keygen": lambda: ec.generate_private_key(ec.SECP256R1()),
    }
    assert p256.verify(pub, digest, p256.sig_from_der(der))
    assert ossl_pub.public_bytes(serialization.Encoding.X962,
                                 serialization.PublicFormat.UncompressedPoint) == pub
    out = {}
    for op in OPS:  # back to back, so both see the same machine load
        out[op] = (rate(ours[op], seconds), rate(ossl[op], seconds))
    return out


def c_rates(bench_c, seconds):
    res = subprocess.run([bench_c, str(int(seconds * 1000)), "3"], capture_output=True, text=True, check=True)
    rates, version = {}, "?"
    for line in res.stdout.splitlines():
        parts = line.split()
        if parts[0] == "mbedtls-version":
            version = parts[1]
        else:
            rates[(parts[0], parts[1])] = float(parts[2])
    return rates, version


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-c", default=os.path.join(REPO, "build", "bench", "bench_c"))
    ap.add_argument("--m0-bin", default=os.path.join(REPO, "build", "m0", "p256_m0.bin"))
    ap.add_argument("--m0-obj", default=os.path.join(REPO, "build", "m0", "p256.o"))
    ap.add_argument("--m0-ci", default=os.path.join(REPO, "build", "m0", "p256.ci"))
    ap.add_argument("--seconds", type=float, default=0.4, help="per timed round")
    args = ap.parse_args()

    print("lib/p256 benchmark  (%s, %d cores)" % (os.uname().machine, os.cpu_count()))
    print()
    py = python_rates(args.seconds)
    print("From Python, operations per second (best of 3 rounds):")
    print("  %-8s %12s %12s %14s %12s" % ("op", "p256", "OpenSSL", "p256/OpenSSL", "us per op"))
    for op in OPS:
        a, b = py[op]
        print("  %-8s %12.0f %12.0f %13.2fx %12.1f" % (op, a, b, a / b, 1e6 / a))
    print("  (OpenSSL via cryptography; its keygen draws from the OS RNG, ours takes the seed)")
    print()
    c, version = c_rates(args.bench_c, args.seconds)
    print("From C, operations per second (best of 3 rounds):")
    print("  %-8s %12s %12s %14s" % ("op", "p256", "mbedtls " + version, "p256/mbedtls"))
    for op in OPS:
        a, b = c[("p256-c", op)], c[("mbedtls", op)]
        print("  %-8s %12.0f %12.0f %13.2fx" % (op, a, b, a / b))
    print()

    import m0tool

    text, table, stacks = m0tool.code_size(args.m0_obj) + (m0tool.static_stack(args.m0_ci),)
    print("Cortex-M0+ (arm-none-eabi-gcc -mcpu=cortex-m0plus -mthumb -Os):")
    print("  code size: %d bytes of code + %d bytes of comb table = %d bytes" % (text - table, table, text))
    mismatches, stats, _ = m0tool.check(args.m0_bin, cases=2, seed=3)
    if mismatches:
        print("  WARNING: %d results differ from the host build" % len(mismatches))
    print("  %-11s %14s %12s %14s %14s" % ("op", "cycles (M0+)", "ms @125MHz", "stack static", "stack painted"))
    names = {"keygen": "p256_keygen", "public_key": "p256_public_key", "sign": "p256_sign",
             "verify": "p256_verify", "ecdh": "p256_ecdh"}
    for op in ("sign", "verify", "ecdh", "keygen", "public_key"):
        cyc = sorted(stats[op]["cycles"])[len(stats[op]["cycles"]) // 2]
        print("  %-11s %14d %12.1f %14d %14d" % (op, cyc, cyc / 125e3, stacks[names[op]], max(stats[op]["stack"])))
    print("  (cycles: rp2040js timing model, single-cycle multiplier; code and table from RAM/cache)")


if __name__ == "__main__":
    main()
