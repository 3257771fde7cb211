"""The CTAP2 handler tests, run over CTAPHID against the core on real MicroPython.

Every test of the handler modules below that drives the key through
ctap2_helpers.call(auth, ...) (the router, CBOR in and out) runs here too,
with `auth` a mpy_key.HidAuthenticator: each request travels as a
CTAPHID_CBOR message to the unchanged core on MicroPython (WebAssembly), so
every malformed input gets its exact status code from the interpreter a
board runs -- where bytes.decode(), exceptions and integers differ from
CPython's. Reads of the key's state (auth.store..., auth.board.storage.files,
presence requests) go through mpy_key.RemoteObject.

The tests left on CPython only, and why, are listed in _CPYTHON_ONLY; the
real-time and power-cycle versions of several of them run on MicroPython in
test_e2e_micropython_hid.py and test_e2e_micropython.py.
"""

import pytest

import make_attestation  # tools/
import test_authenticator
import test_client_pin
import test_config
import test_credential_management
import test_extensions
import test_get_assertion
import test_large_blobs
import test_make_credential
import test_pin_uv
import test_reset_selection
from boards.host.memory_storage import MemoryStorage
from mpy_key import HidAuthenticator, adopt_tests
from pinhelpers import pinned, plat, protocol  # noqa: F401 (pytest fixtures)
from test_credential_management import populated  # noqa: F401

_REPLACES_CODE = "replaces code or state inside the CPython process (monkeypatch or attribute assignment)"
_COUNTS_READS = "counts the key's storage reads (and damages a record) by replacing them in the CPython process"
_POWER_CYCLE = (
    "power-cycles through pinhelpers.power_cycle / make_auth (a CPython Authenticator on the same "
    "storage); test_e2e_pin's power cycles run on MicroPython with a new process each")

_CPYTHON_ONLY = {
    test_authenticator: {
        "test_empty_message_is_invalid_length": (
            "over CTAPHID an empty message never reaches the router: CTAPHID answers ERR_INVALID_LEN "
            "itself (test_ctaphid.py, run on MicroPython by test_e2e_micropython_hid.py)"),
        "test_ctap_error_from_a_handler_is_its_status_byte": _REPLACES_CODE,
        "test_handler_gets_the_decoded_map": _REPLACES_CODE,
        "test_none_is_an_empty_success": _REPLACES_CODE,
        "test_response_larger_than_max_msg_size_is_err_other": _REPLACES_CODE,
        "test_unexpected_exception_is_logged_and_err_other": _REPLACES_CODE,
    },
    test_client_pin: {
        "test_supported_permissions_follow_get_info": _REPLACES_CODE,
        "test_retries_are_persisted_before_the_pin_is_compared": _REPLACES_CODE,
        "test_power_cut_right_after_the_decrement_keeps_it": _REPLACES_CODE,
        "test_eight_wrong_pins_block_the_pin_for_good": _POWER_CYCLE,
        "test_key_agreement_regenerates_on_power_up_and_reset": _POWER_CYCLE,
        "test_set_pin_persists_across_power_up": _POWER_CYCLE,
        "test_three_mismatches_block_until_power_cycle": _POWER_CYCLE,
        "test_persistent_token_survives_a_power_cycle": _POWER_CYCLE,
    },
    test_config: {
        "test_always_uv_persists_and_reset_clears_it": _POWER_CYCLE,
    },
    test_credential_management: {
        # test_e2e_extensions' credential-management scenario covers it on MicroPython.
        "test_enumerate_credentials_reports_cred_protect": "makes the credential with the CPython core's crypto",
        # The heap it is about: test_heap_micropython's flat rows, on MicroPython.
        "test_enumeration_reads_one_record_per_answer": _COUNTS_READS,
        "test_delete_and_update_read_the_record_they_name_alone": _COUNTS_READS,
        "test_persistent_token_survives_a_power_cycle": _POWER_CYCLE,
    },
    test_extensions: {
        "test_hmac_secret_is_advertised_only_with_a_pin_uv_auth_protocol": _REPLACES_CODE,
    },
    test_get_assertion: {
        # The host board's fake clock lets 30 s pass at once; here it would be 30 s.
        "test_refused_touch_and_timeout": "waits out the 30 s user-presence timeout",
        # The heap it is about: test_heap_micropython's flat rows, on MicroPython.
        "test_each_answer_reads_only_the_record_it_returns": _COUNTS_READS,
        "test_a_record_damaged_since_boot_is_passed_over": _COUNTS_READS,
        "test_a_passkey_in_the_allow_list_is_found_reading_its_record_alone": _COUNTS_READS,
    },
    test_large_blobs: {
        "test_the_array_survives_a_restart": _POWER_CYCLE,
    },
    test_make_credential: {},
    test_pin_uv: {},
    test_reset_selection: {},
}




@pytest.fixture
def auth(mpy_key):
    return HidAuthenticator(mpy_key)


@pytest.fixture
def ea(mpy_key_factory):
    """test_config's enterprise-attestation key, booted on MicroPython from the provisioned records."""
    ca_cert, ca_key, _, _ = make_attestation.make()
    cert, key = make_attestation.make_enterprise(ca_cert, ca_key, "SN-42")
    storage = MemoryStorage()
    make_attestation.install_enterprise(storage, key, cert, ["corp.example"])
    return HidAuthenticator(mpy_key_factory(storage=storage)), cert


# Tests that take one of these fixtures talk to the key on MicroPython.
_ON_THE_KEY = ("auth", "plat", "pinned", "populated", "ea")

for _module, _skip in _CPYTHON_ONLY.items():
    adopt_tests(globals(), _module, _skip, _ON_THE_KEY)
