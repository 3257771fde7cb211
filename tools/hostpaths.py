"""sys.path for the host-side tools, laid out as host_tests/conftest.py does:
the CPython build of lib/p256, the host board's `micropython` stand-in,
lib/ (the device's codec) and the repository root; `extra` adds more
(host_tests for the fuzzing and power-cut helpers)."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup(*extra):
    for sub in ("build/host", "boards/host", "lib") + extra + ("",):
        path = os.path.join(REPO, sub) if sub else REPO
        if path not in sys.path:
            sys.path.insert(0, path)
    return REPO
