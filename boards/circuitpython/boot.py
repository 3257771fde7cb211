# /boot.py of a PyFIDO key on CircuitPython (copied to the filesystem root by
# tools/provision.py): FIDO HID device on, CIRCUITPY drive off, serial
# console off unless the settings keep it. See boards/circuitpython/setup.py.
from boards.circuitpython import setup

setup.boot()
