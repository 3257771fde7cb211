"""The stack-wipe check shared by lib/p256 and lib/ed25519.

Each library ends its secret-handling API functions with burn_stack(BURN_*),
and each BURN_* must reach the bottom of the function's deepest callee
chain. BurnCheck reads the constants a C file compiles with (three sets:
Thumb-1 -Os, other Thumb-1, everything else) and compares them with GCC's
static call graph (-fcallgraph-info) of a build.
"""

import importlib.util
import os
import re
import shutil
import subprocess

import pytest

from p256_support import REPO

# lib/p256's m0tool, by path under its own name (lib/ed25519 has an m0tool.py too)
_spec = importlib.util.spec_from_file_location("p256_m0tool", os.path.join(REPO, "lib", "p256", "m0", "m0tool.py"))
m0tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(m0tool)

THUMB1 = ["-mcpu=cortex-m0plus", "-mthumb"]
# the three sets of BURN_* in a library's C file, in order
SETS = ("thumb1-Os", "thumb1", "other")
_BLOCK = re.compile(r"#if defined\(__thumb__\) && !defined\(__thumb2__\) && defined\(__OPTIMIZE_SIZE__\)\n"
                    r"(.*?)#elif defined\(__thumb__\) && !defined\(__thumb2__\)\n(.*?)#else\n(.*?)#endif", re.S)


class BurnCheck:
    """c_path: the library's C file; burns: {API function: the BURN_* it ends with}."""

    def __init__(self, c_path, burns):
        self.c_path = c_path
        self.burns = burns

    def burn_sizes(self, kind):
        """The BURN_* constants the C file compiles with for one kind of build."""
        with open(self.c_path) as f:
            src = f.read()
        block = _BLOCK.search(src)
        assert block, "the BURN_* block of %s changed shape" % os.path.basename(self.c_path)
        sizes = dict(re.findall(r"#define (BURN_\w+) (\d+)", block.group(SETS.index(kind) + 1)))
        assert set(sizes) == set(self.burns.values())
        return {name: int(n) for name, n in sizes.items()}

    def assert_covers(self, ci_path, kind):
        burn = self.burn_sizes(kind)
        # burn_stack itself is the wiper, not a callee to wipe after (at -O3
        # GCC clones it per constant, with the whole buffer in its frame)
        paths = m0tool.deepest_paths(ci_path, skip=("burn_stack",))
        for fn, const in self.burns.items():
            total, chain = paths[fn]
            below = total - chain[0][1]  # the callees' part, without fn's own frame
            assert burn[const] >= below, (ci_path, fn, const, burn[const], below, chain)

    def call_graph_of(self, cc, flags, tmp_path):
        """Compile the C file with cc and flags; the path of its .ci call graph."""
        if shutil.which(cc) is None:
            pytest.fail("no C compiler %s (make sysdeps / make p256-arm-tools installs it)" % cc)
        stem = os.path.splitext(os.path.basename(self.c_path))[0]
        subprocess.run([cc, "-std=c99", *flags, "-fstack-usage", "-fcallgraph-info=su",
                        "-c", self.c_path, "-o", str(tmp_path / (stem + ".o"))], check=True, cwd=tmp_path)
        return str(tmp_path / (stem + ".ci"))

    def deeper_control(self, ci_path, leaf, tmp_path):
        """The negative control: ci_path with 1 KB added to the frame of `leaf`
        (a function every chain ends in) must fail the check."""
        with open(ci_path) as f:
            ci = f.read()
        deeper = re.sub(r'(title: "[^"]*%s" label: "[^"]*\\n[^"]*\\n)(\d+)( bytes)' % leaf,
                        lambda m: m.group(1) + str(int(m.group(2)) + 1024) + m.group(3), ci)
        assert deeper != ci
        (tmp_path / "deeper.ci").write_text(deeper)
        with pytest.raises(AssertionError):
            self.assert_covers(str(tmp_path / "deeper.ci"), "thumb1-Os")
