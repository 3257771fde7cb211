"""`make fuzz`: long fuzzing runs of the whole key; prints how many inputs ran.

    python tools/fuzz.py [--examples N] [--atheris-runs N] [--workers N] [--seed S]

Phase 1, hypothesis (random seeds, printed so a failure can be replayed):
the in-suite targets of host_tests/test_fuzz.py and the stateful model of
host_tests/test_fuzz_stateful.py with far larger budgets.
Phase 2, atheris: coverage-guided fuzzing of the report entry point
(tools/fuzz_atheris.py) from a seed corpus of real sessions, in --workers
processes; libFuzzer's own per-input timeout catches hangs.

Every input is checked by the oracle in host_tests/fuzzing.py. Exit status
is non-zero on any failure; crashing inputs are kept in build/fuzz/.
"""

import argparse
import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import time

import hostpaths  # noqa: E402  (tools/ is sys.path[0] when a tool runs)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = hostpaths.setup("host_tests")

import cbor2  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as S  # noqa: E402

import fuzzing  # noqa: E402
from fuzzing import ANY_COMMAND_REQUEST, SCHEMAS, FuzzKey, apdus, cbor_bytes, encode_apdu, report_stream, requests  # noqa: E402
from hidpackets import BROADCAST, init_packet, packets  # noqa: E402

OUT = os.path.join(REPO, "build", "fuzz")
HANG_SECONDS = 20


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang("a case ran for more than %d s" % HANG_SECONDS)


def _guarded(fn, value):
    """Run one case under a wall-clock alarm: a hang is a failure."""
    signal.alarm(HANG_SECONDS)
    try:
        fn(value)
    finally:
        signal.alarm(0)


# -- phase 1: hypothesis ---------------------------------------------------------------


