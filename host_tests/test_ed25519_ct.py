"""lib/ed25519 in constant time: public_key and sign run under valgrind
memcheck with the seeds marked undefined (lib/ed25519/ct/ct_check.c); any
branch or memory index that depends on the seed, the secret scalar or the
nonce is an error. Three builds (-O2 and -Os with 64-bit limbs, -O2 with
the 32-bit limbs the boards use) and two negative controls (a secret
branch, a secret table index) that must be caught, so this test can fail."""

import os
import shutil
import subprocess

import pytest

from ed25519_support import REPO, make

CT = os.path.join(REPO, "build", "ed25519", "ct")
BUILDS = ["ct_check_O2", "ct_check_Os", "ct_check_32"]


@pytest.fixture(scope="module")
def built():
    make("ed25519-ct-build")
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is not installed (make ed25519-ct installs it)")
    return CT


def _valgrind(binary, mode):
    return subprocess.run(["valgrind", "-q", "--error-exitcode=99", binary, mode],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("build", BUILDS)
def test_no_secret_dependent_branch_or_index(built, build):
    res = _valgrind(os.path.join(built, build), "clean")
    assert res.returncode == 0, res.stderr[-4000:]
    assert "ct_check: ok" in res.stdout


@pytest.mark.parametrize("mode,what", [("leaky-branch", "Conditional jump or move depends on uninitialised"),
                                       ("leaky-index", "Use of uninitialised value")])
def test_negative_controls_are_caught(built, mode, what):
    res = _valgrind(os.path.join(built, "ct_check_O2"), mode)
    assert res.returncode == 99, (res.returncode, res.stderr[-2000:])
    assert what in res.stderr
