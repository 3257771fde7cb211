# /boot.py of a PyFIDO key on MicroPython (copied to the filesystem root by
# tools/provision.py). MicroPython runs it before it starts USB itself, so
# the key is built here and its FIDO interface is what the host enumerates
# first (boards/micropython/app.py). Ctrl-C is off first: a locked key must
# never drop to the REPL.
import micropython

micropython.kbd_intr(-1)

from boards.micropython import app  # noqa: E402

app.boot()
