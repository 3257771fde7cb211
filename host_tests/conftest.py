"""Shared pytest setup: import paths that mirror the board's filesystem.

On a board, `firmware/` is a package at the filesystem root and `lib/` is on
sys.path. The host board adds `boards/host` (the `micropython` stand-in) and
`build/host` (the CPython build of lib/p256).
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("build/host", "boards/host", "lib", ""):
    path = os.path.join(REPO, sub) if sub else REPO
    if path not in sys.path:
        sys.path.insert(0, path)


def wycheproof_dir():
    """Where the Wycheproof vectors are: $WYCHEPROOF_DIR, else ../shared next to the checkout."""
    env = os.environ.get("WYCHEPROOF_DIR")
    if env:
        return env
    for cand in (
        os.path.join(REPO, "..", "shared", "vectors", "wycheproof"),
        "/work/shared/vectors/wycheproof",
    ):
        if os.path.isdir(cand):
            return os.path.abspath(cand)
    return None
