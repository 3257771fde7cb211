"""Test-only: the runner's `testcrypto` service on the MicroPython unix port.

Copied only into the unix port's test filesystem by host_tests/mpy.py. On the
WebAssembly build `testcrypto` is a JS module (tools/mpy_wasm_services.mjs)
that also backs the p256/cryptolib bridges; the unix port has the real C
modules and os.urandom, so all a test script takes from here is its random
source, under the same name.
"""

from os import urandom as random_bytes  # noqa: F401
