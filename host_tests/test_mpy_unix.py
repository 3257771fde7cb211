"""The unix-port runner itself: host_tests/mpy.py with PYFIDO_MICROPYTHON, tools/micropython_unix.py.

What needs no binary runs in every `make test`: the filesystem the port
gets, the manifest that freezes the core, the digest that catches a stale
binary, the failure for a variable that names no binary. What runs the
binary -- the real p256/cryptolib/os.urandom, the board filesystem mounted
as /, exit statuses, the heap size, the stale-core check -- runs with
PYFIDO_MICROPYTHON (`make test-micropython-unix MICROPY_DIR=...`).
"""

import importlib.util
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import mpy
from mpy import MicroPythonError, only_on, run_micropython

TOOL_PATH = os.path.join(mpy.REPO, "tools", "micropython_unix.py")


def load_tool():
    spec = importlib.util.spec_from_file_location("micropython_unix", TOOL_PATH)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


# -- without a binary ---------------------------------------------------------------


def test_the_manifest_freezes_the_core_after_the_ports_own_modules(tmp_path):
    tool = load_tool()
    text = tool.manifest(str(tmp_path))
    assert text.splitlines()[2] == 'include("$(PORT_DIR)/variants/manifest.py")'
    frozen = tool.frozen_paths()
    assert "lib/cbor.py" in frozen and "firmware/ctaphid.py" in frozen and "firmware/ctap2/__init__.py" in frozen
    assert not any(p.startswith(("boards/", "host_tests/")) for p in frozen)
    for path in frozen:
        assert repr(path.split("/", 1)[1] if path.startswith("lib/") else path) in text, path
    marker = (tmp_path / "frozen" / (tool.MARKER_MODULE + ".py")).read_text()
    assert "CORE_DIGEST = %r" % tool.core_digest() in marker
    assert "freeze(%r, %r)" % (str(tmp_path / "frozen"), tool.MARKER_MODULE + ".py") in text


