"""Shared helpers for the lib/p256 tests: build through the Makefile and
import the CPython build. A missing tool or a failed build fails the test
loudly; nothing here skips."""

import importlib
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make(*targets):
    """Run `make -C REPO targets`; fail the test with the output on error."""
    if shutil.which("make") is None:
        pytest.fail("`make` is not installed: the p256 tests build through the Makefile")
    res = subprocess.run(["make", "-C", REPO, *targets], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail("make %s failed:\n%s\n%s" % (" ".join(targets), res.stdout[-4000:], res.stderr[-4000:]))
    return res.stdout


def load_p256():
    """The CPython build of lib/p256 (build/host/p256.so), built if needed.
    With P256_LIMBS=32 in the environment, the 32-bit-limb build instead
    (build/host32/p256.so; see test_p256_limbs32.py)."""
    if os.environ.get("P256_LIMBS") == "32":
        make("p256-host32")
        sys.path.insert(0, os.path.join(REPO, "build", "host32"))
    else:
        make("p256-host")
    # build/host may not have existed when the session started: forget that
    # the path importer found nothing there
    importlib.invalidate_caches()
    import p256

    if not hasattr(p256, "sign"):
        pytest.fail("`import p256` did not find the built extension (got %r)" % (p256,))
    want = os.path.join("build", "host32" if os.environ.get("P256_LIMBS") == "32" else "host")
    if want not in p256.__file__:
        pytest.fail("imported %s, expected the one in %s" % (p256.__file__, want))
    return p256
