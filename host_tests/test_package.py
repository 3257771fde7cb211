"""The pyfido-key distribution (pyproject.toml, tools/packaging/pyfido_build.py).

First the build helper on its own: the import rewriting, the vendored file
list, the one list of C modules. Then the real thing, as a relying-party
developer gets it: `python -m build` (the sdist, then the wheel built from
it), the wheel installed into a fresh virtual environment with the example's
test requirements from PyPI, every module of the installed package
imported, the console script run, and examples/relying_party's test suite
run there -- from a copy outside the checkout, with nothing of the checkout
on sys.path; last, `pip install .` from the checkout gives the same package.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import tomllib
import zipfile
import xml.etree.ElementTree as ET

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools", "packaging"))
import pyfido_build  # noqa: E402

CORE = "pyfido_key._core"
FORBIDDEN_TOP_LEVEL = ("firmware", "boards", "cbor", "p256", "ed25519", "cryptolib", "micropython")


def pyproject():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def ext_names():
    return [e["name"] for e in pyproject()["tool"]["setuptools"]["ext-modules"]]


MAPPING = pyfido_build.rewrite_map(ext_names())


# -- the build helper --------------------------------------------------------------


@pytest.mark.parametrize("source, expected", [
    ("import cbor\n", "from pyfido_key._core import cbor\n"),
    ("import cbor as c\n", "from pyfido_key._core import cbor as c\n"),
    ("import p256\n", "from pyfido_key._core import p256\n"),
    ("import hashlib, cbor, os\n", "import hashlib; from pyfido_key._core import cbor; import os\n"),
    ("from micropython import const\n", "from pyfido_key._core.boards.host.micropython import const\n"),
    ("from firmware import store as st\n", "from pyfido_key._core.firmware import store as st\n"),
    ("from firmware.ctap2.params import BYTES, need\n", "from pyfido_key._core.firmware.ctap2.params import BYTES, need\n"),
    ("import firmware.ctap2.params as params\n", "from pyfido_key._core.firmware.ctap2 import params\n"),
    ("try:\n    import cryptolib as _aes\nexcept ImportError:\n    import ucryptolib as _aes\n",
     "try:\n    from pyfido_key._core import cryptolib as _aes\nexcept ImportError:\n    import ucryptolib as _aes\n"),
    ("def f():\n    from boards.host.client import open_device  # lazily\n",
     "def f():\n    from pyfido_key._core.boards.host.client import open_device  # lazily\n"),
    # left alone: other modules, relative imports, words in strings and comments
    ("import os\nfrom . import x\ns = 'import cbor'  # from firmware import x\n",
     "import os\nfrom . import x\ns = 'import cbor'  # from firmware import x\n"),
    ("import cborg\nfrom firmwares import x\n", "import cborg\nfrom firmwares import x\n"),
])
def test_rewrite_imports(source, expected):
    assert pyfido_build.rewrite_imports(source, MAPPING) == expected


def test_rewrite_keeps_line_numbers_of_a_parenthesised_import():
    source = "from firmware.status import (\n    CtapError,  # the error\n    CTAP1_ERR_OTHER,\n)\nx = 1\n"
    out = pyfido_build.rewrite_imports(source, MAPPING)
    assert out.count("\n") == source.count("\n") and out.splitlines()[-1] == "x = 1"
    assert ast.dump(ast.parse(out).body[0]) == ast.dump(
        ast.parse("from pyfido_key._core.firmware.status import CtapError, CTAP1_ERR_OTHER").body[0])


def test_an_import_that_binds_the_top_level_name_is_refused():
    with pytest.raises(pyfido_build.VendorError, match="binds the top-level name"):
        pyfido_build.rewrite_imports("import firmware.store\n", MAPPING, "x.py")


def test_the_c_modules_come_from_pyproject_alone():
    # each C module of lib/ is one line in pyproject.toml's ext-modules
    assert MAPPING["p256"] == CORE + ".p256"
    assert MAPPING["ed25519"] == CORE + ".ed25519"
    for ext in pyproject()["tool"]["setuptools"]["ext-modules"]:
        assert ext["name"].startswith(CORE + ".")
        for path in ext["sources"] + ext.get("depends", []):
            assert os.path.exists(os.path.join(REPO, path)), path


def test_the_package_version_is_the_firmwares():
    from firmware.device import FIRMWARE_VERSION

    assert pyproject()["project"]["version"] == ".".join(str(v) for v in FIRMWARE_VERSION)


def test_vendored_core_imports_only_itself(tmp_path):
    written = pyfido_build.build_vendored(REPO, str(tmp_path), ext_names())
    rel = sorted(os.path.relpath(p, tmp_path) for p in written)
    assert "pyfido_key/_core/firmware/ctap2/make_credential.py" in rel
    assert "pyfido_key/_core/boards/host/api.py" in rel and "pyfido_key/_core/cbor.py" in rel
    assert "pyfido_key/_core/boards/host/run.py" not in rel  # it puts the checkout on sys.path
    for path in written:
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_TOP_LEVEL, (path, name)


def test_a_module_the_package_lacks_fails_the_build(tmp_path, monkeypatch):
    files = pyfido_build.vendored_files(REPO)
    monkeypatch.setattr(pyfido_build, "vendored_files",
                        lambda root=".": [f for f in files if f[1] != "boards/host/memory_storage.py"])
    with pytest.raises(pyfido_build.VendorError, match="memory_storage.*does not contain"):
        pyfido_build.build_vendored(REPO, str(tmp_path), ext_names())


# -- the distribution, built and installed --------------------------------------------

# What runs inside the fresh environment: every module of the installed
# package imported, then nothing but pyfido_key in sys.modules or site-packages.
IMPORT_ALL = textwrap.dedent("""
    import importlib, importlib.metadata, json, os, pkgutil, sys, sysconfig
    import pyfido_key
    names = [m.name for m in pkgutil.walk_packages(pyfido_key.__path__, "pyfido_key.")]
    for name in names:
        importlib.import_module(name)
    site = sysconfig.get_paths()["purelib"]
    from pyfido_key._core.firmware import credential
    print(json.dumps({
        "algorithms": list(credential.ALGORITHMS),
        "file": pyfido_key.__file__,
        "version": pyfido_key.__version__,
        "modules": names,
        "top_level": sorted({m.split(".")[0] for m in sys.modules}),
        "site_packages": sorted(os.listdir(site)),
        "site": site,
        "sys_path": sys.path,
        "pytest11": [e.value for e in importlib.metadata.entry_points(group="pytest11")],
        "scripts": [e.value for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "pyfido-key"],
    }))
