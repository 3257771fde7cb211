"""ESP32-S3 (e.g. Espressif ESP32-S3-DevKitC-1 on its native USB port): pins and limits.

The BOOT button (GPIO0, to GND) is the touch button; it only selects the
ROM bootloader while the chip resets, and is an ordinary input afterwards.
The DevKitC-1 has an addressable RGB LED instead of a plain one: GPIO48 on
v1.0 boards, GPIO38 on v1.1 (set "led": "neopixel:38" there).
The FIDO interface needs the chip's own USB port (the "USB" connector on a
DevKitC-1), not the UART bridge.
"""

MICROPYTHON = {
    "button": "0",
    "button_active_low": True,
    "led": "neopixel:48",
    "max_resident_credentials": 128,
    "watchdog_ms": 8000,
}

CIRCUITPYTHON = {
    "button": "BUTTON",
    "button_active_low": True,
    "led": "neopixel:NEOPIXEL",
    "max_resident_credentials": 128,
    "watchdog_ms": 8000,
}

# machine.USBDevice reached the esp32 port in MicroPython 1.25.
MIN_MICROPYTHON = (1, 25, 0)
MIN_CIRCUITPYTHON = (9, 0, 0)
MICROPYTHON_PLATFORM = "esp32"
CIRCUITPYTHON_PLATFORM = "Espressif"
MACHINE_HINT = "ESP32S3"
NATMOD_ARCH = "xtensawin"
