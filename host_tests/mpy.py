"""Run code on real MicroPython from host tests: the WebAssembly build under Node,
or the unix port when PYFIDO_MICROPYTHON names one.

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

Two interpreters, one API (the interpreter is chosen once, by environment):
- unset PYFIDO_MICROPYTHON: MicroPython 1.27 compiled to WebAssembly, run by
  tools/mpy_wasm.mjs under Node (what `make test` and CI use). It has no
  p256, cryptolib or os.urandom: the test-only bridges in host_tests/mpy_wasm/
  (backed by Node's crypto) stand in for the first two.
- PYFIDO_MICROPYTHON=/path/to/micropython: the MicroPython unix port built by
  `make firmware-p256-unix MICROPY_DIR=...` (build/micropython-unix-{64,32}/):
  lib/p256 compiled in, the port's real cryptolib (mbedtls), hashlib and
  os.urandom, the core frozen in as on a board (tools/micropython_unix.py).
  The binary must have been built from this worktree's core: its frozen
  digest is checked against the sources before the first run.

The script runs in a MicroPython whose filesystem is laid out as on a board:
firmware/ at /firmware (cwd / is on sys.path), the top-level lib/*.py and lib/
packages (directories with __init__.py) in /lib, minus the CPython-only shims
listed in WASM_EXCLUDE. On the unix port the frozen core (firmware/,
lib/cbor.py) is not copied: a board with `make firmware` has it frozen too,
and '' comes before '.frozen' on sys.path, so a copy would shadow it. The
test-only bridges (wasm) go in /bridges, first on sys.path, the way a board's
built-in modules come before its filesystem; the test key board
(host_tests/mpy_board/) and, on unix, the runner's services written in Python
(host_tests/mpy_unix/) go in /harness. A module `testcrypto` offers
random_bytes(n) (on wasm also the test crypto the bridges use). On the unix
port the filesystem is a temporary directory mounted as / (vfs.VfsPosix).

Conventions that keep these tests cheap and their failures readable:
- One run costs ~0.2 s of start-up on wasm (a few ms on unix): batch many
  cases into one script, print one line per case, and compare on the CPython
  side.
- Pass data as hex strings (binascii.unhexlify on MicroPython); avoid list
  displays of thousands of items (they overflow the wasm build's pystack).
- An exception or failed assert in the script fails the test with the
  MicroPython traceback and all output (MicroPythonError).
- Measure memory with gc.mem_alloc() deltas (gc.disable() around the call).
  Observed with the wasm build: a gc.collect() inside a run frees nothing and
  the heap grows past --heapsize instead, so deltas count every allocation,
  temporaries included, and "live after collect" cannot be measured there;
  the unix port's heap is fixed (heapsize=) and its collector frees.
- To prove a section allocation-free, use micropython.heap_lock() on the unix
  port (an allocation raises MemoryError); on the wasm build an allocation
  under heap_lock() often hangs (bytearray, bytes, dict) instead of raising,
  so there assert a zero gc.mem_alloc() delta.
- A test that can run on only one of the two says why through only_on();
  conftest.py accepts those skips and no others.

Missing Node or the npm package is a test failure with instructions
(`make node-deps`), never a skip; so is a PYFIDO_MICROPYTHON that is not a
binary built from this worktree.
"""

import glob
import importlib.util
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
KEY_BOARD = os.path.join(REPO, "host_tests", "mpy_board")
UNIX_SERVICES = os.path.join(REPO, "host_tests", "mpy_unix")

# The environment variable that chooses the unix port (a path to its binary).
INTERPRETER_VAR = "PYFIDO_MICROPYTHON"
UNIX_BUILD_HINT = "make firmware-p256-unix MICROPY_DIR=/path/to/micropython"
# Every skip reason of only_on() starts so; host_tests/conftest.py accepts them.
ONLY_ON = "runs on the MicroPython "

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


# -- which MicroPython ------------------------------------------------------------


