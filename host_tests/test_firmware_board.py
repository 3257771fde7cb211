"""What only the real firmware on a board can show: start-up, power cuts, the button, maintenance mode.

The key is the built image on the emulated Pico (host_tests/firmware_key.py),
provisioned by tools/provision.py: boot.py presents the FIDO interface, the
flash is the chip's, BOOTSEL is the button (GP15 for a CircuitPython image;
the scenario that does not apply there says why).
"""

import hashlib
import os
import subprocess
import sys
import threading
import time

import pytest
from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.ctap2 import Ctap2

from firmware_key import FirmwareKey, firmware_key_factory, firmware_template, skip_on_circuitpython  # noqa: F401

RP = {"id": "example.com", "name": "Example"}
ES256 = [{"type": "public-key", "alg": -7}]
APP_PARAM = hashlib.sha256(b"https://example.com").digest()


def _cdh():
    return os.urandom(32)


def _since_power_up(key):
    events = key.pico.events
    starts = [i for i, e in enumerate(events) if e["event"] in ("power-on", "chip-reset")]
    return events[starts[-1]:]


# -- start-up ------------------------------------------------------------------------


def test_a_locked_key_is_enumerated_once_and_as_a_fido_key(firmware_key_factory):
    """boot.py presents the FIDO interface before MicroPython starts USB: no serial port first, no re-enumeration."""
    key = firmware_key_factory()
    events = _since_power_up(key)
    configured = [e for e in events if e["event"] == "usb-configured"]
    assert len(configured) == 1
    assert configured[0]["fido"] and not configured[0]["cdc"]
    assert configured[0]["vid"] == 0x1209 and configured[0]["product"] == "PyFIDO security key"
    assert not [e for e in events if e["event"] == "usb-detach"]
    assert key.ready["t_ms"] > configured[0]["t_ms"]


def test_the_led_is_steady_when_the_key_is_ready(firmware_key_factory):
    key = firmware_key_factory()
    assert key.board.led_events == ["idle"]


# -- power cuts --------------------------------------------------------------------------


def _register(key, rk=True, user=b"user-1"):
    dev = key.open_device()
    try:
        ctap = Ctap2(dev)
        att = ctap.make_credential(_cdh(), RP, {"id": user, "name": "u"}, ES256, options={"rk": rk})
        return att.auth_data.credential_data
    finally:
        dev.close()


def _counter(key, credential_id):
    dev = key.open_device()
    try:
        a = Ctap2(dev).get_assertion(RP["id"], _cdh(), [{"type": "public-key", "id": credential_id}],
                                     options={"up": False})
        return a.auth_data.counter
    finally:
        dev.close()


def test_credentials_and_the_counter_survive_a_power_cycle_in_the_middle_of_a_session(firmware_key_factory):
    key = firmware_key_factory()
    cred = _register(key)
    before = [_counter(key, cred.credential_id) for _ in range(3)]
    assert before == sorted(before) and len(set(before)) == 3
    dev = key.open_device()  # a client that stays open across the cut, as a browser's would
    key.pico.power_cut()
    key.pico.power_on()
    dev.close()
    after = _counter(key, cred.credential_id)
    assert after > max(before)
    # the passkey is found without an allow list: it was in flash, not just in RAM
    dev = key.open_device()
    a = Ctap2(dev).get_assertion(RP["id"], _cdh(), options={"up": False})
    assert a.credential["id"] == cred.credential_id and a.auth_data.counter > after
    dev.close()


# What CircuitPython's filesystem does with a power cut, seen on the emulated Pico.
CIRCUITPYTHON_FLASH = (
    "CircuitPython's flash layer is not power-cut safe: it rewrites a whole 4 KB flash sector, erase then "
    "program, for every change to one of its eight 512-byte FAT sectors (ports/raspberrypi/supervisor/"
    "internal_flash.c), and the first sector holds the boot sector and the FAT. A power cut just before the "
    "4th flash operation of a discoverable makeCredential left that sector erased: no filesystem, every "
    "passkey and the master secret gone (boards/README.md, CircuitPython)")


