"""firmware/ctap2/make_credential.py: CTAP 2.1 §6.1, every parameter and path."""

import cbor2
import pytest
from fido2.ctap import CtapError

from boards.host.board import FakeClock
from ctap2_helpers import (
    CDH,
    MC,
    RP_ID_HASH,
    call,
    cose_to_public_key,
    make_auth,
    make_credential,
    mc_request,
    parse_auth_data,
    status,
    verify_signature,
)
from firmware import store as st
from firmware.authenticator import AAGUID

ERR = CtapError.ERR


@pytest.fixture
def auth():
    return make_auth()


def test_registers_a_credential_with_self_attestation(auth):
    code, resp = call(auth, MC, mc_request())
    assert code == 0 and set(resp) == {1, 2, 3}
    assert resp[1] == "packed"
    ad = parse_auth_data(resp[2])
    assert ad["rp_id_hash"] == RP_ID_HASH
    assert ad["flags"] == 0x41  # UP | AT; no UV, no BE/BS
    assert ad["aaguid"] == AAGUID
    assert 81 <= len(ad["credential_id"]) <= 113
    assert ad["counter"] >= 1
    key = cose_to_public_key(ad["public_key"])
    assert set(resp[3]) == {"alg", "sig"} and resp[3]["alg"] == -7
    verify_signature(key, resp[3]["sig"], resp[2] + CDH)
    assert auth.board.presence.requests == 1


def test_each_credential_is_new(auth):
    ids = {make_credential(auth)[0] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("key", [1, 2, 3, 4])
def test_missing_required_parameter(auth, key):
    req = mc_request()
    del req[key]
    assert status(auth, MC, req) == ERR.MISSING_PARAMETER
    assert auth.board.presence.requests == 0


@pytest.mark.parametrize(
    "key,value",
    [
        (1, "not bytes"),
        (2, "example.com"),
        (3, b"user"),
        (4, {"alg": -7}),
        (5, {"id": b"x"}),
        (6, ["credProtect"]),
        (7, [True]),
        (8, "pin"),
        (9, -1),
        (9, "2"),
        (10, True),
        (11, "none"),
    ],
)
def test_wrong_type_is_cbor_unexpected_type(auth, key, value):
    assert status(auth, MC, mc_request() | {key: value}) == ERR.CBOR_UNEXPECTED_TYPE


@pytest.mark.parametrize(
    "field,value,code",
    [
        ("rp", {"name": "x"}, ERR.MISSING_PARAMETER),
        ("rp", {"id": 7}, ERR.CBOR_UNEXPECTED_TYPE),
        ("rp", {"id": "example.com", "name": b"x"}, ERR.CBOR_UNEXPECTED_TYPE),
        ("user", {"name": "x"}, ERR.MISSING_PARAMETER),
        ("user", {"id": "text"}, ERR.CBOR_UNEXPECTED_TYPE),
        ("user", {"id": b"u", "name": 1}, ERR.CBOR_UNEXPECTED_TYPE),
        ("user", {"id": b"u", "displayName": b"x"}, ERR.CBOR_UNEXPECTED_TYPE),
        ("user", {"id": bytes(65)}, ERR.INVALID_PARAMETER),
    ],
)
def test_rp_and_user_entities(auth, field, value, code):
    req = mc_request()
    req[2 if field == "rp" else 3] = value
    assert status(auth, MC, req) == code


def test_user_id_of_64_bytes_is_fine(auth):
    assert status(auth, MC, mc_request(user_id=bytes(64))) == 0


@pytest.mark.parametrize(
    "params,code",
    [
        ([], ERR.UNSUPPORTED_ALGORITHM),
        ([{"alg": -257, "type": "public-key"}], ERR.UNSUPPORTED_ALGORITHM),
        ([{"alg": -7, "type": "password"}], ERR.UNSUPPORTED_ALGORITHM),
        ([{"alg": -8, "type": "public-key"}, {"alg": -7, "type": "public-key"}], 0),
        ([{"alg": -7, "type": "public-key"}, {"alg": -7}], ERR.INVALID_CBOR),
        ([{"type": "public-key"}], ERR.INVALID_CBOR),
        ([{"alg": "ES256", "type": "public-key"}], ERR.CBOR_UNEXPECTED_TYPE),
        ([{"alg": -7, "type": 1}], ERR.CBOR_UNEXPECTED_TYPE),
        (["public-key"], ERR.CBOR_UNEXPECTED_TYPE),
    ],
)
def test_pub_key_cred_params(auth, params, code):
    assert status(auth, MC, mc_request() | {4: params}) == code


@pytest.mark.parametrize(
    "options,code",
    [
        ({"up": False}, ERR.INVALID_OPTION),
        ({"uv": True}, ERR.INVALID_OPTION),  # no built-in user verification
        ({"up": True, "uv": False, "rk": False}, 0),
        ({"somethingNew": True}, 0),  # unknown options are ignored
        ({"rk": 1}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: True}, ERR.CBOR_UNEXPECTED_TYPE),
    ],
)
def test_options(auth, options, code):
    assert status(auth, MC, mc_request() | {7: options}) == code


