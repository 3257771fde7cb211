"""The end-to-end scenarios against the real firmware: a built RP2040 image (MicroPython's or
CircuitPython's) on an emulated Pico.

The scenarios of test_e2e_webauthn.py, test_e2e_pin.py, test_e2e_extensions.py
(large blobs, credential management and the extensions included),
test_e2e_u2f.py, test_e2e_hid.py, test_e2e_algorithms.py (EdDSA, ESP256,
Ed25519) and test_e2e_ctap22.py run unchanged; `key_factory` below makes
their keys FirmwareKeys (host_tests/firmware_key.py): the firmware image,
provisioned with tools/provision.py, booting on rp2040js, its FIDO interface
enumerated by the emulator's USB host and served on a socket. python-fido2
talks to it as to a USB key; presence is BOOTSEL, pressed by the emulator
when the key asks for it (or by a test). A power cycle restarts the
emulator on the same flash file.

Scenarios that need what only the virtual key has -- a second button to
refuse a touch, a clock a test can move, records a test writes into the
store, a look inside the authenticator -- stay with the virtual key; each is
named below with the reason.
"""

import pytest

import test_e2e_algorithms
import test_e2e_ctap22
import test_e2e_extensions
import test_e2e_hid
import test_e2e_pin
import test_e2e_u2f
import test_e2e_webauthn
from firmware_key import PollingCtap1, firmware_key_factory, firmware_template  # noqa: F401 (pytest fixtures)
from mpy_key import adopt_tests
from test_e2e_extensions import client, pin_client  # noqa: F401 (pytest fixtures)
from test_e2e_pin import protocol  # noqa: F401
from test_e2e_u2f import manual_key  # noqa: F401

_INSIDE = "looks inside the authenticator (its store), which a USB key does not show"
_RECORDS = "writes records into the key's store from the test; a board gets them from tools/provision.py"
_PROMPTS = "counts the key's calls for a touch, which only the virtual key's presence reports"

_VIRTUAL_KEY_ONLY = {
    test_e2e_webauthn: {
        "test_get_next_assertion_walks_credentials_newest_first": _INSIDE,
        "test_same_rp_and_user_id_overwrites": _INSIDE,
        "test_reset_forgets_everything": _INSIDE,
        "test_exclude_list_refuses_a_second_registration": _PROMPTS,
        "test_batch_attestation_verifies_to_the_ca": _RECORDS,
        "test_presence_refused_is_operation_denied": "needs a refused touch: the board has one button, no 'no'",
        "test_reset_only_shortly_after_power_up": "shortens the reset window through the board's CONFIG",
    },
    test_e2e_pin: {
        "test_credential_management": _INSIDE,
        "test_enterprise_attestation": _RECORDS,
    },
    test_e2e_extensions: {},
    test_e2e_u2f: {
        "test_fido2client_u2f_fallback_polls_until_the_touch": _PROMPTS,
        "test_ctap1_rides_out_keepalives": "slows down the CPython core's key generation (monkeypatch)",
    },
    test_e2e_hid: {},
    test_e2e_algorithms: {},
    test_e2e_ctap22: {},
}

_ON_THE_KEY = ("key_factory", "virtual_key", "device", "powered", "client", "pin_client", "u2f", "manual_key")


@pytest.fixture
def key_factory(firmware_key_factory):
    return firmware_key_factory


@pytest.fixture(autouse=True)
def u2f_clients_poll(monkeypatch):
    """U2F scenarios speak through a client that polls until the touch, as real U2F clients do."""
    monkeypatch.setattr(test_e2e_u2f, "Ctap1", PollingCtap1)


@pytest.fixture
def u2f(device):
    return PollingCtap1(device)


for _module, _skip in _VIRTUAL_KEY_ONLY.items():
    adopt_tests(globals(), _module, _skip, _ON_THE_KEY)
