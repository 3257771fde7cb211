"""Fake of MicroPython's `rp2` module: only bootsel_button()."""

import fakehw


def bootsel_button():
    # 1 while the BOOTSEL button is pressed, 0 otherwise (MicroPython docs).
    return 1 if fakehw.button() else 0
