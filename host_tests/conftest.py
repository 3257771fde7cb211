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


# Hypothesis profiles. "ci" (the default) is what every run uses: 2,000
# examples per property, derandomized so CI is reproducible. Raise the count
# for a long local hunt with HYPOTHESIS_PROFILE=long (HYPOTHESIS_MAX_EXAMPLES,
# default 50,000, random seeds); HYPOTHESIS_PROFILE=dev runs 100 for quick edits.
try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci", max_examples=2000, derandomize=True, database=None, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    settings.register_profile(
        "long", max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "50000")),
        deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", max_examples=100, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # hypothesis is in requirements.txt; tolerate its absence elsewhere
    pass
