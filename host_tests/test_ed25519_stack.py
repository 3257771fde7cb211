"""lib/ed25519 wipes the stack its callees used: sign and public_key end
with burn_stack(BURN_*), which must reach the bottom of their deepest call
chain. Checked against GCC's static call graph (-fcallgraph-info) of every
build compiled here, each against the set of constants it compiles with:
the Cortex-M0+ images at -Os and -O2, Thumb-1 at -O1 and -O3, x86-64 at
-Os, -O2 and -O3 with 64-bit and with 32-bit limbs (as
test_p256_stack.py does for lib/p256). And the shipped M0+ build signs in
at most 1 KB of stack, wipe included."""

import os

import pytest

import stack_burn
from ed25519_support import REPO, make
from stack_burn import THUMB1, BurnCheck

CHECK = BurnCheck(os.path.join(REPO, "lib", "ed25519", "ed25519.c"),
                  {"ed25519_sign": "BURN_SIGN", "ed25519_public_key": "BURN_PUBLIC"})
HOST_BUILDS = [opt + limbs for opt in ("-Os", "-O2 -fno-tree-vectorize", "-O3")
               for limbs in ("", " -DED25519_NO_INT128")]


@pytest.mark.parametrize("opt", ["", "-O2"])
def test_burn_covers_the_callees_in_the_m0_images(opt):
    make("ed25519-m0-build")
    CHECK.assert_covers(os.path.join(REPO, "build", "ed25519", "m0" + opt, "ed25519.ci"),
                        "thumb1-Os" if opt == "" else "thumb1")


@pytest.mark.parametrize("opt", ["-O1", "-O3"])
def test_burn_covers_the_callees_in_other_thumb1_builds(opt, tmp_path):
    make("p256-arm-tools")
    CHECK.assert_covers(CHECK.call_graph_of("arm-none-eabi-gcc", THUMB1 + [opt], tmp_path), "thumb1")


@pytest.mark.parametrize("flags", HOST_BUILDS)
def test_burn_covers_the_callees_on_the_host(flags, tmp_path):
    CHECK.assert_covers(CHECK.call_graph_of(os.environ.get("CC", "cc"), flags.split(), tmp_path), "other")


def test_m0_sign_public_key_and_verify_fit_in_1_kb_of_stack():
    """The shipped build (Thumb-1 -Os): sign's whole stack, its own frame
    plus burn_stack's (which is deeper than every other callee chain)."""
    make("ed25519-m0-build")
    stacks = stack_burn.m0tool.static_stack(os.path.join(REPO, "build", "ed25519", "m0", "ed25519.ci"))
    assert stacks["ed25519_sign"] <= 1024, stacks["ed25519_sign"]
    assert stacks["ed25519_public_key"] <= 1024, stacks["ed25519_public_key"]
    assert stacks["ed25519_verify"] <= 1024, stacks["ed25519_verify"]


def test_the_check_fails_when_a_burn_is_too_small(tmp_path):
    """The negative control: a call graph deeper than the constant fails."""
    make("ed25519-m0-build")
    CHECK.deeper_control(os.path.join(REPO, "build", "ed25519", "m0", "ed25519.ci"), "fe_mul", tmp_path)
