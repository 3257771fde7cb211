"""firmware/ctap2/make_credential.py: CTAP 2.1 §6.1, every parameter and path."""

import hashlib

import cbor2
import pytest
from fido2.ctap import CtapError

from boards.host.board import FakeClock
from ctap2_helpers import (
    CDH,
    GA,
    MC,
    RP_ID_HASH,
    call,
    cose_to_public_key,
    ga_request,
    make_auth,
    make_credential,
    mc_request,
    parse_auth_data,
    status,
    verify_signature,
)
from firmware import store as st
from firmware.authenticator import AAGUID
from firmware.ctap2 import params

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


@pytest.mark.parametrize("n", [0, 1, 31, 33, 100])
def test_client_data_hash_of_another_length_is_invalid_length(auth, n):
    """A SHA-256 is 32 bytes: CTAP1_ERR_INVALID_LENGTH ("invalid item length", CTAP 2.1 §8.2),
    before any touch and before anything is made or signed -- also with the zero-length
    pinUvAuthParam probe, which would otherwise ask for a touch."""
    counter = make_credential(auth)[2]["counter"]
    touches = auth.board.presence.requests
    assert status(auth, MC, mc_request(rk=True) | {1: bytes(n)}) == ERR.INVALID_LENGTH
    assert status(auth, MC, mc_request() | {1: bytes(n), 8: b""}) == ERR.INVALID_LENGTH
    assert auth.board.presence.requests == touches
    assert auth.store.rk_count() == 0
    assert make_credential(auth)[2]["counter"] == counter + 1  # no signature in between


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


# -- long RP IDs: CTAP 2.1 §6.8.7 -------------------------------------------------------------
#
# RP IDs are unbounded; a record is not (store.RK_MAX_RECORD). Rather than refusing
# a passkey whose record would not fit -- after or before a touch -- the record keeps
# the RP ID truncated as §6.8.7 allows (it is only shown by credential management);
# the credential stays bound to the full rpIdHash.

LONG_RP_ID = "a" * 990 + ".example"  # 998 bytes


def _record_of(auth, rp_id):
    (slot,) = auth.store.rk_slots(hashlib.sha256(rp_id.encode()).digest())
    return slot, auth.store.rk_load(slot)


@pytest.mark.parametrize(
    "rp_id, stored",
    [
        ("example.com", "example.com"),
        ("a" * 253, "a" * 253),  # every domain name is kept whole
        ("a" * 254, "\u2026" + "a" * 250),
        ("ssh:" + "x" * 300 + ".example.com", "ssh:\u2026" + ("x" * 300 + ".example.com")[-246:]),
        ("p" * 300 + ":rest", "p" * 253),  # a protocol longer than the limit: its first bytes
        ("p" * 251 + ":" + "x" * 10, "p" * 251 + ":"),  # no room left for the ellipsis
        ("\u20ac" * 100, "\u2026" + "\u20ac" * 83),  # a 3-byte character is not split
        ("\U0001f600" * 70 + ":x", "\U0001f600" * 63),  # nor a 4-byte one in the protocol
    ],
    ids=["short", "253", "254", "protocol", "long-protocol", "no-room", "3-byte", "4-byte"],
)
def test_rp_id_truncation(rp_id, stored):
    out = params.truncate_rp_id(rp_id, 253)
    assert out == stored and len(out.encode()) <= 253


def test_a_passkey_for_a_long_rp_id_is_made_with_one_touch(auth):
    code, resp = call(auth, MC, mc_request(user_id=b"u1", rk=True) | {2: {"id": LONG_RP_ID}})
    assert code == 0 and auth.board.presence.requests == 1
    long_hash = hashlib.sha256(LONG_RP_ID.encode()).digest()
    assert parse_auth_data(resp[2])["rp_id_hash"] == long_hash
    _, rec = _record_of(auth, LONG_RP_ID)
    assert rec[st.RK_RP_ID] == "\u2026" + LONG_RP_ID[-250:] and rec[st.RK_RP_ID_HASH] == long_hash
    # Found by the full RP ID; another RP ID with the same truncated form is another RP.
    code, resp = call(auth, GA, ga_request() | {1: LONG_RP_ID})
    assert code == 0 and resp[4] == {"id": b"u1"}
    assert status(auth, GA, ga_request() | {1: "b" + LONG_RP_ID[1:]}) == ERR.NO_CREDENTIALS


