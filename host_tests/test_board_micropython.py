"""boards/micropython: the MicroPython adapter, on CPython over fakes of machine, rp2 and usb.device.

A simulated USB host (host_tests/fakes/ctaphid_host.py) opens a channel and
runs makeCredential + getAssertion through the real adapter code; python-fido2
and cryptography check the answers. test_board_micropython_wasm.py runs the
same adapter on real MicroPython.
"""

import errno
import os
import struct

import pytest

import boardkit
from boardkit import hw  # noqa: F401  (fixture)


def run(tmp_path, chip="rp2040", **settings):
    return boardkit.run_adapter("run_micropython_key", tmp_path, chip, **settings)


def test_make_credential_and_get_assertion_on_the_pico(hw):
    import fakehw

    host, _ = run(hw)
    att, _ = boardkit.check_ceremony(host.responses)
    # The person pressed BOOTSEL once per request that asked (UPNEEDED).
    assert host.presses == 2 and 2 in host.keepalives
    # The credential and the master secret are in the store's directory.
    names = os.listdir(hw / "pyfido")
    assert "state" in names and any(n.startswith("rk") for n in names)
    # Locked mode: no REPL next to the FIDO interface, and a watchdog.
    config = [e for e in fakehw.EVENTS if e[0] == "usb.config"][-1][1]
    assert config["builtin_driver"] is False
    assert ("WDT", 8000) in fakehw.EVENTS


def test_usb_identity_comes_from_settings(hw):
    import fakehw
    import usb.device

    run(hw, vid=0x1234, pid=0x5678, product="My key", manufacturer="Me", serial="ABC")
    config = [e for e in fakehw.EVENTS if e[0] == "usb.config"][-1][1]
    assert (config["id_vendor"], config["id_product"]) == (0x1234, 0x5678)
    assert (config["manufacturer_str"], config["product_str"], config["serial_str"]) == ("Me", "My key", "ABC")
    assert "My key" in usb.device.get().strings  # the interface string too


def test_default_ids_are_the_documented_test_ids_and_serial_is_the_chip_id(hw):
    import fakehw

    run(hw)
    config = [e for e in fakehw.EVENTS if e[0] == "usb.config"][-1][1]
    assert (config["id_vendor"], config["id_product"]) == (0x1209, 0x0001)
    assert config["serial_str"] == "E6613852831B2A2F"  # machine.unique_id() in hex


def test_configuration_descriptor_has_64_byte_interrupt_in_and_out(hw):
    import usb.device
    from boards.common.fido_hid import REPORT_DESCRIPTOR

    run(hw)
    d = usb.device.get().desc_cfg
    i, interfaces, endpoints, hid = 9, [], [], []
    while i < len(d):
        length, kind = d[i], d[i + 1]
        if kind == 0x04:
            interfaces.append(d[i : i + length])
        elif kind == 0x05:
            endpoints.append(struct.unpack_from("<BBBBHB", d, i))
        elif kind == 0x21:
            hid.append(struct.unpack_from("<BBHBBBH", d, i))
        i += length
    (itf,) = interfaces
    assert (itf[4], itf[5], itf[6], itf[7]) == (2, 0x03, 0, 0)  # 2 endpoints, HID, no boot
    assert sorted((e[2] & 0x80, e[3], e[4]) for e in endpoints) == [(0, 3, 64), (0x80, 3, 64)]
    assert hid[0][1] == 0x21 and hid[0][5] == 0x22 and hid[0][6] == len(REPORT_DESCRIPTOR)


def test_the_store_opens_while_the_host_enumerates_and_before_the_loop_polls(hw):
    """The FIDO interface goes on the bus as soon as the board is built; the store
    (on a first boot: the master secret) is opened during the ~12 ms a host spends
    resetting and addressing the device, before the main loop reads any report.
    The command modules come later still (test_init_is_answered_before_the_authenticator_is_built)."""
    import fakehw

    seen = {}

    def at_usb_init():
        seen["store"] = sorted(os.listdir(hw / "pyfido")) if os.path.isdir(hw / "pyfido") else []

    fakehw.USB_INIT_HOOK = at_usb_init
    host, _ = run(hw)
    assert "state" not in seen["store"]  # not yet: the host is still resetting the device
    assert "state" in os.listdir(hw / "pyfido")
    names = fakehw.names()
    active = names.index("usb.active", names.index("usb.config"))
    # Between going on the bus and polling reports only the watchdog starts.
    assert names[active + 1 :][:1] in (["WDT"], ["usb.in"])
    assert host.init_response is not None


