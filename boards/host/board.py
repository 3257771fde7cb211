"""The host board: the virtual key's adapter on CPython.

Implements the same board interface as boards/rp2040 and boards/esp32s3:
read_report/write_report (64-byte HID reports), wait_touch, led, random,
ticks_ms/ticks_diff, idle, storage and CONFIG. Reports come from a transport
(a local socket by default, see transport.py); presence comes from a
Presence policy (auto-approve, deny, or a person at a prompt); time comes from
a clock tests can replace.
"""

import os
import sys
import threading
import time
import traceback

from boards.host.memory_storage import MemoryStorage
from firmware.presence import TOUCH_DECLINED, TOUCH_OK, TOUCH_TIMEOUT

REPORT_SIZE = 64


class MonotonicClock:
    def ticks_ms(self):
        return time.monotonic_ns() // 1_000_000

    def sleep_ms(self, ms):
        time.sleep(ms / 1000)


class FakeClock:
    """A clock that moves only when told to (and by sleep_ms)."""

    def __init__(self, start=1_000_000):
        self.now = start
        self._lock = threading.Lock()

    def ticks_ms(self):
        with self._lock:
            return self.now

    def advance(self, ms):
        with self._lock:
            self.now += ms

    def sleep_ms(self, ms):
        self.advance(ms)


class Presence:
    """Where the host board's user presence comes from.

    mode "auto": every request is approved at once (tests, demo);
    "deny": every request is refused (CTAP2_ERR_OPERATION_DENIED);
    "manual": only press() approves — a test or a prompt thread calls it;
       for a long touch (wait_long), long_press() approves and press() is a
       touch let go too soon;
    "prompt": asks on the terminal, Enter approves, "n" + Enter refuses.
    """

    def __init__(self, mode="auto"):
        self.mode = mode
        self.requests = 0  # how many times presence was asked for
        self._pressed = threading.Event()
        self._denied = threading.Event()
        self._long = threading.Event()
        self._asking = False

    def press(self):
        self._pressed.set()

    def deny(self):
        self._denied.set()

    def long_press(self):
        """A touch held for the long touch (CTAP 2.2 longTouchForReset)."""
        self._long.set()
        self._pressed.set()

    def wait_long(self, timeout_ms, clock):
        """wait() for a long touch: in "manual" mode press() alone is a touch
        let go too soon (a person at the prompt is taken at their word)."""
        outcome = self._wait(timeout_ms, clock)
        if outcome == TOUCH_OK:
            held = self._long.is_set()
            self._long.clear()
            if self.mode == "manual" and not held:
                return TOUCH_DECLINED
        return outcome

    def wait(self, timeout_ms, clock):
        outcome = self._wait(timeout_ms, clock)
        if outcome == TOUCH_OK:
            self._long.clear()  # a long press answers an ordinary request too, once
        return outcome

    def _wait(self, timeout_ms, clock):
        if not self._asking:
            self._asking = True
            self.requests += 1
            if self.mode == "prompt":
                threading.Thread(target=self._prompt, daemon=True).start()
        if self.mode == "auto":
            return self._answer(TOUCH_OK)
        if self.mode == "deny" or self._denied.is_set():
            self._denied.clear()
            return self._answer(TOUCH_DECLINED)
        if self._pressed.is_set() or (
            isinstance(clock, MonotonicClock) and self._pressed.wait(timeout_ms / 1000)
        ):
            self._pressed.clear()
            return self._answer(TOUCH_OK)
        if not isinstance(clock, MonotonicClock):
            clock.sleep_ms(timeout_ms)
        return TOUCH_TIMEOUT

    def _answer(self, outcome):
        self._asking = False
        return outcome

    def _prompt(self):
        sys.stderr.write("\n>>> touch requested: press Enter to approve, n+Enter to refuse: ")
        sys.stderr.flush()
        line = sys.stdin.readline()
        if line.strip().lower().startswith("n"):
            self.deny()
        else:
            self.press()


class HostBoard:
    """Board adapter for the virtual key."""

    CONFIG = {
        "max_msg_size": 7609,
        "transports": ["usb"],
        "max_resident_credentials": 256,
        "reset_window_ms": 10000,
    }

    def __init__(self, transport, storage=None, presence=None, clock=None, log=None, config=None):
        self.transport = transport
        self.storage = storage if storage is not None else MemoryStorage()
        if config:
            self.CONFIG = dict(HostBoard.CONFIG, **config)
        self.presence = presence or Presence("auto")
        self.clock = clock or MonotonicClock()
        self.led_events = []
        self._log = log or sys.stderr

    # reports
    def read_report(self, buf):
        report = self.transport.recv()
        if report is None:
            return False
        buf[:] = report
        return True

    def write_report(self, buf):
        self.transport.send(bytes(buf))

    # user presence and LED
    def wait_touch(self, timeout_ms):
        return self.presence.wait(timeout_ms, self.clock)

    def wait_long_touch(self, timeout_ms):
        # The host board can tell a long touch (Presence.long_press); CONFIG
        # "long_touch_for_reset" says whether reset asks for one.
        return self.presence.wait_long(timeout_ms, self.clock)

    def led(self, pattern):
        self.led_events.append(pattern)
        if len(self.led_events) > 1000:  # a long-running key: keep the recent past
            del self.led_events[:-100]

    # randomness and time
    def random(self, n):
        # The key's entropy source: the kernel's CSPRNG (getrandom). The core
        # draws every secret from its own DRBG seeded from this (firmware/crypto.py).
        return os.urandom(n)

    # The DRBG's personalization string (a board's is its chip's unique id).
    unique_id = b"pyfido virtual key"

    def ticks_ms(self):
        return self.clock.ticks_ms()

    def ticks_diff(self, new, old):
        return new - old

    def idle(self):
        """Nothing to do: wait briefly for the next report."""
        self.transport.wait(0.01)

    def log_exception(self, e):
        self._log.write("virtual key: %s\n" % "".join(traceback.format_exception(e)).rstrip())
        self._log.flush()