def hypothesis_phase(examples, seed):
    counts = {}
    base = settings(
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )

    def target(name, strategy, body, n):
        counter = [0]

        def case(value):
            counter[0] += 1
            _guarded(body, value)

        test = settings(base, max_examples=n)(given(strategy)(case))
        test = seed_fn(seed)(test)
        t = time.time()
        test()
        counts[name] = counter[0]
        print("  %-34s %8d cases  %6.1f s" % (name, counter[0], time.time() - t), flush=True)

    def stream(bursts):
        key = FuzzKey()
        key.check_case(key.feed(bursts))

    def cbor_case(t):
        key = FuzzKey()
        key.check_cbor_response(key.cbor(bytes([t[0]]) + t[1]))
        key.check_case()

    def sequence(t):
        reqs, pin = t
        key = FuzzKey(pin=pin)
        for cmd, req in reqs:
            key.request(cmd, req)
        key.check_case()

    target("CTAPHID report streams", report_stream(fuzzing.ANY_REQUEST), stream, examples)
    target("CBOR bytes into the router", S.tuples(S.integers(0, 0xFF), cbor_bytes()), cbor_case, examples)
    for command in sorted(SCHEMAS):
        target("parameter maps, command 0x%02x" % command, S.tuples(S.lists(requests(command), min_size=1, max_size=3), S.booleans()), sequence, examples // 4)
    target("request sequences", S.tuples(S.lists(ANY_COMMAND_REQUEST, min_size=2, max_size=10), S.booleans()), sequence, examples)

    def u2f(specs):
        key = FuzzKey()
        for spec in specs:
            key.u2f(spec)
        key.check_case()

    target("U2F APDU sequences", S.lists(apdus(), min_size=1, max_size=8), u2f, examples)

    import test_fuzz_stateful

    machine = test_fuzz_stateful.KeyMachine
    machine.TestCase.settings = settings(base, max_examples=max(10, examples // 20), stateful_step_count=50)
    t = time.time()
    seed_fn(seed)(lambda: machine.TestCase().runTest())()
    n = machine.TestCase.settings.max_examples
    counts["stateful model (runs of 50 steps)"] = n
    print("  %-34s %8d runs   %6.1f s" % ("stateful model", n, time.time() - t), flush=True)
    return counts


def seed_fn(seed):
    from hypothesis import seed as hseed

    return hseed(seed)


# -- phase 2: atheris ------------------------------------------------------------------------


def seed_corpus(path):
    """Real sessions as atheris inputs: INIT, getInfo, PING, LOCK/WINK,
    makeCredential + getAssertion, a cancelled request."""
    from fuzz_atheris import encode

    os.makedirs(path, exist_ok=True)
    cid = 1
    init = [(0, [init_packet(BROADCAST, fuzzing.INIT, b"\x11" * 8)])]
    mc = bytes([1]) + cbor2.dumps(
        {
            1: bytes(32),
            2: {"id": "a.example"},
            3: {"id": b"u", "name": "n"},
            4: [{"type": "public-key", "alg": -7}],
            7: {"rk": True},
        },
        canonical=True,
    )
    ga = bytes([2]) + cbor2.dumps({1: "a.example", 2: bytes(32)}, canonical=True)
    app = hashlib.sha256(b"a.example").digest()
    register = encode_apdu((b"\x00\x01\x03\x00", [bytes(32), app], "extended", b""))
    seeds = {
        "u2f-register-version": init
        + [(0, packets(cid, fuzzing.MSG, register)), (0, packets(cid, fuzzing.MSG, b"\x00\x03\x00\x00\x00\x00\x00"))],
        "init": init,
        "getinfo": init + [(0, packets(cid, fuzzing.CBOR, b"\x04"))],
        "ping": init + [(0, packets(cid, fuzzing.PING, bytes(range(200))))],
        "lock-wink": init + [(0, packets(cid, fuzzing.LOCK, b"\x02")), (0, packets(cid, fuzzing.WINK, b""))],
        "mc-ga": init + [(0, packets(cid, fuzzing.CBOR, mc)), (0, packets(cid, fuzzing.CBOR, ga))],
        "cancel": init + [(0, packets(cid, fuzzing.CBOR, mc) + [init_packet(cid, fuzzing.CANCEL)])],
        "timeout": init + [(0, packets(cid, fuzzing.CBOR, mc)[:1]), (5, packets(cid, fuzzing.PING, b"x"))],
    }
    for name, bursts in seeds.items():
        with open(os.path.join(path, "seed-" + name), "wb") as f:
            f.write(encode(bursts))
    return len(seeds)


def atheris_phase(runs, workers, seed):
    seeds = os.path.join(OUT, "seeds")
    seed_corpus(seeds)
    procs = []
    per = (runs + workers - 1) // workers
    for w in range(workers):
        corpus = os.path.join(OUT, "corpus-%d" % w)
        os.makedirs(corpus, exist_ok=True)
        log = open(os.path.join(OUT, "atheris-%d.log" % w), "w")
        cmd = [
            sys.executable,
            os.path.join(HERE, "fuzz_atheris.py"),
            "-runs=%d" % per,
            "-seed=%d" % (seed + w),
            "-timeout=%d" % HANG_SECONDS,
            "-rss_limit_mb=4096",
            "-max_len=4096",
            "-print_final_stats=1",
            "-artifact_prefix=%s/" % OUT,
            corpus,
            seeds,
        ]
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO), log, w))
    total = 0
    ok = True
    for p, log, w in procs:
        rc = p.wait()
        log.close()
        text = open(log.name).read()
        m = re.search(r"Done (\d+) runs in (\d+) second", text)
        done = int(m.group(1)) if m else 0
        cov = re.findall(r"cov: (\d+) ft: (\d+)", text)
        total += done
        print(
            "  atheris worker %d: %d inputs%s, exit %d (log %s)"
            % (w, done, (", coverage %s edges %s features" % cov[-1]) if cov else "", rc, os.path.relpath(log.name, REPO)),
            flush=True,
        )
        if rc != 0:
            ok = False
            print(text[-3000:])
    return total, ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", 20000)), help="hypothesis cases per target")
    ap.add_argument("--atheris-runs", type=int, default=int(os.environ.get("FUZZ_ATHERIS_RUNS", 1000000)), help="atheris inputs in total")
    ap.add_argument("--workers", type=int, default=int(os.environ.get("FUZZ_WORKERS", 2)))
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    os.makedirs(OUT, exist_ok=True)
    signal.signal(signal.SIGALRM, _alarm)
    print("make fuzz: seed %d (replay with --seed %d)" % (seed, seed), flush=True)
    t0 = time.time()
    print("hypothesis, %d examples per target:" % args.examples, flush=True)
    counts = hypothesis_phase(args.examples, seed)
    hyp = sum(v for k, v in counts.items() if "stateful" not in k)
    ath, ok = (0, True)
    if args.atheris_runs > 0:
        print("atheris, %d inputs over %d workers:" % (args.atheris_runs, args.workers), flush=True)
        ath, ok = atheris_phase(args.atheris_runs, args.workers, seed)
    print(
        "make fuzz: %d inputs without a failure (hypothesis %d cases, atheris %d inputs) in %.0f s"
        % (hyp + ath, hyp, ath, time.time() - t0)
        if ok
        else "make fuzz: FAILED (see above)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
