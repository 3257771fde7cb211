"""CTAPHID paths that allocate nothing, proved with micropython.heap_lock() on the unix port.

A key (firmware.main_loop.make_key) runs on the unix port (PYFIDO_MICROPYTHON)
with a board that allocates nothing itself: reports come from buffers made
beforehand and the answers are copied into one preallocated buffer. For each
scenario the heap is locked around the key's poll of the reports (an
allocation then raises MemoryError instead of growing the heap), or, while
the key waits for a touch, around each of its keepalive() calls, which send
KEEPALIVE and read what the host sends meanwhile (CANCEL, other channels).
Every answer is checked on CPython against the packets CTAP 2.1 §11.2 names
(host_tests/hidpackets.py), and no step may raise or make the key log an
exception: a key whose error path allocated would answer nothing when the
heap is exhausted, the moment a host most needs an answer.

What is proved: INIT (new channel and resync), PING of one report and of
several (reassembled and echoed, up to 7609 bytes; also on a board that
takes several reports in one write_reports call), WINK, LOCK, CANCEL with
nothing pending, KEEPALIVE while waiting for a touch and CANCEL ending that
wait, and every CTAPHID error: INVALID_CMD, INVALID_PAR, INVALID_LEN,
INVALID_SEQ, MSG_TIMEOUT, CHANNEL_BUSY, LOCK_REQUIRED, INVALID_CHANNEL --
including CIDs of 2**30 and above (the broadcast CID among them), which are
long integers on a 32-bit MicroPython.

What allocates, and why (outside the locked regions here): a CBOR or MSG
request (the application decodes, computes and encodes: host_tests/
test_heap_micropython.py holds each to a ceiling), and so the answer to a
cancelled request (an exception object and the one-byte status it returns).

The WebAssembly build cannot run these: an allocation under heap_lock() there
often hangs instead of raising (host_tests/mpy.py).
"""

import os
import struct

import pytest
from fido2.hid import CTAPHID

from hidpackets import (
    BROADCAST,
    ERR_CHANNEL_BUSY,
    ERR_INVALID_CHANNEL,
    ERR_INVALID_CMD,
    ERR_INVALID_LEN,
    ERR_INVALID_PAR,
    ERR_INVALID_SEQ,
    ERR_LOCK_REQUIRED,
    ERR_MSG_TIMEOUT,
    ERR_OTHER,
    cont_packet,
    error,
    init_packet,
    packets,
    parse_messages,
)
from mpy import REPO, only_on, run_micropython

NONCE = bytes(range(1, 9))
A, B = 1, 2  # the channels the first two INITs allocate
WIDE = 0x80000001  # a CID no key allocates: a long integer on 32-bit MicroPython
SELECTION = b"\x0b"  # authenticatorSelection: waits for a touch, nothing else
STATUS_UPNEEDED = b"\x02"
KEEPALIVE_CANCEL = b"\x2d"

