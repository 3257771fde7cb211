"""What `make firmware RUNTIME=circuitpython` freezes into a CircuitPython image, and the board table.

    python tools/circuitpython_firmware.py board BOARD          # prints "CP_BOARD PORT ADAPTER IMAGE"
    python tools/circuitpython_firmware.py frozen BOARD OUT_DIR # writes OUT_DIR/<the frozen tree>

CircuitPython freezes whole directories (FROZEN_MPY_DIRS: each one's files
are compiled with CircuitPython's own mpy-cross and frozen under their path
relative to it), so this writes one directory holding, at the paths a
stock-firmware install puts them on the board (tools/provision.py
core_sources, so the two routes cannot drift apart): the key's core
(firmware/, cbor), the shared board code, the CircuitPython adapter (not its
entry points: CircuitPython runs /boot.py and /code.py from the filesystem
only, and tools/provision.py writes them there with the settings), the
chip's config, adafruit_hid (the package tools/provision.py copies to a
stock board, from this Python's installation), and pyfido_build, the
marker by which tools/provision.py knows the core is frozen.

lib/p256 goes in as a user C module (USER_C_MODULES=lib: CircuitPython's
py/py.mk includes lib/*/micropython.mk).
"""

import importlib.util
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import firmware_manifest  # noqa: E402

# CircuitPython board -> (port, adapter in boards/, image the port makes)
BOARDS = {
    "raspberry_pi_pico": ("raspberrypi", "rp2040", "uf2"),
    # ESP32-S3-DevKitC-1 with 8 MB flash (N8, no PSRAM). Not built here: the
    # espressif port needs ESP-IDF (its esp-idf submodule, Adafruit's fork).
    "espressif_esp32s3_devkitc_1_n8": ("espressif", "esp32s3", "bin"),
}
# CircuitPython's tools/preprocess_frozen_modules.py runs `git describe` in
# the frozen tree for every line that starts with this (to fill in library
# versions), which fails outside a tagged checkout; adafruit_hid's
# `__version__` is metadata nothing reads, so such lines are left out.
VERSION_LINE = "__version__"
# The names `make firmware` uses for MicroPython, for the same boards.
ALIASES = {"rp2040": "raspberry_pi_pico", "esp32s3": "espressif_esp32s3_devkitc_1_n8"}


def board(name):
    """(CircuitPython board, port, adapter, image extension) of BOARD, or SystemExit naming the choices."""
    cp = ALIASES.get(name, name)
    if cp not in BOARDS:
        raise SystemExit("make firmware RUNTIME=circuitpython: unknown BOARD=%s; use BOARD=raspberry_pi_pico (or rp2040) "
                         "or BOARD=espressif_esp32s3_devkitc_1_n8 (or esp32s3)" % name)
    return (cp,) + BOARDS[cp]


def marker(name, describe=None):
    """Source of pyfido_build.py for a CircuitPython image (the keys tools/provision.py's probe reads)."""
    cp, _port, adapter, _image = board(name)
    return "\n".join([
        '"""Frozen into the firmware by `make firmware RUNTIME=circuitpython`',
        "(tools/circuitpython_firmware.py): the key's core, adapter and adafruit_hid are in this",
        'image, and p256 is built in. tools/provision.py looks for this module among the frozen ones."""',
        "",
        "BOARD = %r" % cp,
        "RUNTIME = 'circuitpython'",
        "CIRCUITPYTHON_BOARD = %r" % cp,
        "ADAPTER = %r" % adapter,
        "FIRMWARE_VERSION = %r" % (firmware_manifest.firmware_version(),),
        "GIT_DESCRIBE = %r" % (describe if describe is not None else firmware_manifest.git_describe()),
        "",
    ])


def frozen_files(name):
    """[(local file, path in the frozen tree)]: what the image has frozen in."""
    import provision

    _cp, _port, adapter, _image = board(name)
    files = []
    for local, dest in provision.core_sources(adapter, "circuitpython", frozen_core=False):
        dest = dest.lstrip("/")
        if dest.startswith("lib/"):  # /lib/cbor.py on a stock board: a top-level module
            dest = dest[len("lib/"):]
        files.append((local, dest))
    hid = importlib.util.find_spec("adafruit_hid")
    if hid is None:
        raise SystemExit("adafruit_hid is not installed here: run `make venv` (adafruit-circuitpython-hid is in "
                         "requirements.txt)")
    files.append((hid.origin, "adafruit_hid/__init__.py"))
    return files


def write_frozen(name, out_dir):
    """Write the tree CircuitPython freezes (FROZEN_MPY_DIRS=out_dir), replacing what was there."""
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    for local, dest in frozen_files(name):
        target = os.path.join(out_dir, dest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(local) as f:
            lines = f.readlines()
        with open(target, "w") as f:
            f.writelines(line for line in lines if not line.startswith(VERSION_LINE))
    with open(os.path.join(out_dir, firmware_manifest.MARKER + ".py"), "w") as f:
        f.write(marker(name))


def main(argv):
    if len(argv) == 2 and argv[0] == "board":
        print(" ".join(board(argv[1])))
    elif len(argv) == 3 and argv[0] == "frozen":
        write_frozen(argv[1], os.path.abspath(argv[2]))
    else:
        raise SystemExit(__doc__.strip().splitlines()[2].strip() + "\n" + __doc__.strip().splitlines()[3].strip())


if __name__ == "__main__":
    main(sys.argv[1:])
