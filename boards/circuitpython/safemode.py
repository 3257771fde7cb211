# /safemode.py of a PyFIDO key on CircuitPython. Safe mode skips boot.py and
# shows the CIRCUITPY drive -- with the key's records on it -- to the host.
# A key restarts instead; to inspect a broken key, reflash CircuitPython.
import microcontroller

microcontroller.reset()
