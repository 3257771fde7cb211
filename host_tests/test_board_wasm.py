"""The board adapters on real MicroPython (WebAssembly build or unix port), over the same fakes.

The MicroPython adapter (boards/micropython) and the CircuitPython adapter
(boards/circuitpython, with the real adafruit_hid) each run makeCredential
+ getAssertion from a simulated USB host; CPython checks the answers with
python-fido2. On the WebAssembly build P-256 and randomness come from the
harness's test bridges to Node's crypto (host_tests/mpy_wasm/), since it has
no C module and no os.urandom; the unix port (PYFIDO_MICROPYTHON) has the
real p256, cryptolib and os.urandom (host_tests/mpy.py).
"""

import glob
import json
import os

import pytest

import boardkit
from mpy import run_micropython

REPO = boardkit.REPO


def board_files():
    files = {}
    for path in glob.glob(os.path.join(REPO, "boards", "**", "*.py"), recursive=True):
        rel = os.path.relpath(path, REPO)
        if rel.startswith(os.path.join("boards", "host")):
            continue  # the CPython board is not part of a device
        files["/" + rel.replace(os.sep, "/")] = open(path, "rb").read()
    for path in glob.glob(os.path.join(boardkit.FAKES, "**", "*.py"), recursive=True):
        rel = os.path.relpath(path, boardkit.FAKES)
        files["/fakes/" + rel.replace(os.sep, "/")] = open(path, "rb").read()
    import importlib.util

    # Located, not imported: on CPython it would import Blinka's usb_hid.
    origin = importlib.util.find_spec("adafruit_hid").origin
    files["/lib/adafruit_hid/__init__.py"] = open(origin, "rb").read()
    # CircuitPython has a built-in __future__ (adafruit_hid imports
    # `annotations` from it); this MicroPython build has none.
    files["/fakes/__future__.py"] = b"annotations = True\n"
    return files


SCRIPT = """
import sys
sys.path.insert(0, "/fakes")
import binascii
import testcrypto
from boards.%(chip)s import config

def random(n):
    r = testcrypto.random_bytes(n)
    if isinstance(r, str):
        raise OSError(r)
    return bytes(r)

with open("/pyfido.json", "w") as f:
    f.write(%(settings)r)
messages = [(cmd, binascii.unhexlify(h)) for cmd, h in %(messages)r]
from %(runner)s import run
kwargs = {}
%(variant)s
host, result = run(config, messages, "/pyfido.json", "/pyfido.maintenance", random=random, **kwargs)
import os
print("STORE", " ".join(sorted(os.listdir("/pyfido"))))
print("PRESSES", host.presses)
for cmd, payload in host.responses:
    print("RESP", cmd, binascii.hexlify(payload).decode())
"""


# Variants of the MicroPython adapter's run (test_board_micropython.py has the CPython side).
VARIANTS = {
    "": "",
    # usb-device-hid 0.1.0 (MicroPython v1.23-v1.26): send_report returns None on success
    "hid-0.1.0": "import usb.device.hid\nusb.device.hid.VERSION = '0.1.0'",
    # arming the OUT endpoint raises EBUSY in the completion callback of the
    # first report; the host resets the bus after 200 turns
    "out-fault": "\n".join([
        "import fakehw, usb.device",
        "fakehw.USB_INIT_HOOK = lambda: usb.device.get().out_faults.extend([None, OSError(16)])",
        "def on_turn(n):",
        "    if n == 200:",
        "        print('ANSWERS-BEFORE-RESET', len(fakehw.HOST.responses))",
        "        usb.device.get().bus_reset()",
        "kwargs['on_turn'] = on_turn",
    ]),
}


@pytest.mark.parametrize("runner,chip,variant", [
    ("run_micropython_key", "rp2040", ""),
    ("run_micropython_key", "esp32s3", ""),
    ("run_circuitpython_key", "rp2040", ""),
    ("run_micropython_key", "rp2040", "hid-0.1.0"),
    ("run_micropython_key", "rp2040", "out-fault"),
])
def test_ceremony_through_the_adapter_on_micropython(runner, chip, variant):
    script = SCRIPT % {
        "chip": chip,
        "runner": runner,
        "variant": VARIANTS[variant],
        "settings": json.dumps({"store": "/pyfido"}),
        "messages": [(int(cmd), payload.hex()) for cmd, payload in boardkit.messages()],
    }
    out = run_micropython(script, extra_files=board_files(), timeout=300).stdout
    lines = out.splitlines()
    responses = [(int(l.split()[1]), bytes.fromhex(l.split()[2])) for l in lines if l.startswith("RESP ")]
    boardkit.check_ceremony(responses)
    # One press per ceremony; on a loaded machine the interpreter may be busy
    # for a whole press, which the key misses like a real one (the simulated
    # person then presses again, as a real one would).
    presses = int([l for l in lines if l.startswith("PRESSES ")][0].split()[1])
    assert presses >= 2
    store = [l for l in lines if l.startswith("STORE ")][0].split()[1:]
    assert "state" in store and any(n.startswith("rk") for n in store)
    if variant == "out-fault":
        # deaf after INIT until the bus reset; the exception never reached the main loop
        assert "ANSWERS-BEFORE-RESET 0" in lines
        assert "Traceback" not in out


def test_on_device_selftest_and_provisioning_helpers_on_micropython():
    """What tools/provision.py runs on the board: init (master secret from the RNG), self-test."""
    script = """
import testcrypto, os
def random(n):
    return bytes(testcrypto.random_bytes(n))
with open("/pyfido.json", "w") as f:
    f.write('{"store": "/pyfido"}')
from boards.common import provision_device, selftest
from firmware import crypto
import firmware.store
if not hasattr(os, "urandom"):
    # the wasm build has no os.urandom: the helpers take the bridge's randomness
    provision_device.os = type("os", (), {"urandom": staticmethod(random), "listdir": os.listdir, "stat": os.stat})
provision_device.init()
provision_device.init()
provision_device.attestation_keygen()
assert selftest.run(random)
"""
    out = run_micropython(script, extra_files=board_files(), timeout=300).stdout.splitlines()
    assert out[0] == "PYFIDO-INIT new" and out[1] == "PYFIDO-INIT kept"
    assert out[2].startswith("PYFIDO-ATTPUB 04") and len(out[2].split()[1]) == 130
    assert out[-1] == "PYFIDO-SELFTEST OK"
