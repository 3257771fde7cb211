"""Fake of MicroPython's `network` on the esp32 port (WLAN(STA_IF).active()) for the board tests.

The radio's state is fakehw.RADIO (interface -> on); every change is logged.
"""

import fakehw

STA_IF = 0
AP_IF = 1


class WLAN:
    def __init__(self, interface=STA_IF):
        self._interface = interface

    def active(self, *on):
        """active() -> bool; active(flag) turns the interface on or off (and returns once it is)."""
        if on:
            fakehw.RADIO[self._interface] = bool(on[0])
            fakehw.log("WLAN.active", self._interface, bool(on[0]))
        return fakehw.RADIO.get(self._interface, False)
