"""Test-only board: the unchanged core as a virtual key on real MicroPython.

Copied only into the test filesystem of a MicroPython (the WebAssembly
build under Node, or the unix port: host_tests/mpy.py), never onto a board.
host_tests/mpy_key.py (MicroPythonKey) starts the interpreter in key mode
with a script that calls main(); this board then serves
firmware.main_loop.run() over the module `keyio`: framed messages on the
process's stdin/stdout (the JS module of tools/mpy_wasm_services.mjs on the
WebAssembly build, host_tests/mpy_unix/keyio.py on the unix port; the same API).

Frames from the test (KIND, payload):
  W  power up: CBOR [config, presence mode, {record name: bytes}, ticks] --
     the storage directory is wiped and refilled with those records, then a
     new key (firmware.main_loop.make_key) boots on it, its clock reading
     `ticks` (None: MicroPython's time.ticks_ms() as it is). A W while a key
     runs is a reset button: the old key is cut off wherever it is.
  R  one 64-byte output report for the key
  P  the button is pressed (one touch, kept until a request consumes it)
  D  the user refuses (one refusal, as P)
  M  presence mode from now on: "auto", "manual" or "deny" (utf-8)
  C  move the clock on by this many ms (decimal), as a test's FakeClock does.
     In order with the reports: a step is taken when the frames before it
     have been, each in a turn of the main loop of its own (in idle(), or
     while waiting for a touch), so every timer is looked at between steps,
     as on a board whose clock runs on while it polls.
  Q  a Python expression, evaluated between transactions with `auth` (the
     Authenticator), `hid` (CtapHid) and `board` in scope; answered by A, in
     order with the reports and clock steps before it
  S  power off: every record goes back to the test (F frames, then E) and
     the process ends at once -- a power cut wherever the key is
Frames to the test:
  B  booted and polling          R  one 64-byte input report
  L  LED pattern (utf-8)         T  user presence asked for (a new request)
  X  an exception the main loop logged (traceback text)
  A  answer to Q: "V" + repr(value) for a literal, "O" for any other
     object (a method, a Store...), "E" + the exception
  F  a record: name length (1 byte), name, contents        E  end of records

Time is MicroPython's own time.ticks_ms() (real time, wrapping at
2**30 ms as on a board), plus whatever C frames added; randomness comes
from the harness's `testcrypto` module (Node's crypto on the WebAssembly
build, os.urandom on the unix port); storage is
boards/common/vfs_storage.py on the interpreter's filesystem (wasm: in
memory; unix: a temporary directory mounted as /), so the real storage
code runs.
"""

import gc

