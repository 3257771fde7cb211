"""The key's button and LED, independent of runtime and pin type.

Both take plain functions for the hardware (read the button, switch the LED)
and a clock, so the same logic runs on MicroPython, CircuitPython and under
the host tests' fakes.
"""

from micropython import const

# A contact must read the same for this long before it counts: mechanical
# buttons bounce for a few ms; 20 ms is well above that and well below a
# deliberate press (>= 50 ms).
DEBOUNCE_MS = const(20)
# Holding the button this long while the key is idle asks for maintenance
# mode (see boards/common/board_base.py); far longer than any touch.
LONG_PRESS_MS = const(5000)
# How long a touch must be held to count as long (CTAP 2.2
# longTouchForReset): authenticatorReset's press. It is made while a request
# asks, so it never starts maintenance mode, which is for an idle key.
LONG_TOUCH_MS = const(5000)

# LED patterns: (on ms, off ms); off == 0 means steadily on, on == 0 off.
# Longer patterns go on alternating: (on ms, off ms, on ms, off ms, ...).
_PATTERNS = {
    "idle": (1, 0),  # steady: powered and ready
    "touch": (250, 250),  # 2 Hz blink: waiting for a touch (CTAP UP)
    "wink": (60, 60),  # fast flicker: CTAPHID_WINK, "this is the key"
    "off": (0, 1),
    # Two short flashes, then dark for more than a second, over and over:
    # the key's stored state is damaged (firmware/store.py LED_DAMAGED) and
    # it refuses to work until authenticatorReset. Unlike any even blink.
    "damaged": (120, 180, 120, 1080),
}
# CTAPHID_WINK is a one-shot: flicker this long, then back to what was shown.
WINK_MS = const(2000)


class Button:
    """A debounced push button.

    :param read: read() -> truthy while the button is held down

    sample() reports a press *edge*: a button that was already held when the
    key started (or when a request began) does not count until it has been
    let go and pressed again, so a stuck or taped-down button approves nothing.
    """

    def __init__(self, read, ticks_ms, ticks_diff, debounce_ms=DEBOUNCE_MS):
        self._read = read
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self._debounce_ms = debounce_ms
        now = ticks_ms()
        raw = bool(read())
        self._raw = raw
        self._raw_since = now
        self.pressed = raw  # the debounced state
        self._pressed_since = now

    def sample(self):
        """Read the contact once; True when a new debounced press began."""
        now = self._ticks_ms()
        raw = bool(self._read())
        if raw != self._raw:
            self._raw = raw
            self._raw_since = now
            return False
        if raw == self.pressed or self._ticks_diff(now, self._raw_since) < self._debounce_ms:
            return False
        self.pressed = raw
        self._pressed_since = self._raw_since
        return raw

    def held_ms(self):
        """How long the button has been held down (0 when released)."""
        if not self.pressed:
            return 0
        return self._ticks_diff(self._ticks_ms(), self._pressed_since)


class Led:
    """One LED showing a named pattern; write(on) is called only on a change."""

    def __init__(self, write, ticks_ms, ticks_diff):
        self._write = write
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self._state = None
        self.pattern = "off"
        self._base = "off"  # what to go back to after a wink
        self._since = ticks_ms()
        self.show("idle")

    def show(self, pattern):
        if pattern not in _PATTERNS:
            pattern = "idle"
        now = self._ticks_ms()
        if pattern != "wink":
            self._base = pattern
        self.pattern = pattern
        self._since = now
        self.update()

    def replace(self, old, new):
        """Show `new` instead of `old`: now if `old` is shown, else after the wink that covers it."""
        if self.pattern == old:
            self.show(new)
        elif self._base == old:
            self._base = new

    def update(self):
        now = self._ticks_ms()
        elapsed = self._ticks_diff(now, self._since)
        if self.pattern == "wink" and elapsed >= WINK_MS:
            self.pattern = self._base
            self._since = now
            elapsed = 0
        durations = _PATTERNS[self.pattern]
        on_ms, off_ms = durations[0], durations[1]
        if off_ms == 0:
            on = True
        elif on_ms == 0:
            on = False
        elif len(durations) == 2:
            on = elapsed % (on_ms + off_ms) < on_ms
        else:
            t = elapsed % sum(durations)
            on = True
            for d in durations:
                if t < d:
                    break
                t -= d
                on = not on
        if on != self._state:
            self._state = on
            self._write(on)
