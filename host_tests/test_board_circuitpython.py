"""boards/circuitpython: boot.py and code.py on CPython over fakes of usb_hid, digitalio, board, ...

adafruit_hid (the real package, as installed on the board) finds the FIDO
device; a simulated USB host runs makeCredential + getAssertion through it.
"""

import os

import pytest

import boardkit
from boardkit import hw  # noqa: F401  (fixture)


def run(tmp_path, chip="rp2040", **settings):
    return boardkit.run_adapter("run_circuitpython_key", tmp_path, chip, **settings)


def test_make_credential_and_get_assertion_on_the_pico(hw):
    import fakehw
    import microcontroller
    import usb_hid

    host, _ = run(hw)
    boardkit.check_ceremony(host.responses)
    assert host.presses == 2
    assert usb_hid.devices[0].overwritten == 0  # the loop read every report in time
    assert "state" in os.listdir(hw / "pyfido")
    assert microcontroller.watchdog.mode == "RESET" and microcontroller.watchdog.timeout == 8.0
    assert microcontroller.watchdog.feeds > 0
    assert ("DigitalInOut", "board.GP15") in [(e[0], repr(e[1])) for e in fakehw.EVENTS if e[0] == "DigitalInOut"]


def test_boot_enables_only_the_fido_device_and_hides_the_drive(hw):
    import fakehw

    run(hw)
    names = fakehw.names()
    # The drive goes before the key may write its filesystem.
    assert names.index("storage.disable_usb_drive") < names.index("storage.remount")
    assert ("storage.remount", "/", False) in fakehw.EVENTS
    assert "usb_cdc.disable" in names  # locked: no serial console
    (enable,) = [e for e in fakehw.EVENTS if e[0] == "usb_hid.enable"]
    (device,), boot_device = enable[1], enable[2]
    assert boot_device == 0
    assert (device.usage_page, device.usage) == (0xF1D0, 0x01)
    assert device.report_ids == (0,)
    assert device.in_report_lengths == (64,) and device.out_report_lengths == (64,)
    (ident,) = [e for e in fakehw.EVENTS if e[0] == "set_usb_identification"]
    assert ident[3:] == (0x1209, 0x0001)


def test_repl_setting_keeps_the_console(hw):
    import fakehw

    run(hw, repl=True, product="Dev key")
    assert "usb_cdc.disable" not in fakehw.names()
    (ident,) = [e for e in fakehw.EVENTS if e[0] == "set_usb_identification"]
    assert ident[2] == "Dev key"


def test_maintenance_boot_has_console_but_no_fido(hw):
    import fakehw
    from run_circuitpython_key import run as run_key
    from boards.rp2040 import config

    flag = hw / "pyfido.maintenance"
    flag.write_text("1")
    _, result = run_key(config, boardkit.messages(), boardkit.write_settings(hw), str(flag))
    assert result is None and not flag.exists()
    names = fakehw.names()
    assert "usb_hid.disable" in names and "usb_cdc.disable" not in names


def test_the_pico_runs_at_200_mhz_from_boot_py(hw):
    """settings "cpu_mhz" (200 on the Pico, as under MicroPython) is set first thing in boot.py; 0 leaves it."""
    import fakehw

    host, _ = run(hw)
    boardkit.check_ceremony(host.responses)
    names = fakehw.names()
    assert [e for e in fakehw.EVENTS if e[0] == "cpu.frequency"] == [("cpu.frequency", 200000000)]
    assert names.index("cpu.frequency") < names.index("storage.disable_usb_drive")
    fakehw.reset()
    run(hw, cpu_mhz=0)  # 0: CircuitPython's own clock
    assert "cpu.frequency" not in fakehw.names()


def test_a_clock_that_cannot_be_set_leaves_the_key_running(hw, capsys):
    """A port without CIRCUITPY_SETTABLE_PROCESSOR_FREQUENCY: the key runs at the clock it has."""
    import microcontroller

    microcontroller.cpu.settable = False
    host, _ = run(hw)
    boardkit.check_ceremony(host.responses)
    assert "the CPU clock stays at 125 MHz" in capsys.readouterr().out


