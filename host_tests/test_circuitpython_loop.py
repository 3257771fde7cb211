"""The parts of the firmware in the loop that a CircuitPython image needs, without one.

- tools/circuitpy_drive.py writes the first install's files onto the CIRCUITPY
  drive inside an emulated Pico's flash file (FAT at 1 MiB, as CircuitPython
  formats it on the Pico), and refuses a flash that holds no such drive;
- pico_emulator.firmware_runtime tells the two runtimes' images apart (which
  button the emulator wires, how the image is provisioned);
- firmware_key.key_led_events leaves out what CircuitPython's status LED shows
  while it starts (its safe-mode blinks on GPIO25), so the LED patterns are
  the key's.
"""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import circuitpy_drive  # noqa: E402
from firmware_key import key_led_events, led_patterns  # noqa: E402
from pico_emulator import BUTTONS, firmware_runtime  # noqa: E402

FLASH_SIZE = 2 * 1024 * 1024


def _flash(tmp_path, formatted=True):
    flash = tmp_path / "flash.bin"
    flash.write_bytes(b"\xff" * FLASH_SIZE)
    if formatted:
        # what CircuitPython does at its first start: FAT, 512-byte sectors, from 1 MiB to the end
        circuitpy_drive._mtools("mformat", "-i", "%s@@%d" % (flash, circuitpy_drive.FS_OFFSET),
                                "-T", str((FLASH_SIZE - circuitpy_drive.FS_OFFSET) // 512), "-v", "CIRCUITPY", "::")
    return str(flash)


def test_files_go_onto_the_drive_with_their_folders_and_replace_older_ones(tmp_path):
    flash = _flash(tmp_path)
    stage = tmp_path / "stage"
    (stage / "lib" / "deep").mkdir(parents=True)
    (stage / "boot.py").write_text("print('old')\n")
    (stage / "lib" / "deep" / "x.py").write_text("X = 1\n")
    circuitpy_drive.copy(flash, str(stage))
    (stage / "boot.py").write_text("print('new')\n")
    circuitpy_drive.copy(flash, str(stage))  # again: folders exist, files are replaced
    assert circuitpy_drive.listing(flash) == ["/boot.py", "/lib/", "/lib/deep/", "/lib/deep/x.py"]
    out = circuitpy_drive._mtools("mtype", "-i", "%s@@%d" % (flash, circuitpy_drive.FS_OFFSET), "::/boot.py")
    assert out == "print('new')\n"
    with open(flash, "rb") as f:
        assert f.read(circuitpy_drive.FS_OFFSET) == b"\xff" * circuitpy_drive.FS_OFFSET  # the firmware's part untouched


def test_a_flash_without_the_drive_is_refused_with_what_to_do(tmp_path):
    flash = _flash(tmp_path, formatted=False)
    with pytest.raises(circuitpy_drive.DriveError, match="boot the CircuitPython image once first"):
        circuitpy_drive.copy(flash, str(tmp_path))


def test_the_command_line(tmp_path):
    flash = _flash(tmp_path)
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "code.py").write_text("pass\n")
    tool = os.path.join(REPO, "tools", "circuitpy_drive.py")
    assert subprocess.run([sys.executable, tool, flash, "copy", str(stage)]).returncode == 0
    r = subprocess.run([sys.executable, tool, flash, "ls"], capture_output=True, text=True)
    assert r.stdout.split() == ["/code.py"]


def _uf2(payload, chunk=256):
    """A UF2 image of `payload` (family RP2040) in blocks of `chunk` bytes."""
    blocks = [payload[i:i + chunk] for i in range(0, len(payload), chunk)]
    out = b""
    for n, data in enumerate(blocks):
        head = b"".join(v.to_bytes(4, "little") for v in (
            0x0A324655, 0x9E5D5157, 0x00002000, 0x10000000 + n * chunk, len(data), n, len(blocks), 0xE48BFF56))
        out += head + data.ljust(476, b"\x00") + (0x0AB16F30).to_bytes(4, "little")
    return out


def test_the_runtime_is_read_from_the_image(tmp_path):
    cp = tmp_path / "cp.uf2"
    mp = tmp_path / "mp.uf2"
    # the banner straddles two blocks, as it may in a real image
    banner = b"Adafruit CircuitPython"
    cp.write_bytes(_uf2(b"\x00" * 250 + banner + b"10.2.1 on 2026-12-05" + b"\x00" * 300))
    mp.write_bytes(_uf2(b"\x00" * 250 + b"MicroPython v1.28.0 on 2026-12-05; Raspberry Pi Pico" + b"\x00" * 300))
    assert firmware_runtime(str(cp)) == "circuitpython" and BUTTONS["circuitpython"] == "gpio:15"
    assert firmware_runtime(str(mp)) == "micropython" and BUTTONS["micropython"] == "bootsel"


def _led(t, on):
    return {"event": "led", "on": on, "t_ms": t}


def test_circuitpythons_start_up_blinks_are_not_the_keys():
    safe_mode_blinks = [_led(200 + 250 * i + 125 * j, j == 0) for i in range(4) for j in range(2)]
    events = ([{"event": "power-on", "t_ms": 0}] + safe_mode_blinks
              + [{"event": "usb-attach", "t_ms": 1211}, _led(1247, True)])
    assert led_patterns(events)[:2] != ["idle"]  # the blinks read as something else
    assert led_patterns(key_led_events(events)) == ["idle"]
    # a chip reset starts CircuitPython again: its blinks are left out again, the key's kept
    again = ([{"event": "chip-reset", "t_ms": 5000}] + [_led(5200 + 125 * j, j % 2 == 0) for j in range(6)]
             + [{"event": "usb-attach", "t_ms": 6200}, _led(6250, True), _led(6500, False), _led(6750, True)])
    assert led_patterns(key_led_events(events + again)) == ["idle", "touch", "idle"]
