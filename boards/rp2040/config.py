"""Raspberry Pi Pico (RP2040): pins and limits for both runtimes.

MicroPython reads the BOOTSEL button (rp2.bootsel_button(): it briefly turns
the flash chip-select pin into an input, so no GPIO is needed). CircuitPython
has no such call: wire a push button from GP15 to GND (or set "button").
The Pico's green LED is "LED" in both runtimes (on the Pico W too).
"""

MICROPYTHON = {
    "button": "BOOTSEL",
    "button_active_low": False,  # bootsel_button() is 1 while pressed
    "led": "LED",
    # Each record takes a 4 KB flash block on littlefs: 64 of them plus the
    # state records stay well inside the Pico's 848 KB filesystem.
    "max_resident_credentials": 64,
    "watchdog_ms": 8000,  # hardware limit 8388 ms
}

CIRCUITPYTHON = {
    "button": "GP15",
    "button_active_low": True,
    "led": "LED",
    "max_resident_credentials": 64,
    "watchdog_ms": 8000,
}

# Oldest runtime each adapter is written for: machine.USBDevice arrived in
# MicroPython 1.23; usb_hid.Device with custom descriptors and
# get_last_received_report in CircuitPython 7 (9 for supervisor.ticks_ms
# as used here, and the .mpy-free install).
MIN_MICROPYTHON = (1, 23, 0)
MIN_CIRCUITPYTHON = (9, 0, 0)
# What the runtimes call this chip: sys.platform / sys.implementation._machine
MICROPYTHON_PLATFORM = "rp2"
CIRCUITPYTHON_PLATFORM = "RP2040"
MACHINE_HINT = "RP2040"
# mpy-cross -march for the P-256 native module (.mpy) on this chip
NATMOD_ARCH = "armv6m"
