"""firmware/ctap2/get_assertion.py: CTAP 2.1 §6.2 getAssertion and §6.3 getNextAssertion."""

import pytest
from fido2.ctap import CtapError

from boards.host.board import FakeClock
from ctap2_helpers import (
    rk_reads,
    CDH,
    GA,
    GET_INFO,
    GNA,
    MC,
    RP_ID_HASH,
    call,
    ga_request,
    make_auth,
    make_credential,
    mc_request,
    parse_auth_data,
    status,
    verify_signature,
)

ERR = CtapError.ERR


@pytest.fixture
def auth():
    return make_auth(clock=FakeClock())


def test_assertion_with_allow_list(auth):
    cred_id, key, reg = make_credential(auth)
    code, resp = call(auth, GA, ga_request([cred_id]))
    assert code == 0 and set(resp) == {1, 2, 3}
    assert resp[1] == {"id": cred_id, "type": "public-key"}
    ad = parse_auth_data(resp[2])
    assert ad["rp_id_hash"] == RP_ID_HASH and ad["flags"] == 0x01 and ad["counter"] > reg["counter"]
    verify_signature(key, resp[3], resp[2] + CDH)


def test_first_good_credential_in_the_allow_list_is_used(auth):
    cred_id, key, _ = make_credential(auth)
    junk = [b"", b"x" * 81, cred_id[:-1], cred_id + b"\0", bytes(len(cred_id))]
    code, resp = call(auth, GA, ga_request(junk + [cred_id]))
    assert code == 0 and resp[1]["id"] == cred_id and 5 not in resp


def test_no_matching_credential_is_no_credentials_without_a_touch(auth):
    cred_id, _, _ = make_credential(auth)
    touches = auth.board.presence.requests
    assert status(auth, GA, ga_request([b"\x01" * 90])) == ERR.NO_CREDENTIALS
    assert status(auth, GA, ga_request([cred_id]) | {1: "other.example"}) == ERR.NO_CREDENTIALS
    assert status(auth, GA, ga_request()) == ERR.NO_CREDENTIALS  # nothing discoverable
    assert auth.board.presence.requests == touches


def test_every_altered_credential_id_is_not_found(auth):
    cred_id, _, _ = make_credential(auth)
    for i in range(len(cred_id)):
        altered = bytearray(cred_id)
        altered[i] ^= 0x01
        assert status(auth, GA, ga_request([bytes(altered)])) == ERR.NO_CREDENTIALS, i


def test_empty_allow_list_means_discoverable_credentials(auth):
    make_credential(auth)  # non-resident: not discoverable
    assert status(auth, GA, ga_request([])) == ERR.NO_CREDENTIALS
    cred_id, _, _ = make_credential(auth, rk=True)
    code, resp = call(auth, GA, ga_request([]))
    assert code == 0 and resp[1]["id"] == cred_id and resp[4] == {"id": b"user-1"} and resp[5] == 1


def test_discoverable_credential_via_allow_list_returns_its_user(auth):
    cred_id, _, _ = make_credential(auth, rk=True)
    code, resp = call(auth, GA, ga_request([cred_id]))
    assert code == 0 and resp[4] == {"id": b"user-1"} and 5 not in resp


def test_deleted_discoverable_credential_is_gone_even_by_id(auth):
    cred_id, _, _ = make_credential(auth, rk=True)
    (slot,) = auth.store.rk_slots(RP_ID_HASH)
    auth.store.rk_delete(slot)
    assert status(auth, GA, ga_request([cred_id])) == ERR.NO_CREDENTIALS
    assert status(auth, GA, ga_request()) == ERR.NO_CREDENTIALS


def test_silent_assertion_needs_no_touch(auth):
    cred_id, _, _ = make_credential(auth)
    touches = auth.board.presence.requests
    code, resp = call(auth, GA, ga_request([cred_id]) | {5: {"up": False}})
    assert code == 0 and parse_auth_data(resp[2])["flags"] == 0x00
    assert auth.board.presence.requests == touches


