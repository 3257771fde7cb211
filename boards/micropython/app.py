"""The key on MicroPython (RP2040, ESP32-S3): build the board, start USB, run the loop.

Two entry points on the filesystem's root, copied there by tools/provision.py,
each of which first turns Ctrl-C off:
  /boot.py  (boards/micropython/boot.py) calls boot(): set the CPU clock,
            build the board and the key (imports, reading the store, making
            the master secret on the very first boot), then present the FIDO
            interface on USB;
  /main.py  (boards/micropython/main.py) calls main(): start the watchdog and
            run the main loop with what boot() made.
MicroPython starts USB itself only *after* boot.py (ports/rp2/main.c:
pyexec_file_if_exists("boot.py") then mp_usbd_init(); shared/tinyusb/
mp_usbd_runtime.c: mp_usbd_init() keeps a runtime device that boot.py made
active). So a locked key is never first enumerated as the REPL's serial
device, dropped off the bus and enumerated again as a FIDO key (that took
~240 ms after power-up); the host sees the FIDO interface from the first
enumeration, and the main loop is polling by the time it sends INIT. A key
installed with only /main.py still works: main() then does boot()'s work
itself.

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
# boards.common.board_base and firmware.main_loop are imported where they are
# used: boot() sets the CPU clock first, and everything imported before that
# runs at the clock the chip booted with.
from firmware.device import FIRMWARE_VERSION

_CTRL_C = const(3)
_VREG_AND_CHIP_RESET_BASE = const(0x40064000)
_VREG_SETTLE_US = const(1000)  # pico-sdk's SYS_CLK_VREG_VOLTAGE_AUTO_ADJUST_DELAY_US
# Colour of an addressable LED when "on": dim green (full white is blinding)
_RGB_ON = (0, 24, 0)


def _urandom(n):
    # The chip's random source (rp2: pico_rand, a xoroshiro128** generator
    # that mixes ring-oscillator bits, the microsecond timer and a bus
    # counter into every output; ESP32-S3: esp_random()), from which the
    # core seeds its DRBG (firmware/crypto.py). Tests without os.urandom
    # replace this function.
    return os.urandom(n)


def radio_on(source):
    """source(n), read while the Wi-Fi radio is on: the ESP32-S3's entropy source.

    esp_random() is a true RNG only while the RF subsystem (Wi-Fi or
    Bluetooth) or the SAR ADC entropy source runs; otherwise, once the
    application runs, it is pseudo-random (ESP-IDF, "Random Number
    Generation"). MicroPython's esp32 port offers no call for the SAR ADC
    source (bootloader_random_enable() is not exposed), but
    network.WLAN(STA_IF).active(True) runs esp_wifi_start() and returns once
    the station has started (ports/esp32/network_wlan.c,
    network_wlan_active()); esp_random() is what os.urandom reads
    (ports/esp32/mphalport.c, mp_hal_get_random()). The DRBG calls this
    only to seed (at boot) and reseed (every crypto.RESEED_INTERVAL
    refills), so the radio is on for those moments only; it is left as
    it was found (on if something else turned it on). It never connects
    or scans: a started station without a network sends nothing.
    """

    def read(n):
        import network

        wlan = network.WLAN(network.STA_IF)
        was_on = wlan.active()
        if not was_on:
            wlan.active(True)
        try:
            return source(n)
        finally:
            if not was_on:
                wlan.active(False)

    return read


def random_source(chip):
    """The board's entropy source for the DRBG: os.urandom, with the radio on where the chip needs it."""
    if getattr(chip, "RANDOM_NEEDS_RADIO", False):
        return radio_on(_urandom)
    return _urandom


class Clock:
    """MicroPython's wrap-safe ticks: the time module's functions themselves, no Python call in between."""

    ticks_ms = staticmethod(time.ticks_ms)
    ticks_diff = staticmethod(time.ticks_diff)
    sleep_ms = staticmethod(time.sleep_ms)


def chip_config():
    """boards/<chip>/config.py of the chip this runs on."""
    if sys.platform == "rp2":
        from boards.rp2040 import config
    elif sys.platform == "esp32":
        from boards.esp32s3 import config
    else:
        raise OSError("pyfido: no board adapter for platform %r" % sys.platform)
    return config


# max_resident_credentials in the chip's defaults: the capacity proven for
# this board's filesystem size (passkey_capacity), read after the key is on
# USB -- os.statvfs walks the whole littlefs filesystem to count free blocks.
_BY_FILESYSTEM = const(-1)


def chip_defaults(chip, machine_name=None):
    """The chip's settings.

    A board named in the chip's KEEP_CLOCK (by sys.implementation._machine)
    keeps the clock its firmware starts with (cpu_mhz 0). The passkey
    capacity is left to passkey_capacity() unless the settings file names one.
    """
    defaults = dict(chip.MICROPYTHON)
    if machine_name is None:
        machine_name = getattr(sys.implementation, "_machine", "")
    if st.keeps_clock(chip, machine_name):
        defaults["cpu_mhz"] = 0
    if getattr(chip, "RESIDENT_CAPACITY", ()):
        defaults["max_resident_credentials"] = _BY_FILESYSTEM
    return defaults


def passkey_capacity(chip, settings):
    """The passkey capacity: the settings file's, or the one proven for this board's filesystem size."""
    n = settings["max_resident_credentials"]
    if n != _BY_FILESYSTEM:
        return n
    return st.resident_capacity(chip.RESIDENT_CAPACITY, st.filesystem_blocks(), chip.MICROPYTHON["max_resident_credentials"])


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
    from boards.common import board_base

    return board_base.build(
        hid,
        Clock(),
        button_reader(settings["button"], settings["button_active_low"]),
        make_led_writer(settings["led"], settings["led_active_low"]),
        random_source(chip_config()),
        settings,
        enter_maintenance,
        machine.unique_id(),
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


def set_cpu_clock(chip, mhz):
    """Run the CPU at mhz MHz (0: leave it); called first thing at boot.

    A chip whose config has FAST_CLOCK_VSEL = (above_mhz, vsel) needs its
    core voltage raised before such a clock: the RP2040 runs 200 MHz at
    1.15 V, which pico-sdk sets before it configures that clock
    (hardware/clocks.h: SYS_CLK_VREG_VOLTAGE_MIN = VREG_VOLTAGE_1_15 for
    200 MHz) and machine.freq() does not. VREG.VSEL is bits 7:4 of the
    VREG_AND_CHIP_RESET block's VREG register.
    """
    if not mhz or machine.freq() == mhz * 1000000:
        return
    fast = getattr(chip, "FAST_CLOCK_VSEL", None)
    if fast is not None and mhz > fast[0]:
        vreg = _VREG_AND_CHIP_RESET_BASE
        machine.mem32[vreg] = (machine.mem32[vreg] & ~0xF0) | (fast[1] << 4)
        time.sleep_us(_VREG_SETTLE_US)
    machine.freq(mhz * 1000000)


def enter_maintenance():
    """The button was held while idle: next boot opens the REPL instead of FIDO."""
    st.set_maintenance_flag()
    machine.reset()


# What boot() made for main(): (board, key, settings), or None.
_started = None


# MicroPython's "extensible" built-in modules: an import looks for a file of
# that name on every sys.path entry before it takes the built-in
# (py/builtinimport.c), and does not keep the result in sys.modules -- so
# every module that says `import struct` searched littlefs again. Entered in
# sys.modules once, at boot, they are found at once.
_EXTENSIBLE = ("time", "struct", "os", "json", "binascii", "hashlib", "cryptolib", "errno", "io", "select")


def _keep_builtins():
    for name in _EXTENSIBLE:
        if name not in sys.modules:
            try:
                sys.modules[name] = __import__(name)
            except ImportError:
                pass


def boot():
    """/boot.py: set the clock, build the board, present it on USB, open the store; returns before the main loop.

    /boot.py (boards/micropython/boot.py) turns Ctrl-C off, then imports
    this module with only '.frozen' on sys.path: on a `make firmware` image
    the core is frozen, and with the filesystem first on sys.path every
    import searched littlefs three to seven times before finding the frozen
    copy -- most of the key's start-up time. On stock MicroPython that
    import fails (the core is on the filesystem) and the usual path is
    restored. Afterwards frozen modules stay first, so no file on the
    filesystem can shadow a frozen core. boot.py is kept under 512 bytes,
    so littlefs holds it inside its directory instead of a whole block.
    """
    global _started
    if not st.provisioned():
        return  # main() says so and leaves the REPL to tools/provision.py
    chip = chip_config()
    settings = st.load(chip_defaults(chip))
    set_cpu_clock(chip, settings["cpu_mhz"])
    if st.maintenance_requested():
        return  # main() opens the REPL; MicroPython presents its serial port
    repl = settings["repl"]
    if repl:
        micropython.kbd_intr(_CTRL_C)
    try:
        board, key = _start(chip, settings)
    except BaseException as e:  # noqa: B036 -- KeyboardInterrupt included on purpose
        if repl:
            raise
        print_exception(e)
        machine.reset()  # a locked key must not fall through to the REPL
    _started = (board, key, settings)


def _start(chip, settings):
    """The board on USB, then the key: the store is opened while the host resets
    and enumerates the device (~12 ms the host spends waiting, USB 2.0
    §7.1.7.5 and §9.2.6.3), and the first boot makes the master secret then.
    The authenticator comes after the host's first INIT (main_loop.Starting)."""
    from firmware import main_loop

    board = build(settings)
    start_usb(board, settings)
    _keep_builtins()
    board.CONFIG["max_resident_credentials"] = passkey_capacity(chip, settings)
    return board, main_loop.start_key(board)


def print_exception(e):
    from boards.common.board_base import print_exception

    print_exception(e)


def main(stop=None):
    """/main.py: run the key; returns only in maintenance mode (or when stop() says so in tests).

    /main.py (boards/micropython/main.py) first turns Ctrl-C off: a locked
    key must never drop to the REPL, where anything on the host that opens
    the serial port could read the key's secrets; this turns it back on in
    development ("repl") and maintenance modes. It is kept short: MicroPython
    reads and compiles it while the host enumerates the key.
    """
    global _started
    started, _started = _started, None
    if started is None and not st.provisioned():
        # A `make firmware` image runs its frozen boot.py and main.py from
        # the first boot on; until provisioning wrote the settings it is not
        # a key: MicroPython's REPL stays open for tools/provision.py.
        print("pyfido: not provisioned: run tools/provision.py (the USB serial REPL is open)")
        return None
    if started is None:
        chip = chip_config()
        settings = st.load(chip_defaults(chip))
        if st.take_maintenance_flag():
            micropython.kbd_intr(_CTRL_C)
            print("pyfido: maintenance mode: USB serial REPL open, no FIDO interface until the next reset")
            return None
        set_cpu_clock(chip, settings["cpu_mhz"])
    else:
        settings = started[2]
    repl = settings["repl"]
    if repl:
        micropython.kbd_intr(_CTRL_C)
    try:
        if started is None:
            board, key = _start(chip, settings)
        else:
            board, key = started[0], started[1]
        if not repl:
            board.watchdog = machine.WDT(timeout=settings["watchdog_ms"])
        from firmware import main_loop

        return main_loop.run(board, key, stop)
    except BaseException as e:  # noqa: B036 -- KeyboardInterrupt included on purpose
        if repl:
            raise
        # A locked key must not fall through to the REPL: start over.
        print_exception(e)
        machine.reset()
