"""Write the MicroPython manifest that freezes the key into firmware (used by `make firmware`).

    python tools/firmware_manifest.py BOARD OUT/manifest.py

Writes OUT/manifest.py and, next to it, OUT/pyfido_build.py: the build
marker, frozen with the rest, that tells tools/provision.py "the core is in
this image" (board, the key's FIRMWARE_VERSION, `git describe` of this
repository).

The manifest starts from the port's own manifest ($(PORT_DIR)/boards/
manifest.py: _boot.py, which mounts the filesystem, and rp2.py on rp2), then
freezes the core (firmware/, lib/cbor.py), the shared board code, the
MicroPython adapter, the chip's config, micropython-lib's usb-device-hid, the
marker, and the entry points boot.py and main.py: MicroPython runs a frozen
boot.py/main.py instead of the filesystem's (shared/runtime/pyexec.c,
pyexec_file_if_exists), so at power-up nothing is read from littlefs but
the settings and the store. Until tools/provision.py has written the
settings (/pyfido.json) they leave the board at MicroPython's REPL.
"""

import ast
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# BOARD -> (MicroPython port, MicroPython board, adapter in boards/)
BOARDS = {
    "rp2040": ("rp2", "RPI_PICO", "rp2040"),
    # RPI_PICO_W's own manifest.py includes the port's and adds
    # bundle-networking (mip, requests, ntptime, ssl, webrepl) and aioble:
    # nothing the key uses, and a network REPL has no place in a security
    # key, so the Pico W takes the port's manifest like the Pico. Its LED
    # and radio are C code (cyw43), built in by the board either way.
    "rp2040w": ("rp2", "RPI_PICO_W", "rp2040"),
    "esp32s3": ("esp32", "ESP32_GENERIC_S3", "esp32s3"),
}
# The port's manifest; neither RPI_PICO nor ESP32_GENERIC_S3 has a board one
# (MicroPython v1.23.0 to v1.28.0), and the port's must stay: _boot.py.
PORT_MANIFEST = 'include("$(PORT_DIR)/boards/manifest.py")'
MARKER = "pyfido_build"
# boards/micropython's files MicroPython runs by name: frozen as "boot.py" and "main.py".
ENTRY_POINTS = ("boot.py", "main.py")


def _glob(pattern_dir, skip=()):
    d = os.path.join(REPO, pattern_dir)
    return ["%s/%s" % (pattern_dir, n) for n in sorted(os.listdir(d)) if n.endswith(".py") and n not in skip]


def frozen_modules(board):
    """(package root, [paths relative to it]) pairs frozen into the image.

    The same files tools/provision.py copies to a stock-firmware board
    (core_sources), so the two routes cannot drift apart.
    """
    adapter = BOARDS[board][2]
    repo_files = []
    for dirpath, dirnames, names in os.walk(os.path.join(REPO, "firmware")):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for n in sorted(names):
            if n.endswith(".py"):
                repo_files.append(os.path.relpath(os.path.join(dirpath, n), REPO).replace(os.sep, "/"))
    repo_files += ["boards/__init__.py"]
    repo_files += _glob("boards/common")
    repo_files += _glob("boards/micropython", skip=ENTRY_POINTS)  # frozen under their own names
    repo_files += _glob("boards/" + adapter)
    return [(REPO, sorted(repo_files)), (os.path.join(REPO, "lib"), ["cbor.py"])]


def firmware_version():
    """FIRMWARE_VERSION of firmware/device.py, read without importing the core."""
    with open(os.path.join(REPO, "firmware", "device.py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FIRMWARE_VERSION" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise SystemExit("firmware/device.py has no FIRMWARE_VERSION")


def git_describe():
    try:
        r = subprocess.run(["git", "-C", REPO, "describe", "--tags", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=30)
    except OSError:
        return "unknown"
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "unknown"


def marker(board, describe=None):
    """Source of pyfido_build.py, the module that says "this image has the key frozen in"."""
    port, mpy_board, adapter = BOARDS[board]
    return "\n".join([
        '"""Frozen into the firmware by `make firmware` (tools/firmware_manifest.py): the key\'s',
        "core, adapter and usb-device-hid are in this image. tools/provision.py looks for this",
        'module among the frozen ones to decide what it copies."""',
        "",
        "BOARD = %r" % board,
        "MICROPYTHON_BOARD = %r" % mpy_board,
        "ADAPTER = %r" % adapter,
        "FIRMWARE_VERSION = %r" % (firmware_version(),),
        "GIT_DESCRIBE = %r" % (describe if describe is not None else git_describe()),
        "# frozen too: the filesystem needs only the settings",
        "ENTRY_POINTS = %r" % (ENTRY_POINTS,),
        "",
    ])


def manifest(board, out_dir):
    if board not in BOARDS:
        raise SystemExit("unknown BOARD %r (one of %s)" % (board, ", ".join(sorted(BOARDS))))
    lines = [
        "# Generated by tools/firmware_manifest.py for BOARD=%s (MicroPython board %s); do not edit."
        % (board, BOARDS[board][1]),
        PORT_MANIFEST,
        'require("usb-device-hid")',
    ]
    entry = (os.path.join(REPO, "boards", "micropython"), list(ENTRY_POINTS))
    for root, files in frozen_modules(board) + [entry, (out_dir, [MARKER + ".py"])]:
        lines.append("freeze(%r, (" % root)
        lines += ["    %r," % f for f in files]
        lines.append("))")
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: firmware_manifest.py BOARD OUT/manifest.py")
    board, out = argv
    out = os.path.abspath(out)
    out_dir = os.path.dirname(out)
    text = manifest(board, out_dir)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, MARKER + ".py"), "w") as f:
        f.write(marker(board))
    with open(out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
