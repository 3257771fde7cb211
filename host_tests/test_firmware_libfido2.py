"""libfido2 (the second real client) against the real firmware on the emulated Pico.

The scenarios of test_libfido2.py, test_libfido2_pin.py,
test_libfido2_extensions.py, test_libfido2_ssh.py and test_libfido2_u2f.py run unchanged on a
FirmwareKey (host_tests/firmware_key.py): libfido2's own CTAPHID, CBOR,
CTAP2 and U2F code, plugged into the emulated key's socket with
fido_dev_set_io_functions. libfido2's U2F code polls on 6985 as browsers do,
and the emulator presses BOOTSEL when the key asks.
"""

import pytest

import test_libfido2
import test_libfido2_extensions
import test_libfido2_pin
import test_libfido2_ssh
import test_libfido2_u2f
from firmware_key import firmware_key_factory, firmware_template  # noqa: F401 (pytest fixtures)
from libfido2 import dev  # noqa: F401 (pytest fixture)
from mpy_key import adopt_tests

_INSIDE = "looks inside the authenticator (its store), which a USB key does not show"

_SECRET = "computes the expected output from the key's master secret, which never leaves a board"

_VIRTUAL_KEY_ONLY = {
    test_libfido2: {
        "test_cbor_info_agrees_with_the_key_and_python_fido2": _INSIDE,
        "test_make_credential_es256_attestation_verifies": _INSIDE,
        "test_registering_the_same_user_again_replaces_the_passkey": _INSIDE,
        "test_exclude_list_match_refuses_the_credential_and_stores_nothing": _INSIDE,
        "test_reset_within_the_boot_window_erases_the_credentials": _INSIDE,
        "test_reset_refused_after_the_boot_window": "shortens the reset window through the board's CONFIG",
    },
    test_libfido2_pin: {
        "test_change_pin_and_wrong_pins": _INSIDE,
        "test_reset_with_long_touch_for_reset": "turns longTouchForReset on through the board's CONFIG, which "
                                                "a board takes from provisioning (provision.py --long-touch-for-reset)",
        "test_config_always_uv_and_a_longer_min_pin_force_a_pin_change": _INSIDE,
    },
    test_libfido2_extensions: {
        "test_hmac_secret_without_and_with_uv": _SECRET,
    },
    test_libfido2_ssh: {},
    test_libfido2_u2f: {
        "test_libfido2_u2f_with_keepalives": "slows down the CPython core's key generation (monkeypatch)",
    },
}

_ON_THE_KEY = ("key_factory", "virtual_key", "device", "dev")


@pytest.fixture
def key_factory(firmware_key_factory):
    return firmware_key_factory


@pytest.fixture
def virtual_key(key_factory):
    return key_factory()


@pytest.fixture
def device(virtual_key):
    d = virtual_key.open_device(timeout=60)
    try:
        yield d
    finally:
        d.close()


for _module, _skip in _VIRTUAL_KEY_ONLY.items():
    adopt_tests(globals(), _module, _skip, _ON_THE_KEY)
