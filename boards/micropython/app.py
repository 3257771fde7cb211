"""The key on MicroPython (RP2040, ESP32-S3): build the board, start USB, run the loop.

Started by /main.py (boards/micropython/main.py, copied to the filesystem's
root by tools/provision.py), which has already turned Ctrl-C off.

Order matters for the host: everything slow -- imports, reading the store,
generating the master secret on the very first boot -- happens *before* the
FIDO interface is presented, so that once the host enumerates it the main
loop is already polling and CTAPHID INIT is answered at once.

Modes (boards/common/settings.py):
  locked (default)  FIDO interface only, Ctrl-C ignored, watchdog running;
                    an escaping exception restarts the board, never a REPL.
  repl              FIDO interface next to the USB serial REPL (development);
                    no watchdog, so a stopped loop can be inspected.
  maintenance       one boot after a 5 s press while idle: REPL only, no FIDO,
                    so tools/provision.py can reach a locked key.
"""

import os
import sys
import time

import machine
import micropython
from micropython import const

from boards.common import settings as st
from boards.common import board_base
from boards.common.board_base import print_exception
from firmware import main_loop
from firmware.authenticator import FIRMWARE_VERSION

_CTRL_C = const(3)
# Colour of an addressable LED when "on": dim green (full white is blinding)
_RGB_ON = (0, 24, 0)


def _urandom(n):
    # The hardware RNG (rp2: ring oscillator mixed by pico_rand; ESP32-S3:
    # the RNG peripheral). Tests without os.urandom replace this function.
    return os.urandom(n)


class Clock:
    """MicroPython's wrap-safe ticks."""

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, new, old):
        return time.ticks_diff(new, old)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)


def chip_config():
    """boards/<chip>/config.py of the chip this runs on."""
    if sys.platform == "rp2":
        from boards.rp2040 import config
    elif sys.platform == "esp32":
        from boards.esp32s3 import config
    else:
        raise OSError("pyfido: no board adapter for platform %r" % sys.platform)
    return config


def chip_defaults(chip):
    """The chip's settings, with the passkey capacity proven for this board's filesystem size."""
    defaults = dict(chip.MICROPYTHON)
    defaults["max_resident_credentials"] = st.resident_capacity(
        getattr(chip, "RESIDENT_CAPACITY", ()), st.filesystem_blocks(), defaults["max_resident_credentials"]
    )
    return defaults


def _pin_id(name):
    return int(name) if name.isdigit() else name


def button_reader(spec, active_low):
    """read() -> truthy while the button is held."""
    if not spec:
        read = _never
    elif spec == "BOOTSEL":
        import rp2

        read = rp2.bootsel_button
    else:
        Pin = machine.Pin
        pin = Pin(_pin_id(spec), Pin.IN, Pin.PULL_UP if active_low else Pin.PULL_DOWN)
        if active_low:

            def read():
                return not pin.value()

        else:
            read = pin.value
    return read


def _never():
    return False


def make_led_writer(spec, active_low):
    if not spec:
        return _ignore
    Pin = machine.Pin
    if spec.startswith("neopixel:"):
        import neopixel

        np = neopixel.NeoPixel(Pin(_pin_id(spec[9:]), Pin.OUT), 1)

        def write(on):
            np[0] = _RGB_ON if on else (0, 0, 0)
            np.write()

        return write
    pin = Pin(_pin_id(spec), Pin.OUT)

    def write(on):
        pin.value(1 if bool(on) != active_low else 0)

    return write


def _ignore(on):
    pass


def serial_number(settings):
    if settings["serial"]:
        return settings["serial"]
    import binascii

    return binascii.hexlify(machine.unique_id()).decode().upper()


def build(settings, hid=None):
    """The Board (not yet on USB) for these settings."""
    from boards.micropython.usb_fido import FidoInterface

    if hid is None:
        hid = FidoInterface(settings["product"])
    return board_base.build(
        hid,
        Clock(),
        button_reader(settings["button"], settings["button_active_low"]),
        make_led_writer(settings["led"], settings["led_active_low"]),
        _urandom,
        settings,
        enter_maintenance,
    )


def start_usb(board, settings):
    """Present the FIDO interface (with the REPL's serial port if settings say so)."""
    import usb.device

    v = FIRMWARE_VERSION
    usb.device.get().init(
        board.hid,
        builtin_driver=settings["repl"],
        manufacturer_str=settings["manufacturer"],
        product_str=settings["product"],
        serial_str=serial_number(settings),
        id_vendor=settings["vid"],
        id_product=settings["pid"],
        bcd_device=(v[0] << 8) | (v[1] << 4) | v[2],
    )


def enter_maintenance():
    """The button was held while idle: next boot opens the REPL instead of FIDO."""
    st.set_maintenance_flag()
    machine.reset()


def main(stop=None):
    """Run the key; returns only in maintenance mode (or when stop() says so in tests)."""
    chip = chip_config()
    settings = st.load(chip_defaults(chip))
    if st.take_maintenance_flag():
        micropython.kbd_intr(_CTRL_C)
        print("pyfido: maintenance mode: USB serial REPL open, no FIDO interface until the next reset")
        return None
    repl = settings["repl"]
    if repl:
        micropython.kbd_intr(_CTRL_C)
    try:
        board = build(settings)
        key = main_loop.make_key(board)  # reads the store; first boot makes the master secret
        start_usb(board, settings)
        if not repl:
            board.watchdog = machine.WDT(timeout=settings["watchdog_ms"])
        return main_loop.run(board, key, stop)
    except BaseException as e:  # noqa: B036 -- KeyboardInterrupt included on purpose
        if repl:
            raise
        # A locked key must not fall through to the REPL: start over.
        print_exception(e)
        machine.reset()
