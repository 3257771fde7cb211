"""The virtual key on real MicroPython: the core in a child process, driven from CPython.

    key = MicroPythonKey(presence="manual").start()   # a power-up
    dev = key.open_device(timeout=30)                 # python-fido2 CtapHidDevice
    Ctap2(dev).get_info()
    key.press()                                       # the button
    records = key.stop()                              # power off, wherever the key was
    key = MicroPythonKey(storage=key.storage).start() # power cycle: a new process

The child is `node tools/mpy_wasm.mjs --key` (the WebAssembly build) or the
unix port PYFIDO_MICROPYTHON names (host_tests/mpy.py chooses) running the
unchanged core (firmware/, lib/cbor.py, boards/common/vfs_storage.py) on the
test-only board host_tests/mpy_board/pipe_key.py, which documents the framed pipe between
the two (frames: KIND, 4-byte length, payload). The child's stdin is a pipe
whose read end is O_NONBLOCK, so the key polls it as a board polls its USB
endpoint; its stdout carries only frames; its stderr is the MicroPython
console (tracebacks), kept in `console` for failure messages.

It stands in for boards/host/virtual_key.VirtualKey in the end-to-end tests:
`address`, `open_device()`, `board.presence` (press/deny/requests/mode),
`board.led_events`, `board.clock.advance()`, `authenticator` (a remote view,
see RemoteObject), and `storage` (any board storage: the key boots with its
records and puts its own back at every stop).
"""

import ast
import contextlib
import inspect
import os
import queue
import struct
import subprocess
import tempfile
import threading

import cbor2
import pytest
from fido2.hid import CTAPHID, CtapHidDevice
from fido2.hid.base import CtapHidConnection

import mpy
from boards.host.board import HostBoard
from boards.host.client import descriptor
from boards.host.memory_storage import MemoryStorage

REPORT_SIZE = 64
_HEADER = struct.Struct(">cI")
# The boards/ files the key needs besides the core (mpy.wasm_files()/unix_files() have the rest).
_BOARD_FILES = ("boards/__init__.py", "boards/common/__init__.py", "boards/common/vfs_storage.py")
_SCRIPT = "import pipe_key\npipe_key.main()\n"
BOOT_TIMEOUT = 60  # seconds; a cold start takes well under one


class KeyDied(OSError):
    """The MicroPython process ended (or broke the protocol); carries its console."""


class PipeCtapHidConnection(CtapHidConnection):
    """python-fido2's CtapHidConnection over a MicroPythonKey's pipes.

    Each connection sees the answers on the channels it used (and on the
    broadcast channel after it sent there), as each hidraw reader of a USB
    key does; see MicroPythonKey._route.
    """

    def __init__(self, key, timeout=None):
        self._key = key
        self._timeout = timeout
        self.inbox = queue.Queue()
        self.closed = False

    def write_packet(self, data):
        if len(data) != REPORT_SIZE:
            raise ValueError("a report is %d bytes, not %d" % (REPORT_SIZE, len(data)))
        self._key.send_report(self, bytes(data))

    def read_packet(self):
        try:
            report = self.inbox.get(timeout=self._timeout)
        except queue.Empty:
            raise OSError("no report from the MicroPython key within %ss" % self._timeout)
        if report is None:
            raise KeyDied("the MicroPython key stopped\n" + self._key.console)
        return report

    def close(self):
        self.closed = True
        self._key.forget(self)


class Presence:
    """The CPython end of the board's button: the names of boards/host/board.Presence."""

    def __init__(self, key, mode):
        self._key = key
        self._mode = mode
        self.requests = 0  # how many times presence was asked for (T frames)

    @property
    def mode(self):
        return self._mode

    @mode.setter
    def mode(self, mode):
        self._mode = mode
        self._key.send_frame(b"M", mode.encode())

    def press(self):
        self._key.send_frame(b"P")

    def deny(self):
        self._key.send_frame(b"D")


class Clock:
    """The key's clock as a test moves it (boards/host/board.FakeClock's advance)."""

    def __init__(self, key):
        self._key = key

    def advance(self, ms):
        self._key.send_frame(b"C", b"%d" % ms)


class Board:
    """The board as tests see it: presence, LED patterns shown, clock, storage."""

    def __init__(self, key, mode):
        self.presence = Presence(key, mode)
        self.led_events = []
        self.clock = Clock(key)
        self.storage = RemoteStorage(key, "board.storage")