def test_a_non_discoverable_credential_for_a_long_rp_id_needs_no_record(auth):
    code, resp = call(auth, MC, mc_request() | {2: {"id": LONG_RP_ID * 5}})
    assert code == 0 and auth.store.rk_count() == 0
    cred_id = parse_auth_data(resp[2])["credential_id"]
    assert status(auth, GA, ga_request([cred_id]) | {1: LONG_RP_ID * 5}) == 0
    assert status(auth, GA, ga_request([cred_id]) | {1: LONG_RP_ID * 4}) == ERR.NO_CREDENTIALS


def test_the_largest_record_fits_the_store(auth):
    """Every field at its largest: the record a long RP ID can no longer push past RK_MAX_RECORD."""
    big = "\U0001f600" * 100  # 400 bytes; names are kept to 64
    req = mc_request(user_id=bytes(64), rk=True) | {
        2: {"id": "\u20ac" * 1000, "name": big},
        3: {"id": bytes(64), "name": big, "displayName": big},
        6: {"credBlob": bytes(32), "largeBlobKey": True, "credProtect": 3},
    }
    code, resp = call(auth, MC, req)
    assert code == 0 and resp[5] and parse_auth_data(resp[2])["extensions"]["credBlob"] is True
    slot, rec = _record_of(auth, "\u20ac" * 1000)
    assert len(rec[st.RK_CRED_BLOB]) == 32 and rec[st.RK_CRED_PROTECT] == 3
    size = len(auth.board.storage.files[st.Store._rk_name(slot)])
    # The creation number in it may grow from 1 to 9 bytes of CBOR over the key's life.
    assert size + 8 <= st.RK_MAX_RECORD, size


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


# -- credential algorithms: ES256, EdDSA, and RFC 9864's ESP256 and Ed25519 -------------------

from ctap2_helpers import ALL_ALGS, ED25519, EDDSA, ES256, ESP256, cose_key, offered_algorithms, params_for  # noqa: E402


@pytest.mark.parametrize("rk", [False, True], ids=["non-resident", "resident"])
@pytest.mark.parametrize("alg", ALL_ALGS)
def test_each_offered_algorithm_makes_its_own_credential(auth, alg, rk):
    """A credential of the algorithm asked for: its COSE_Key, its self
    attestation's alg and signature, its resident record all say that one
    (-9 stays -9 and -19 stays -19, RFC 9864). Where the firmware has no
    ed25519 module (MicroPython on WebAssembly) EdDSA and Ed25519 are not
    offered and the request fails as CTAP 2.1 §6.1.2 step 3 says."""
    offered = offered_algorithms(auth)
    code, resp = call(auth, MC, mc_request(rk=rk) | {4: params_for(alg)})
    if alg not in offered:
        assert code == ERR.UNSUPPORTED_ALGORITHM and auth.board.presence.requests == 0
        return
    assert code == 0
    ad = parse_auth_data(resp[2])
    cose = ad["public_key"]
    assert cose[3] == alg
    if alg in (EDDSA, ED25519):
        assert set(cose) == {1, 3, -1, -2} and cose[1] == 1 and cose[-1] == 6 and len(cose[-2]) == 32  # OKP Ed25519
    else:
        assert set(cose) == {1, 3, -1, -2, -3} and cose[1] == 2 and cose[-1] == 1  # EC2 P-256
    assert resp[3]["alg"] == alg
    cose_key(cose).verify(resp[2] + CDH, resp[3]["sig"])
    if rk:
        rec = _record_of(auth, "example.com")[1]
        # absent for ES256: every record made before algorithms were recorded is one
        assert rec.get(st.RK_ALG) == (None if alg == ES256 else alg)
    # and it signs assertions with the same key and algorithm
    code, ga = call(auth, GA, ga_request([ad["credential_id"]]))
    assert code == 0
    cose_key(cose).verify(ga[2] + CDH, ga[3])


