"""Fake of CircuitPython's `supervisor` (ticks_ms, runtime, set_usb_identification)."""

import time

import fakehw


def ticks_ms():
    # CircuitPython's ticks wrap at 2**29 ms.
    return time.ticks_ms() % (1 << 29)


class _Runtime:
    usb_connected = True
    autoreload = True


runtime = _Runtime()


def set_usb_identification(manufacturer=None, product=None, vid=-1, pid=-1):
    fakehw.log("set_usb_identification", manufacturer, product, vid, pid)
