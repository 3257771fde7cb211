"""ESP32-S3 (e.g. Espressif ESP32-S3-DevKitC-1 on its native USB port): pins and limits.

The BOOT button (GPIO0, to GND) is the touch button; it only selects the
ROM bootloader while the chip resets, and is an ordinary input afterwards.
The DevKitC-1 has an addressable RGB LED instead of a plain one: GPIO48 on
v1.0 boards, GPIO38 on v1.1 (set "led": "neopixel:38" there).
The FIDO interface needs the chip's own USB port (the "USB" connector on a
DevKitC-1), not the UART bridge.
"""

# Discoverable credentials (passkeys) under MicroPython by littlefs size in
# 4096-byte blocks, as in boards/rp2040/config.py (proven the same way; here
# progsize 32 makes every file over 128 bytes take whole blocks). Since
# MicroPython 1.26 the filesystem runs from the end of the app partition
# (0x220000 at most) to the end of the flash.
RESIDENT_CAPACITY = (
    # 8 MB flash (DevKitC-1-N8), 6016 KiB: about 1340 fit; 512 bounds the
    # RAM index (about 90 bytes a passkey) and the boot-time scan of the store.
    (1504, 512),
    (480, 350),  # 4 MB flash, 1920 KiB: 376 fit, 373 with room to rewrite
)

MICROPYTHON = {
    "button": "0",
    "button_active_low": True,
    "led": "neopixel:48",
    # Only when the filesystem's size is unknown; see RESIDENT_CAPACITY.
    "max_resident_credentials": 350,
    "watchdog_ms": 8000,
}

CIRCUITPYTHON = {
    # The DevKitC-1's BOOT button is GPIO0: board.IO0 in CircuitPython (its
    # board module has no BUTTON).
    "button": "IO0",
    "button_active_low": True,
    "led": "neopixel:NEOPIXEL",
    "max_resident_credentials": 128,
    "watchdog_ms": 8000,
}

# esp_random() (os.urandom) is a true RNG only while the radio or the SAR ADC
# entropy source runs (ESP-IDF, "Random Number Generation"): the MicroPython
# adapter turns Wi-Fi on while the key's DRBG seeds and reseeds from it
# (boards/micropython/app.py, radio_on).
RANDOM_NEEDS_RADIO = True

# machine.USBDevice reached the esp32 port in MicroPython 1.25.
MIN_MICROPYTHON = (1, 25, 0)
MIN_CIRCUITPYTHON = (9, 0, 0)
MICROPYTHON_PLATFORM = "esp32"
CIRCUITPYTHON_PLATFORM = "Espressif"
MACHINE_HINT = "ESP32S3"
NATMOD_ARCH = "xtensawin"
