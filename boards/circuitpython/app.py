"""The key on CircuitPython (RP2040, ESP32-S3): find the FIDO device, build the board, run the loop.

Started by /code.py after /boot.py (setup.py) enabled the FIDO HID device.
CircuitPython starts USB when boot.py ends, before this runs, so the host
may enumerate while the core is still being imported; CircuitPython holds
the host's first report (INIT) until the loop reads it.

CircuitPython keeps only the *last* output report of a device
(usb_hid.Device.get_last_received_report), so this adapter copies it into a
queue on every board call; the loop never sleeps more than 1 ms between
calls, well inside the host's 8 ms polling interval, so reports are not
overwritten unread.
"""

import os
import time

import microcontroller
import supervisor

from boards.common import settings as st
from boards.common import board_base
from boards.common.board_base import print_exception
from boards.common.fido_hid import FIDO_USAGE_CTAPHID, FIDO_USAGE_PAGE, ReportQueue
from firmware import main_loop

# supervisor.ticks_ms() wraps at 2**29 (CircuitPython docs)
_TICKS_PERIOD = 1 << 29
_TICKS_HALF = 1 << 28
_RGB_ON = (0, 24, 0)


def _urandom(n):
    # The key's entropy source, from which the core seeds its DRBG
    # (firmware/crypto.py). RP2040: the ring oscillator's random bit,
    # whitened with SHA-256; ESP32-S3: esp_random() (boards/README.md).
    return os.urandom(n)


class Clock:
    def ticks_ms(self):
        return supervisor.ticks_ms()

    def ticks_diff(self, new, old):
        return ((new - old + _TICKS_HALF) % _TICKS_PERIOD) - _TICKS_HALF

    def sleep_ms(self, ms):
        time.sleep(ms / 1000)


class Hid:
    """A usb_hid.Device as the board's report source and sink."""

    def __init__(self, device):
        self.device = device
        self.queue = ReportQueue()
        self._tx_failing = False
        self.tx_dropped = 0

    def service(self):
        report = self.device.get_last_received_report()
        if report is not None:
            self.queue.put(report)

    def read_report(self, buf):
        self.service()
        return self.queue.get_into(buf)

    def write_report(self, buf):
        # send_report waits up to 2 s for the host, then raises OSError. After
        # a failure the rest of that message is dropped at once; the next
        # message (an initialization packet, bit 7 of byte 4) tries again.
        if self._tx_failing and not buf[4] & 0x80:
            self.tx_dropped += 1
            return False
        try:
            self.device.send_report(buf)
        except OSError:
            self._tx_failing = True
            self.tx_dropped += 1
            return False
        self._tx_failing = False
        return True


class PinError(ValueError):
    """The settings name a pin this board does not have: a configuration error, not a fault."""


def _pin(name):
    import board

    if not hasattr(board, name):
        raise PinError("pyfido: this board has no pin %s (settings \"button\"/\"led\"; tools/provision.py "
                       "--button/--led)" % name)
    return getattr(board, name)


def button_reader(spec, active_low):
    """read() -> truthy while the button is held."""
    if not spec:
        return _never
    import digitalio

    dio = digitalio.DigitalInOut(_pin(spec))
    dio.direction = digitalio.Direction.INPUT
    dio.pull = digitalio.Pull.UP if active_low else digitalio.Pull.DOWN
    if active_low:

        def read():
            return not dio.value

    else:

        def read():
            return dio.value

    return read


def _never():
    return False


def make_led_writer(spec, active_low):
    if not spec:
        return _ignore
    import digitalio

    if spec.startswith("neopixel:"):
        import neopixel_write

        dio = digitalio.DigitalInOut(_pin(spec[9:]))
        dio.direction = digitalio.Direction.OUTPUT
        on_bytes = bytearray((_RGB_ON[1], _RGB_ON[0], _RGB_ON[2]))  # GRB order
        off_bytes = bytearray(3)

        def write(on):
            neopixel_write.neopixel_write(dio, on_bytes if on else off_bytes)

        return write
    dio = digitalio.DigitalInOut(_pin(spec))
    dio.direction = digitalio.Direction.OUTPUT

    def write(on):
        dio.value = bool(on) != active_low

    return write


def _ignore(on):
    pass


class Watchdog:
    """microcontroller.watchdog set to reset the board."""

    def __init__(self, timeout_ms):
        from watchdog import WatchDogMode

        self._wdt = microcontroller.watchdog
        self._wdt.timeout = timeout_ms / 1000
        self._wdt.mode = WatchDogMode.RESET

    def feed(self):
        self._wdt.feed()


def find_fido_device():
    import usb_hid
    from adafruit_hid import find_device

    # timeout=None: wait as long as it takes for the host to configure USB.
    return find_device(usb_hid.devices, usage_page=FIDO_USAGE_PAGE, usage=FIDO_USAGE_CTAPHID)


def build(settings, device):
    return board_base.build(
        Hid(device),
        Clock(),
        button_reader(settings["button"], settings["button_active_low"]),
        make_led_writer(settings["led"], settings["led_active_low"]),
        _urandom,
        settings,
        enter_maintenance,
        bytes(microcontroller.cpu.uid),
    )


def enter_maintenance():
    st.set_maintenance_flag()
    microcontroller.reset()


def main(stop=None, config=None):
    """Run the key; returns only in maintenance mode (or when stop() says so in tests)."""
    from boards.circuitpython.setup import chip_config, load_settings

    config = config or chip_config()
    settings = load_settings(config)
    if st.take_maintenance_flag():
        print("pyfido: maintenance mode: serial REPL open, no FIDO device until the next reset")
        return None
    supervisor.runtime.autoreload = False
    repl = settings["repl"]
    try:
        board = build(settings, find_fido_device())
        # as on MicroPython: INIT answered from the store's state, the authenticator
        # (and the DRBG's seed write, slow on CircuitPython's FAT) after it
        key = main_loop.start_key(board)
        if not repl:
            board.watchdog = Watchdog(settings["watchdog_ms"])
        return main_loop.run(board, key, stop)
    except BaseException as e:  # noqa: B036 -- KeyboardInterrupt included on purpose
        if repl:
            raise
        print_exception(e)
        if isinstance(e, PinError):
            # Restarting would fail the same way for ever, with no console to
            # fix it from: the next boot is in maintenance mode instead (serial
            # console, no FIDO device), where tools/provision.py can fix it.
            enter_maintenance()
        microcontroller.reset()
