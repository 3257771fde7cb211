"""Fake of CircuitPython's `neopixel_write`."""

import fakehw


def neopixel_write(digitalinout, buf):
    fakehw.log("neopixel_write", bytes(buf))