def test_repl_mode_keeps_the_serial_port_and_has_no_watchdog(hw):
    import fakehw

    run(hw, repl=True)
    config = [e for e in fakehw.EVENTS if e[0] == "usb.config"][-1][1]
    assert config["builtin_driver"] is True
    assert not [e for e in fakehw.EVENTS if e[0] == "WDT"]


def test_maintenance_flag_gives_one_boot_without_fido(hw):
    import fakehw
    from run_micropython_key import run as run_key
    from boards.rp2040 import config

    flag = hw / "pyfido.maintenance"
    flag.write_text("1")
    host, result = run_key(config, boardkit.messages(), boardkit.write_settings(hw), str(flag))
    assert result is None and not flag.exists()
    assert "usb.config" not in fakehw.names()


def test_a_board_not_provisioned_stays_at_the_repl(hw, capsys):
    """A `make firmware` image runs its frozen boot.py/main.py from the first boot: without the
    settings tools/provision.py writes, it is no key yet -- no FIDO interface, no store."""
    import fakehw
    from run_micropython_key import run as run_key
    from boards.rp2040 import config

    missing = str(hw / "no-settings.json")
    host, result = run_key(config, boardkit.messages(), missing, str(hw / "pyfido.maintenance"))
    assert result is None
    assert "usb.config" not in fakehw.names() and "WDT" not in fakehw.names()
    assert not (hw / "pyfido").exists()
    assert "not provisioned: run tools/provision.py" in capsys.readouterr().out


def test_esp32s3_uses_gpio0_and_the_rgb_led(hw):
    import fakehw

    host, _ = run(hw, chip="esp32s3")
    boardkit.check_ceremony(host.responses)
    assert ("Pin", 0, 0, 1) in fakehw.EVENTS  # GPIO0 input with pull-up
    assert any(e[0] == "NeoPixel.write" and e[1] != (0, 0, 0) for e in fakehw.EVENTS)


# -- the entropy source ---------------------------------------------------------------------


def _run_reading_random(tmp_path, chip):
    """Run the ceremony on `chip`; every read of the board's random source, with the radio's state then."""
    import importlib

    import fakehw
    from run_micropython_key import run as run_key

    reads = []

    def urandom(n):
        reads.append((n, fakehw.RADIO.get(0, False)))
        return os.urandom(n)

    config = importlib.import_module("boards.%s.config" % chip)
    host, _ = run_key(config, boardkit.messages(), boardkit.write_settings(tmp_path), str(tmp_path / "m"), random=urandom)
    boardkit.check_ceremony(host.responses)
    return host, reads


def test_esp32s3_reads_its_random_source_with_the_radio_on(hw):
    """esp_random() is a true RNG only while Wi-Fi (or BT, or the SAR ADC source) runs:
    the DRBG's seed is read with the station interface on, which is off again after."""
    import fakehw

    host, reads = _run_reading_random(hw, "esp32s3")
    # The board was read once, to seed the DRBG at boot (48 bytes), with the radio on;
    # makeCredential and getAssertion drew from the DRBG only.
    assert reads == [(48, True)]
    assert [e for e in fakehw.EVENTS if e[0] == "WLAN.active"] == [("WLAN.active", 0, True), ("WLAN.active", 0, False)]
    assert fakehw.RADIO[0] is False
    assert host.board.unique_id == b"\xe6\x61\x38\x52\x83\x1b\x2a\x2f"  # machine.unique_id(): the personalization


def test_esp32s3_leaves_a_radio_that_was_on_alone(hw):
    import fakehw

    fakehw.RADIO[0] = True  # something else turned Wi-Fi on
    _, reads = _run_reading_random(hw, "esp32s3")
    assert reads == [(48, True)]
    assert not [e for e in fakehw.EVENTS if e[0] == "WLAN.active"] and fakehw.RADIO[0] is True


def test_the_pico_reads_os_urandom_without_any_radio(hw):
    import fakehw

    _, reads = _run_reading_random(hw, "rp2040")
    assert reads == [(48, False)]
    assert not [e for e in fakehw.EVENTS if e[0] == "WLAN.active"]