@pytest.mark.parametrize(
    "preference",
    [
        (EDDSA, ES256),  # what python-fido2's Fido2Server and ssh-keygen -t ed25519-sk prefer
        (ED25519, EDDSA, ESP256, ES256),
        (ESP256, ES256),
        (-257, -35, ED25519, ES256),  # RS256 and ES384 are passed over
        (ES256, EDDSA),
    ],
)
def test_the_first_offered_algorithm_of_the_request_wins(auth, preference):
    offered = offered_algorithms(auth)
    want = next(a for a in preference if a in offered)
    code, resp = call(auth, MC, mc_request() | {4: params_for(*preference)})
    assert code == 0
    assert parse_auth_data(resp[2])["public_key"][3] == want == resp[3]["alg"]


@pytest.mark.parametrize(
    "params,code",
    [
        # every element is checked, also after the one chosen (§6.1.2 step 3)
        ([{"alg": EDDSA, "type": "public-key"}, {"alg": ES256}], ERR.INVALID_CBOR),
        ([{"alg": ED25519, "type": "public-key"}, {"type": "public-key"}], ERR.INVALID_CBOR),
        ([{"alg": ESP256}], ERR.INVALID_CBOR),
        ([{"alg": ED25519, "type": "public-key"}, {"alg": "Ed25519", "type": "public-key"}], ERR.CBOR_UNEXPECTED_TYPE),
        ([{"alg": ESP256, "type": b"public-key"}], ERR.CBOR_UNEXPECTED_TYPE),
        ([{"alg": EDDSA, "type": "public-key"}, "public-key"], ERR.CBOR_UNEXPECTED_TYPE),
        # an unknown type is passed over, whatever its alg
        ([{"alg": EDDSA, "type": "secret-key"}, {"alg": ED25519, "type": "x"}, {"alg": ESP256, "type": "pk"}],
         ERR.UNSUPPORTED_ALGORITHM),
        ([{"alg": -18, "type": "public-key"}, {"alg": -10, "type": "public-key"}, {"alg": 8, "type": "public-key"},
          {"alg": 19, "type": "public-key"}], ERR.UNSUPPORTED_ALGORITHM),
    ],
)
def test_malformed_pub_key_cred_params_with_the_new_algorithms(auth, params, code):
    assert status(auth, MC, mc_request(rk=True) | {4: params}) == code
    assert auth.board.presence.requests == 0 and auth.store.rk_count() == 0


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_attestation_none_keeps_the_credential_algorithm(auth, alg):
    if alg not in offered_algorithms(auth):
        return  # the test above covers a refused algorithm
    code, resp = call(auth, MC, mc_request() | {4: params_for(alg), 11: ["none"]})
    assert code == 0 and resp[1] == "none" and resp[3] == {}
    assert parse_auth_data(resp[2])["public_key"][3] == alg


def test_the_largest_record_fits_with_any_algorithm(auth):
    big = "\U0001f600" * 100
    for i, alg in enumerate(offered_algorithms(auth)):
        rp_id = "\u20ac" * 1000 + str(i)
        req = mc_request(user_id=bytes(64), rk=True) | {
            2: {"id": rp_id, "name": big},
            3: {"id": bytes(64), "name": big, "displayName": big},
            4: params_for(alg),
            6: {"credBlob": bytes(32), "largeBlobKey": True, "credProtect": 3},
        }
        assert status(auth, MC, req) == 0
        slot, rec = _record_of(auth, rp_id)
        assert rec.get(st.RK_ALG, ES256) == alg
        assert len(auth.board.storage.files[st.Store._rk_name(slot)]) + 8 <= st.RK_MAX_RECORD


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_batch_attestation_stays_p256_whatever_the_credential(alg):
    """With a provisioned batch attestation the statement is signed by its
    P-256 key and says ES256 (-7), whatever the credential's algorithm;
    python-fido2 verifies it against the certificate (PackedAttestation, x5c)."""
    from boards.host.memory_storage import MemoryStorage
    from fido2.attestation import PackedAttestation
    from fido2.webauthn import AuthenticatorData

    import make_attestation  # tools/

    _, _, dev_cert, dev_key = make_attestation.make()
    storage = MemoryStorage()
    make_attestation.install(storage, dev_key, dev_cert)
    auth = make_auth(storage=storage)
    code, resp = call(auth, MC, mc_request() | {4: params_for(alg)})
    assert code == 0
    att_stmt = resp[3]
    assert att_stmt["alg"] == ES256 and len(att_stmt["x5c"]) >= 1
    assert parse_auth_data(resp[2])["public_key"][3] == alg
    PackedAttestation().verify(att_stmt, AuthenticatorData(resp[2]), CDH)