@pytest.mark.parametrize(
    "options,code",
    [
        ({"rk": True}, ERR.UNSUPPORTED_OPTION),
        ({"rk": False}, ERR.UNSUPPORTED_OPTION),
        ({"uv": True}, ERR.INVALID_OPTION),
        ({"up": "yes"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({"unknown": True}, 0),
    ],
)
def test_options(auth, options, code):
    cred_id, _, _ = make_credential(auth)
    assert status(auth, GA, ga_request([cred_id]) | {5: options}) == code


@pytest.mark.parametrize("key", [1, 2])
def test_missing_required_parameter(auth, key):
    req = ga_request()
    del req[key]
    assert status(auth, GA, req) == ERR.MISSING_PARAMETER


@pytest.mark.parametrize(
    "key,value",
    [(1, b"example.com"), (2, "hash"), (3, {"id": b"x"}), (4, [1]), (5, True), (6, 1), (7, "1")],
)
def test_wrong_types(auth, key, value):
    assert status(auth, GA, ga_request() | {key: value}) == ERR.CBOR_UNEXPECTED_TYPE


@pytest.mark.parametrize("n", [0, 1, 31, 33, 100])
def test_client_data_hash_of_another_length_is_invalid_length(auth, n):
    """A SHA-256 is 32 bytes: CTAP1_ERR_INVALID_LENGTH (CTAP 2.1 §8.2), before any touch;
    nothing is signed, with or without presence, with or without an allowList."""
    cred_id, _, reg = make_credential(auth, rk=True)
    touches = auth.board.presence.requests
    for req in (ga_request([cred_id]), ga_request(), ga_request([cred_id]) | {5: {"up": False}}, ga_request() | {6: b""}):
        assert status(auth, GA, req | {2: bytes(n)}) == ERR.INVALID_LENGTH
    assert auth.board.presence.requests == touches
    code, resp = call(auth, GA, ga_request([cred_id]))
    assert code == 0 and parse_auth_data(resp[2])["counter"] == reg["counter"] + 1  # nothing signed before


@pytest.mark.parametrize(
    "entry,code",
    [
        ({"type": "public-key"}, ERR.MISSING_PARAMETER),
        ({"id": b"x"}, ERR.MISSING_PARAMETER),
        ({"id": 5, "type": "public-key"}, ERR.CBOR_UNEXPECTED_TYPE),
        ("public-key", ERR.CBOR_UNEXPECTED_TYPE),
    ],
)
def test_malformed_allow_list_entries(auth, entry, code):
    assert status(auth, GA, ga_request() | {3: [entry]}) == code


def test_pin_uv_auth_param_needs_a_supported_protocol(auth):
    assert status(auth, GA, ga_request() | {6: bytes(16)}) == ERR.MISSING_PARAMETER
    assert status(auth, GA, ga_request() | {6: bytes(16), 7: 9}) == ERR.INVALID_PARAMETER


def test_refused_touch_and_timeout(auth):
    cred_id, _, _ = make_credential(auth)
    auth.board.presence.mode = "deny"
    assert status(auth, GA, ga_request([cred_id])) == ERR.OPERATION_DENIED
    auth.board.presence.mode = "manual"
    assert status(auth, GA, ga_request([cred_id])) == ERR.USER_ACTION_TIMEOUT


# -- getNextAssertion ------------------------------------------------------------


def register_three(auth):
    return [make_credential(auth, user_id=b"u%d" % i, rk=True) for i in range(3)]


def test_next_assertion_walks_newest_first_then_stops(auth):
    creds = register_three(auth)
    code, first = call(auth, GA, ga_request())
    assert code == 0 and first[5] == 3 and first[4]["id"] == b"u2"
    seen = [first]
    for _ in range(2):
        code, resp = call(auth, GNA)
        assert code == 0 and 5 not in resp
        seen.append(resp)
    assert [r[4]["id"] for r in seen] == [b"u2", b"u1", b"u0"]
    counters = [parse_auth_data(r[2])["counter"] for r in seen]
    assert counters == sorted(set(counters))
    by_id = {c[0]: c[1] for c in creds}
    for r in seen:
        verify_signature(by_id[r[1]["id"]], r[3], r[2] + CDH)
        assert parse_auth_data(r[2])["flags"] == 0x01  # the original flags
    assert status(auth, GNA) == ERR.NOT_ALLOWED


def test_next_assertion_without_get_assertion(auth):
    assert status(auth, GNA) == ERR.NOT_ALLOWED
    cred_id, _, _ = make_credential(auth)
    assert status(auth, GA, ga_request([cred_id])) == 0
    assert status(auth, GNA) == ERR.NOT_ALLOWED  # an allowList assertion has no "next"


def test_any_other_command_ends_the_sequence(auth):
    register_three(auth)
    assert status(auth, GA, ga_request()) == 0
    assert status(auth, GET_INFO) == 0
    assert status(auth, GNA) == ERR.NOT_ALLOWED


def test_next_assertion_times_out_after_30_seconds(auth):
    register_three(auth)
    assert status(auth, GA, ga_request()) == 0
    auth.board.clock.advance(29000)
    assert status(auth, GNA) == 0  # resets the timer
    auth.board.clock.advance(30001)
    assert status(auth, GNA) == ERR.NOT_ALLOWED


def test_other_rps_credentials_are_not_walked(auth):
    register_three(auth)
    req = mc_request(user_id=b"elsewhere", rk=True) | {2: {"id": "other.example"}}
    assert status(auth, 0x01, req) == 0
    code, resp = call(auth, GA, ga_request())
    assert resp[5] == 3


# -- many credentials of one RP: one record read per answer (issue 14) -------------------


def test_each_answer_reads_only_the_record_it_returns(auth):
    """Without an allowList the RP's credentials are counted and walked on the
    store's index: getAssertion reads the one record it returns, and each
    getNextAssertion the next -- not every record of the RP, so the heap a
    request takes does not grow with them. Newest first, and credProtect
    still hides levels 2 and 3 (no UV, no list) all the way."""
    levels = [1, 3, 0, 2, 1, 0, 3, 1, 2, 0]
    for i, level in enumerate(levels):
        ext = {6: {"credProtect": level}} if level else {}
        assert status(auth, MC, mc_request(user_id=b"u%d" % i, rk=True) | ext) == 0
    assert status(auth, MC, mc_request(user_id=b"elsewhere", rk=True) | {2: {"id": "other.example"}}) == 0
    visible = [b"u%d" % i for i in reversed(range(len(levels))) if levels[i] <= 1]
    reads = rk_reads(auth)
    code, first = call(auth, GA, ga_request())
    assert code == 0 and first[5] == len(visible) == 6
    assert len(reads) == 1
    seen = [first[4]["id"]]
    for _ in visible[1:]:
        del reads[:]
        code, resp = call(auth, GNA)
        assert code == 0 and 5 not in resp and len(reads) == 1
        seen.append(resp[4]["id"])
    assert seen == visible
    assert status(auth, GNA) == ERR.NOT_ALLOWED


def test_a_record_damaged_since_boot_is_passed_over(auth):
    """The index was built at boot; a record the flash has damaged since
    does not read back, and the walk goes on with the next one -- reading
    no further than that."""
    for i in range(4):
        make_credential(auth, user_id=b"u%d" % i, rk=True)
    slots = auth.store.rk_slots(RP_ID_HASH)  # newest first: u3, u2, u1, u0
    for slot in (slots[0], slots[2]):
        name = "rk%03d" % slot
        blob = bytearray(auth.board.storage.files[name])
        blob[10] ^= 0x04
        auth.board.storage.files[name] = bytes(blob)
    reads = rk_reads(auth)
    code, first = call(auth, GA, ga_request())
    assert code == 0 and first[4]["id"] == b"u2" and len(reads) == 2
    del reads[:]
    code, resp = call(auth, GNA)
    assert code == 0 and resp[4]["id"] == b"u0" and len(reads) == 2
    assert status(auth, GNA) == ERR.NOT_ALLOWED


def test_a_passkey_in_the_allow_list_is_found_reading_its_record_alone(auth):
    """The store's index keeps 24 bits of each credential ID: the passkey an
    allowList names is found reading about one record, not the RP's."""
    ids = [make_credential(auth, user_id=b"u%d" % i, rk=True)[0] for i in range(10)]
    reads = rk_reads(auth)
    for i in (0, 9, 4):  # the oldest, which the RP's newest-first order reaches last
        del reads[:]
        code, resp = call(auth, GA, ga_request([b"\x01" * 90, ids[i]]))
        assert code == 0 and resp[1]["id"] == ids[i] and resp[4] == {"id": b"u%d" % i} and 5 not in resp
        assert len(reads) == 1


# -- credential algorithms -------------------------------------------------------------------

from ctap2_helpers import ALL_ALGS, ED25519, EDDSA, ES256, ESP256, cose_key, offered_algorithms, params_for  # noqa: E402
from firmware import store as st  # noqa: E402


def _register(auth, alg, rk=False, user_id=b"user-1"):
    code, resp = call(auth, MC, mc_request(user_id=user_id, rk=rk) | {4: params_for(alg)})
    assert code == 0
    ad = parse_auth_data(resp[2])
    return ad["credential_id"], ad["public_key"]


@pytest.mark.parametrize("up", [True, False], ids=["touch", "no-touch"])
@pytest.mark.parametrize("alg", ALL_ALGS)
def test_each_algorithm_signs_with_its_own_key(auth, alg, up):
    """Also silently (up false: ssh-keygen -O no-touch-required asks so)."""
    if alg not in offered_algorithms(auth):
        return  # not made here (test_make_credential); nothing to sign with
    cred_id, cose = _register(auth, alg)
    touches = auth.board.presence.requests
    code, resp = call(auth, GA, ga_request([cred_id]) | {5: {"up": up}})
    assert code == 0 and resp[1] == {"id": cred_id, "type": "public-key"}
    assert parse_auth_data(resp[2])["flags"] == (0x01 if up else 0x00)
    assert auth.board.presence.requests == touches + (1 if up else 0)
    if alg in (EDDSA, ED25519):
        assert len(resp[3]) == 64  # RFC 8032 R || S, not DER
    cose_key(cose).verify(resp[2] + CDH, resp[3])


def test_discoverable_credentials_of_every_algorithm_walk_together(auth):
    """getAssertion and getNextAssertion through one RP's passkeys of
    different algorithms: each signs with its own."""
    algs = offered_algorithms(auth)
    keys = {}
    for i, alg in enumerate(algs):
        cred_id, cose = _register(auth, alg, rk=True, user_id=b"user-%d" % i)
        keys[cred_id] = cose
    code, resp = call(auth, GA, ga_request())
    assert code == 0 and resp[5] == len(algs)
    seen = []
    while True:
        cose_key(keys[resp[1]["id"]]).verify(resp[2] + CDH, resp[3])
        seen.append(keys[resp[1]["id"]][3])
        if len(seen) == len(algs):
            break
        code, resp = call(auth, GNA)
        assert code == 0
    assert seen == algs[::-1]  # newest first


def test_a_record_from_before_algorithms_were_recorded_is_es256(auth):
    """A passkey record without RK_ALG -- every one an earlier firmware made,
    and ES256 ones still -- is ES256."""
    cred_id, cose = _register(auth, ES256, rk=True)
    (slot,) = auth.store.rk_slots(RP_ID_HASH)
    assert st.RK_ALG not in auth.store.rk_load(slot)
    for allow in (None, [cred_id]):
        code, resp = call(auth, GA, ga_request(allow))
        assert code == 0 and resp[1]["id"] == cred_id
        cose_key(cose).verify(resp[2] + CDH, resp[3])


@pytest.mark.parametrize("made,recorded", [(ES256, EDDSA), (ES256, ESP256), (ES256, ED25519), (ES256, None),
                                           (EDDSA, "absent"), (ED25519, EDDSA), (ESP256, "absent")])
def test_a_record_whose_algorithm_disagrees_with_its_id_is_not_used(auth, made, recorded):
    if made not in offered_algorithms(auth):
        return
    cred_id, _ = _register(auth, made, rk=True)
    (slot,) = auth.store.rk_slots(RP_ID_HASH)
    rec = dict(auth.store.rk_load(slot))
    if recorded == "absent":
        del rec[st.RK_ALG]
    else:
        rec[st.RK_ALG] = recorded
    auth.store.rk_update(slot, rec)
    assert status(auth, GA, ga_request([cred_id])) == ERR.NO_CREDENTIALS
    assert status(auth, GA, ga_request()) == ERR.NO_CREDENTIALS