""")


def _clean_env():
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(var, None)
    return env


def _run(cmd, timeout, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert r.returncode == 0, "%s failed (%d):\n%s\n%s" % (cmd, r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return r


def test_wheel_in_a_fresh_venv_runs_the_example(tmp_path):
    times = {}
    dist = tmp_path / "dist"
    env = _clean_env()

    # 1. python -m build: the sdist, then the wheel built from the sdist alone.
    t = time.monotonic()
    _run([sys.executable, "-m", "build", "--outdir", str(dist), REPO], 600, env=env, cwd=str(tmp_path))
    times["build"] = time.monotonic() - t
    (sdist,) = dist.glob("pyfido_key-*.tar.gz")
    (wheel,) = dist.glob("pyfido_key-*.whl")

    with tarfile.open(sdist) as tar:
        in_sdist = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for need in ("pyproject.toml", "README.md", "tools/packaging/pyfido_build.py",
                 "tools/packaging/pyfido_key/__init__.py", "lib/p256/p256.c", "lib/p256/p256_cpython.c",
                 "lib/p256/p256.h", "lib/p256/p256_table.h", "lib/ed25519/ed25519.c",
                 "lib/ed25519/ed25519_cpython.c", "lib/ed25519/ed25519.h", "lib/ed25519/ed25519_table.h", "lib/cbor.py", "lib/cryptolib.py",
                 "boards/host/api.py", "boards/common/vfs_storage.py", "firmware/ctap2/client_pin.py"):
        assert need in in_sdist, need
    assert not any(n.startswith(("host_tests/", ".venv/", "build/", "examples/")) or n.endswith(".so")
                   for n in in_sdist)
    # no egg-info in the checkout's root: importlib.metadata would find the
    # pytest plugin's entry point there, in every process with the checkout on sys.path
    assert not [n for n in os.listdir(REPO) if n.endswith(".egg-info")]

    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {n.split("/")[0] for n in names} == {"pyfido_key", "pyfido_key-0.1.0.dist-info"}
    for ext in ("p256", "ed25519"):
        assert any(n.startswith("pyfido_key/_core/%s." % ext) and n.endswith(".so") for n in names), names
    assert "pyfido_key/_core/firmware/authenticator.py" in names
    assert "pyfido-key = pyfido_key._core.boards.host.cli:run" in entry_points
    assert "pyfido_key = pyfido_key._core.boards.host.pytest_plugin" in entry_points
    assert "Requires-Dist: fido2" in metadata and "Name: pyfido-key" in metadata

    # 2. a fresh virtual environment (no system site-packages): the wheel and
    # the example's test requirements from PyPI (pip's cache is shared between runs)
    venv = tmp_path / "venv"
    t = time.monotonic()
    _run([sys.executable, "-m", "venv", str(venv)], 300, env=env)
    py = str(venv / "bin" / "python")
    _run([py, "-m", "pip", "install", "--quiet", str(wheel), "-r",
          os.path.join(REPO, "examples", "relying_party", "requirements-test.txt")], 600, env=env)
    times["venv"] = time.monotonic() - t

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    r = _run([py, "-c", IMPORT_ALL], 120, env=env, cwd=str(outside))
    found = json.loads(r.stdout)
    assert found["file"].startswith(found["site"]) and found["version"] == "0.1.0"
    assert not any(p == REPO or p.startswith(REPO + os.sep) for p in found["sys_path"])
    assert len(found["modules"]) > 40 and CORE + ".firmware.ctap2.make_credential" in found["modules"]
    assert CORE + ".p256" in found["modules"] and CORE + ".boards.host.pytest_plugin" in found["modules"]
    assert CORE + ".ed25519" in found["modules"] and found["algorithms"] == [-7, -8, -9, -19]
    for name in FORBIDDEN_TOP_LEVEL:
        assert name not in found["top_level"], name
        assert not any(n == name or n.startswith(name + ".") for n in found["site_packages"]), name
    assert "pyfido_key._core.boards.host.pytest_plugin" in found["pytest11"]

    # 3. the console script
    script = str(venv / "bin" / "pyfido-key")
    assert "serve" in _run([script, "--help"], 60, env=env).stdout
    r = subprocess.run([script, "serve", "--uhid", "--uhid-path", str(tmp_path / "no-uhid")], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 2 and "modprobe uhid" in r.stderr

    # 4. the example's own test suite, from a copy outside the checkout
    example = outside / "relying_party"
    shutil.copytree(os.path.join(REPO, "examples", "relying_party"), example,
                    ignore=shutil.ignore_patterns("__pycache__"))
    report = tmp_path / "junit.xml"
    t = time.monotonic()
    r = subprocess.run([py, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--junitxml", str(report)],
                       capture_output=True, text=True, timeout=600, env=env, cwd=str(example))
    times["example"] = time.monotonic() - t
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]  # 5 (nothing collected) fails too
    suite = ET.parse(report).getroot().find("testsuite")
    with open(example / "test_rp.py") as f:
        defined = sum(1 for n in ast.parse(f.read()).body
                      if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))
    assert int(suite.get("tests")) == defined >= 10
    assert suite.get("failures") == suite.get("errors") == suite.get("skipped") == "0"

    # 5. `pip install .` from the checkout itself (no sdist in between) gives the same package
    t = time.monotonic()
    _run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", REPO], 600, env=env,
         cwd=str(outside))
    times["pip install ."] = time.monotonic() - t
    again = json.loads(_run([py, "-c", IMPORT_ALL], 120, env=env, cwd=str(outside)).stdout)
    assert again["modules"] == found["modules"] and again["top_level"] == found["top_level"]
    assert again["site_packages"] == found["site_packages"]
    assert not [n for n in os.listdir(REPO) if n.endswith(".egg-info")]
    print("package test seconds: %s" % ", ".join("%s %.1f" % kv for kv in times.items()))