# The MicroPython side. CASES: [(name, [step, ...])]; a step is
#   ("poll", hex of reports, locked, ms the clock moves first)
#   ("touch", hex of the request's reports, touch after N waits,
#             {wait number: hex of reports that arrive then}, ms per wait)
# "touch" polls the request unlocked (the application allocates) and locks
# the heap around every keepalive() the key makes while it waits.
# Output per step: OUT name index hex-of-every-report-sent, then ERR lines.
_SCRIPT = r"""
import binascii, micropython, sys
from firmware import main_loop
from firmware.presence import TOUCH_OK, TOUCH_TIMEOUT
from memory_storage import MemoryStorage

CASES = %(cases)r
NO_REPORTS = []


class Board:
    CONFIG = {"max_msg_size": 7609, "transports": ["usb"], "max_resident_credentials": 50}

    def __init__(self):
        self.storage = MemoryStorage()
        self.inbox = NO_REPORTS
        self.next_report = 0
        self.out = bytearray(64 * 160)
        self.out_n = 0
        self.now = 1000
        # The last exception the key logged, and how many: kept without
        # allocating, so logging works under the lock too.
        self.logged = None
        self.logged_n = 0
        self.touch_after = 0
        self.arrivals = {}
        self.wait_ms = 0
        self.waits = 0

    def feed(self, reports):
        self.inbox = reports
        self.next_report = 0

    def read_report(self, buf):
        if self.next_report >= len(self.inbox):
            return False
        buf[:] = self.inbox[self.next_report]
        self.next_report += 1
        return True

    def write_report(self, buf):
        at = self.out_n * 64
        self.out[at:at + 64] = buf
        self.out_n += 1

    def take(self):
        data = bytes(self.out[:self.out_n * 64])
        self.out_n = 0
        return data

    def wait_touch(self, ms):
        # Between keepalives (unlocked): the clock moves on, reports arrive.
        self.waits += 1
        self.now += self.wait_ms
        more = self.arrivals.get(self.waits)
        if more is not None:
            self.feed(self.inbox[self.next_report:] + more)
        return TOUCH_OK if self.waits == self.touch_after else TOUCH_TIMEOUT

    def led(self, pattern):
        pass

    def random(self, n):
        import os
        return os.urandom(n)

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b

    def idle(self):
        pass

    def log_exception(self, e):
        self.logged = e
        self.logged_n += 1


class BatchBoard(Board):
    # A board that also sends several reports in one transfer (as the MicroPython adapter does).

    def write_reports(self, buf):
        at = self.out_n * 64
        n = len(buf)
        self.out[at:at + n] = buf
        self.out_n += n // 64
        return True


def reports(h):
    data = binascii.unhexlify(h)
    return [bytearray(data[i:i + 64]) for i in range(0, len(data), 64)]


def locked(fn, arg=None):
    micropython.heap_lock()
    try:
        return fn() if arg is None else fn(arg)
    finally:
        micropython.heap_unlock()


for name, steps in CASES:
    board = BatchBoard() if name.startswith("batched-") else Board()
    hid = main_loop.make_key(board)
    keepalive = hid.keepalive
    hid.keepalive = lambda status: locked(keepalive, status)
    for i, step in enumerate(steps):
        try:
            if step[0] == "poll":
                _, h, lock, advance = step
                board.now += advance
                board.feed(reports(h))
                if lock:
                    locked(hid.poll)
                else:
                    hid.poll()
            else:
                _, h, touch_after, arrivals, wait_ms = step
                board.touch_after = touch_after
                board.arrivals = {k: reports(v) for k, v in arrivals.items()}
                board.wait_ms = wait_ms
                board.waits = 0
                board.feed(reports(h))
                hid.poll()
        except BaseException as e:
            print("ERR", name, i, repr(e))
            sys.print_exception(e, sys.stdout)
        print("OUT", name, i, binascii.hexlify(board.take()).decode())
        if board.logged_n:
            print("LOGGED", name, i, board.logged_n, repr(board.logged))
            board.logged_n = 0
print("DONE")
"""


def run_cases(cases, logged=None):
    """{case name: [[(cid, cmd, payload), ...] per step]}.

    Fails on any exception out of a step, and on any the key logged unless
    `logged` lists it ("name index count repr").
    """
    wire = [(name, [_wire(step) for step in steps]) for name, steps in cases]
    with open(os.path.join(REPO, "boards", "host", "memory_storage.py")) as f:
        storage = f.read()
    out = run_micropython(_SCRIPT % {"cases": wire}, extra_files={"/memory_storage.py": storage},
                          timeout=120).stdout
    lines = out.splitlines()
    assert lines[-1:] == ["DONE"], out[-3000:]
    errors = [line for line in lines if line.startswith("ERR ")]
    assert not errors, "\n".join(errors)
    assert [line[len("LOGGED "):] for line in lines if line.startswith("LOGGED ")] == (logged or [])
    got = {}
    for line in lines:
        if line.startswith("OUT "):
            _, name, _, data = (line.split(" ") + [""])[:4]
            data = bytes.fromhex(data)
            got.setdefault(name, []).append(parse_messages([data[i:i + 64] for i in range(0, len(data), 64)]))
    return got


