"""The board interface of a real key, shared by the MicroPython and CircuitPython adapters.

firmware.main_loop.run(board) needs (see boards/host/board.py for the host
version): CONFIG, read_report(buf), write_report(buf), wait_touch(ms),
led(pattern), random(n), ticks_ms(), ticks_diff(new, old), idle(),
log_exception(e) and storage; and unique_id, the chip's id, which
personalizes the key's DRBG (random(n) is the board's entropy source: the
core draws every secret from that DRBG, firmware/crypto.py). Here they are
built from small runtime parts:

  hid      read_report(buf) -> bool, write_report(buf) -> bool, service(),
           optionally write_reports(buf) -> bool: several reports back to
           back in one transfer, returning once they are sent (the board
           then offers it to CTAPHID, firmware/ctaphid.py),
           optionally pause() -> bool: sleep until the next interrupt (a
           USB transfer), True when a report is waiting (idle() pauses
           until then or _IDLE_SLEEP_MS)
  clock    ticks_ms(), ticks_diff(new, old), sleep_ms(ms)
  button   a boards.common.ui.Button
  led      a boards.common.ui.Led
  watchdog feed() (optional)

Every call the main loop makes feeds the watchdog, moves the LED pattern on
and samples the button, so a loop that stops calling the board -- a wedged
loop -- is what the watchdog catches.

User presence (the contract is in firmware/presence.py). The button is
sampled wherever the loop is (idle() between requests, wait_touch() during
one) and only a press *edge* counts, so a button held before a request does
not approve it. A request is "asking" from its first look at the button
(wait_touch, or the LED set to "touch") until the core shows another
pattern (answered, refused, cancelled) or, for a U2F client -- which polls
with a new request every 100-250 ms instead of waiting --, until
TOUCH_LATCH_MS after its last poll. A press that begins while a request is
asking is latched for TOUCH_LATCH_MS: the next wait_touch() takes it,
whether it comes from the same poll loop or a new request. A press that
begins while nothing asks is never latched: it can only be a maintenance
press. When a U2F client stops polling, the LED goes back from "touch" to
"idle" at the end of that window, so it never asks for a press that
nothing would use.
"""

import sys

from micropython import const

from firmware.presence import TOUCH_DECLINED, TOUCH_OK, TOUCH_TIMEOUT
from boards.common.ui import LONG_PRESS_MS, LONG_TOUCH_MS

# CTAPHID's largest message (57 + 128 * 59 bytes); the CTAPHID layer's buffer
# has this size on every board.
MAX_MSG_SIZE = const(7609)
# How long idle() sleeps: short enough that a report waiting in the USB
# stack is picked up within a few ms (CircuitPython keeps only one).
_IDLE_SLEEP_MS = const(1)
# How long a press made while a request asks stays good for a wait_touch(),
# and how long a request that stopped looking (a U2F client between two
# polls, or one that gave up) still counts as asking: the "about two
# seconds" of firmware/presence.py, well above the 100-250 ms U2F clients
# wait between polls.
TOUCH_LATCH_MS = const(2000)


