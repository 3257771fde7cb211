"""The differential, malformed-input and vector tests again, against the
build with 32-bit limbs (build/host32/p256.so, -DP256_NO_INT128): the limb
size and C code the boards run. A separate interpreter, so both builds can
be imported as `p256`."""

import os
import subprocess
import sys

from p256_support import REPO, make


def test_suites_pass_with_32_bit_limbs():
    make("p256-host32")
    env = dict(os.environ, P256_LIMBS="32")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         os.path.join(REPO, "host_tests", "test_p256.py"),
         os.path.join(REPO, "host_tests", "test_p256_vectors.py")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert " passed" in res.stdout and " failed" not in res.stdout
