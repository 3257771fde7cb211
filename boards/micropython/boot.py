# /boot.py of a PyFIDO key on MicroPython (copied to the filesystem root by
# tools/provision.py). MicroPython runs it before it starts USB itself, so
# the key is built here and its FIDO interface is what the host enumerates
# first (boards/micropython/app.py). Ctrl-C is off first: a locked key must
# never drop to the REPL.
import micropython

micropython.kbd_intr(-1)

import sys  # noqa: E402

# A `make firmware` image has the core frozen in. Importing it with only the
# frozen modules on sys.path spares every import a search of the flash
# filesystem ('' and /lib come first by default: three to seven littlefs
# lookups per module, most of the key's start-up time). From then on frozen
# modules come first, so no file on the filesystem can shadow the core.
_path = sys.path[:]
sys.path[:] = [".frozen"]
try:
    from boards.micropython import app
except ImportError:  # stock MicroPython: the core is on the filesystem
    app = None
if app is None:
    sys.path[:] = _path
    from boards.micropython import app

    app.boot()
else:
    try:
        app.boot()
    finally:
        sys.path[:] = [".frozen"] + [p for p in _path if p != ".frozen"]
