"""Run code on real MicroPython (the WebAssembly build, under Node) from host tests.

    from mpy import run_micropython

    def test_get_info_on_micropython():
        out = run_micropython('''
    import cbor, testcrypto
    from firmware.authenticator import Authenticator   # the real core, unchanged
    class Board:                                        # a minimal board for the script
        def random(self, n):
            return bytes(testcrypto.random_bytes(n))
        ...
    auth = Authenticator(Board())
    print(cbor.dumps(auth.process_cbor(b"\\x04")).hex())  # whatever the API is
    ''').stdout
        assert cbor.loads(bytes.fromhex(out.split()[-1]))[0] == 0   # check on CPython

The script runs as `__main__` in a MicroPython whose filesystem is laid out
as on a board: firmware/ at /firmware (cwd / is on sys.path), the top-level
lib/*.py and lib/ packages (directories with __init__.py) in /lib, minus the
CPython-only shims listed in WASM_EXCLUDE. The test-only bridges in
host_tests/mpy_wasm/ (p256, cryptolib) go in /bridges, first on sys.path,
the way a board's built-in modules come before its filesystem. A JS module
`testcrypto` offers random_bytes(n) and the test crypto the bridges use.

Conventions that keep these tests cheap and their failures readable:
- One run costs ~0.2 s of start-up: batch many cases into one script, print
  one line per case, and compare on the CPython side.
- Pass data as hex strings (binascii.unhexlify on MicroPython); avoid list
  displays of thousands of items (they overflow the wasm build's pystack).
- An exception or failed assert in the script fails the test with the
  MicroPython traceback and all output (MicroPythonError).
- Measure memory with gc.mem_alloc() deltas (gc.disable() around the call).
  Observed with this build: a gc.collect() inside a run frees nothing and
  the heap grows past --heapsize instead, so deltas count every allocation,
  temporaries included, and "live after collect" cannot be measured here.
- To prove a section allocation-free, assert a zero gc.mem_alloc() delta.
  Observed with this build: an allocation under micropython.heap_lock()
  often hangs (bytearray, bytes, dict) instead of raising MemoryError; the
  run then ends only at `timeout`.

Missing Node or the npm package is a test failure with instructions
(`make node-deps`), never a skip.
"""

import glob
import os
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(REPO, "tools", "mpy_wasm.mjs")
NODE_PACKAGE = os.path.join(
    REPO, "tools", "node", "node_modules", "@micropython",
    "micropython-webassembly-pyscript", "micropython.mjs")
BRIDGES = os.path.join(REPO, "host_tests", "mpy_wasm")

# Files under lib/ that exist only for CPython and must not reach MicroPython,
# where the board's built-in module of the same name is the real one.
WASM_EXCLUDE = (
    "lib/cryptolib.py",  # AES over `cryptography` for the host board; boards have cryptolib
)

INSTALL_HINT = (
    "MicroPython (WebAssembly) needs Node.js >= 18 and the npm packages in tools/node: "
    "run `make node-deps` (npm ci --prefix tools/node)")


class MicroPythonError(AssertionError):
    """The script raised (or exited non-zero) on MicroPython; carries its output."""

    def __init__(self, result, what="MicroPython script failed"):
        self.result = result
        AssertionError.__init__(self, "%s (exit %s)\n--- stdout ---\n%s--- stderr ---\n%s" % (
            what, result.returncode, result.stdout, result.stderr))


def node_executable():
    """Path of `node`, or fail the calling test with install instructions."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found on PATH. " + INSTALL_HINT, pytrace=False)
    if not os.path.exists(NODE_PACKAGE):
        pytest.fail("missing " + os.path.relpath(NODE_PACKAGE, REPO) + ". " + INSTALL_HINT,
                    pytrace=False)
    return node


def wasm_files():
    """(host path, MicroPython path) for every repo file the wasm filesystem gets."""
    files = []
    excluded = {os.path.join(REPO, p) for p in WASM_EXCLUDE}

    def add_tree(host_dir, fs_dir):
        for path in sorted(glob.glob(os.path.join(host_dir, "**", "*.py"), recursive=True)):
            if path in excluded or "__pycache__" in path:
                continue
            files.append((path, fs_dir + "/" + os.path.relpath(path, host_dir).replace(os.sep, "/")))

    add_tree(os.path.join(REPO, "firmware"), "/firmware")
    lib = os.path.join(REPO, "lib")
    for path in sorted(glob.glob(os.path.join(lib, "*.py"))):
        if path not in excluded:
            files.append((path, "/lib/" + os.path.basename(path)))
    # Python packages under lib/ (a directory with __init__.py); other
    # directories (C sources such as lib/p256/) are not importable on a board.
    for init in sorted(glob.glob(os.path.join(lib, "*", "__init__.py"))):
        pkg = os.path.dirname(init)
        add_tree(pkg, "/lib/" + os.path.basename(pkg))
    add_tree(BRIDGES, "/bridges")
    return files


def runner_command(tmp, extra_files=None, heapsize=None):
    """The `node tools/mpy_wasm.mjs` command line, without the script argument.

    extra_files ({MicroPython path: str or bytes}) are written under `tmp`,
    which must outlive the runner's start-up (it copies them in first).
    """
    cmd = [node_executable(), RUNNER, "--path", "/bridges"]
    if heapsize:
        cmd += ["--heapsize", str(heapsize)]
    files = list(wasm_files())
    for i, (fs_path, content) in enumerate(sorted((extra_files or {}).items())):
        host = os.path.join(tmp, "extra%d" % i)
        with open(host, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        files.append((host, fs_path))
    for host, fs_path in files:
        cmd += ["--file", host + "=" + fs_path]
    return cmd


def run_micropython(script, extra_files=None, timeout=60, check=True, heapsize=None):
    """Run `script` (source text) on MicroPython; return a CompletedProcess.

    extra_files: {MicroPython path: str or bytes} written into the
    filesystem too (e.g. {"/lib/vectors.py": "..."}).
    check: raise MicroPythonError (an AssertionError, so the test fails with
    the MicroPython traceback and output) when the script raises.
    heapsize: MicroPython heap in bytes (default 1 MiB).
    """
    with tempfile.TemporaryDirectory(prefix="mpy-wasm-") as tmp:
        cmd = runner_command(tmp, extra_files, heapsize) + ["-"]
        try:
            result = subprocess.run(cmd, input=script, capture_output=True, text=True,
                                    timeout=timeout, cwd=REPO)
        except subprocess.TimeoutExpired as e:
            result = subprocess.CompletedProcess(
                cmd, "timeout", _text(e.stdout), _text(e.stderr))
            raise MicroPythonError(result, "MicroPython script timed out after %ss" % timeout)
    if result.returncode == 2 and result.stderr.startswith("mpy_wasm:"):
        raise MicroPythonError(result, "the wasm runner failed to start")
    if check and result.returncode != 0:
        raise MicroPythonError(result)
    return result


def _text(data):
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
