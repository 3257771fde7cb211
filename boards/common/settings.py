"""The key's settings: built-in defaults, the chip's, then /pyfido.json (written by tools/provision.py).

Only known keys are taken from the file, each must have the default's type,
and a missing or broken file means the defaults: a key with a bad settings
file still starts (and says so on its console).
"""

import json

SETTINGS_FILE = "/pyfido.json"
# Present for exactly one boot: start with the USB serial REPL and no FIDO
# interface, so tools/provision.py can reach a locked key. Written when the
# button is held for LONG_PRESS_MS while the key is idle; removed at boot.
MAINTENANCE_FLAG = "/pyfido.maintenance"

DEFAULTS = {
    # pid.codes test ids (VID 0x1209, PID 0x0001 "Test PID"): for development
    # and personal keys only; a product needs its own ids.
    "vid": 0x1209,
    "pid": 0x0001,
    "manufacturer": "PyFIDO",
    "product": "PyFIDO security key",
    "serial": "",  # "" = the chip's unique id in hex
    # Pins: "BOOTSEL" (Raspberry Pi Pico's BOOTSEL button, MicroPython only),
    # a pin name ("GP15", "LED", "BUTTON", "NEOPIXEL") or number ("0", "48");
    # "neopixel:<pin>" for an addressable RGB LED; "" = none.
    "button": "",
    "button_active_low": True,  # button to ground with the internal pull-up
    "led": "",
    "led_active_low": False,
    # Keep the USB serial REPL next to the FIDO interface. Anything on the
    # host that can open the serial port could then read every key on the
    # board, so a key in use has this off (maintenance mode opens it once).
    "repl": False,
    "watchdog_ms": 8000,  # RP2040's hardware maximum is 8388 ms
    "store": "/pyfido",  # directory of the key's records (firmware/store.py)
    "max_resident_credentials": 64,
    # CPU clock the key sets at boot, in MHz; 0 = the clock the firmware
    # booted with. P-256 and the interpreter scale with it (boards/<chip>/config.py).
    "cpu_mhz": 0,
    # CTAP 2.2 longTouchForReset: authenticatorReset takes only a press held
    # for LONG_TOUCH_MS (boards/common/ui.py); needs a button.
    "long_touch_for_reset": False,
}


def merge(base, changes):
    """base updated with the changes whose key is known and whose type matches."""
    out = dict(base)
    bad = []
    for k in changes:
        if k in DEFAULTS and type(changes[k]) is type(DEFAULTS[k]):
            out[k] = changes[k]
        else:
            bad.append(k)
    return out, bad


def keeps_clock(chip, machine_name):
    """Whether this board (sys.implementation._machine) is named in the chip's
    KEEP_CLOCK: it keeps the clock its firmware starts with (cpu_mhz 0)."""
    for name in getattr(chip, "KEEP_CLOCK", ()):
        if name in machine_name:
            return True
    return False


def load(chip_defaults, path=None):
    """The settings for this board: DEFAULTS < chip_defaults < the file."""
    path = path or SETTINGS_FILE
    settings, _ = merge(DEFAULTS, chip_defaults)
    try:
        with open(path) as f:
            stored = json.load(f)
    except OSError:
        return settings  # no file: defaults
    except ValueError:
        print("pyfido: %s is not valid JSON; using defaults" % path)
        return settings
    if not isinstance(stored, dict):
        print("pyfido: %s is not a JSON object; using defaults" % path)
        return settings
    settings, bad = merge(settings, stored)
    if bad:
        print("pyfido: ignored settings %s" % ", ".join(sorted(str(k) for k in bad)))
    return settings


def provisioned(path=None):
    """True when tools/provision.py has written the settings file (a board without it is not a key yet)."""
    import os

    try:
        os.stat(path or SETTINGS_FILE)
    except OSError:
        return False
    return True


def maintenance_requested(path=None):
    """True when the maintenance flag is set (it stays set)."""
    import os

    try:
        os.stat(path or MAINTENANCE_FLAG)
    except OSError:
        return False
    return True


def take_maintenance_flag(path=None):
    """True (once) when maintenance mode was asked for; the flag is removed."""
    import os

    path = path or MAINTENANCE_FLAG
    if not maintenance_requested(path):
        return False
    try:
        os.remove(path)
    except OSError:
        pass
    return True


def set_maintenance_flag(path=None):
    with open(path or MAINTENANCE_FLAG, "w") as f:
        f.write("1")


def resident_capacity(table, blocks, unknown):
    """The passkey capacity proven for a littlefs filesystem of `blocks` 4096-byte blocks.

    table is a chip's RESIDENT_CAPACITY, rows (blocks, capacity): the row of
    the largest filesystem not larger than this one (more room never holds
    fewer). Below every row, the smallest row less one passkey per missing
    block (a passkey record takes one block at most). `unknown` when blocks
    is None (the size could not be read).
    """
    if blocks is None or not table:
        return unknown
    best = None
    for row_blocks, capacity in table:
        if row_blocks <= blocks and (best is None or row_blocks > best[0]):
            best = (row_blocks, capacity)
    if best is not None:
        return best[1]
    row_blocks, capacity = min(table)
    return max(0, capacity - (row_blocks - blocks))


def filesystem_blocks(path="/"):
    """Size of the filesystem at path in 4096-byte blocks, or None where os.statvfs is missing."""
    import os

    try:
        s = os.statvfs(path)
    except (AttributeError, OSError):
        return None
    return s[1] * s[2] // 4096  # f_frsize * f_blocks
