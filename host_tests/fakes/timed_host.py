"""A simulated USB host and a person at the key, on simulated time (fakehw.CLOCK).

For the board tests of user presence: the key runs its real adapter, board
and core on a fakehw.SimClock, so a script of several seconds runs in a
fraction of that, the same way every time. The host opens a channel (INIT),
then plays `requests` in order; the person holds the button as `presses`
says. Times are ms from the start of the script.

requests, each a dict:
  kind       "u2f_register" (challenge, app), "u2f_authenticate" (challenge,
             app: signs with the key handle the last register answer gave)
             or "cbor" (payload: a CTAP2 command, sent as CTAPHID_CBOR);
             challenge, app and payload as hex strings (the script is plain
             JSON data, the same on CPython and MicroPython)
  at         when it is first sent; None: as soon as the previous one is done
  give_up    (U2F) stop polling this long after the first poll (default: never)
A U2F request is sent again every poll_ms while the key answers SW 6985
(test-of-user-presence-required), as U2F clients do (U2F Raw Message
Formats v1.2 §4.1); a CBOR request waits for its answer (KEEPALIVEs aside).

presses: [(at, ms)]: the button is held from `at` for `ms`.

Recorded: per request, polls [(t, sw)] and answer (the last response data,
status word included for U2F) with its time; the LED pattern shown over
time, [(t, pattern)], looked at whenever the key reads the button (every
ms); reset_at (the time machine.reset() was called, set by the runner).

MicroPython-compatible (it runs inside the MicroPython board tests too).
"""

import binascii
import struct

import fakehw
from ctaphid_host import BROADCAST, CTAPHID_INIT, CTAPHID_KEEPALIVE, packets

CTAPHID_MSG = 0x03
CTAPHID_CBOR = 0x10
SW_NO_ERROR = 0x9000
SW_CONDITIONS_NOT_SATISFIED = 0x6985
# U2F Raw Message Formats v1.2 §4.1, §5.1: instruction bytes; P1 of authenticate
_U2F_REGISTER = 0x01
_U2F_AUTHENTICATE = 0x02
_ENFORCE_USER_PRESENCE = 0x03
_NONCE = b"\x11\x22\x33\x44\x55\x66\x77\x88"


def apdu(ins, p1, data):
    """An extended-length APDU, as python-fido2's Ctap1.send_apdu builds it (ISO 7816-4)."""
    return struct.pack(">BBBBBH", 0, ins, p1, 0, 0, len(data)) + data + b"\x00\x00"


