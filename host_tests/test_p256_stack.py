"""lib/p256 wipes the stack its callees used: every API function that
handles a secret ends with burn_stack(BURN_*), which must reach the bottom
of its deepest call chain. Checked against GCC's static call graph
(-fcallgraph-info) of every build we can compile here, each against the
set of constants it compiles with: the Cortex-M0+ images at -Os and -O2,
Thumb-1 at -O1 and -O3, and x86-64 at -Os, -O2 and -O3 with 64-bit and
with 32-bit limbs."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from p256_support import REPO, make

sys.path.insert(0, os.path.join(REPO, "lib", "p256", "m0"))
import m0tool  # noqa: E402

P256_C = os.path.join(REPO, "lib", "p256", "p256.c")
# which BURN_* each secret-handling API function ends with
BURNS = {"p256_sign": "BURN_SIGN", "p256_keygen": "BURN_PUBLIC",
         "p256_public_key": "BURN_PUBLIC", "p256_ecdh": "BURN_ECDH"}
HOST_BUILDS = [opt + limbs for opt in ("-Os", "-O2 -fno-tree-vectorize", "-O3")
               for limbs in ("", " -DP256_NO_INT128")]
THUMB1 = ["-mcpu=cortex-m0plus", "-mthumb"]
# the three sets of BURN_* in p256.c, in order
SETS = ("thumb1-Os", "thumb1", "other")


def burn_sizes(kind):
    """The BURN_* constants p256.c compiles with for one kind of build."""
    with open(P256_C) as f:
        src = f.read()
    block = re.search(r"#if defined\(__thumb__\) && !defined\(__thumb2__\) && defined\(__OPTIMIZE_SIZE__\)\n"
                      r"(.*?)#elif defined\(__thumb__\) && !defined\(__thumb2__\)\n(.*?)#else\n(.*?)#endif",
                      src, re.S)
    assert block, "the BURN_* block of p256.c changed shape"
    sizes = dict(re.findall(r"#define (BURN_\w+) (\d+)", block.group(SETS.index(kind) + 1)))
    assert set(sizes) == set(BURNS.values())
    return {name: int(n) for name, n in sizes.items()}


def assert_burn_covers(ci_path, kind):
    burn = burn_sizes(kind)
    # burn_stack itself is the wiper, not a callee to wipe after (at -O3
    # GCC clones it per constant, with the whole buffer in its frame)
    paths = m0tool.deepest_paths(ci_path, skip=("burn_stack",))
    for fn, const in BURNS.items():
        total, chain = paths[fn]
        below = total - chain[0][1]  # the callees' part, without fn's own frame
        assert burn[const] >= below, (ci_path, fn, const, burn[const], below, chain)


def _call_graph_of(cc, flags, tmp_path):
    if shutil.which(cc) is None:
        pytest.fail("no C compiler %s (make sysdeps / make p256-arm-tools installs it)" % cc)
    subprocess.run([cc, "-std=c99", *flags, "-fstack-usage", "-fcallgraph-info=su",
                    "-c", P256_C, "-o", str(tmp_path / "p256.o")], check=True, cwd=tmp_path)
    return str(tmp_path / "p256.ci")


@pytest.mark.parametrize("opt", ["", "-O2"])
def test_burn_covers_the_callees_in_the_m0_images(opt):
    make("p256-m0-build")
    assert_burn_covers(os.path.join(REPO, "build", "m0" + opt, "p256.ci"),
                       "thumb1-Os" if opt == "" else "thumb1")


@pytest.mark.parametrize("opt", ["-O1", "-O3"])
def test_burn_covers_the_callees_in_other_thumb1_builds(opt, tmp_path):
    make("p256-arm-tools")
    assert_burn_covers(_call_graph_of("arm-none-eabi-gcc", THUMB1 + [opt], tmp_path), "thumb1")


@pytest.mark.parametrize("flags", HOST_BUILDS)
def test_burn_covers_the_callees_on_the_host(flags, tmp_path):
    assert_burn_covers(_call_graph_of(os.environ.get("CC", "cc"), flags.split(), tmp_path), "other")


def test_the_check_fails_when_a_burn_is_too_small(tmp_path):
    """The negative control: a call graph deeper than the constant fails."""
    make("p256-m0-build")
    with open(os.path.join(REPO, "build", "m0", "p256.ci")) as f:
        ci = f.read()
    # add 1 KB to the frame of the function every chain ends in
    deeper = re.sub(r'(title: "[^"]*mul_wide" label: "[^"]*\\n[^"]*\\n)(\d+)( bytes)',
                    lambda m: m.group(1) + str(int(m.group(2)) + 1024) + m.group(3), ci)
    assert deeper != ci
    (tmp_path / "deeper.ci").write_text(deeper)
    with pytest.raises(AssertionError):
        assert_burn_covers(str(tmp_path / "deeper.ci"), "thumb1-Os")
