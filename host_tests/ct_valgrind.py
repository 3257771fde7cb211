"""The valgrind constant-time check shared by lib/p256 and lib/ed25519.

Each library's ct/ct_check.c marks its secrets undefined for memcheck and
runs its operations; any branch or memory index that depends on a secret is
an error. tests() gives a test module its three builds' checks and the two
negative controls (a secret branch, a secret table index) that must be
caught, so the check can fail.
"""

import os
import shutil
import subprocess

import pytest

BUILDS = ["ct_check_O2", "ct_check_Os", "ct_check_32"]


def _valgrind(binary, mode):
    return subprocess.run(["valgrind", "-q", "--error-exitcode=99", binary, mode],
                          capture_output=True, text=True, timeout=600)


def tests(make, target, ct_dir):
    """(built fixture, clean-build test, negative-control test) for `make target` into ct_dir."""

    @pytest.fixture(scope="module")
    def built():
        make(target)
        if shutil.which("valgrind") is None:
            pytest.fail("valgrind is not installed (make %s installs it)" % target.replace("-build", ""))
        return ct_dir

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

    return built, test_no_secret_dependent_branch_or_index, test_negative_controls_are_caught