def test_a_pico_w_keeps_circuitpythons_clock(hw):
    """The Pico W's wireless chip (its LED) is clocked from the CPU's clock (boards/rp2040/config.py KEEP_CLOCK)."""
    from boards.circuitpython import setup
    from boards.rp2040 import config

    assert setup.chip_defaults(config, "Raspberry Pi Pico with rp2040")["cpu_mhz"] == 200
    assert setup.chip_defaults(config, "Raspberry Pi Pico W with rp2040")["cpu_mhz"] == 0


def test_esp32s3_neopixel_and_boot_button(hw):
    import fakehw

    host, _ = run(hw, chip="esp32s3")
    boardkit.check_ceremony(host.responses)
    assert any(e[0] == "neopixel_write" and e[1] == bytes((24, 0, 0)) for e in fakehw.EVENTS)


def test_esp32s3_devkitc_button_is_its_boot_button_io0(hw):
    """The DevKitC-1 has no board.BUTTON: its BOOT button is board.IO0 (GPIO0)."""
    import fakehw
    from boards.esp32s3 import config

    assert config.CIRCUITPYTHON["button"] == "IO0"
    run(hw, chip="esp32s3")
    assert ("DigitalInOut", "board.IO0") in [(e[0], repr(e[1])) for e in fakehw.EVENTS if e[0] == "DigitalInOut"]


def test_a_pin_the_board_lacks_restarts_into_maintenance_not_into_a_boot_loop(hw):
    """A locked key whose settings name a missing pin (the old ESP32-S3 default "BUTTON") would
    raise at every start and restart for ever with no console: it sets the maintenance flag
    first, so the next boot has the console and no FIDO device, and provisioning can fix it."""
    import fakehw
    import microcontroller

    with pytest.raises(microcontroller.ResetCalled):
        run(hw, chip="esp32s3", button="BUTTON")
    assert (hw / "pyfido.maintenance").exists()
    assert fakehw.names().count("reset") == 1
    # the next boot: maintenance mode, console on, no FIDO device, no reset
    from run_circuitpython_key import run as run_key
    from boards.esp32s3 import config

    fakehw.reset()
    _, result = run_key(config, boardkit.messages(), boardkit.write_settings(hw, button="BUTTON"),
                        str(hw / "pyfido.maintenance"))
    assert result is None and "usb_hid.disable" in fakehw.names() and "reset" not in fakehw.names()


def test_a_missing_pin_with_the_console_kept_raises_for_the_developer(hw):
    from boards.circuitpython.app import PinError

    with pytest.raises(PinError, match="no pin BUTTON"):
        run(hw, chip="esp32s3", button="BUTTON", repl=True)


def test_hid_drops_the_rest_of_a_message_the_host_does_not_take():
    """After send_report fails, continuation packets go at once; the next INIT packet retries."""
    import sys

    sys_modules = dict(sys.modules)
    try:
        sys.modules.setdefault("supervisor", type(sys)("supervisor"))
        sys.modules.setdefault("microcontroller", type(sys)("microcontroller"))
        from boards.circuitpython.app import Hid
    finally:
        sys.modules.clear()
        sys.modules.update(sys_modules)

    class Device:
        def __init__(self):
            self.fail = True
            self.sent = 0

        def send_report(self, report):
            self.sent += 1
            if self.fail:
                raise OSError("USB busy")

    dev = Device()
    hid = Hid(dev)
    init = bytes(4) + b"\x90" + bytes(59)
    cont = bytes(4) + b"\x00" + bytes(59)
    assert not hid.write_report(init)
    assert not hid.write_report(cont) and not hid.write_report(cont)
    assert dev.sent == 1 and hid.tx_dropped == 3
    dev.fail = False
    assert hid.write_report(init) and hid.write_report(cont) and dev.sent == 3


def test_hashlib_shim_is_sha256(tmp_path, monkeypatch):
    import hashlib
    import importlib.util
    import shutil

    import adafruit_hashlib

    shutil.copy(os.path.join(os.path.dirname(adafruit_hashlib.__file__), "_sha256.py"), tmp_path / "_pyfido_sha256.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location(
        "hashlib_shim", os.path.join(boardkit.REPO, "boards", "circuitpython", "hashlib_shim.py"))
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    for data in (b"", b"abc", bytes(range(256)) * 5):
        h = shim.sha256(data[:7])
        h.update(data[7:])
        assert h.digest() == hashlib.sha256(data).digest()
