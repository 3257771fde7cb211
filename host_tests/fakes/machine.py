"""Fake of MicroPython's `machine` (Pin, WDT, unique_id, reset, idle, freq, mem32) for the board tests."""

import fakehw


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self._value = 0 if value is None else value
        fakehw.log("Pin", id, mode, pull)

    def value(self, *v):
        if v:
            self._value = 1 if v[0] else 0
            fakehw.log("Pin.value", self.id, self._value)
            return None
        if self.mode == Pin.IN:
            # A button to ground with a pull-up reads 0 while pressed.
            pressed = fakehw.button()
            return (0 if pressed else 1) if self.pull == Pin.PULL_UP else (1 if pressed else 0)
        return self._value

    def __call__(self, *v):
        return self.value(*v)


class WDT:
    """Counts feeds and the longest time between two (fakehw's clock): past timeout a board would reset."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        self.longest_gap = 0
        self._last = fakehw.ticks_ms()
        fakehw.WATCHDOG = self
        fakehw.log("WDT", timeout)

    def feed(self):
        self.gap()
        self._last = fakehw.ticks_ms()
        self.feeds += 1

    def gap(self):
        """ms since the last feed; updates longest_gap."""
        gap = fakehw.ticks_diff(fakehw.ticks_ms(), self._last)
        if gap > self.longest_gap:
            self.longest_gap = gap
        return gap


class ResetCalled(BaseException):
    """machine.reset() never returns on a board; here it unwinds the test."""


def reset():
    fakehw.log("reset")
    raise ResetCalled()


def unique_id():
    return b"\xe6\x61\x38\x52\x83\x1b\x2a\x2f"


def idle():
    """The rp2 port's machine.idle(): wait for the next interrupt, at most 1 ms
    (MICROPY_INTERNAL_WFE(1)); on simulated time that 1 ms passes."""
    host = fakehw.HOST
    if host is not None:
        host.tick()
    if fakehw.CLOCK is not None:
        fakehw.CLOCK.sleep_ms(1)


def freq(*hz):
    """machine.freq(): the CPU clock (fakehw.CHIP), set and logged."""
    if hz:
        fakehw.log("freq", hz[0])
        fakehw.CHIP["freq"] = hz[0]
        return None
    return fakehw.CHIP["freq"]


class _Mem32:
    """machine.mem32: 32-bit words of the address space (fakehw.CHIP); writes are logged."""

    def __getitem__(self, address):
        return fakehw.CHIP["mem32"].get(address, 0)

    def __setitem__(self, address, value):
        fakehw.log("mem32", address, value & 0xFFFFFFFF)
        fakehw.CHIP["mem32"][address] = value & 0xFFFFFFFF


mem32 = _Mem32()