# -- usb_fido.FidoInterface against what micropython-lib's usb-device(-hid) really do ----------


@pytest.mark.parametrize("version", ["0.1.0", "0.1.1", "0.2.0"])
def test_answers_longer_than_one_report_go_out_whole_with_each_usb_device_hid(hw, version):
    """usb-device-hid 0.1.0 (frozen in MicroPython v1.23-v1.26) returns None from send_report on success."""
    import usb.device.hid

    usb.device.hid.VERSION = version
    host, _ = run(hw)
    boardkit.check_ceremony(host.responses)  # makeCredential's answer takes a dozen reports
    assert host.board.hid.tx_dropped == 0


def _open_interface():
    """A FidoInterface the (fake) host has configured, and a list of the reports the host got."""
    import fakehw
    import usb.device
    from boards.micropython.usb_fido import FidoInterface

    received = []

    class Host:
        def on_report(self, report):
            received.append(report)

        def tick(self):
            pass

    fakehw.HOST = Host()
    itf = FidoInterface("key")
    usb.device.get().init(itf, builtin_driver=False)
    assert itf.is_open()
    return itf, received


def test_the_ceremony_with_the_rp2_idle(hw):
    """Idling as on an RP2040: FidoInterface.pause() (machine.idle) instead of sleep_ms(1)."""
    from boards.micropython import usb_fido

    usb_fido._SLEEPING_IDLE = True
    host, _ = run(hw)
    boardkit.check_ceremony(host.responses)
    assert host.board._pause is not None


def test_pause_sleeps_only_while_no_report_waits(hw, monkeypatch):
    import machine
    from boards.micropython import usb_fido

    usb_fido._SLEEPING_IDLE = True
    itf, _ = _open_interface()
    sleeps = []
    monkeypatch.setattr(machine, "idle", lambda: sleeps.append(1))
    assert itf.pause() is False and sleeps == [1]  # nothing came meanwhile
    assert itf.queue.put(bytes(64))
    assert itf.pause() is True and sleeps == [1]  # a report waits: no sleep


def test_other_ports_sleep_instead_of_pausing(hw):
    from boards.micropython import usb_fido

    usb_fido._SLEEPING_IDLE = False  # esp32: machine.idle() yields and returns
    itf, _ = _open_interface()
    assert itf.pause is None


def test_idle_returns_as_soon_as_a_report_waits(hw):
    """board_base.Board.idle(): pauses until a report is waiting, or 1 ms on the board's clock."""
    import fakehw
    from boards.common.board_base import Board
    from boards.common.ui import Button, Led

    clock = fakehw.SimClock()  # stands still unless slept on

    class Hid:
        def __init__(self, report_after):
            self.pauses = 0
            self.report_after = report_after

        def service(self):
            pass

        def pause(self):
            self.pauses += 1
            return self.pauses >= self.report_after  # a USB interrupt brought a report

    for report_after in (1, 3):
        hid = Hid(report_after)
        board = Board(hid, clock, Button(lambda: False, clock.ticks_ms, clock.ticks_diff),
                      Led(lambda on: None, clock.ticks_ms, clock.ticks_diff), None, None, {})
        board.idle()
        assert hid.pauses == report_after


def test_out_endpoint_armed_by_a_usb_callback_midway_counts_as_armed(hw):
    """A USB callback (on_open here) can run between two bytecodes of the main loop's _arm_rx and
    arm the endpoint first: the loop's own submit then meets "xfer_pending", and that is no failure
    to retry on every turn (each retry would raise, i.e. allocate, again)."""
    import usb.device

    itf, _ = _open_interface()
    dev = usb.device.get()
    out = itf._out_ep
    dev._ep_cbs[out] = None  # as after a completion that found the queue full: nothing armed
    itf._rx_armed = False
    real_is_open = itf.is_open
    raced = []

    def is_open():
        if not raced:
            raced.append(1)
            itf.on_open()  # the SET_CONFIGURATION callback, scheduled in between
        return real_is_open()

    itf.is_open = is_open
    submits = []
    real_submit = dev._submit_xfer

    def submit(ep, data, done_cb=None):
        submits.append(ep)
        return real_submit(ep, data, done_cb)

    dev._submit_xfer = submit
    itf.service()  # arms (through on_open), then its own submit is refused
    assert submits == [out, out] and itf._rx_armed and dev._ep_cbs[out]
    for _ in range(5):
        itf.service()
        itf.read_report(bytearray(64))
    assert submits == [out, out]  # no more attempts while armed