def _wire(step):
    if step[0] == "poll":
        _, reports, lock, advance = step
        return ("poll", b"".join(reports).hex(), lock, advance)
    _, reports, touch_after, arrivals, wait_ms = step
    return ("touch", b"".join(reports).hex(), touch_after,
            {k: b"".join(v).hex() for k, v in arrivals.items()}, wait_ms)


def locked(*reports, advance=0):
    return ("poll", list(reports), True, advance)


def unlocked(*reports):
    return ("poll", list(reports), False, 0)


def check_init(msgs, cid, new_cid, nonce=NONCE):
    """msgs is one INIT answer on cid for nonce, giving new_cid; returns its version and capabilities."""
    ((c, cmd, payload),) = msgs
    assert (c, cmd, payload[:8], len(payload)) == (cid, CTAPHID.INIT, nonce, 17)
    assert struct.unpack_from(">I", payload, 8)[0] == new_cid
    assert payload[12] == 2  # CTAPHID protocol version
    return payload[13:]


OPEN_TWO = [locked(init_packet(BROADCAST, CTAPHID.INIT, NONCE)), locked(init_packet(BROADCAST, CTAPHID.INIT, NONCE))]


@pytest.fixture(autouse=True)
def _unix_only():
    only_on("unix", "an allocation under heap_lock() hangs the WebAssembly build instead of raising")


def test_init_ping_wink_lock_and_cancel_allocate_nothing():
    big = os.urandom(7609)
    cases = [
        ("init", OPEN_TWO + [locked(init_packet(A, CTAPHID.INIT, NONCE[::-1]))]),
        ("ping", OPEN_TWO + [
            locked(init_packet(A, CTAPHID.PING, b"one report")),
            locked(*packets(A, CTAPHID.PING, big[:200])),
            locked(*packets(A, CTAPHID.PING, big)),
            locked(*packets(B, CTAPHID.PING, big[:57])),
            locked(*packets(B, CTAPHID.PING, b"")),
        ]),
        ("wink-lock-cancel", OPEN_TWO + [
            locked(init_packet(A, CTAPHID.WINK)),
            locked(init_packet(A, CTAPHID.LOCK, b"\x02")),
            locked(init_packet(A, CTAPHID.PING, b"a")),
            locked(init_packet(A, CTAPHID.LOCK, b"\x00")),
            locked(init_packet(B, CTAPHID.CANCEL)),
        ]),
    ]
    cases.append(("batched-ping", OPEN_TWO + [
        locked(*packets(A, CTAPHID.PING, big[:58])),  # two reports: one write_reports
        locked(*packets(A, CTAPHID.PING, big[:1060])),  # eighteen: the most in one
        locked(*packets(A, CTAPHID.PING, big[:1061])),  # and one more: report by report
        locked(*packets(B, CTAPHID.PING, big)),
    ]))
    got = run_cases(cases)
    assert got["batched-ping"][2:] == [[(A, CTAPHID.PING, big[:58])], [(A, CTAPHID.PING, big[:1060])],
                                       [(A, CTAPHID.PING, big[:1061])], [(B, CTAPHID.PING, big)]]
    init = got["init"]
    version = check_init(init[0], BROADCAST, A)
    assert check_init(init[1], BROADCAST, B) == version
    assert check_init(init[2], A, A, NONCE[::-1]) == version  # resync keeps the channel
    ping = got["ping"][2:]
    assert ping == [[(A, CTAPHID.PING, b"one report")], [(A, CTAPHID.PING, big[:200])],
                    [(A, CTAPHID.PING, big)], [(B, CTAPHID.PING, big[:57])], [(B, CTAPHID.PING, b"")]]
    assert got["wink-lock-cancel"][2:] == [
        [(A, CTAPHID.WINK, b"")], [(A, CTAPHID.LOCK, b"")], [(A, CTAPHID.PING, b"a")],
        [(A, CTAPHID.LOCK, b"")], []]  # CANCEL with nothing pending is not answered


