"""lib/p256 wipes the stack its callees used: every API function that
handles a secret ends with burn_stack(BURN_*), which must reach the bottom
of its deepest call chain. Checked against GCC's static call graph
(-fcallgraph-info) of every build we can compile here, each against the
set of constants it compiles with: the Cortex-M0+ images at -Os and -O2,
Thumb-1 at -O1 and -O3, and x86-64 at -Os, -O2 and -O3 with 64-bit and
with 32-bit limbs."""

import os

import pytest

from p256_support import REPO, make
from stack_burn import THUMB1, BurnCheck

# which BURN_* each secret-handling API function ends with
CHECK = BurnCheck(os.path.join(REPO, "lib", "p256", "p256.c"),
                  {"p256_sign": "BURN_SIGN", "p256_keygen": "BURN_PUBLIC",
                   "p256_public_key": "BURN_PUBLIC", "p256_ecdh": "BURN_ECDH"})
HOST_BUILDS = [opt + limbs for opt in ("-Os", "-O2 -fno-tree-vectorize", "-O3")
               for limbs in ("", " -DP256_NO_INT128")]


@pytest.mark.parametrize("opt", ["", "-O2"])
def test_burn_covers_the_callees_in_the_m0_images(opt):
    make("p256-m0-build")
    CHECK.assert_covers(os.path.join(REPO, "build", "m0" + opt, "p256.ci"), "thumb1-Os" if opt == "" else "thumb1")


@pytest.mark.parametrize("opt", ["-O1", "-O3"])
def test_burn_covers_the_callees_in_other_thumb1_builds(opt, tmp_path):
    make("p256-arm-tools")
    CHECK.assert_covers(CHECK.call_graph_of("arm-none-eabi-gcc", THUMB1 + [opt], tmp_path), "thumb1")


@pytest.mark.parametrize("flags", HOST_BUILDS)
def test_burn_covers_the_callees_on_the_host(flags, tmp_path):
    CHECK.assert_covers(CHECK.call_graph_of(os.environ.get("CC", "cc"), flags.split(), tmp_path), "other")


def test_the_check_fails_when_a_burn_is_too_small(tmp_path):
    """The negative control: a call graph deeper than the constant fails."""
    make("p256-m0-build")
    CHECK.deeper_control(os.path.join(REPO, "build", "m0", "p256.ci"), "mul_wide", tmp_path)
