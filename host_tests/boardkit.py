"""Shared by the board tests: the fakes on CPython, the CTAP2 requests, and their checks.

The requests are built and the answers verified with python-fido2 and
`cryptography` (independent of the firmware); the key in between runs the
real board adapter over the fakes in host_tests/fakes/, on CPython or on
MicroPython (WebAssembly).
"""

import contextlib
import hashlib
import os
import sys
import time

import pytest

from fido2 import cbor
from fido2.attestation import PackedAttestation
from fido2.ctap2 import AssertionResponse, AttestationResponse
from fido2.hid import CTAPHID

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKES = os.path.join(REPO, "host_tests", "fakes")

RP_ID = "example.com"
USER_ID = b"\x01user-id\x02"
CLIENT_DATA_HASH = hashlib.sha256(b"client data for the board test").digest()

# Modules the fakes stand in for, and the adapter modules that import them
# (re-imported per test so each sees fresh fakes).
FAKE_MODULES = (
    "fakehw", "ctaphid_host", "machine", "rp2", "neopixel", "usb", "usb.device",
    "usb.device.core", "usb.device.hid", "usb_hid", "digitalio", "board",
    "microcontroller", "watchdog", "supervisor", "storage", "usb_cdc",
    "neopixel_write", "adafruit_hid", "network",
)
ADAPTER_PREFIXES = ("boards.micropython", "boards.circuitpython")


def make_credential_request():
    return bytes([0x01]) + cbor.encode({
        1: CLIENT_DATA_HASH,
        2: {"id": RP_ID, "name": "Example"},
        3: {"id": USER_ID, "name": "alice", "displayName": "Alice"},
        4: [{"alg": -7, "type": "public-key"}],
        7: {"rk": True},
    })


def get_assertion_request():
    return bytes([0x02]) + cbor.encode({1: RP_ID, 2: CLIENT_DATA_HASH})


def messages():
    """What the simulated host sends after INIT: makeCredential, then getAssertion."""
    return [(CTAPHID.CBOR, make_credential_request()), (CTAPHID.CBOR, get_assertion_request())]


def check_ceremony(responses):
    """Both answers are CTAP2_OK and verify: packed attestation, then the assertion."""
    (cmd1, mc), (cmd2, ga) = responses
    assert cmd1 == CTAPHID.CBOR and cmd2 == CTAPHID.CBOR
    assert mc[0] == 0, "makeCredential status 0x%02x" % mc[0]
    assert ga[0] == 0, "getAssertion status 0x%02x" % ga[0]
    att = AttestationResponse.from_dict(cbor.decode(mc[1:]))
    assert att.fmt == "packed"
    PackedAttestation().verify(att.att_stmt, att.auth_data, CLIENT_DATA_HASH)
    assert att.auth_data.rp_id_hash == hashlib.sha256(RP_ID.encode()).digest()
    assert att.auth_data.is_user_present()
    cred = att.auth_data.credential_data
    assertion = AssertionResponse.from_dict(cbor.decode(ga[1:]))
    assert assertion.credential["id"] == cred.credential_id
    assert assertion.user["id"] == USER_ID
    assertion.verify(CLIENT_DATA_HASH, cred.public_key)
    assert assertion.auth_data.is_user_present()
    assert assertion.auth_data.counter > att.auth_data.counter
    return att, assertion


class MicroPythonTime:
    """MicroPython's time.ticks_* and sleep_ms on CPython (added to `time` during a test)."""

    PERIOD = 1 << 30

    @staticmethod
    def ticks_ms():
        return (time.monotonic_ns() // 1_000_000) % MicroPythonTime.PERIOD

    @staticmethod
    def ticks_add(t, delta):
        return (t + delta) % MicroPythonTime.PERIOD

    @staticmethod
    def ticks_diff(new, old):
        half = MicroPythonTime.PERIOD // 2
        return ((new - old + half) % MicroPythonTime.PERIOD) - half

    @staticmethod
    def sleep_ms(ms):
        time.sleep(ms / 1000)

    @staticmethod
    def sleep_us(us):
        time.sleep(us / 1000000)


@contextlib.contextmanager
def fake_hardware(monkeypatch):
    """The fakes importable as the real module names, fresh for this test."""

    def ours(name, module):
        path = getattr(module, "__file__", None) or ""
        return name in FAKE_MODULES or name.startswith(ADAPTER_PREFIXES) or path.startswith(FAKES)

    def forget():
        for name, module in list(sys.modules.items()):
            if ours(name, module):
                del sys.modules[name]

    saved = {n: m for n, m in sys.modules.items() if ours(n, m)}
    forget()
    monkeypatch.syspath_prepend(FAKES)
    for name in ("ticks_ms", "ticks_add", "ticks_diff", "sleep_ms", "sleep_us"):
        monkeypatch.setattr(time, name, getattr(MicroPythonTime, name), raising=False)
    try:
        yield
    finally:
        forget()
        sys.modules.update(saved)


def write_settings(tmp_path, **changes):
    """/pyfido.json for a test key whose store is in tmp_path; returns its path."""
    import json

    settings = {"store": str(tmp_path / "pyfido")}
    settings.update(changes)
    path = tmp_path / "pyfido.json"
    path.write_text(json.dumps(settings))
    return str(path)


def run_adapter(runner, tmp_path, chip="rp2040", **settings):
    """Run one adapter (run_micropython_key / run_circuitpython_key) through the ceremony."""
    import importlib

    config = importlib.import_module("boards.%s.config" % chip)
    importlib.import_module("board").use(chip)  # the fake board's pin names (host_tests/fakes/board.py)
    run_key = importlib.import_module(runner).run
    return run_key(config, messages(), write_settings(tmp_path, **settings), str(tmp_path / "pyfido.maintenance"))


@pytest.fixture
def hw(monkeypatch, tmp_path):
    """The fake hardware, reset, around one test; yields a scratch directory."""
    with fake_hardware(monkeypatch):
        import fakehw

        fakehw.reset()
        yield tmp_path
