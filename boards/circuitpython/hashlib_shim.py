"""`hashlib` for CircuitPython ports built without it: SHA-256 only, in Python.

Installed as /lib/hashlib.py by tools/provision.py, with a copy of
adafruit_hashlib's _sha256.py as /lib/_pyfido_sha256.py, only on a board
where `import hashlib` fails; firmware/crypto.py needs sha256 and nothing else.
"""

from _pyfido_sha256 import sha256  # noqa: F401