class RemoteObject:
    """A read-only view of an object inside the running key, by expression.

    `key.authenticator.store.rk_count()` evaluates `auth.store.rk_count()` on
    MicroPython between transactions. A value that repr() writes as a literal
    (numbers, bytes, str, None, bools, and tuples, lists and dicts of them)
    comes back as that value (ast.literal_eval); anything else (a method, the
    Store, a Credential) stays a RemoteObject, whose expression is evaluated
    afresh at each use -- calls included, so keep to calls without side
    effects when reading through their results.
    """

    def __init__(self, key, expr):
        self._key = key
        self._expr = expr

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)  # Python's protocols (copy, pickle...) probe these
        return self._key.query(self._expr + "." + name)

    def __getitem__(self, item):
        return self._key.query("%s[%r]" % (self._expr, item))

    def __call__(self, *args):
        return self._key.query("%s(%s)" % (self._expr, ", ".join(repr(a) for a in args)))


class RemoteStorage(RemoteObject):
    """The key's board.storage (VfsStorage), plus MemoryStorage's `files` for tests that read it."""

    @property
    def files(self):
        return self._key.query("{n: %s.read(n) for n in %s.list()}" % (self._expr, self._expr))


class HidAuthenticator:
    """What handler-level tests call `auth`, for a key on MicroPython.

    process_cbor(data) goes to the key as a CTAPHID_CBOR message (python-fido2's
    CtapHidDevice, so keepalives are handled) and returns the status byte and
    body, process_msg(apdu) the same for CTAPHID_MSG; `board` is the key's Board; any other attribute is the remote
    Authenticator's (RemoteObject). Tests written for
    ctap2_helpers.call(auth, ...) run unchanged on MicroPython this way.
    """

    def __init__(self, key):
        self.key = key
        self.board = key.board
        self._device = key.open_device(timeout=60)

    def process_cbor(self, data):
        return bytes(self._device.call(CTAPHID.CBOR, bytes(data)))

    def process_msg(self, apdu):
        """A CTAPHID_MSG (U2F APDU) to the key: response data || SW1 SW2."""
        return bytes(self._device.call(CTAPHID.MSG, bytes(apdu)))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.key.authenticator, name)


def adopt_tests(namespace, module, skip, uses):
    """Collect `module`'s test functions in `namespace` (a test module's globals()).

    Each runs there under the name test_<module>__<rest>, with the fixtures of
    that namespace (an `auth` on MicroPython, say). Only tests that request
    one of the fixtures in `uses` are taken: the others build their own
    CPython key and would only run twice. skip: {test name: why it stays on
    CPython only}; a name in `skip` that `module` no longer has is an error,
    so the list cannot rot.
    """
    short = module.__name__[len("test_"):]
    tests = {n: f for n, f in vars(module).items()
             if n.startswith("test_") and callable(f) and getattr(f, "__module__", None) == module.__name__}
    stale = set(skip) - set(tests)
    assert not stale, "%s has no %s" % (module.__name__, ", ".join(sorted(stale)))
    for name, fn in tests.items():
        if name not in skip and set(inspect.signature(fn).parameters) & set(uses):
            namespace["test_%s__%s" % (short, name[len("test_"):])] = fn