def test_unknown_extensions_are_ignored(auth):
    code, resp = call(auth, MC, mc_request() | {6: {"futureExtension": {"x": 1}}})
    assert code == 0
    assert not parse_auth_data(resp[2])["flags"] & 0x80


def test_pin_uv_auth_param_without_protocol(auth):
    assert status(auth, MC, mc_request() | {8: bytes(16)}) == ERR.MISSING_PARAMETER


@pytest.mark.parametrize("protocol", [0, 3, 99])
def test_unsupported_pin_uv_auth_protocol(auth, protocol):
    assert status(auth, MC, mc_request() | {8: bytes(16), 9: protocol}) == ERR.INVALID_PARAMETER


def test_discoverable_credential_is_stored_with_its_user(auth):
    req = mc_request(user_id=b"u1", rk=True)
    req[3]["name"] = "a" * 60 + "\u00e9\u00e9\u00e9"  # 66 bytes of UTF-8
    cred_id, _, ad = make_credential(auth, user_id=b"u0", rk=True)
    code, _ = call(auth, MC, req)
    assert code == 0
    store = auth.store
    assert store.rk_count() == 2
    records = [store.rk_load(s) for s in store.rk_slots(RP_ID_HASH)]
    assert records[1][st.RK_CREDENTIAL_ID] == cred_id
    assert records[0][st.RK_USER_ID] == b"u1"
    name = records[0][st.RK_USER_NAME]
    assert name == "a" * 60 + "\u00e9\u00e9" and len(name.encode()) <= 64
    assert records[0][st.RK_USER_DISPLAY_NAME] == "Alice"
    assert records[0][st.RK_RP_ID] == "example.com"


def test_non_resident_credentials_use_no_storage(auth):
    before = dict(auth.board.storage.files)
    make_credential(auth)
    files = auth.board.storage.files
    changed = {k for k in files if files[k] != before.get(k)}
    # The counter only: its two copies, and (the first signature after boot)
    # the counter limit the state keeps -- nothing else in the state.
    assert changed <= {st.REC_COUNTER, st.REC_STATE}

    def state(blob):
        return {k: v for k, v in st.decode_twin(blob)[0].items() if k != st.STATE_COUNTER_LIMIT}

    assert state(files[st.REC_STATE]) == state(before[st.REC_STATE])


def test_store_full_is_key_store_full_and_nothing_is_lost():
    auth = make_auth(config={"max_resident_credentials": 2})
    make_credential(auth, user_id=b"a", rk=True)
    make_credential(auth, user_id=b"b", rk=True)
    touches = auth.board.presence.requests
    assert status(auth, MC, mc_request(user_id=b"c", rk=True)) == ERR.KEY_STORE_FULL
    assert auth.board.presence.requests == touches  # refused before asking for a touch
    assert auth.store.rk_count() == 2
    # replacing an existing user's credential needs no new slot
    assert status(auth, MC, mc_request(user_id=b"a", rk=True)) == 0
    # and non-resident credentials still work
    assert status(auth, MC, mc_request(user_id=b"c")) == 0
    assert auth.store.rk_remaining() == 0