def test_every_ctaphid_error_allocates_nothing():
    msg = os.urandom(200)  # four reports
    first, second = packets(A, CTAPHID.PING, msg)[:2]
    cases = [
        ("invalid-cmd", OPEN_TWO + [
            locked(init_packet(A, 0x40)),  # vendor command
            locked(init_packet(A, CTAPHID.KEEPALIVE)),  # device-to-host only
        ]),
        ("invalid-par", OPEN_TWO + [locked(init_packet(A, CTAPHID.LOCK, b"\x0b"))]),
        ("invalid-len", OPEN_TWO + [
            locked(init_packet(BROADCAST, CTAPHID.INIT, NONCE[:7])),
            locked(init_packet(A, CTAPHID.PING, bcnt=7610)),
            locked(init_packet(A, CTAPHID.WINK, b"x")),
            locked(init_packet(A, CTAPHID.LOCK, b"\x01\x01")),
            locked(init_packet(A, CTAPHID.CBOR)),  # BCNT 0: no CTAP command byte
            locked(init_packet(A, CTAPHID.MSG)),  # BCNT 0: no APDU
        ]),
        ("invalid-seq", OPEN_TWO + [
            locked(first, cont_packet(A, 1, msg[57:])),  # sequence 1 where 0 belongs
            locked(first, init_packet(A, CTAPHID.WINK)),  # a new command in the middle
        ]),
        ("msg-timeout", OPEN_TWO + [
            locked(first),
            locked(advance=501),  # no report: the key's own poll finds the time out
            locked(second),  # late: a spurious continuation, ignored
        ]),
        ("channel-busy", OPEN_TWO + [
            locked(first),
            locked(init_packet(B, CTAPHID.PING, b"b")),
            locked(init_packet(BROADCAST, CTAPHID.INIT, NONCE)),
            locked(init_packet(WIDE, CTAPHID.PING, b"w")),
            locked(*packets(A, CTAPHID.PING, msg)[1:]),  # A's message completes undisturbed
        ]),
        ("lock-required", OPEN_TWO + [
            locked(init_packet(A, CTAPHID.LOCK, b"\x0a")),
            locked(init_packet(B, CTAPHID.PING, b"b")),
            locked(init_packet(WIDE, CTAPHID.PING, b"w")),
        ]),
        ("invalid-channel", OPEN_TWO + [
            locked(init_packet(0, CTAPHID.PING, b"z")),  # reserved
            locked(init_packet(3, CTAPHID.PING, b"u")),  # not allocated yet
            locked(init_packet(WIDE, CTAPHID.PING, b"w")),
            locked(init_packet(0x3FFFFFFF, CTAPHID.PING, b"w")),
            locked(init_packet(0xC0000000, CTAPHID.PING, b"w")),
            locked(init_packet(BROADCAST, CTAPHID.PING, b"x")),  # only INIT may use broadcast
        ]),
    ]
    got = run_cases(cases)
    assert got["invalid-cmd"][2:] == [[error(A, ERR_INVALID_CMD)], [error(A, ERR_INVALID_CMD)]]
    assert got["invalid-par"][2:] == [[error(A, ERR_INVALID_PAR)]]
    assert got["invalid-len"][2:] == [[error(BROADCAST, ERR_INVALID_LEN)]] + [[error(A, ERR_INVALID_LEN)]] * 5
    assert got["invalid-seq"][2:] == [[error(A, ERR_INVALID_SEQ)], [error(A, ERR_INVALID_SEQ)]]
    assert got["msg-timeout"][2:] == [[], [error(A, ERR_MSG_TIMEOUT)], []]
    assert got["channel-busy"][2:] == [
        [], [error(B, ERR_CHANNEL_BUSY)], [error(BROADCAST, ERR_CHANNEL_BUSY)], [error(WIDE, ERR_CHANNEL_BUSY)],
        [(A, CTAPHID.PING, msg)]]
    assert got["lock-required"][2:] == [
        [(A, CTAPHID.LOCK, b"")], [error(B, ERR_LOCK_REQUIRED)], [error(WIDE, ERR_LOCK_REQUIRED)]]
    assert got["invalid-channel"][2:] == [
        [error(0, ERR_INVALID_CHANNEL)], [error(3, ERR_INVALID_CHANNEL)], [error(WIDE, ERR_INVALID_CHANNEL)],
        [error(0x3FFFFFFF, ERR_INVALID_CHANNEL)], [error(0xC0000000, ERR_INVALID_CHANNEL)],
        [error(BROADCAST, ERR_INVALID_CHANNEL)]]