def interpreter():
    """"unix" when PYFIDO_MICROPYTHON is set (the unix port), else "wasm"."""
    return "unix" if os.environ.get(INTERPRETER_VAR) else "wasm"


def word_bits():
    """32 or 64: the word size of the chosen MicroPython (the wasm build is 32-bit)."""
    if interpreter() == "wasm":
        return 32
    binary = unix_binary()
    if binary not in _word_bits:
        out = run_micropython("import sys\nprint(64 if sys.maxsize > 2**32 else 32)").stdout
        _word_bits[binary] = int(out)
    return _word_bits[binary]


_word_bits = {}


def only_on(kind, why):
    """Skip the calling test unless the chosen MicroPython is `kind`.

    kind: "unix" (the unix port), "wasm" (the WebAssembly build) or "32-bit"
    (either, with 32-bit words: wasm, or the unix port built with -m32).
    `why` says what the others lack. The skip reason starts with ONLY_ON,
    which conftest.py accepts (every other skip fails the run), and says how
    to run the test.
    """
    if kind == "unix" and interpreter() != "unix":
        pytest.skip("%sunix port only (%s): set %s to a binary of `%s`, or run `make "
                    "test-micropython-unix MICROPY_DIR=...`" % (ONLY_ON, why, INTERPRETER_VAR, UNIX_BUILD_HINT))
    if kind == "wasm" and interpreter() != "wasm":
        pytest.skip("%sWebAssembly build only (%s): unset %s" % (ONLY_ON, why, INTERPRETER_VAR))
    if kind == "32-bit" and word_bits() != 32:
        pytest.skip("%s32-bit builds only (%s): %s is a 64-bit build; the 32-bit one is "
                    "build/micropython-unix-32/micropython" % (ONLY_ON, why, os.environ.get(INTERPRETER_VAR)))
    assert kind in ("unix", "wasm", "32-bit"), kind