class MicroPythonKey:
    """A key running the core on MicroPython (wasm or unix: mpy.interpreter()) in a child process.

    storage: a board storage (MemoryStorage, VfsStorage: read, write,
        remove, list) whose records the key boots with; every stop() (power
        off) makes it hold the key's records.
    presence: "auto" | "manual" | "deny" (or a boards.host.board.Presence).
    config: overrides of the board CONFIG (HostBoard.CONFIG otherwise).
    ticks: what the key's ticks_ms() reads at boot (None: MicroPython's own);
        time.ticks_ms() wraps at 2**30, so a value just below that runs the
        key through the wrap.
    heapsize: the MicroPython heap in bytes (None: the interpreter's default).
        Only the unix port holds to it; the wasm build grows its heap.
    without: module names whose import fails with ImportError, as on a
        firmware built without them (e.g. ("ed25519",)); such a key is never
        taken from or given to the pool.
    """

    def __init__(self, storage=None, presence="auto", config=None, ticks=None, heapsize=None, without=()):
        self._configure(storage, presence, config, ticks)
        self.heapsize = heapsize
        self.without = tuple(without)
        self._proc = None
        self._pipe = None
        self._tmp = None
        self._console_reader = None
        self._frames_ended = False
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._conns = []
        self._route = {}  # channel id -> connection that last sent on it
        self._events = queue.Queue()  # B, A, E frames for the waiting test thread
        self._records = {}
        self._console = []
        self.errors = []  # tracebacks the key's main loop logged
        self.address = None
        self.running = False

    def _configure(self, storage, presence, config, ticks):
        self.storage = storage if storage is not None else MemoryStorage()
        mode = getattr(presence, "mode", presence) or "auto"
        self.config = dict(HostBoard.CONFIG, **(config or {}))
        self.ticks = ticks
        self.board = Board(self, mode)
        self.authenticator = RemoteObject(self, "auth")

    # -- power -------------------------------------------------------------------

    def start(self):
        """Power up: a new MicroPython process booting on `storage`."""
        # The unix port uses its filesystem in place: it lives as long as the process.
        self._tmp = tempfile.TemporaryDirectory(prefix="mpy-key-")
        files = {"/" + p: open(os.path.join(mpy.REPO, p), "rb").read() for p in _BOARD_FILES}
        script = _SCRIPT
        if self.without:
            # First on sys.path, ahead of the test bridges: each raises ImportError.
            for name in self.without:
                files["/without/%s.py" % name] = "raise ImportError(%r)\n" % ("no module named '%s'" % name)
            # A C module built into the interpreter (the unix port's) comes
            # before sys.path: its sys.modules entry is set to None instead,
            # which makes `import` give None, as the core's fallback does.
            shadow = "".join("try:\n    import %s\n    sys.modules[%r] = None\nexcept ImportError:\n    pass\n"
                             % (name, name) for name in self.without)
            script = "import sys\nsys.path.insert(0, '/without')\n" + shadow + script
        cmd = mpy.key_command(self._tmp.name, script, files, self.heapsize)
        r, w = os.pipe()
        os.set_blocking(r, False)  # shared with the child: its reads never block
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=r, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=mpy.REPO)
        finally:
            os.close(r)
        self._pipe = w
        self.address = "micropython:%d" % self._proc.pid
        threading.Thread(target=self._read_frames, daemon=True).start()
        self._console_reader = threading.Thread(target=self._read_console, daemon=True)
        self._console_reader.start()
        self._power_up()
        return self

    def reboot(self, storage=None, presence="auto", config=None, ticks=None):
        """A new key in the same process: records from `storage`, fresh RAM state.

        What a reset button does (the running key is cut off wherever it is);
        cheaper than stop() + start(), which a power cycle test uses.
        """
        self._configure(storage, presence, config, ticks)
        with self._lock:
            for conn in self._conns:
                conn.inbox.put(None)
            self._conns = []
            self._route = {}
        self._power_up()
        return self

    def _power_up(self):
        records = {name: self.storage.read(name) for name in self.storage.list()}
        self.send_frame(b"W", cbor2.dumps(
            [self.config, self.board.presence.mode, records, self.ticks], canonical=True))
        kind, _ = self._wait_event(BOOT_TIMEOUT, "boot")
        if kind != b"B":
            raise KeyDied("expected the key to boot, got %r\n%s" % (kind, self.console))
        # LED events of the key that was cut off come before B: start afresh.
        self.board.led_events = []
        self.running = True

    def stop(self):
        """Power off: the key's records (also written into `storage`); the process ends."""
        if not self.running:
            raise KeyDied("the MicroPython key is not running\n" + self.console)
        self._records = {}
        self.send_frame(b"S")
        kind, _ = self._wait_event(BOOT_TIMEOUT, "power off")
        if kind != b"E":
            raise KeyDied("expected the records, got %r\n%s" % (kind, self.console))
        for name in self.storage.list():
            if name not in self._records:
                self.storage.remove(name)
        for name, data in sorted(self._records.items()):
            self.storage.write(name, data)
        self._finish()
        return dict(self._records)

    def kill(self):
        """End the process without saving anything (test teardown after a failure)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self._finish()

    def _finish(self):
        self.running = False
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._proc is not None:
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def alive(self):
        return self.running and self._proc is not None and self._proc.poll() is None

    @property
    def console(self):
        if self._frames_ended and self._console_reader is not None:
            # The key closed its stdout: it is ending; all it wrote, to the end.
            try:
                self._proc.wait(5)
                self._console_reader.join(5)
            except subprocess.TimeoutExpired:
                pass
        return "--- MicroPython console ---\n" + "".join(self._console)

    # -- the button --------------------------------------------------------------

    def press(self):
        self.board.presence.press()

    def deny(self):
        self.board.presence.deny()

    # -- clients -----------------------------------------------------------------

    def connection(self, timeout=None):
        conn = PipeCtapHidConnection(self, timeout)
        with self._lock:
            self._conns.append(conn)
        return conn

    def open_device(self, timeout=None):
        """python-fido2's CtapHidDevice on a new connection (CTAPHID INIT done)."""
        return CtapHidDevice(descriptor(self.address), self.connection(timeout))

    def forget(self, conn):
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)
            for cid in [c for c, v in self._route.items() if v is conn]:
                del self._route[cid]

    def send_report(self, conn, report):
        with self._lock:
            self._route[report[:4]] = conn
        self.send_frame(b"R", report)

    def send_frame(self, kind, payload=b""):
        with self._write_lock:
            if self._pipe is None:
                raise KeyDied("the MicroPython key is not running\n" + self.console)
            try:
                os.write(self._pipe, _HEADER.pack(kind, len(payload)) + payload)
            except BrokenPipeError:
                raise KeyDied("the MicroPython key has gone\n" + self.console)

    def query(self, expr):
        """Evaluate `expr` in the key: a literal value, or a RemoteObject for it."""
        self.send_frame(b"Q", expr.encode())
        kind, answer = self._wait_event(30, "query " + expr)
        if kind != b"A":
            raise KeyDied("expected an answer, got %r\n%s" % (kind, self.console))
        answer = answer.decode()
        if answer[0] == "E":
            message = "%s raised on MicroPython: %s" % (expr, answer[1:])
            # hasattr() and getattr(obj, name, default) work on a remote view too
            raise (AttributeError if answer.startswith("EAttributeError") else RuntimeError)(message)
        if answer[0] == "V":
            try:
                return ast.literal_eval(answer[1:])
            except (ValueError, SyntaxError):
                pass  # a container holding objects
        return RemoteObject(self, expr)

    def take_errors(self):
        """The tracebacks logged since the last call."""
        errors, self.errors = self.errors, []
        return errors

    # -- reader threads --------------------------------------------------------------

    def _wait_event(self, timeout, what):
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            raise KeyDied("no answer from the MicroPython key (%s) within %ss\n%s" % (what, timeout, self.console))

    def _read_frames(self):
        out = self._proc.stdout
        while True:
            head = out.read(_HEADER.size)
            if len(head) < _HEADER.size:
                break
            kind, n = _HEADER.unpack(head)
            payload = out.read(n)
            if len(payload) < n:
                break
            if kind == b"R":
                self._deliver(payload)
            elif kind == b"L":
                self.board.led_events.append(payload.decode())
            elif kind == b"T":
                self.board.presence.requests += 1
            elif kind == b"X":
                self.errors.append(payload.decode())
            elif kind == b"F":
                name = payload[1 : 1 + payload[0]].decode()
                self._records[name] = payload[1 + payload[0] :]
            else:  # B, A, E: someone waits for these
                self._events.put((kind, payload))
        self.running = False
        self._frames_ended = True
        self._events.put((None, b""))
        with self._lock:
            for conn in self._conns:
                conn.inbox.put(None)

    def _deliver(self, report):
        with self._lock:
            conn = self._route.get(report[:4])
            targets = [conn] if conn is not None else list(self._conns)
        for c in targets:
            c.inbox.put(report)

    def _read_console(self):
        for line in iter(self._proc.stderr.readline, b""):
            self._console.append(line.decode("utf-8", "replace"))
            if len(self._console) > 2000:
                del self._console[:1000]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


