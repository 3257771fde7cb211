"""The CIRCUITPY drive inside an emulated Pico's flash file, written as a computer writes the drive.

    python tools/circuitpy_drive.py FLASH.bin ls
    python tools/circuitpy_drive.py FLASH.bin copy DIR      # DIR's files onto the drive, folders kept

CircuitPython on the RP2040 keeps its filesystem, FAT with 512-byte
sectors, in the flash after the firmware and a 4 KB NVM sector: from 1 MiB
on a Pico (ports/raspberrypi/mpconfigport.h: CIRCUITPY_FIRMWARE_SIZE 1020 KiB
+ CIRCUITPY_INTERNAL_NVM_SIZE 4 KiB; the same from 9.0 to 10.2.1), to the end
of the 2 MB chip. A computer reaches it as the USB drive CIRCUITPY; the
emulator (tools/node/pico/) does not serve USB mass storage, so for the
first install -- the one step that must go through the drive: until
/boot.py runs, CircuitPython keeps the filesystem read-only to itself -- the
files are written into the flash file while the emulated board is powered
off, with mtools (Debian `mtools`, installed when missing), onto the
filesystem CircuitPython itself formatted at its first boot.
"""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FS_OFFSET = 1024 * 1024  # Pico: 1020 KiB firmware + 4 KiB NVM
BOOT_SIGNATURE = b"\x55\xaa"


class DriveError(RuntimeError):
    pass


def _image(flash):
    with open(flash, "rb") as f:
        f.seek(FS_OFFSET)
        boot = f.read(512)
    if len(boot) < 512 or boot[510:512] != BOOT_SIGNATURE or b"FAT" not in boot[54:90]:
        raise DriveError("%s has no FAT filesystem at %#x: boot the CircuitPython image once first (it formats "
                         "its drive at its first start)" % (flash, FS_OFFSET))
    return "%s@@%d" % (flash, FS_OFFSET)


def _mtools(*args):
    if subprocess.run(["sh", "-c", "command -v mcopy"], capture_output=True).returncode != 0:
        subprocess.run([os.path.join(REPO, "tools", "ensure_apt.sh"), "mtools"], check=True)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    r = subprocess.run(list(args), capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise DriveError("%s failed: %s" % (" ".join(args[:1]), (r.stdout + r.stderr).strip()))
    return r.stdout


def listing(flash):
    """Paths of the files on the drive ("/boot.py", "/lib/x.py", ...)."""
    out = _mtools("mdir", "-i", _image(flash), "-/", "-b", "::/")
    return sorted(line.strip()[2:] if line.startswith("::") else line.strip() for line in out.splitlines() if line.strip())


def copy(flash, src_dir):
    """Copy src_dir's files onto the drive, folders kept, replacing files of the same name."""
    image = _image(flash)
    for root, dirs, files in os.walk(src_dir):
        rel = os.path.relpath(root, src_dir).replace(os.sep, "/")
        target = "::/" if rel == "." else "::/" + rel
        if rel != ".":
            exists = subprocess.run(["mdir", "-i", image, target], capture_output=True,
                                    env=dict(os.environ, MTOOLS_SKIP_CHECK="1")).returncode == 0
            if not exists:
                _mtools("mmd", "-i", image, target)
        for name in sorted(files):
            _mtools("mcopy", "-i", image, "-o", os.path.join(root, name), target.rstrip("/") + "/" + name)


def main(argv):
    if len(argv) == 2 and argv[1] == "ls":
        print("\n".join(listing(argv[0])))
    elif len(argv) == 3 and argv[1] == "copy":
        copy(argv[0], argv[2])
    else:
        raise SystemExit(__doc__.strip().splitlines()[2].strip())


if __name__ == "__main__":
    main(sys.argv[1:])
