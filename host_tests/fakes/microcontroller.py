"""Fake of CircuitPython's `microcontroller` (watchdog, reset, cpu.uid, cpu.frequency)."""

import fakehw


class _WatchDogTimer:
    def __init__(self):
        self.timeout = 0
        self.mode = None
        self.feeds = 0

    def feed(self):
        if self.mode is None:
            raise ValueError("WatchDogTimer is not enabled")
        self.feeds += 1


watchdog = _WatchDogTimer()


class _Cpu:
    """cpu.uid, and cpu.frequency: 125 MHz at boot, settable unless `settable` is False
    (CIRCUITPY_SETTABLE_PROCESSOR_FREQUENCY 0: the attribute is read-only)."""

    uid = b"\xe6\x61\x38\x52\x83\x1b\x2a\x2f"

    def __init__(self):
        self._hz = 125000000
        self.settable = True

    @property
    def frequency(self):
        return self._hz

    @frequency.setter
    def frequency(self, hz):
        if not self.settable:
            raise AttributeError("can't set attribute 'frequency'")
        fakehw.log("cpu.frequency", hz)
        self._hz = hz


cpu = _Cpu()


class ResetCalled(BaseException):
    """microcontroller.reset() never returns on a board; here it unwinds the test."""


def reset():
    fakehw.log("reset")
    raise ResetCalled()