class TimedHost:
    def __init__(self, requests, presses=(), poll_ms=100, end_ms=10000):
        self.requests = []
        for r in requests:
            r = dict(r)
            for k in ("challenge", "app", "payload"):
                if k in r:
                    r[k] = binascii.unhexlify(r[k])
            r["polls"] = []
            r["answer"] = None
            r["answered_at"] = None
            self.requests.append(r)
        self.presses = list(presses)
        self.poll_ms = poll_ms
        self.end_ms = end_ms
        self.led = []
        self.reset_at = None
        self.board = None  # set by the runner once built: its LED is watched
        self.cid = None
        self._clock = fakehw.CLOCK
        self._t0 = self._clock.now
        self._out = packets(BROADCAST, CTAPHID_INIT, _NONCE)
        self._rx = None
        self._current = -1  # index of the request in flight
        self._in_flight = False
        self._next_send = None  # scenario time of the next send of the current request
        self._key_handle = None

    def now(self):
        return self._clock.ticks_diff(self._clock.now, self._t0)

    @property
    def done(self):
        return self.now() >= self.end_ms or self.reset_at is not None

    # -- the USB side (fakes/usb/device/core.py) --------------------------------------

    def next_report(self):
        if not self._out and self.cid is not None and not self._in_flight:
            self._schedule()
        return self._out.pop(0) if self._out else None

    def _schedule(self):
        t = self.now()
        if self._next_send is None:
            nxt = self._current + 1
            if nxt >= len(self.requests):
                return
            at = self.requests[nxt].get("at")
            self._current = nxt
            self._next_send = t if at is None else at
        if t < self._next_send:
            return
        r = self.requests[self._current]
        give_up = r.get("give_up")
        if r["polls"] and give_up is not None and t - r["polls"][0][0] >= give_up:
            self._next_send = None  # the client gave up: on to the next request
            self._schedule()
            return
        self._in_flight = True
        self._sent_at = t
        if r["kind"] == "cbor":
            self._out += packets(self.cid, CTAPHID_CBOR, r["payload"])
        else:
            self._out += packets(self.cid, CTAPHID_MSG, self._apdu(r))

    def _apdu(self, r):
        if r["kind"] == "u2f_register":
            return apdu(_U2F_REGISTER, 0, r["challenge"] + r["app"])
        kh = self._key_handle
        return apdu(_U2F_AUTHENTICATE, _ENFORCE_USER_PRESENCE, r["challenge"] + r["app"] + bytes([len(kh)]) + kh)

    def on_report(self, report):
        if len(report) != 64:
            raise AssertionError("input report of %d bytes" % len(report))
        cid = struct.unpack(">I", report[:4])[0]
        if report[4] & 0x80:
            if self._rx is not None:
                raise AssertionError("new message before the last one ended")
            bcnt = (report[5] << 8) | report[6]
            self._rx = [cid, report[4] & 0x7F, bcnt, bytes(report[7 : 7 + min(bcnt, 57)]), 0]
        else:
            rx = self._rx
            if rx is None or rx[0] != cid or report[4] != rx[4]:
                raise AssertionError("unexpected continuation packet")
            rx[4] += 1
            rx[3] += bytes(report[5 : 5 + min(rx[2] - len(rx[3]), 59)])
        rx = self._rx
        if len(rx[3]) == rx[2]:
            self._rx = None
            self._message(rx[1], rx[3])

    def _message(self, cmd, payload):
        if cmd == CTAPHID_KEEPALIVE:
            return
        if self.cid is None:
            if cmd != CTAPHID_INIT or payload[:8] != _NONCE:
                raise AssertionError("bad INIT answer %r %r" % (cmd, payload))
            self.cid = struct.unpack(">I", payload[8:12])[0]
            return
        t = self.now()
        r = self.requests[self._current]
        self._in_flight = False
        if r["kind"] == "cbor":
            r["polls"].append((self._sent_at, payload[0]))
            self._finish(r, payload, t)
            return
        if cmd != CTAPHID_MSG or len(payload) < 2:
            raise AssertionError("bad U2F answer %r %r" % (cmd, payload))
        sw = (payload[-2] << 8) | payload[-1]
        r["polls"].append((self._sent_at, sw))
        if sw == SW_CONDITIONS_NOT_SATISFIED:
            self._next_send = self._sent_at + self.poll_ms
            return
        if r["kind"] == "u2f_register" and sw == SW_NO_ERROR:
            self._key_handle = payload[67 : 67 + payload[66]]
        self._finish(r, payload, t)

    def _finish(self, r, payload, t):
        r["answer"] = payload
        r["answered_at"] = t
        self._next_send = None

    # -- the person, and what they see ------------------------------------------------------

    def tick(self):
        """Called whenever the key reads its button: the contact follows `presses`."""
        t = self.now()
        held = False
        for at, ms in self.presses:
            if at <= t < at + ms:
                held = True
        fakehw.BUTTON["pressed"] = held
        board = self.board
        if board is not None:
            pattern = board._led.pattern
            if not self.led or self.led[-1][1] != pattern:
                self.led.append((t, pattern))

    def result(self):
        """Plain data (hex for bytes), the same on CPython and MicroPython."""

        def hx(b):
            return None if b is None else binascii.hexlify(b).decode()

        return {
            "requests": [
                {"polls": [list(p) for p in r["polls"]], "answer": hx(r["answer"]), "answered_at": r["answered_at"]}
                for r in self.requests
            ],
            "led": [list(e) for e in self.led],
            "reset_at": self.reset_at,
        }
