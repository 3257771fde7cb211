"""The board interface of a real key, shared by the MicroPython and CircuitPython adapters.

firmware.main_loop.run(board) needs (see boards/host/board.py for the host
version): CONFIG, read_report(buf), write_report(buf), wait_touch(ms),
led(pattern), random(n), ticks_ms(), ticks_diff(new, old), idle(),
log_exception(e) and storage. Here they are built from small runtime parts:

  hid      read_report(buf) -> bool, write_report(buf) -> bool, service()
  clock    ticks_ms(), ticks_diff(new, old), sleep_ms(ms)
  button   a boards.common.ui.Button
  led      a boards.common.ui.Led
  watchdog feed() (optional)

Every call the main loop makes feeds the watchdog, moves the LED pattern on
and samples the button, so a loop that stops calling the board -- a wedged
loop -- is what the watchdog catches.
"""

import sys

from micropython import const

from firmware.presence import TOUCH_OK, TOUCH_TIMEOUT
from boards.common.ui import LONG_PRESS_MS

# CTAPHID's largest message (57 + 128 * 59 bytes); the CTAPHID layer's buffer
# has this size on every board.
MAX_MSG_SIZE = const(7609)
# How long idle() sleeps: short enough that a report waiting in the USB
# stack is picked up within a few ms (CircuitPython keeps only one).
_IDLE_SLEEP_MS = const(1)


class Board:
    """A key on real hardware (or on the tests' fakes of it)."""

    def __init__(self, hid, clock, button, led, storage, random, config, watchdog=None, on_long_press=None):
        self.CONFIG = config
        self.hid = hid
        self._clock = clock
        self.button = button
        self._led = led
        self.storage = storage
        self.random = random
        self.watchdog = watchdog
        self._on_long_press = on_long_press
        self._press_used = False  # the current press approved a request
        self._last_service = None
        self.errors = 0  # exceptions logged by the main loop

    # -- reports ------------------------------------------------------------

    def read_report(self, buf):
        self._service()
        return self.hid.read_report(buf)

    def write_report(self, buf):
        # A report the host no longer reads (it closed the device mid-answer)
        # is dropped by the adapter after its timeout; CTAPHID carries on.
        self.hid.write_report(buf)

    # -- user presence and LED -----------------------------------------------

    def wait_touch(self, timeout_ms):
        """TOUCH_OK when a press begins within timeout_ms, else TOUCH_TIMEOUT.

        Only a press that *starts* while a request waits counts (the button's
        edge): holding the button down before the request does not approve it.
        """
        clock = self._clock
        start = clock.ticks_ms()
        while True:
            self._service(True)
            if self.button.sample():
                self._press_used = True
                return TOUCH_OK
            if clock.ticks_diff(clock.ticks_ms(), start) >= timeout_ms:
                return TOUCH_TIMEOUT
            clock.sleep_ms(1)

    def led(self, pattern):
        self._led.show(pattern)

    # -- time ----------------------------------------------------------------

    def ticks_ms(self):
        return self._clock.ticks_ms()

    def ticks_diff(self, new, old):
        return self._clock.ticks_diff(new, old)

    def idle(self):
        """Nothing to do: look after the hardware, then sleep a little."""
        self._service()
        button = self.button
        button.sample()
        if not button.pressed:
            self._press_used = False
        elif (
            self._on_long_press is not None
            and not self._press_used
            and button.held_ms() >= LONG_PRESS_MS
        ):
            self._on_long_press()
        self._clock.sleep_ms(_IDLE_SLEEP_MS)

    def feed_watchdog(self):
        if self.watchdog is not None:
            self.watchdog.feed()

    def log_exception(self, e):
        self.errors += 1
        print_exception(e)

    # -- internals -----------------------------------------------------------

    def _service(self, force=False):
        now = self._clock.ticks_ms()
        if not force and now == self._last_service:
            self.hid.service()
            return
        self._last_service = now
        if self.watchdog is not None:
            self.watchdog.feed()
        self.hid.service()
        self._led.update()


def build(hid, clock, read_button, write_led, random, settings, on_long_press):
    """The Board for these settings (boards/common/settings.py), the same on both runtimes."""
    from boards.common.ui import Button, Led
    from boards.common.vfs_storage import VfsStorage

    config = {
        "max_msg_size": MAX_MSG_SIZE,
        "transports": ["usb"],
        "max_resident_credentials": settings["max_resident_credentials"],
    }
    board = Board(
        hid,
        clock,
        Button(read_button, clock.ticks_ms, clock.ticks_diff),
        Led(write_led, clock.ticks_ms, clock.ticks_diff),
        None,
        random,
        config,
        on_long_press=on_long_press,
    )
    board.storage = VfsStorage(settings["store"], feed=board.feed_watchdog)
    return board


def print_exception(e):
    """Print a traceback the way the runtime can (MicroPython, CircuitPython, CPython)."""
    pe = getattr(sys, "print_exception", None)  # MicroPython
    if pe is not None:
        pe(e)
        return
    try:
        import traceback  # CircuitPython >= 8, CPython

        traceback.print_exception(e)
    except ImportError:
        print("error:", repr(e))
