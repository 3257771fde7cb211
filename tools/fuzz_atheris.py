"""Coverage-guided fuzzing (atheris / libFuzzer) of the key's report entry point.

    python tools/fuzz_atheris.py [libFuzzer flags] [CORPUS_DIR ...]

Each input is a stream of 65-byte records: a control byte, then one 64-byte
HID output report. The control byte's low three bits pick how long the fake
clock waits before the report (0 ms .. past the CTAPHID and LOCK timeouts);
bit 3 ends a burst (the main loop polls there, so reports within a burst
arrive while a command is running). A trailing partial record is padded
with zeros. The whole core -- CTAPHID, router, command modules, store, CBOR
codec -- is instrumented for coverage, and every input is checked with the
same oracle as the in-suite fuzzing (host_tests/fuzzing.py: no logged
exception, well-formed output, counters, key still answers, store boots).

tools/fuzz.py runs this with a seed corpus and reports the number of inputs.
"""

import os
import sys

import hostpaths  # noqa: E402  (tools/ is sys.path[0] when a tool runs)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = hostpaths.setup("host_tests")

import atheris  # noqa: E402

with atheris.instrument_imports(include=["firmware", "cbor"]):
    import cbor  # noqa: F401
    import firmware.authenticator  # noqa: F401
    import firmware.ctaphid  # noqa: F401
    import firmware.store  # noqa: F401

from fuzzing import FuzzKey  # noqa: E402

GAPS = (0, 0, 0, 5, 100, 499, 501, 10_001)
RECORD = 65
STORE_CHECK_EVERY = 64

_count = [0]


def bursts_of(data):
    out = []
    cur = []
    gap = 0
    for i in range(0, len(data), RECORD):
        rec = data[i : i + RECORD]
        ctrl = rec[0]
        report = bytes(rec[1:]).ljust(64, b"\0")
        if not cur:
            gap = GAPS[ctrl & 7]
        cur.append(report)
        if ctrl & 8 or len(cur) == 4:
            out.append((gap, cur))
            cur = []
    if cur:
        out.append((gap, cur))
    return out


def encode(bursts):
    """The inverse of bursts_of, for seed inputs: [(gap index, [reports])]."""
    data = b""
    for gap_index, reports in bursts:
        for j, r in enumerate(reports):
            ctrl = (gap_index if j == 0 else 0) | (8 if j == len(reports) - 1 else 0)
            data += bytes([ctrl]) + bytes(r)
    return data


def test_one_input(data):
    _count[0] += 1
    key = FuzzKey()
    key.check_case(key.feed(bursts_of(data)), store=_count[0] % STORE_CHECK_EVERY == 0)


def main(argv):
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
