"""Shared helper for the lib/ed25519 tests: build through the Makefile and
import the CPython build (p256_support.make fails the test loudly on a
missing tool or a failed build; nothing here skips)."""

import importlib
import os
import sys

import pytest

from p256_support import REPO, make

__all__ = ["REPO", "make", "load_ed25519"]


def load_ed25519():
    """build/host/ed25519.so, built if needed; with ED25519_LIMBS=32 in the
    environment the 32-bit-limb build instead (build/host32/ed25519.so, see
    test_ed25519_limbs32.py)."""
    limbs32 = os.environ.get("ED25519_LIMBS") == "32"
    make("ed25519-host32" if limbs32 else "ed25519-host")
    if limbs32:
        sys.path.insert(0, os.path.join(REPO, "build", "host32"))
    importlib.invalidate_caches()
    import ed25519

    if not hasattr(ed25519, "sign"):
        pytest.fail("`import ed25519` did not find the built extension (got %r)" % (ed25519,))
    want = os.path.join("build", "host32" if limbs32 else "host")
    if want not in ed25519.__file__:
        pytest.fail("imported %s, expected the one in %s" % (ed25519.__file__, want))
    return ed25519