def _micropython_unix_tool():
    spec = importlib.util.spec_from_file_location(
        "micropython_unix", os.path.join(REPO, "tools", "micropython_unix.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_unix_checked = {}  # (path, mtime) -> the digest its frozen core was built from


def unix_binary():
    """The unix port's binary PYFIDO_MICROPYTHON names, checked; else fail the test.

    Checked once per binary: it runs, and its frozen core (the
    pyfido_unix_build marker) is this worktree's firmware/ and lib/cbor.py.
    """
    path = os.path.abspath(os.environ.get(INTERPRETER_VAR, ""))
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("%s=%s is not an executable; build the unix port with `%s` "
                    "(build/micropython-unix-64/micropython, build/micropython-unix-32/micropython)"
                    % (INTERPRETER_VAR, os.environ.get(INTERPRETER_VAR), UNIX_BUILD_HINT), pytrace=False)
    tool = _micropython_unix_tool()
    key = (path, os.stat(path).st_mtime_ns)
    if key not in _unix_checked:
        r = subprocess.run([path, "-c", "import %s as b\nprint(b.CORE_DIGEST)" % tool.MARKER_MODULE],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            pytest.fail("%s is not a unix port built by `%s` (no frozen %s):\n%s%s" % (
                path, UNIX_BUILD_HINT, tool.MARKER_MODULE, r.stdout, r.stderr), pytrace=False)
        _unix_checked[key] = r.stdout.strip()
    if _unix_checked[key] != tool.core_digest():
        pytest.fail("%s was built from another version of firmware/ or lib/cbor.py than this "
                    "worktree's (its core is frozen in): rebuild it with `%s`" % (path, UNIX_BUILD_HINT),
                    pytrace=False)
    return path


def node_executable():
    """Path of `node`, or fail the calling test with install instructions."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found on PATH. " + INSTALL_HINT, pytrace=False)
    if not os.path.exists(NODE_PACKAGE):
        pytest.fail("missing " + os.path.relpath(NODE_PACKAGE, REPO) + ". " + INSTALL_HINT,
                    pytrace=False)
    return node


# -- the board filesystem -----------------------------------------------------------


def _tree(host_dir, fs_dir, excluded=()):
    files = []
    for path in sorted(glob.glob(os.path.join(host_dir, "**", "*.py"), recursive=True)):
        if path in excluded or "__pycache__" in path:
            continue
        files.append((path, fs_dir + "/" + os.path.relpath(path, host_dir).replace(os.sep, "/")))
    return files


def _repo_files(frozen=()):
    """(host path, MicroPython path) of firmware/ and lib/, minus exclusions and `frozen`."""
    excluded = {os.path.join(REPO, p) for p in WASM_EXCLUDE + tuple(frozen)}
    files = _tree(os.path.join(REPO, "firmware"), "/firmware", excluded)
    lib = os.path.join(REPO, "lib")
    for path in sorted(glob.glob(os.path.join(lib, "*.py"))):
        if path not in excluded:
            files.append((path, "/lib/" + os.path.basename(path)))
    # Python packages under lib/ (a directory with __init__.py); other
    # directories (C sources such as lib/p256/) are not importable on a board.
    for init in sorted(glob.glob(os.path.join(lib, "*", "__init__.py"))):
        pkg = os.path.dirname(init)
        files += _tree(pkg, "/lib/" + os.path.basename(pkg), excluded)
    return files


def wasm_files():
    """(host path, MicroPython path) for every repo file the wasm filesystem gets."""
    return _repo_files() + _tree(BRIDGES, "/bridges") + _tree(KEY_BOARD, "/harness")


def unix_files():
    """The same for the unix port: no core (it is frozen in), no bridges, the services."""
    frozen = _micropython_unix_tool().frozen_paths()
    return _repo_files(frozen) + _tree(KEY_BOARD, "/harness") + _tree(UNIX_SERVICES, "/harness")


def runner_command(tmp, extra_files=None, heapsize=None):
    """The `node tools/mpy_wasm.mjs` command line, without the script argument.

    extra_files ({MicroPython path: str or bytes}) are written under `tmp`,
    which must outlive the runner's start-up (it copies them in first).
    """
    cmd = [node_executable(), RUNNER, "--path", "/bridges", "--path", "/harness"]
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


# The unix port's start: the temporary directory becomes / (as the wasm
# runner's in-memory filesystem), sys.path as on a board plus /harness, then
# the script is imported (tracebacks name /_pyfido_script.py). An uncaught
# exception exits 1 with the traceback on stderr (the port itself would
# print it on stdout: seen with v1.28.0), SystemExit with its code.
# The root is a vfs.VfsPosix(root) behind a small forwarding class, because
# v1.28.0's VfsPosix.rename() under a root renames the new path onto itself
# (both paths share one buffer; ENOENT) -- fixed upstream after v1.28.0 by
# micropython 3a89fc2411 "extmod/vfs_posix: Fix renaming with a non-empty
# VFS root"; boards/common/vfs_storage.py commits every record by rename.
# (A subclass of VfsPosix would inherit its C import_stat and break imports.)
_UNIX_BOOT = """\
import vfs, os, sys
class _Root:
    def __init__(self, root):
        self._root = root
        self._fs = vfs.VfsPosix(root)
        self._host = vfs.VfsPosix()
    def __getattr__(self, name):
        return getattr(self._fs, name)
    def rename(self, old, new):
        self._host.rename(self._root + old, self._root + new)
vfs.umount("/")
vfs.mount(_Root(%r), "/")
os.chdir("/")
sys.path[:] = ["/harness", "", ".frozen", "/lib"]
del vfs, os, _Root
try:
    import _pyfido_script
except Exception as e:
    sys.print_exception(e, sys.stderr)
    sys.exit(1)
"""
UNIX_SCRIPT = "/_pyfido_script.py"


def unix_command(tmp, script, extra_files=None, heapsize=None):
    """The unix port's command line running `script` on a board filesystem under tmp/root.

    tmp must outlive the process: the filesystem is used in place.
    heapsize: bytes (the port's `-X heapsize=`; its default is 1 MiB per 32 bits of word).
    """
    binary = unix_binary()
    root = os.path.join(tmp, "root")
    files = [(host, fs_path, None) for host, fs_path in unix_files()]
    files += [(None, fs_path, content) for fs_path, content in sorted((extra_files or {}).items())]
    files.append((None, UNIX_SCRIPT, script))
    for host, fs_path, content in files:
        dest = os.path.join(root, fs_path.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if host is not None:
            shutil.copyfile(host, dest)
        else:
            with open(dest, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
    cmd = [binary]
    if heapsize:
        cmd += ["-X", "heapsize=%d" % heapsize]
    return cmd + ["-c", _UNIX_BOOT % root]


def key_command(tmp, script, extra_files=None, heapsize=None):
    """The command line of a virtual key process (host_tests/mpy_key.py) running `script`.

    Its stdin and stdout carry the key's frames; what the script prints goes
    to stderr. tmp must outlive the process.
    """
    if interpreter() == "unix":
        return unix_command(tmp, script, extra_files, heapsize)
    path = os.path.join(tmp, "key.py")
    with open(path, "w") as f:
        f.write(script)
    return runner_command(tmp, extra_files, heapsize) + ["--key", path]


def run_micropython(script, extra_files=None, timeout=60, check=True, heapsize=None):
    """Run `script` (source text) on MicroPython; return a CompletedProcess.

    extra_files: {MicroPython path: str or bytes} written into the
    filesystem too (e.g. {"/lib/vectors.py": "..."}).
    check: raise MicroPythonError (an AssertionError, so the test fails with
    the MicroPython traceback and output) when the script raises.
    heapsize: MicroPython heap in bytes (default: wasm 1 MiB; unix 1 MiB on
    32-bit, 2 MiB on 64-bit).
    """
    unix = interpreter() == "unix"
    with tempfile.TemporaryDirectory(prefix="mpy-unix-" if unix else "mpy-wasm-") as tmp:
        if unix:
            cmd, stdin = unix_command(tmp, script, extra_files, heapsize), None
        else:
            cmd, stdin = runner_command(tmp, extra_files, heapsize) + ["-"], script
        try:
            result = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                                    timeout=timeout, cwd=REPO,
                                    stdin=subprocess.DEVNULL if stdin is None else None)
        except subprocess.TimeoutExpired as e:
            result = subprocess.CompletedProcess(
                cmd, "timeout", _text(e.stdout), _text(e.stderr))
            raise MicroPythonError(result, "MicroPython script timed out after %ss" % timeout)
    if not unix and result.returncode == 2 and result.stderr.startswith("mpy_wasm:"):
        raise MicroPythonError(result, "the wasm runner failed to start")
    if check and result.returncode != 0:
        raise MicroPythonError(result)
    return result


def _text(data):
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


# The head of a unix-port script that looks for secrets left on the C stack
# (test_p256_micropython_wipe.py, test_ed25519_micropython_wipe.py): the
# process's stack mapping as `stack` (/proc/self/maps, read with uctypes),
# on_stack(value), and deep(it), which runs `it` under 200 C frames
# (filter_iternext) so that nothing overwrites its dead frames before the
# scan -- and with no handler among them: a MemoryError goes straight to
# the caller's.
STACK_SCAN = """import uctypes

lo = hi = None
with open("/proc/self/maps") as f:
    for line in f:
        if line.rstrip().endswith("[stack]"):
            lo, hi = [int(x, 16) for x in line.split()[0].split("-")]
stack = uctypes.bytearray_at(lo, hi - lo)

def on_stack(value):
    return bytes(stack).find(value) >= 0

def deep(it):
    for _ in range(200):
        it = filter(None, it)
    return it
"""
