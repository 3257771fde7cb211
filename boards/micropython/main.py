# /main.py of a PyFIDO key on MicroPython (copied to the filesystem root by
# tools/provision.py). The first statement turns Ctrl-C off: a locked key
# must never drop to the REPL, where anything on the host that opens the
# serial port could read the key's secrets. boards/micropython/app.py turns
# it back on in development ("repl") and maintenance modes.
import micropython

micropython.kbd_intr(-1)

from boards.micropython import app  # noqa: E402

app.main()