def test_exclude_list_match_waits_for_touch_then_excludes(auth):
    cred_id, _, _ = make_credential(auth)
    req = mc_request() | {5: [{"id": b"junk", "type": "public-key"}, {"id": cred_id, "type": "public-key"}]}
    touches = auth.board.presence.requests
    assert status(auth, MC, req) == ERR.CREDENTIAL_EXCLUDED
    assert auth.board.presence.requests == touches + 1


def test_exclude_list_match_is_excluded_even_if_the_touch_is_refused(auth):
    cred_id, _, _ = make_credential(auth)
    auth.board.presence.mode = "deny"
    assert status(auth, MC, mc_request() | {5: [{"id": cred_id, "type": "public-key"}]}) == ERR.CREDENTIAL_EXCLUDED


def test_exclude_list_for_another_rp_or_type_does_not_match(auth):
    cred_id, _, _ = make_credential(auth)
    other = mc_request() | {2: {"id": "other.example"}, 5: [{"id": cred_id, "type": "public-key"}]}
    assert status(auth, MC, other) == 0
    wrong_type = mc_request() | {5: [{"id": cred_id, "type": "future-type"}]}
    assert status(auth, MC, wrong_type) == 0


@pytest.mark.parametrize(
    "entry,code",
    [
        ({"type": "public-key"}, ERR.MISSING_PARAMETER),
        ({"id": b"x"}, ERR.MISSING_PARAMETER),
        ({"id": "x", "type": "public-key"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({"id": b"x", "type": "public-key", "transports": "usb"}, ERR.CBOR_UNEXPECTED_TYPE),
        (b"id", ERR.CBOR_UNEXPECTED_TYPE),
    ],
)
def test_malformed_exclude_list_entries(auth, entry, code):
    assert status(auth, MC, mc_request() | {5: [entry]}) == code


def test_refused_touch_is_operation_denied():
    auth = make_auth(presence="deny")
    assert status(auth, MC, mc_request(rk=True)) == ERR.OPERATION_DENIED
    assert auth.store.rk_count() == 0


def test_no_touch_times_out():
    clock = FakeClock()
    auth = make_auth(presence="manual", clock=clock)
    t0 = clock.now
    assert status(auth, MC, mc_request(rk=True)) == ERR.USER_ACTION_TIMEOUT
    assert 30000 <= clock.now - t0 < 31000
    assert auth.store.rk_count() == 0


@pytest.mark.parametrize(
    "preference,fmt",
    [(["none"], "none"), (["tpm", "packed"], "packed"), (["unknown"], "packed"), ([], "packed")],
)
def test_attestation_formats_preference(auth, preference, fmt):
    code, resp = call(auth, MC, mc_request() | {11: preference})
    assert code == 0 and resp[1] == fmt
    if fmt == "none":
        assert resp[3] == {}


def test_signature_counter_increases(auth):
    counters = [make_credential(auth)[2]["counter"] for _ in range(3)]
    assert counters == sorted(set(counters))


def test_response_is_ctap2_canonical_cbor(auth):
    from fido2 import cbor as fido2_cbor

    raw = auth.process_cbor(bytes([MC]) + fido2_cbor.encode(mc_request()))
    assert raw[0] == 0 and fido2_cbor.encode(fido2_cbor.decode(raw[1:])) == raw[1:]


def test_non_canonical_request_is_invalid_cbor(auth):
    req = mc_request()
    unsorted = {4: req[4], 1: req[1], 2: req[2], 3: req[3]}
    assert auth.process_cbor(bytes([MC]) + cbor2.dumps(unsorted))[0] == ERR.INVALID_CBOR
