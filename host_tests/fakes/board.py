"""Fake of CircuitPython's `board`: the pin names of the boards the key supports, one board at a time.

The names are those of CircuitPython 10.2.1's pins.c for raspberry_pi_pico
and espressif_esp32s3_devkitc_1_n8 (which has no BUTTON: its boot button is
IO0), so a config naming a pin the real board lacks fails here as there.
use(chip) picks the board; the Pico is the default.
"""


class Pin:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "board." + self.name


PINS = {
    "rp2040": ["GP%d" % i for i in range(29)] + [
        "SMPS_MODE", "VBUS_SENSE", "LED", "GP26_A0", "A0", "GP27_A1", "A1", "GP28_A2", "A2", "A3",
        "VOLTAGE_MONITOR"],
    "esp32s3": ["IO%d" % i for i in list(range(22)) + list(range(35, 49))] + ["NEOPIXEL", "TX", "RX"],
}
_PINNED = []


def use(chip):
    g = globals()
    for name in _PINNED:
        g.pop(name, None)
    del _PINNED[:]
    for name in PINS[chip]:
        g[name] = Pin(name)
        _PINNED.append(name)


use("rp2040")
