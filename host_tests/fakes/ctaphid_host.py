"""A simulated USB host running a CTAPHID client, for the board tests (CTAP 2.1 §11.2).

It speaks to the fake USB stacks through two calls: next_report() gives the
next 64-byte output report (None while it has nothing to send) and
on_report(report) takes an input report from the key. It opens a channel
with INIT, then sends each queued message once the previous one has been
answered, and plays the person at the key: when a KEEPALIVE says UPNEEDED it
presses the button for PRESS_MS (after at least RELEASE_MS released).

MicroPython-compatible (it runs inside the MicroPython board tests too).
"""

import struct
import time

import fakehw

BROADCAST = 0xFFFFFFFF
CTAPHID_PING = 0x01
CTAPHID_INIT = 0x06
CTAPHID_WINK = 0x08
CTAPHID_CBOR = 0x10
CTAPHID_CANCEL = 0x11
CTAPHID_KEEPALIVE = 0x3B
CTAPHID_ERROR = 0x3F
STATUS_UPNEEDED = 2
PRESS_MS = 120
RELEASE_MS = 60


def packets(cid, cmd, data):
    out = [struct.pack(">IBH", cid, 0x80 | cmd, len(data)) + data[:57]]
    rest = data[57:]
    seq = 0
    while rest:
        out.append(struct.pack(">IB", cid, seq) + rest[:59])
        rest = rest[59:]
        seq += 1
    return [p + bytes(64 - len(p)) for p in out]


class CtapHidHost:
    def __init__(self, messages, nonce=b"\x01\x02\x03\x04\x05\x06\x07\x08", touch=True):
        self._todo = list(messages)
        self._expected = len(self._todo)
        self._out = []
        self._rx = None
        self._nonce = nonce
        self._touch = touch
        self.cid = None
        self.init_response = None
        self.responses = []  # (cmd, payload), one per message
        self.keepalives = []
        self.presses = 0
        self._want_press = False
        self._pressed_at = 0
        self._released_at = time.ticks_ms() - RELEASE_MS
        self._out += packets(BROADCAST, CTAPHID_INIT, nonce)

    @property
    def done(self):
        return len(self.responses) == self._expected

    def send(self, cid, cmd, data):
        self._out += packets(cid, cmd, data)

    def next_report(self):
        return self._out.pop(0) if self._out else None

    def on_report(self, report):
        if len(report) != 64:
            raise AssertionError("input report of %d bytes" % len(report))
        cid = struct.unpack(">I", report[:4])[0]
        if report[4] & 0x80:
            if self._rx is not None:
                raise AssertionError("new message before the last one ended")
            bcnt = (report[5] << 8) | report[6]
            self._rx = [cid, report[4] & 0x7F, bcnt, report[7 : 7 + min(bcnt, 57)], 0]
        else:
            rx = self._rx
            if rx is None or rx[0] != cid or report[4] != rx[4]:
                raise AssertionError("unexpected continuation packet")
            rx[4] += 1
            rx[3] += report[5 : 5 + min(rx[2] - len(rx[3]), 59)]
        rx = self._rx
        if len(rx[3]) == rx[2]:
            self._rx = None
            self._message(rx[0], rx[1], bytes(rx[3]))

    def _message(self, cid, cmd, payload):
        if cmd == CTAPHID_KEEPALIVE:
            self.keepalives.append(payload[0])
            if payload[0] == STATUS_UPNEEDED and self._touch:
                self._want_press = True
            return
        if self.cid is None:
            if cmd != CTAPHID_INIT or payload[:8] != self._nonce:
                raise AssertionError("bad INIT answer %r %r" % (cmd, payload))
            self.init_response = payload
            self.cid = struct.unpack(">I", payload[8:12])[0]
        else:
            if cid != self.cid:
                raise AssertionError("answer on channel %x, expected %x" % (cid, self.cid))
            self.responses.append((cmd, payload))
            self._want_press = False
        if self._todo:
            cmd, data = self._todo.pop(0)
            self.send(self.cid, cmd, data)

    def tick(self):
        """The person's turn: press when asked, let go after PRESS_MS."""
        now = time.ticks_ms()
        pressed = fakehw.BUTTON["pressed"]
        if pressed and time.ticks_diff(now, self._pressed_at) >= PRESS_MS:
            fakehw.BUTTON["pressed"] = False
            self._released_at = now
        elif self._want_press and not pressed and time.ticks_diff(now, self._released_at) >= RELEASE_MS:
            fakehw.BUTTON["pressed"] = True
            self._pressed_at = now
            self._want_press = False
            self.presses += 1