def test_the_digest_follows_every_frozen_byte(tmp_path, monkeypatch):
    tool = load_tool()
    for rel in ("firmware/__init__.py", "firmware/ctap2/x.py", "lib/cbor.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"pass\n")
    monkeypatch.setattr(tool, "REPO", str(tmp_path))
    assert tool.frozen_paths() == ["firmware/__init__.py", "firmware/ctap2/x.py", "lib/cbor.py"]
    before = tool.core_digest()
    (tmp_path / "firmware/ctap2/x.py").write_bytes(b"pass \n")
    assert tool.core_digest() != before
    (tmp_path / "firmware/ctap2/x.py").write_bytes(b"pass\n")
    assert tool.core_digest() == before
    (tmp_path / "firmware/ctap2/y.py").write_bytes(b"")  # a new module counts too
    assert tool.core_digest() != before


def test_the_unix_filesystem_has_no_core_no_bridges_and_the_python_services():
    files = sorted(fs for _, fs in mpy.unix_files())
    assert not any(f.startswith(("/firmware/", "/bridges/")) for f in files), files
    assert "/lib/cbor.py" not in files and "/lib/cryptolib.py" not in files
    for name in ("pipe_key.py", "keyio.py", "testcrypto.py"):
        assert "/harness/" + name in files


def test_a_variable_naming_no_binary_fails_with_the_build_command(monkeypatch, tmp_path):
    monkeypatch.setenv(mpy.INTERPRETER_VAR, str(tmp_path / "micropython"))
    assert mpy.interpreter() == "unix"
    with pytest.raises(pytest.fail.Exception, match="make firmware-p256-unix MICROPY_DIR="):
        run_micropython("print(1)")


# -- on the unix port ---------------------------------------------------------------


@pytest.fixture
def unix():
    only_on("unix", "runs the unix port's binary")


def test_real_modules_and_the_frozen_core(unix):
    key, iv, data = bytes(range(32)), bytes(range(16)), bytes(range(64))
    out = run_micropython("""
import sys, os, hashlib, binascii, cryptolib, p256, cbor
import firmware.ctaphid
print(type(p256).__name__, hasattr(p256, "__file__"), type(cryptolib).__name__)
print(firmware.ctaphid.__file__, cbor.__file__)
aes = cryptolib.aes(binascii.unhexlify(%r), 2, binascii.unhexlify(%r))
print(binascii.hexlify(aes.encrypt(binascii.unhexlify(%r))).decode())
print(len(os.urandom(32)), os.urandom(16) != os.urandom(16))
print(binascii.hexlify(hashlib.sha256(b"abc").digest()).decode())
print(sys.path, os.getcwd())
""" % (key.hex(), iv.hex(), data.hex())).stdout.splitlines()
    assert out[0] == "module False module"  # built in, not a file
    # frozen: the paths the manifest gave, not a filesystem path (those start with /)
    assert out[1] == "firmware/ctaphid.py cbor.py"
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    assert out[2] == (enc.update(data) + enc.finalize()).hex()
    assert out[3] == "32 True"
    assert out[4] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert out[5] == "['/harness', '', '.frozen', '/lib'] /"


def test_output_exceptions_and_exit_statuses(unix):
    r = run_micropython("print('one')\nprint('two', end='')\nprint('\\u00e9', end='')")
    assert (r.returncode, r.stdout) == (0, "one\ntwo\u00e9")
    script = "print('before')\ndef f():\n    raise KeyError('boom')\nf()\n"
    with pytest.raises(MicroPythonError) as e:
        run_micropython(script)
    assert "KeyError: boom" in str(e.value) and "line 3" in str(e.value)
    r = run_micropython(script, check=False)
    assert r.returncode == 1 and "Traceback" in r.stderr and r.stdout == "before\n"
    assert run_micropython("import sys\nsys.exit(3)", check=False).returncode == 3
    assert run_micropython("import sys\nsys.exit(0)", check=False).returncode == 0
    with pytest.raises(MicroPythonError, match="timed out"):
        run_micropython("while True:\n    pass\n", timeout=2)


def test_the_board_filesystem_is_mounted_as_root(unix):
    out = run_micropython("""
import os, vectors_extra
from boards.common.vfs_storage import VfsStorage
print(vectors_extra.X, sorted(os.listdir("/")))
os.mkdir("/flash")
s = VfsStorage("/flash/pyfido")
s.write("state.new", b"new")
s.rename("state.new", "state")  # what v1.28.0's VfsPosix under a root gets wrong
print(s.list(), s.read("state"))
""", extra_files={"/lib/vectors_extra.py": "X = 42\n", "/boards/__init__.py": "",
                  "/boards/common/__init__.py": "",
                  "/boards/common/vfs_storage.py": open(os.path.join(mpy.REPO, "boards/common/vfs_storage.py")).read()}
    ).stdout.splitlines()
    assert out[0] == "42 ['_pyfido_script.py', 'boards', 'harness', 'lib']"
    assert out[1] == "['state'] b'new'"


def test_heapsize_is_the_heap(unix):
    out = run_micropython("import gc\nprint(gc.mem_free() + gc.mem_alloc())", heapsize=40 * 1024).stdout
    assert 38 * 1024 <= int(out) <= 40 * 1024
    r = run_micropython("x = bytearray(64 * 1024)", heapsize=40 * 1024, check=False)
    assert r.returncode == 1 and "MemoryError" in r.stderr


def test_a_binary_built_from_another_core_fails_with_the_build_command(unix, monkeypatch):
    class Stale:
        MARKER_MODULE = load_tool().MARKER_MODULE
        frozen_paths = staticmethod(load_tool().frozen_paths)

        @staticmethod
        def core_digest():
            return "0" * 64

    monkeypatch.setattr(mpy, "_micropython_unix_tool", lambda: Stale)
    with pytest.raises(pytest.fail.Exception, match="another version of firmware/.*make firmware-p256-unix"):
        run_micropython("print(1)")


def test_word_size(unix):
    bits = mpy.word_bits()
    assert bits in (32, 64)
    assert run_micropython("import time\nprint(time.ticks_add(0, -1))").stdout.strip() == str((1 << (bits - 2)) - 1)