def test_a_report_refused_for_a_stale_flag_goes_out_through_send_report(hw):
    import usb.device

    import fakehw

    itf, received = _open_interface()
    dev = usb.device.get()
    dev.takes_in = False
    first = bytes([1, 2, 3, 4, 0x90]) + bytes(59)
    second = bytes([1, 2, 3, 4, 0x00]) + bytes(59)
    assert itf.write_report(first) is True  # pending in the stack
    itf._tx_busy = False  # the flag missed it (a callback between two bytecodes)
    fakehw.HOST.tick = dev.resume_in  # the host reads again while send_report waits
    assert itf.write_report(second) is True
    assert received == [first, second] and itf.tx_dropped == 0


def test_only_false_from_send_report_is_a_failure(hw):
    import usb.device
    import usb.device.hid
    from ctaphid_host import packets

    itf, received = _open_interface()
    message = packets(0x01020304, 0x10, bytes(range(200)))  # an initialization packet + 3 continuations
    for version in ("0.1.0", "0.2.0"):  # None, True on success
        usb.device.hid.VERSION = version
        del received[:]
        assert [itf.write_report(p) for p in message] == [True] * 4
        assert received == message
    # The host stops reading: the report after the pending one times out (False)...
    dev = usb.device.get()
    dev.takes_in = False
    assert itf.write_report(message[0]) is True  # taken by the stack, pending
    assert itf.write_report(message[1]) is False  # send_report: still busy after 100 ms
    # ... and the rest of that message is dropped at once; the next message tries again.
    assert itf.write_report(message[2]) is False and itf.write_report(message[3]) is False
    assert itf.tx_dropped == 3
    dev.resume_in()
    assert itf.write_report(message[0]) is True and itf.write_report(message[1]) is True


@pytest.mark.parametrize("error", [RuntimeError("Not open"), OSError(22), ValueError("ep_addr")])
def test_send_report_errors_from_below_are_a_dropped_report(hw, error):
    from ctaphid_host import packets

    itf, received = _open_interface()

    def submit_xfer(ep, data, done_cb=None):
        raise error

    itf.submit_xfer = submit_xfer  # e.g. the host reset the bus between busy() and submit_xfer()
    assert itf.write_report(packets(0x01020304, 0x10, b"x")[0]) is False
    assert itf.tx_dropped == 1 and received == []


# The errors MicroPython's machine.USBDevice.submit_xfer raises (extmod/machine_usb_device.c,
# usb_device_submit_xfer): EINVAL while the device is inactive or switching, EBUSY when
# TinyUSB cannot claim the endpoint, ValueError("ep") for an endpoint number out of range.
OUT_FAULTS = [OSError(errno.EINVAL), OSError(errno.EBUSY), ValueError("ep")]


@pytest.mark.parametrize("fault", OUT_FAULTS, ids=["EINVAL", "EBUSY", "ValueError"])
@pytest.mark.parametrize("where", ["on_open", "in_the_completion_callback"])
def test_out_transfer_errors_never_reach_the_main_loop(hw, fault, where):
    """Arming the OUT endpoint fails: the key keeps running and arms it again once the stack allows."""
    import fakehw
    import usb.device
    from run_micropython_key import run as run_key
    from boards.rp2040 import config

    faults = [fault] if where == "on_open" else [None, fault]  # the first arm, or the one after a report
    fakehw.USB_INIT_HOOK = lambda: usb.device.get().out_faults.extend(faults)
    seen = {}

    def on_turn(n):
        if n == 200:  # the key has been deaf for a while: the host resets the bus
            seen["answers"] = (fakehw.HOST.init_response is not None) + len(fakehw.HOST.responses)
            usb.device.get().bus_reset()

    host, _ = run_key(config, boardkit.messages(), boardkit.write_settings(hw), str(hw / "pyfido.maintenance"), on_turn=on_turn)
    assert "usb.fault" in fakehw.names()
    # core.py left the failed transfer marked pending, so nothing more came in until the reset ...
    assert seen["answers"] == (0 if where == "on_open" else 1)
    # ... after which the key answered everything, and no exception reached the main loop.
    boardkit.check_ceremony(host.responses)
    assert host.board.errors == 0


