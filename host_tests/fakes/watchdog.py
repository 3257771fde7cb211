"""Fake of CircuitPython's `watchdog` (WatchDogMode)."""


class WatchDogMode:
    RAISE = "RAISE"
    RESET = "RESET"
