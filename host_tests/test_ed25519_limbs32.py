"""The differential, edge-case and vector tests again, against the build
with 32-bit limbs (build/host32/ed25519.so, -DED25519_NO_INT128): the limb
size and C code the boards run. A separate interpreter, so both builds can
be imported as `ed25519`."""

import os
import subprocess
import sys

from ed25519_support import REPO, make


def test_suites_pass_with_32_bit_limbs():
    make("ed25519-host32")
    env = dict(os.environ, ED25519_LIMBS="32")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         os.path.join(REPO, "host_tests", "test_ed25519.py"),
         os.path.join(REPO, "host_tests", "test_ed25519_vectors.py")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert " passed" in res.stdout and " failed" not in res.stdout
