"""Fake of CircuitPython's `microcontroller` (watchdog, reset, cpu.uid)."""

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
    uid = b"\xe6\x61\x38\x52\x83\x1b\x2a\x2f"


cpu = _Cpu()


class ResetCalled(BaseException):
    """microcontroller.reset() never returns on a board; here it unwinds the test."""


def reset():
    fakehw.log("reset")
    raise ResetCalled()
