# /boot.py of a PyFIDO key; see boards/micropython/app.py, boot().
import micropython

micropython.kbd_intr(-1)
import sys

p = sys.path[:]
sys.path[:] = [".frozen"]
try:
    from boards.micropython import app
except ImportError:
    app = None
if app is None:
    sys.path[:] = p
    from boards.micropython import app

    app.boot()
else:
    try:
        app.boot()
    finally:
        sys.path[:] = [".frozen"] + [x for x in p if x != ".frozen"]