class Board:
    """A key on real hardware (or on the tests' fakes of it)."""

    def __init__(self, hid, clock, button, led, storage, random, config, watchdog=None, on_long_press=None, unique_id=b""):
        self.CONFIG = config
        self.hid = hid
        self._clock = clock
        # The clock's own functions, not methods that call them: the core asks
        # for the time several times per report (MicroPython's Clock gives
        # time.ticks_ms itself, so a call is no Python frame at all).
        self.ticks_ms = clock.ticks_ms
        self.ticks_diff = clock.ticks_diff
        self.button = button
        self._led = led
        self.storage = storage
        self.random = random
        self.unique_id = unique_id
        self.watchdog = watchdog
        self._on_long_press = on_long_press
        self._pause = getattr(hid, "pause", None)
        if getattr(hid, "write_reports", None) is not None:
            self.write_reports = hid.write_reports  # what CTAPHID looks for; nothing to add on the way
        # The current press met a request (it approved one, or it was down
        # while one asked): a touch, never a maintenance press.
        self._press_taken = False
        self._latched_at = None  # ticks of a press made while asking, not yet used
        self._asked_at = None  # ticks a request last looked for a press; None: nothing asks
        self._long_touch = False  # a press that began while asking is being held (wait_long_touch)
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
        """TOUCH_OK when a press begins within timeout_ms or was latched for it, else TOUCH_TIMEOUT.

        Only a press that *starts* while a request asks counts (the button's
        edge): holding the button down before the request does not approve
        it. One press approves one call: the latch is used up by the call
        that reports it.
        """
        clock = self._clock
        start = clock.ticks_ms()
        while True:
            self._service(True)
            self._look(True)
            if self._latched_at is not None:
                self._latched_at = None
                self._asked_at = None  # answered: the next request asks anew
                return TOUCH_OK
            now = clock.ticks_ms()
            self._asked_at = now
            if clock.ticks_diff(now, start) >= timeout_ms:
                return TOUCH_TIMEOUT
            clock.sleep_ms(1)

    def wait_long_touch(self, timeout_ms):
        """wait_touch's long form (CTAP 2.2 longTouchForReset): TOUCH_OK once a
        press that began while the request asked has been held LONG_TOUCH_MS,
        TOUCH_DECLINED when it is let go before, else TOUCH_TIMEOUT."""
        clock = self._clock
        start = clock.ticks_ms()
        button = self.button
        while True:
            self._service(True)
            self._look(True)
            if self._latched_at is not None:
                self._latched_at = None
                self._long_touch = True
            if self._long_touch:
                if not button.pressed:
                    self._long_touch = False
                    self._asked_at = None
                    return TOUCH_DECLINED
                if button.held_ms() >= LONG_TOUCH_MS:
                    self._long_touch = False
                    self._asked_at = None
                    return TOUCH_OK
            now = clock.ticks_ms()
            self._asked_at = now
            if clock.ticks_diff(now, start) >= timeout_ms:
                return TOUCH_TIMEOUT
            clock.sleep_ms(1)

    def led(self, pattern):
        # "touch" asks for a press (U2F's check() shows it after each poll);
        # any other pattern but a wink (which goes back to what it replaced)
        # means the request is over.
        if pattern == "touch":
            self._asked_at = self._clock.ticks_ms()
        elif pattern != "wink":
            self._asked_at = None
            self._long_touch = False
        self._led.show(pattern)

    # -- time: ticks_ms() and ticks_diff(new, old) are the clock's (see __init__)

    def idle(self):
        """Nothing to do: look after the hardware, then sleep a little."""
        self._service()
        asked = self._asked_at
        asking = asked is not None
        if asking and self._clock.ticks_diff(self._clock.ticks_ms(), asked) >= TOUCH_LATCH_MS:
            # The U2F client stopped polling (gave up, or got its answer
            # elsewhere): stop asking the person for a press nothing would use.
            self._asked_at = None
            asking = False
            self._led.replace("touch", "idle")
        self._look(asking)
        button = self.button
        if (
            self._on_long_press is not None
            and button.pressed
            and not self._press_taken
            and button.held_ms() >= LONG_PRESS_MS
        ):
            self._maintenance()
        pause = self._pause
        if pause is None:
            self._clock.sleep_ms(_IDLE_SLEEP_MS)
            return
        # Until a report is waiting: the loop reads it at once instead of
        # after the rest of a fixed sleep.
        clock = self._clock
        start = clock.ticks_ms()
        while not pause() and clock.ticks_diff(clock.ticks_ms(), start) < _IDLE_SLEEP_MS:
            pass

    def feed_watchdog(self):
        if self.watchdog is not None:
            self.watchdog.feed()

    def log_exception(self, e):
        self.errors += 1
        print_exception(e)

    # -- internals -----------------------------------------------------------

    def _look(self, asking):
        """Sample the button; latch a press that begins while a request asks."""
        button = self.button
        began = button.sample()
        clock = self._clock
        now = clock.ticks_ms()
        latched = self._latched_at
        if latched is not None and clock.ticks_diff(now, latched) >= TOUCH_LATCH_MS:
            self._latched_at = None  # nothing took it in time
        if not button.pressed:
            self._press_taken = False
        elif asking:
            self._press_taken = True
            if began:
                self._latched_at = now

    def _maintenance(self):
        """A long press while idle: maintenance mode, once the button is let go.

        The reset waits for the release: the RP2040's boot ROM reads BOOTSEL
        (the flash chip-select line) at every reset, machine.reset()'s
        watchdog reboot included, and starts its USB bootloader instead of
        the firmware while it is held. The LED goes off -- "not a key any
        more, let go" -- and the watchdog is fed meanwhile.
        """
        self._led.show("off")
        button = self.button
        clock = self._clock
        while button.pressed:
            self.feed_watchdog()
            clock.sleep_ms(_IDLE_SLEEP_MS)
            button.sample()
        self._on_long_press()

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


def build(hid, clock, read_button, write_led, random, settings, on_long_press, unique_id=b""):
    """The Board for these settings (boards/common/settings.py), the same on both runtimes."""
    from boards.common.ui import Button, Led
    from boards.common.vfs_storage import VfsStorage

    config = {
        "max_msg_size": MAX_MSG_SIZE,
        "transports": ["usb"],
        "max_resident_credentials": settings["max_resident_credentials"],
        # The button can be timed: reset may ask for a long touch.
        "long_touch_for_reset": settings.get("long_touch_for_reset", False),
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
        unique_id=unique_id,
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
