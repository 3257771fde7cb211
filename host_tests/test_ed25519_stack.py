"""lib/ed25519 wipes the stack its callees used: sign and public_key end
with burn_stack(BURN_*), which must reach the bottom of their deepest call
chain. Checked against GCC's static call graph (-fcallgraph-info) of every
build compiled here, each against the set of constants it compiles with:
the Cortex-M0+ images at -Os and -O2, Thumb-1 at -O1 and -O3, x86-64 at
-Os, -O2 and -O3 with 64-bit and with 32-bit limbs (as
test_p256_stack.py does for lib/p256). And the shipped M0+ build signs in
at most 1 KB of stack, wipe included."""

import importlib.util
import os
import re
import shutil
import subprocess

import pytest

from ed25519_support import REPO, make

_spec = importlib.util.spec_from_file_location("p256_m0tool", os.path.join(REPO, "lib", "p256", "m0", "m0tool.py"))
m0tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(m0tool)

ED_C = os.path.join(REPO, "lib", "ed25519", "ed25519.c")
BURNS = {"ed25519_sign": "BURN_SIGN", "ed25519_public_key": "BURN_PUBLIC"}
HOST_BUILDS = [opt + limbs for opt in ("-Os", "-O2 -fno-tree-vectorize", "-O3")
               for limbs in ("", " -DED25519_NO_INT128")]
THUMB1 = ["-mcpu=cortex-m0plus", "-mthumb"]
SETS = ("thumb1-Os", "thumb1", "other")


def burn_sizes(kind):
    with open(ED_C) as f:
        src = f.read()
    block = re.search(r"#if defined\(__thumb__\) && !defined\(__thumb2__\) && defined\(__OPTIMIZE_SIZE__\)\n"
                      r"(.*?)#elif defined\(__thumb__\) && !defined\(__thumb2__\)\n(.*?)#else\n(.*?)#endif",
                      src, re.S)
    assert block, "the BURN_* block of ed25519.c changed shape"
    sizes = dict(re.findall(r"#define (BURN_\w+) (\d+)", block.group(SETS.index(kind) + 1)))
    assert set(sizes) == set(BURNS.values())
    return {name: int(n) for name, n in sizes.items()}


def assert_burn_covers(ci_path, kind):
    burn = burn_sizes(kind)
    paths = m0tool.deepest_paths(ci_path, skip=("burn_stack",))
    for fn, const in BURNS.items():
        total, chain = paths[fn]
        below = total - chain[0][1]
        assert burn[const] >= below, (ci_path, fn, const, burn[const], below, chain)


def _call_graph_of(cc, flags, tmp_path):
    if shutil.which(cc) is None:
        pytest.fail("no C compiler %s (make sysdeps / make p256-arm-tools installs it)" % cc)
    subprocess.run([cc, "-std=c99", *flags, "-fstack-usage", "-fcallgraph-info=su",
                    "-c", ED_C, "-o", str(tmp_path / "ed25519.o")], check=True, cwd=tmp_path)
    return str(tmp_path / "ed25519.ci")


@pytest.mark.parametrize("opt", ["", "-O2"])
def test_burn_covers_the_callees_in_the_m0_images(opt):
    make("ed25519-m0-build")
    assert_burn_covers(os.path.join(REPO, "build", "ed25519", "m0" + opt, "ed25519.ci"),
                       "thumb1-Os" if opt == "" else "thumb1")


@pytest.mark.parametrize("opt", ["-O1", "-O3"])
def test_burn_covers_the_callees_in_other_thumb1_builds(opt, tmp_path):
    make("p256-arm-tools")
    assert_burn_covers(_call_graph_of("arm-none-eabi-gcc", THUMB1 + [opt], tmp_path), "thumb1")


@pytest.mark.parametrize("flags", HOST_BUILDS)
def test_burn_covers_the_callees_on_the_host(flags, tmp_path):
    assert_burn_covers(_call_graph_of(os.environ.get("CC", "cc"), flags.split(), tmp_path), "other")


def test_m0_sign_public_key_and_verify_fit_in_1_kb_of_stack():
    """The shipped build (Thumb-1 -Os): sign's whole stack, its own frame
    plus burn_stack's (which is deeper than every other callee chain)."""
    make("ed25519-m0-build")
    stacks = m0tool.static_stack(os.path.join(REPO, "build", "ed25519", "m0", "ed25519.ci"))
    assert stacks["ed25519_sign"] <= 1024, stacks["ed25519_sign"]
    assert stacks["ed25519_public_key"] <= 1024, stacks["ed25519_public_key"]
    assert stacks["ed25519_verify"] <= 1024, stacks["ed25519_verify"]


def test_the_check_fails_when_a_burn_is_too_small(tmp_path):
    """The negative control: a call graph deeper than the constant fails."""
    make("ed25519-m0-build")
    with open(os.path.join(REPO, "build", "ed25519", "m0", "ed25519.ci")) as f:
        ci = f.read()
    deeper = re.sub(r'(title: "[^"]*fe_mul" label: "[^"]*\\n[^"]*\\n)(\d+)( bytes)',
                    lambda m: m.group(1) + str(int(m.group(2)) + 1024) + m.group(3), ci)
    assert deeper != ci
    (tmp_path / "deeper.ci").write_text(deeper)
    with pytest.raises(AssertionError):
        assert_burn_covers(str(tmp_path / "deeper.ci"), "thumb1-Os")