def test_keepalive_and_cancel_while_waiting_for_a_touch_allocate_nothing():
    busy = [init_packet(B, CTAPHID.PING, b"b"), init_packet(BROADCAST, CTAPHID.INIT, NONCE),
            init_packet(WIDE, CTAPHID.PING, b"w"), init_packet(A, CTAPHID.PING, b"a"),
            cont_packet(B, 0, b"stray")]
    cases = [
        # touched after 5 waits of 100 ms; other channels knock in between
        ("touch", OPEN_TWO + [("touch", [init_packet(A, CTAPHID.CBOR, SELECTION)], 5, {2: busy}, 100)]),
        # never touched: the host cancels after 3 waits
        ("cancel", OPEN_TWO + [("touch", [init_packet(A, CTAPHID.CBOR, SELECTION)], 0,
                                {3: [init_packet(A, CTAPHID.CANCEL)]}, 100)]),
        # INIT on the busy channel also ends the wait: answered instead of the request
        ("resync", OPEN_TWO + [("touch", [init_packet(A, CTAPHID.CBOR, SELECTION)], 0,
                                {2: [init_packet(A, CTAPHID.INIT, NONCE[::-1])]}, 100)]),
    ]
    got = run_cases(cases)
    (touch,) = got["touch"][2:]
    keepalive = (A, CTAPHID.KEEPALIVE, STATUS_UPNEEDED)
    # One KEEPALIVE when the wait starts and one per 100 ms wait (>= 80 ms
    # apart), the busy channels told so in between, then the answer.
    assert touch == [keepalive, keepalive, keepalive, error(B, ERR_CHANNEL_BUSY),
                     error(BROADCAST, ERR_CHANNEL_BUSY), error(WIDE, ERR_CHANNEL_BUSY),
                     error(A, ERR_CHANNEL_BUSY), keepalive, keepalive, keepalive, (A, CTAPHID.CBOR, b"\x00")]
    (cancel,) = got["cancel"][2:]
    assert cancel == [keepalive] * 4 + [(A, CTAPHID.CBOR, KEEPALIVE_CANCEL)]
    (resync,) = got["resync"][2:]
    assert resync[:3] == [keepalive] * 3
    check_init(resync[3:], A, A, NONCE[::-1])


def test_a_request_that_finds_no_heap_is_answered_err_other():
    # The control: the same lock makes the application's allocation fail
    # (getInfo encodes its answer), and the key still answers, on the
    # preallocated path, with the error CTAPHID has for an internal fault.
    # Before, the error answer itself allocated and the key said nothing.
    cases = [("get-info", OPEN_TWO + [locked(init_packet(A, CTAPHID.CBOR, b"\x04")),
                                      unlocked(init_packet(A, CTAPHID.CBOR, b"\x04"))])]
    got = run_cases(cases, logged=["get-info 2 1 MemoryError('memory allocation failed, heap is locked',)"])
    assert got["get-info"][2] == [error(A, ERR_OTHER)]
    ((cid, cmd, answer),) = got["get-info"][3]  # and the next one, with heap, is served
    assert (cid, cmd, answer[:1]) == (A, CTAPHID.CBOR, b"\x00")
