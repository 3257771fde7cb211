"""The test's side of the fake hardware: what the fakes record and the hooks they call.

EVENTS    every call an adapter made that a test may check, in order
HOST      the simulated USB host (a ctaphid_host.CtapHidHost or None)
BUTTON    the physical button: pressed or not
CLOCK     a SimClock when the test runs the key on simulated time, else None
          (the fakes then use MicroPython's time.ticks_ms)
WATCHDOG  the last machine.WDT the adapter started
RADIO     the Wi-Fi interfaces that are on (fakes/network.py): interface -> bool
"""

import time

EVENTS = []
HOST = None
BUTTON = {"pressed": False}
USB_INIT_HOOK = None  # called with no argument when the FIDO device goes on the bus
CLOCK = None
WATCHDOG = None
RADIO = {}

# MicroPython's ticks_ms() period on every 32-bit port.
TICKS_PERIOD = 1 << 30


class SimClock:
    """MicroPython's wrapping ms ticks, moving only when the key sleeps (sleep_ms).

    The key's board gets it as its clock (ticks_ms, ticks_diff, sleep_ms), so a
    scenario of seconds runs in a fraction of that, the same way every time.
    """

    def __init__(self, start=TICKS_PERIOD - 1500):
        self.now = start  # wraps 1.5 s in: every timer is measured across it

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, new, old):
        half = TICKS_PERIOD // 2
        return ((new - old + half) % TICKS_PERIOD) - half

    def sleep_ms(self, ms):
        self.now = (self.now + ms) % TICKS_PERIOD


def ticks_ms():
    return CLOCK.now if CLOCK is not None else time.ticks_ms()


def ticks_diff(new, old):
    return CLOCK.ticks_diff(new, old) if CLOCK is not None else time.ticks_diff(new, old)


def button():
    """The button's contact now (the simulated person gets a turn first)."""
    if HOST is not None:
        HOST.tick()
    return BUTTON["pressed"]


# The chip's clock and the words machine.mem32 was given (fakes/machine.py)
CHIP = {"freq": 125000000, "mem32": {0x40064000: 0x000000B1}}


def log(*event):
    EVENTS.append(event)


def names():
    return [e[0] for e in EVENTS]


def reset():
    global HOST, USB_INIT_HOOK, CLOCK, WATCHDOG
    del EVENTS[:]
    HOST = None
    USB_INIT_HOOK = None
    CLOCK = None
    WATCHDOG = None
    BUTTON["pressed"] = False
    RADIO.clear()
    CHIP["freq"] = 125000000  # an RP2040 as MicroPython boots it
    CHIP["mem32"] = {0x40064000: 0x000000B1}  # VREG at reset: 1.10 V, enabled


def with_settings(settings_file, maintenance_flag, fn, *args):
    """Call fn(*args) with the board settings read from the given files."""
    from boards.common import settings

    saved = (settings.SETTINGS_FILE, settings.MAINTENANCE_FLAG)
    settings.SETTINGS_FILE = settings_file
    settings.MAINTENANCE_FLAG = maintenance_flag
    try:
        return fn(*args)
    finally:
        settings.SETTINGS_FILE, settings.MAINTENANCE_FLAG = saved