# -- start-up: the clock, USB presented once from /boot.py, INIT before the authenticator ---------


def test_the_pico_runs_at_200_mhz_with_the_core_voltage_raised_first(hw):
    import fakehw

    run(hw)
    vreg = [e for e in fakehw.EVENTS if e[0] == "mem32" and e[1] == 0x40064000]
    freq = [i for i, e in enumerate(fakehw.EVENTS) if e[0] == "freq"]
    assert [e[2] for e in vreg] == [0x000000C1]  # VSEL 0b1100 = 1.15 V, EN kept
    assert [fakehw.EVENTS[i][1] for i in freq] == [200000000]
    assert fakehw.EVENTS.index(vreg[0]) < freq[0]  # the voltage before the clock


def test_a_slower_clock_leaves_the_core_voltage_alone(hw):
    import fakehw

    run(hw, cpu_mhz=125)
    assert not [e for e in fakehw.EVENTS if e[0] == "mem32"]
    assert not [e for e in fakehw.EVENTS if e[0] == "freq"]  # 125 MHz is the clock it booted with


def test_cpu_mhz_0_keeps_the_boot_clock(hw):
    import fakehw

    run(hw, cpu_mhz=0)
    assert not [e for e in fakehw.EVENTS if e[0] in ("freq", "mem32")]


def test_usb_is_presented_once_by_boot_py(hw):
    """boot() presents the FIDO interface (MicroPython starts USB only after boot.py); main() runs the loop."""
    import fakehw

    run(hw)
    names = fakehw.names()
    assert names.count("usb.config") == 1
    assert names.index("usb.config") < names.index("WDT")  # presented before main() starts the loop


def test_a_key_installed_with_only_main_py_still_starts(hw, monkeypatch):
    """An older install has no /boot.py: main() then does boot()'s work itself."""
    import fakehw
    from boards.micropython import app

    monkeypatch.setattr(app, "boot", lambda: None)
    host, _ = run(hw)
    boardkit.check_ceremony(host.responses)
    assert fakehw.names().count("usb.config") == 1


def test_init_is_answered_before_the_authenticator_is_built(hw, monkeypatch):
    """The first INIT needs only CTAPHID and the store's state; the command modules come after it."""
    import firmware.main_loop as main_loop

    seen = []
    build = main_loop.Starting.build

    def watch(self):
        seen.append(self.authenticator is None)
        return build(self)

    monkeypatch.setattr(main_loop.Starting, "build", watch)
    host, _ = run(hw)
    boardkit.check_ceremony(host.responses)
    assert seen and seen[0] is True  # built once the host had spoken, not at start
    assert host.init_response is not None


def test_a_pico_w_keeps_the_clock_of_its_firmware(hw):
    """The Pico W's wireless chip (its LED) is clocked from the CPU's clock: stock firmware stays at 125 MHz."""
    from boards.rp2040 import config

    from boards.micropython import app

    assert app.chip_defaults(config, "Raspberry Pi Pico with RP2040")["cpu_mhz"] == 200
    assert app.chip_defaults(config, "Raspberry Pi Pico W with RP2040")["cpu_mhz"] == 0


@pytest.mark.parametrize("blocks,expected", [(352, 256), (212, 120), (None, 120)])
def test_the_passkey_capacity_comes_from_the_filesystem_size_after_usb_is_up(hw, monkeypatch, blocks, expected):
    """The Pico's 256, the Pico W's 120 (boards/rp2040/config.py RESIDENT_CAPACITY), the
    chip's fallback when the size is unknown; read once the key is on USB (statvfs walks
    the whole filesystem), before the store opens."""
    import fakehw
    from boards.common import settings as st

    order = []

    def fs_blocks(path="/"):
        order.append("statvfs")
        return blocks

    monkeypatch.setattr(st, "filesystem_blocks", fs_blocks)
    fakehw.USB_INIT_HOOK = lambda: order.append("usb")
    host, _ = run(hw)
    assert host.board.CONFIG["max_resident_credentials"] == expected
    assert order == ["usb", "statvfs"]


def test_a_capacity_in_the_settings_file_wins(hw, monkeypatch):
    from boards.common import settings as st

    monkeypatch.setattr(st, "filesystem_blocks", lambda path="/": 352)
    host, _ = run(hw, max_resident_credentials=10)
    assert host.board.CONFIG["max_resident_credentials"] == 10