# Collect every eighth of the heap (before the core's imports): garbage is
# reclaimed before it pushes live objects all over the heap, which leaves no
# room in one piece for CTAPHID's 7.6 KB message buffer on a small heap (seen
# on the unix port at -X heapsize=48K: 22 KB free, the largest hole 3.4 KB).
# A board with a heap that small needs the same. (The wasm build frees
# nothing within a run, so there it changes nothing.)
gc.threshold(gc.mem_free() // 8)

import binascii  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import cbor  # noqa: E402
import keyio  # noqa: E402
import testcrypto  # noqa: E402
from boards.common.vfs_storage import VfsStorage  # noqa: E402
from firmware import main_loop  # noqa: E402
from firmware.presence import TOUCH_DECLINED, TOUCH_OK, TOUCH_TIMEOUT  # noqa: E402

STORE = "/flash/pyfido"
# Query answers that cross as repr(): what ast.literal_eval reads back
_LITERALS = (int, bool, str, bytes, tuple, list, dict, type(None))
_IDLE_MS = 10  # longest sleep between polls: timeouts and LOCK expiry are checked this often
# time.ticks_ms() counts modulo a power of two (2**30 on 32-bit ports): this is
# its largest value, so `& _TICKS_MASK` wraps a sum the same way.
_TICKS_MASK = time.ticks_add(0, -1)


class _Reboot(BaseException):
    """Unwinds the running key when the test powers up a new one (W)."""


class PipeBoard:
    """The board interface of boards/host/board.py over `keyio` frames."""

    def __init__(self):
        self.CONFIG = {}
        self.storage = None
        self.hid = None
        self.mode = "auto"
        # Reports (bytes), clock steps (int) and queries (str), in the order
        # they came; the other frames take effect as they are read.
        self._inbox = []
        self._pressed = False
        self._denied = False
        self._asking = False
        self._power_up = None  # payload of a W frame not yet acted on
        # What W's ticks and the C frames add to time.ticks_ms(), modulo the
        # ticks period (ticks_add refuses deltas of half a period or more).
        self._ticks_offset = 0

    # -- frames ------------------------------------------------------------------

    def _send(self, kind, data=b""):
        r = keyio.send(kind, binascii.hexlify(data).decode())
        if r is not True:
            sys.exit(0)  # the test is gone (broken pipe): nobody to serve

    def _pump(self):
        """Take every frame the test has sent; reports queue up in order."""
        while True:
            frame = keyio.recv()
            if frame is None:
                return
            if not frame:
                sys.exit(0)  # end of file: the test closed the pipe
            kind = frame[0]
            data = binascii.unhexlify(frame[1:])
            if kind == "R":
                self._inbox.append(data)
            elif kind == "P":
                self._pressed = True
            elif kind == "D":
                self._denied = True
            elif kind == "M":
                self.mode = data.decode()
            elif kind == "C":
                self._inbox.append(int(data))
            elif kind == "Q":
                self._inbox.append(data.decode())
            elif kind == "W":
                self._power_up = data
                if self.hid is not None:
                    raise _Reboot()
            elif kind == "S":
                self._power_off()

    def _power_off(self):
        for name in sorted(self.storage.list()):
            n = name.encode()
            self._send("F", bytes((len(n),)) + n + self.storage.read(name))
        self._send("E")
        sys.exit(0)

    def power_up(self):
        """Wait for a W frame, then reset the board and its storage to what it says."""
        self.hid = None
        while self._power_up is None:
            keyio.wait(1000)
            self._pump()
        config, mode, records, ticks = cbor.loads(self._power_up)
        self._power_up = None
        self.CONFIG = config
        self.mode = mode
        self._ticks_offset = 0 if ticks is None else (ticks - time.ticks_ms()) & _TICKS_MASK
        self._inbox = []
        self._pressed = self._denied = self._asking = False
        try:
            os.mkdir("/flash")
        except OSError:
            pass
        self.storage = VfsStorage(STORE)
        for name in self.storage.list():
            self.storage.remove(name)
        for name in records:
            self.storage.write(name, records[name])
        self.storage.writes = 0

    def _evaluate(self, expr):
        try:
            value = eval(expr, {"auth": self.hid.app, "hid": self.hid, "board": self})
            reply = "V" + repr(value) if type(value) in _LITERALS else "O"
        except Exception as e:
            reply = "E" + repr(e)
        self._send("A", reply.encode())

    # -- the board interface -----------------------------------------------------

    def _step_clock(self):
        """Take the clock step at the head of the inbox, if one is there."""
        if self._inbox and type(self._inbox[0]) is int:
            self._ticks_offset = (self._ticks_offset + self._inbox.pop(0)) & _TICKS_MASK
            return True
        return False

    def read_report(self, buf):
        if not self._inbox:
            self._pump()
        if not self._inbox or type(self._inbox[0]) is not bytes:
            return False  # a clock step or a query first: idle() takes it
        buf[:] = self._inbox.pop(0)
        return True

    def write_report(self, buf):
        self._send("R", buf)

    def wait_touch(self, timeout_ms):
        # Same policy as boards/host/board.py Presence: "auto" approves,
        # "deny" refuses, "manual" waits for one P (or D) from the test.
        if not self._asking:
            self._asking = True
            self._send("T")
        start = self.ticks_ms()
        while True:
            self._pump()
            if self.mode == "auto":
                return self._answer(TOUCH_OK)
            if self.mode == "deny" or self._denied:
                self._denied = False
                return self._answer(TOUCH_DECLINED)
            if self._pressed:
                self._pressed = False
                return self._answer(TOUCH_OK)
            if self._step_clock():
                continue
            left = timeout_ms - time.ticks_diff(self.ticks_ms(), start)
            if left <= 0 or (self._inbox and type(self._inbox[0]) is bytes):
                # A report waits (a CANCEL, perhaps): let the core read it now.
                # (A query waits for the transaction's end: idle() answers it.)
                return TOUCH_TIMEOUT
            keyio.wait(left)

    def _answer(self, outcome):
        self._asking = False
        return outcome

    def led(self, pattern):
        self._send("L", pattern.encode())

    def random(self, n):
        r = testcrypto.random_bytes(n)
        if isinstance(r, str):
            raise OSError(r)
        return bytes(r)

    def ticks_ms(self):
        return (time.ticks_ms() + self._ticks_offset) & _TICKS_MASK

    def ticks_diff(self, new, old):
        return time.ticks_diff(new, old)

    def idle(self):
        self._pump()
        inbox = self._inbox
        while inbox and type(inbox[0]) is str:
            self._evaluate(inbox.pop(0))
        if self._step_clock():
            return  # one step per turn of the main loop: its timers look at each
        if not inbox:
            keyio.wait(_IDLE_MS)

    def log_exception(self, e):
        out = io.StringIO()
        sys.print_exception(e, out)
        text = out.getvalue()
        print(text)  # to stderr: the runner's --key mode keeps stdout for frames
        self._send("X", text.encode())


def main():
    board = PipeBoard()
    while True:
        board.power_up()
        hid = main_loop.make_key(board)
        board.hid = hid
        board._send("B")
        try:
            main_loop.run(board, hid)
        except _Reboot:
            pass  # power up again: the W frame is waiting in board._power_up
