"""Fake of CircuitPython's `digitalio` (DigitalInOut, Direction, Pull)."""

import fakehw


class Direction:
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


class Pull:
    UP = "UP"
    DOWN = "DOWN"


class DigitalInOut:
    def __init__(self, pin):
        self.pin = pin
        self.direction = Direction.INPUT
        self.pull = None
        self._value = False
        fakehw.log("DigitalInOut", pin)

    @property
    def value(self):
        if self.direction == Direction.INPUT:
            pressed = fakehw.button()
            return (not pressed) if self.pull == Pull.UP else pressed
        return self._value

    @value.setter
    def value(self, v):
        if self.direction != Direction.OUTPUT:
            raise AttributeError("Cannot set value when direction is input.")
        self._value = bool(v)
        fakehw.log("DigitalInOut.value", self.pin, self._value)

    def deinit(self):
        pass
