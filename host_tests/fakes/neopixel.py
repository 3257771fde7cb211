"""Fake of MicroPython's `neopixel` module (NeoPixel(pin, n), item assignment, write())."""

import fakehw


class NeoPixel:
    def __init__(self, pin, n, bpp=3, timing=1):
        self.pin = pin
        self.n = n
        self._buf = [(0, 0, 0)] * n

    def __setitem__(self, i, colour):
        self._buf[i] = tuple(colour)

    def __getitem__(self, i):
        return self._buf[i]

    def __len__(self):
        return self.n

    def write(self):
        fakehw.log("NeoPixel.write", self._buf[0])
