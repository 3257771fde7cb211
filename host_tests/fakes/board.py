"""Fake of CircuitPython's `board` for the boards the key supports (pin names only)."""


class Pin:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "board." + self.name


GP15 = Pin("GP15")
LED = Pin("LED")
BUTTON = Pin("BUTTON")
NEOPIXEL = Pin("NEOPIXEL")
