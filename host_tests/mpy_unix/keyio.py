"""Test-only: the framed pipe of a virtual key, for the MicroPython unix port.

Copied only into the unix port's test filesystem by host_tests/mpy.py, never
onto a board. The same API as the JS module `keyio` of the WebAssembly
runner (tools/mpy_wasm_services.mjs), so host_tests/mpy_board/pipe_key.py
runs unchanged on both. Frames both ways: KIND (1 byte) LENGTH (4 bytes,
big-endian) PAYLOAD. The test (host_tests/mpy_key.py) writes them to the
process's stdin, a pipe whose read end it made O_NONBLOCK before the spawn,
so a read never blocks (readinto answers None), as a board's endpoint poll
must not; frames out go to stdout, which carries nothing else: print()
goes to stderr from the moment this module is imported.

  recv()           next frame as KIND + hex payload; None when none has come;
                   "" once the test closed its end (end of file)
  wait(ms)         sleep until a frame is ready or ms have passed (select.poll
                   on stdin); True when one is ready
  send(kind, hex)  write one frame to stdout
"""

import binascii
import builtins
import select
import struct
import sys
import time

_HEADER = 5
_stdin = sys.stdin.buffer
_stdout = sys.stdout.buffer
_chunk = bytearray(256)
_pending = bytearray()
_eof = [False]
_poller = select.poll()
_poller.register(0, select.POLLIN)


def _console_print(*args, sep=" ", end="\n", file=None):
    _print(*args, sep=sep, end=end, file=sys.stderr if file is None else file)


# stdout is the frame channel: the script's output goes to the console
# (stderr), as the WebAssembly runner's --key mode does it.
_print = builtins.print
builtins.print = _console_print


def _fill():
    if _eof[0]:
        return
    n = _stdin.readinto(_chunk)
    if n is None:
        return  # EAGAIN: nothing has come
    if n == 0:
        _eof[0] = True
    else:
        _pending.extend(memoryview(_chunk)[:n])


def _ready():
    return len(_pending) >= _HEADER and len(_pending) >= _HEADER + struct.unpack_from(">I", _pending, 1)[0]


def recv():
    if not _ready():
        _fill()
    if not _ready():
        return "" if _eof[0] else None
    n = struct.unpack_from(">I", _pending, 1)[0]
    frame = chr(_pending[0]) + binascii.hexlify(memoryview(_pending)[_HEADER:_HEADER + n]).decode()
    _pending[:] = memoryview(_pending)[_HEADER + n:]
    return frame


def wait(ms):
    deadline = time.ticks_add(time.ticks_ms(), ms)
    while True:
        if not _ready():
            _fill()
        if _ready() or _eof[0]:
            return True
        left = time.ticks_diff(deadline, time.ticks_ms())
        if left <= 0:
            return False
        _poller.poll(left)


def send(kind, hexdata):
    payload = binascii.unhexlify(hexdata)
    _stdout.write(struct.pack(">BI", ord(kind), len(payload)))
    _stdout.write(payload)
    return True
