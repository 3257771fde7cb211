"""Fake of CircuitPython's `usb_cdc` (disable)."""

import fakehw


def disable():
    fakehw.log("usb_cdc.disable")