def test_a_power_cut_at_any_flash_write_of_a_registration_loses_nothing(firmware_key_factory, firmware_template):
    """Cut the power before each flash erase/program a discoverable makeCredential does, in turn.

    Counted on a fresh power-up, where the first signature also reserves the
    next block of counter values (firmware/store.py): the record written
    beside the old one and renamed over it, and the counter reservation.
    The key is built first (Ctap2's getInfo): the build's own flash writes,
    the DRBG's seed, are not the registration's.
    """
    skip_on_circuitpython(firmware_template, CIRCUITPYTHON_FLASH)
    key = firmware_key_factory()
    first = _register(key, user=b"user-1")
    c0 = _counter(key, first.credential_id)
    storage = key.storage
    key.stop()
    key = firmware_key_factory(storage=storage)
    dev = key.open_device()
    ctap = Ctap2(dev)
    ops0 = key.pico.status()["flash_ops"]
    ctap.make_credential(_cdh(), RP, {"id": b"user-2", "name": "u"}, ES256, options={"rk": True})
    writes = key.pico.status()["flash_ops"] - ops0
    dev.close()
    assert writes >= 2
    counters = [c0, _counter(key, first.credential_id)]
    made = {b"user-1", b"user-2"}
    for n in range(1, writes + 1):
        key.stop()
        key = firmware_key_factory(storage=storage)
        dev = key.open_device()
        ctap = Ctap2(dev)
        key.pico.power_cut(before_flash_op=n)
        m = key.pico.mark()
        try:
            ctap.make_credential(_cdh(), RP, {"id": b"user-3-%d" % n, "name": "u"}, ES256, options={"rk": True})
        except Exception:
            pass  # the power went in the middle of it
        finally:
            dev.close()
        key.pico.wait_event("power-cut", since=m, timeout=120)
        key.pico.power_on()
        # the key boots, the first passkey still signs, the counter went on
        counters.append(_counter(key, first.credential_id))
        assert counters[-1] > counters[-2]
        dev = key.open_device()
        ctap = Ctap2(dev)
        found = ctap.get_assertion(RP["id"], _cdh(), options={"up": False})
        users = {found.user["id"]}
        for _ in range((found.number_of_credentials or 1) - 1):
            users.add(ctap.get_next_assertion().user["id"])
        dev.close()
        made.add(b"user-3-%d" % n)
        assert {b"user-1", b"user-2"} <= users <= made  # nothing written before the cut was lost


# -- the button ----------------------------------------------------------------------------


@pytest.mark.parametrize("press_ms", [150, 300, 2000])
def test_u2f_sees_a_press_while_the_client_polls_every_100_ms(firmware_key_factory, press_ms):
    """A U2F key never waits: the press is latched between two polls (boards/common/board_base.py)."""
    key = firmware_key_factory(presence="manual")
    dev = key.open_device()
    u2f = Ctap1(dev)
    asked = threading.Event()
    pressed = []

    def person():
        asked.wait(30)
        time.sleep(0.3)  # a person reacting to the blinking LED
        key.board.presence.press(press_ms)
        pressed.append(time.monotonic())

    threading.Thread(target=person, daemon=True).start()
    deadline = time.monotonic() + 60
    refused = 0
    while True:
        try:
            reg = u2f.register(os.urandom(32), APP_PARAM)
            break
        except ApduError as e:
            assert e.code == APDU.USE_NOT_SATISFIED
            refused += 1
            asked.set()
            assert time.monotonic() < deadline, "the press was never seen"
            time.sleep(0.1)
    assert refused >= 1 and pressed
    # one press approves one operation: the next registration asks again
    with pytest.raises(ApduError) as e:
        u2f.register(os.urandom(32), APP_PARAM)
    assert e.value.code == APDU.USE_NOT_SATISFIED
    dev.close()
    assert reg.key_handle


def test_a_press_before_the_request_approves_nothing(firmware_key_factory):
    key = firmware_key_factory(presence="manual")
    key.board.presence.press(150)
    time.sleep(3)  # well past the latch window
    dev = key.open_device()
    with pytest.raises(ApduError) as e:
        Ctap1(dev).register(os.urandom(32), APP_PARAM)
    assert e.value.code == APDU.USE_NOT_SATISFIED
    dev.close()


def test_holding_bootsel_5_s_restarts_in_maintenance_mode_not_the_uf2_bootloader(firmware_key_factory):
    """The long press asks for maintenance; the reset waits for the release (BOOTSEL held at reset
    would start the boot ROM's USB bootloader instead of MicroPython)."""
    key = firmware_key_factory(presence="manual")
    pico = key.pico
    m = pico.mark()
    pico.press()
    # hold well past 5 s of simulated time, then let go
    start = pico.status()["t_ms"]
    while pico.status()["t_ms"] < start + 6000:
        time.sleep(0.1)
    assert not [e for e in pico.events[m:] if e["event"] == "chip-reset"]  # not while held
    pico.release()
    pico.wait_event("chip-reset", since=m, timeout=120)
    configured = pico.wait_event("usb-configured", since=m, timeout=120)
    assert configured["cdc"] and not configured["fido"]  # the REPL, for tools/provision.py
    assert not [e for e in pico.events[m:] if e["event"] == "bootsel-boot"]
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", pico.serial_port(), "resume", "exec",
                        "import sys; print('REPL', sys.implementation.name)"],
                       capture_output=True, text=True, timeout=300)
    assert "REPL %s" % key.runtime in r.stdout, r.stdout + r.stderr
    # one boot only: the next power-up is the key again
    pico.power_cycle()
    events = _since_power_up(key)
    assert [e for e in events if e["event"] == "usb-configured"][-1]["fido"]