class KeyPool:
    """MicroPython keys kept running between tests (conftest's mpy_keys fixture).

    A cold start costs a process and the core's import (~0.4 s on wasm); a key
    left running by one test is rebooted (reboot(): records from the new
    storage, new RAM state) for the next. A key a test stopped is gone, so
    power cycles stay real: a new process restored from the records.
    """

    def __init__(self):
        self._idle = []

    def key(self, **kw):
        while self._idle:
            key = self._idle.pop()
            if key.alive:
                return key.reboot(**kw)
            key.kill()
        return MicroPythonKey(**kw).start()

    @contextlib.contextmanager
    def factory(self):
        """A key_factory for one test; yields make(storage=, presence=, config=, ticks=).

        At the end, keys still running go back to the pool, and any exception
        a key's main loop logged fails the test: on the host board the same
        error might pass unseen as a CTAP1_ERR_OTHER.
        """
        keys = []

        def make(**kw):
            key = self.key(**kw)
            keys.append(key)
            return key

        try:
            yield make
        finally:
            errors = []
            for key in keys:
                errors += key.take_errors()
                # One key waits for the next test; more would let a later
                # "power cycle" (stop, then make) reuse a running process.
                if key.alive and not self._idle:
                    self._idle.append(key)
                elif key.alive:
                    key.kill()
            if errors:
                pytest.fail("the MicroPython key logged exceptions:\n" + "\n".join(errors), pytrace=False)

    def close(self):
        for key in self._idle:
            key.kill()
        self._idle = []
