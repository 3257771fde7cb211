"""firmware/ctap2/extensions.py: CTAP 2.1 §12 extensions in makeCredential and getAssertion.

Handler level, through the router: credProtect (incl. enforcement),
credBlob, largeBlobKey, minPinLength, hmac-secret (protocols 1 and 2, one
and two salts) and hmac-secret-mc, every malformed input with the spec's
error, and getInfo advertising exactly these.
"""

import hashlib
import hmac

import pytest
from fido2.ctap import CtapError
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2

from boards.host.board import FakeClock
from ctap2_helpers import (
    GA,
    GET_INFO,
    GNA,
    MC,
    RP_ID,
    call,
    ga_request,
    make_auth,
    mc_request,
    parse_auth_data,
    status,
)
from firmware import store as st
from pinhelpers import PERM_GA, PERM_MC, Platform, with_pin_auth

ERR = CtapError.ERR
PROTOCOLS = [PinProtocolV1, PinProtocolV2]
HOST = {1: PinProtocolV1, 2: PinProtocolV2}
SALT1 = bytes(range(32))
SALT2 = bytes(range(32, 64))


@pytest.fixture
def auth():
    return make_auth(clock=FakeClock())


def register(auth, extensions, rk=False, user_id=b"user-1"):
    """makeCredential with extensions: (credential ID, authData fields, response)."""
    code, resp = call(auth, MC, mc_request(user_id=user_id, rk=rk) | {6: extensions})
    assert code == 0, hex(code)
    ad = parse_auth_data(resp[2])
    return ad["credential_id"], ad, resp


def assert_ok(auth, req):
    code, resp = call(auth, GA, req)
    assert code == 0, hex(code)
    return resp, parse_auth_data(resp[2])


# -- getInfo ------------------------------------------------------------------------------


def test_get_info_lists_exactly_the_implemented_extensions(auth):
    info = call(auth, GET_INFO)[1]
    assert sorted(info[2]) == sorted(
        ["credBlob", "credProtect", "hmac-secret", "hmac-secret-mc", "largeBlobKey", "minPinLength", "pinComplexityPolicy", "thirdPartyPayment"]
    )
    assert info[0x0F] == 32  # maxCredBlobLength
    assert info[4]["largeBlobs"] is True and info[0x0B] >= 1024


def test_hmac_secret_is_advertised_only_with_a_pin_uv_auth_protocol(auth):
    # its keyAgreement can only come from clientPIN getKeyAgreement
    auth.pin_uv_auth_protocols = []
    assert "hmac-secret" not in call(auth, GET_INFO)[1][2]


# -- credProtect ----------------------------------------------------------------------------


@pytest.mark.parametrize("level", [1, 2, 3])
def test_cred_protect_is_echoed_and_kept(auth, level):
    cred_id, ad, _ = register(auth, {"credProtect": level})
    assert ad["extensions"] == {"credProtect": level}
    assert auth.wrapper.unwrap(ad["rp_id_hash"], cred_id).cred_protect == level


@pytest.mark.parametrize(
    "value,code",
    [(0, ERR.INVALID_PARAMETER), (4, ERR.INVALID_PARAMETER), (-1, ERR.CBOR_UNEXPECTED_TYPE),
     ("userVerificationRequired", ERR.CBOR_UNEXPECTED_TYPE), (True, ERR.CBOR_UNEXPECTED_TYPE)],
)
def test_bad_cred_protect(auth, value, code):
    assert status(auth, MC, mc_request() | {6: {"credProtect": value}}) == code
    assert auth.board.presence.requests == 0


def test_cred_protect_enforced_without_uv(auth):
    ids = {}
    for level in (1, 2, 3):
        ids[level] = register(auth, {"credProtect": level}, rk=True, user_id=b"u%d" % level)[0]
    # Without an allowList only level 1 is discoverable (2 needs the list, 3 needs UV).
    resp, _ = assert_ok(auth, ga_request())
    assert resp[1]["id"] == ids[1] and resp.get(5, 1) == 1
    # With an allowList, levels 1 and 2 are usable, 3 is not.
    for level, expected in ((1, 0), (2, 0), (3, ERR.NO_CREDENTIALS)):
        assert status(auth, GA, ga_request([ids[level]])) == expected, level


def test_cred_protect_3_non_discoverable_is_invisible_without_uv(auth):
    cred_id, _, _ = register(auth, {"credProtect": 3})
    assert status(auth, GA, ga_request([cred_id])) == ERR.NO_CREDENTIALS
    # ... and does not block a new registration through the exclude list
    exclude = {5: [{"id": cred_id, "type": "public-key"}]}
    assert status(auth, MC, mc_request() | exclude) == 0


def test_cred_protect_1_in_exclude_list_is_excluded(auth):
    cred_id, _, _ = register(auth, {"credProtect": 1})
    exclude = {5: [{"id": cred_id, "type": "public-key"}]}
    assert status(auth, MC, mc_request() | exclude) == ERR.CREDENTIAL_EXCLUDED


# -- credBlob ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rk", [False, True])
@pytest.mark.parametrize("blob", [b"", b"x", bytes(range(32))])
def test_cred_blob_is_stored_and_returned(auth, rk, blob):
    cred_id, ad, _ = register(auth, {"credBlob": blob}, rk=rk)
    assert ad["extensions"] == {"credBlob": True}
    _, gad = assert_ok(auth, ga_request([cred_id]) | {4: {"credBlob": True}})
    assert gad["extensions"] == {"credBlob": blob}
    if rk:
        _, gad = assert_ok(auth, ga_request() | {4: {"credBlob": True}})
        assert gad["extensions"] == {"credBlob": blob}


@pytest.mark.parametrize("rk", [False, True])
def test_too_long_cred_blob_is_refused_but_the_credential_made(auth, rk):
    cred_id, ad, _ = register(auth, {"credBlob": bytes(33)}, rk=rk)
    assert ad["extensions"] == {"credBlob": False}
    _, gad = assert_ok(auth, ga_request([cred_id]) | {4: {"credBlob": True}})
    assert gad["extensions"] == {"credBlob": b""}


def test_cred_blob_only_when_asked(auth):
    cred_id, _, _ = register(auth, {"credBlob": b"secret"})
    _, gad = assert_ok(auth, ga_request([cred_id]))
    assert "extensions" not in gad
    _, gad = assert_ok(auth, ga_request([cred_id]) | {4: {"credBlob": False}})
    assert "extensions" not in gad and not gad["flags"] & 0x80


def test_credential_without_cred_blob_returns_empty(auth):
    cred_id, _, _ = register(auth, {})
    _, gad = assert_ok(auth, ga_request([cred_id]) | {4: {"credBlob": True}})
    assert gad["extensions"] == {"credBlob": b""}


def test_cred_blob_wrong_types(auth):
    assert status(auth, MC, mc_request() | {6: {"credBlob": "text"}}) == ERR.CBOR_UNEXPECTED_TYPE
    cred_id, _, _ = register(auth, {})
    assert status(auth, GA, ga_request([cred_id]) | {4: {"credBlob": 1}}) == ERR.CBOR_UNEXPECTED_TYPE


# -- largeBlobKey -----------------------------------------------------------------------------------


def test_large_blob_key_made_with_a_discoverable_credential(auth):
    cred_id, ad, resp = register(auth, {"largeBlobKey": True}, rk=True)
    key = resp[5]
    assert isinstance(key, bytes) and len(key) == 32
    assert "extensions" not in ad  # the key is never in authData
    # getAssertion returns it only when asked, by allowList and by discovery
    resp, _ = assert_ok(auth, ga_request([cred_id]))
    assert 7 not in resp
    resp, _ = assert_ok(auth, ga_request([cred_id]) | {4: {"largeBlobKey": True}})
    assert resp[7] == key
    resp, _ = assert_ok(auth, ga_request() | {4: {"largeBlobKey": True}})
    assert resp[7] == key


def test_each_credential_has_its_own_large_blob_key(auth):
    keys = [register(auth, {"largeBlobKey": True}, rk=True, user_id=b"u%d" % i)[2][5] for i in range(2)]
    assert keys[0] != keys[1]
    first, _ = assert_ok(auth, ga_request() | {4: {"largeBlobKey": True}})
    second = call(auth, GNA)[1]
    assert [first[7], second[7]] == keys[::-1]  # newest first


def test_credential_without_a_large_blob_key_returns_none(auth):
    register(auth, {}, rk=True)
    resp, _ = assert_ok(auth, ga_request() | {4: {"largeBlobKey": True}})
    assert 7 not in resp


@pytest.mark.parametrize(
    "ext,rk,code",
    [({"largeBlobKey": True}, False, ERR.INVALID_OPTION),
     ({"largeBlobKey": False}, True, ERR.INVALID_OPTION),
     ({"largeBlobKey": 1}, True, ERR.CBOR_UNEXPECTED_TYPE)],
)
def test_bad_large_blob_key_in_make_credential(auth, ext, rk, code):
    assert status(auth, MC, mc_request(rk=rk) | {6: ext}) == code
    assert auth.board.presence.requests == 0 and auth.store.rk_count() == 0


@pytest.mark.parametrize("value,code", [(False, ERR.INVALID_OPTION), ("yes", ERR.CBOR_UNEXPECTED_TYPE)])
def test_bad_large_blob_key_in_get_assertion(auth, value, code):
    register(auth, {"largeBlobKey": True}, rk=True)
    assert status(auth, GA, ga_request() | {4: {"largeBlobKey": value}}) == code


# -- minPinLength -----------------------------------------------------------------------------------


def test_min_pin_length_only_for_listed_rps(auth):
    _, ad, _ = register(auth, {"minPinLength": True})
    assert "extensions" not in ad
    listed = [hashlib.sha256(b"other.example").digest(), hashlib.sha256(RP_ID.encode()).digest()]
    auth.store.update({st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES: listed, st.STATE_MIN_PIN_LENGTH: 6})
    _, ad, _ = register(auth, {"minPinLength": True})
    assert ad["extensions"] == {"minPinLength": 6}
    _, ad, _ = register(auth, {"minPinLength": False})
    assert "extensions" not in ad


def test_min_pin_length_default_is_four(auth):
    auth.store.update({st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES: [hashlib.sha256(RP_ID.encode()).digest()]})
    assert register(auth, {"minPinLength": True})[1]["extensions"] == {"minPinLength": 4}


def test_min_pin_length_wrong_type(auth):
    assert status(auth, MC, mc_request() | {6: {"minPinLength": 1}}) == ERR.CBOR_UNEXPECTED_TYPE


# -- hmac-secret ------------------------------------------------------------------------------------


def cred_random(auth, cred_id, uv):
    """The documented derivation (firmware/credential.py), computed independently."""
    key = hmac.new(auth.store.master_secret, b"hmac-secret CredRandom v1", hashlib.sha256).digest()
    return hmac.new(key, (b"\x01" if uv else b"\x00") + cred_id, hashlib.sha256).digest()


def hmac_input(auth, proto_cls, salts, version=None, tamper=None):
    """The hmac-secret input a platform builds (python-fido2's HmacSecretExtension)."""
    proto = proto_cls()
    peer = auth.pin_uv.protocols[proto.VERSION].get_public_key()
    key_agreement, shared_secret = proto.encapsulate(peer)
    salt_enc = proto.encrypt(shared_secret, salts)
    salt_auth = proto.authenticate(shared_secret, salt_enc)
    value = {1: key_agreement, 2: salt_enc, 3: salt_auth, 4: proto.VERSION if version is None else version}
    if version == "absent":
        del value[4]
    if tamper:
        tamper(value)
    return value, proto, shared_secret


def expected_output(auth, cred_id, salts, uv=False):
    cr = cred_random(auth, cred_id, uv)
    out = hmac.new(cr, salts[:32], hashlib.sha256).digest()
    if len(salts) == 64:
        out += hmac.new(cr, salts[32:], hashlib.sha256).digest()
    return out


def test_hmac_secret_make_credential_output(auth):
    cred_id, ad, _ = register(auth, {"hmac-secret": True})
    assert ad["extensions"] == {"hmac-secret": True}
    assert auth.wrapper.unwrap(ad["rp_id_hash"], cred_id).hmac_secret
    _, ad, _ = register(auth, {"hmac-secret": False})
    assert "extensions" not in ad
    assert status(auth, MC, mc_request() | {6: {"hmac-secret": 1}}) == ERR.CBOR_UNEXPECTED_TYPE


@pytest.mark.parametrize("proto_cls", PROTOCOLS)
@pytest.mark.parametrize("salts", [SALT1, SALT1 + SALT2])
@pytest.mark.parametrize("rk", [False, True])
def test_hmac_secret_get_assertion(auth, proto_cls, salts, rk):
    cred_id, _, _ = register(auth, {"hmac-secret": True}, rk=rk)
    value, proto, shared = hmac_input(auth, proto_cls, salts)
    _, gad = assert_ok(auth, ga_request([cred_id]) | {4: {"hmac-secret": value}})
    assert set(gad["extensions"]) == {"hmac-secret"} and gad["flags"] == 0x81
    output = proto.decrypt(shared, gad["extensions"]["hmac-secret"])
    assert output == expected_output(auth, cred_id, salts, uv=False)
    # the same salt gives the same secret under a fresh key agreement
    value, proto, shared = hmac_input(auth, proto_cls, salts)
    _, gad = assert_ok(auth, ga_request([cred_id]) | {4: {"hmac-secret": value}})
    assert proto.decrypt(shared, gad["extensions"]["hmac-secret"]) == output


def test_hmac_secret_protocol_defaults_to_one(auth):
    cred_id, _, _ = register(auth, {"hmac-secret": True})
    value, proto, shared = hmac_input(auth, PinProtocolV1, SALT1, version="absent")
    _, gad = assert_ok(auth, ga_request([cred_id]) | {4: {"hmac-secret": value}})
    assert proto.decrypt(shared, gad["extensions"]["hmac-secret"]) == expected_output(auth, cred_id, SALT1)


def test_hmac_secret_differs_per_credential_and_from_cred_random_with_uv(auth):
    a, _, _ = register(auth, {"hmac-secret": True})
    b, _, _ = register(auth, {"hmac-secret": True})
    assert expected_output(auth, a, SALT1) != expected_output(auth, b, SALT1)
    assert cred_random(auth, a, True) != cred_random(auth, a, False)
    assert auth.wrapper.cred_random(a, True) == cred_random(auth, a, True)
    assert auth.wrapper.cred_random(a, False) == cred_random(auth, a, False)


def test_hmac_secret_for_each_discoverable_credential(auth):
    ids = [register(auth, {"hmac-secret": True}, rk=True, user_id=b"u%d" % i)[0] for i in range(3)]
    value, proto, shared = hmac_input(auth, PinProtocolV2, SALT1)
    first, gad = assert_ok(auth, ga_request() | {4: {"hmac-secret": value}})
    outputs = {first[1]["id"]: proto.decrypt(shared, gad["extensions"]["hmac-secret"])}
    for _ in range(2):
        code, nxt = call(auth, GNA)
        assert code == 0
        outputs[nxt[1]["id"]] = proto.decrypt(shared, parse_auth_data(nxt[2])["extensions"]["hmac-secret"])
    assert outputs == {cid: expected_output(auth, cid, SALT1) for cid in ids}


def test_credential_made_without_hmac_secret_gives_no_output(auth):
    cred_id, _, _ = register(auth, {})
    value, _, _ = hmac_input(auth, PinProtocolV2, SALT1)
    _, gad = assert_ok(auth, ga_request([cred_id]) | {4: {"hmac-secret": value}})
    assert "extensions" not in gad


def _bad_point(v):
    v[1] = dict(v[1])
    v[1][-3] = bytes(32)  # (x, 0) is not on the curve


def _bad_alg(v):
    v[1] = dict(v[1])
    v[1][3] = -7


def _flip_auth(v):
    v[3] = bytes([v[3][0] ^ 1]) + v[3][1:]


def _short_auth(v):
    v[3] = v[3][:-1]


def _flip_enc(v):
    v[2] = bytes([v[2][0] ^ 1]) + v[2][1:]


@pytest.mark.parametrize(
    "proto_cls,salts,version,tamper,code",
    [
        (PinProtocolV2, SALT1, None, _flip_auth, ERR.PIN_AUTH_INVALID),
        (PinProtocolV1, SALT1, None, _flip_auth, ERR.PIN_AUTH_INVALID),
        (PinProtocolV2, SALT1, None, _short_auth, ERR.PIN_AUTH_INVALID),
        (PinProtocolV2, SALT1, None, _flip_enc, ERR.PIN_AUTH_INVALID),
        (PinProtocolV2, SALT1, None, _bad_point, ERR.INVALID_PARAMETER),
        (PinProtocolV2, SALT1, None, _bad_alg, ERR.INVALID_PARAMETER),
        (PinProtocolV2, SALT1, 3, None, ERR.INVALID_PARAMETER),
        (PinProtocolV2, SALT1, 0, None, ERR.INVALID_PARAMETER),
        (PinProtocolV2, SALT1, 1, None, ERR.PIN_AUTH_INVALID),  # protocol 2 input labelled 1
        (PinProtocolV2, SALT1[:16], None, None, ERR.INVALID_PARAMETER),  # salts of 16 bytes
        (PinProtocolV1, SALT1 + SALT1[:16], None, None, ERR.INVALID_PARAMETER),  # 48 bytes
        (PinProtocolV2, SALT1 + SALT2 + SALT1, None, None, ERR.INVALID_PARAMETER),  # 96 bytes
    ],
)
def test_hmac_secret_errors(auth, proto_cls, salts, version, tamper, code):
    cred_id, _, _ = register(auth, {"hmac-secret": True})
    touches = auth.board.presence.requests
    value, _, _ = hmac_input(auth, proto_cls, salts, version, tamper)
    assert status(auth, GA, ga_request([cred_id]) | {4: {"hmac-secret": value}}) == code
    assert auth.board.presence.requests == touches  # refused before any touch


@pytest.mark.parametrize(
    "mutate,code",
    [
        (lambda v: v.pop(1), ERR.MISSING_PARAMETER),
        (lambda v: v.pop(2), ERR.MISSING_PARAMETER),
        (lambda v: v.pop(3), ERR.MISSING_PARAMETER),
        (lambda v: v.__setitem__(1, b"key"), ERR.CBOR_UNEXPECTED_TYPE),
        (lambda v: v.__setitem__(2, "enc"), ERR.CBOR_UNEXPECTED_TYPE),
        (lambda v: v.__setitem__(3, 7), ERR.CBOR_UNEXPECTED_TYPE),
        (lambda v: v.__setitem__(4, "2"), ERR.CBOR_UNEXPECTED_TYPE),
        (lambda v: v.__setitem__(4, -1), ERR.CBOR_UNEXPECTED_TYPE),
    ],
)
def test_hmac_secret_malformed_input(auth, mutate, code):
    cred_id, _, _ = register(auth, {"hmac-secret": True})
    value, _, _ = hmac_input(auth, PinProtocolV2, SALT1)
    mutate(value)
    assert status(auth, GA, ga_request([cred_id]) | {4: {"hmac-secret": value}}) == code


def test_hmac_secret_input_must_be_a_map(auth):
    cred_id, _, _ = register(auth, {"hmac-secret": True})
    assert status(auth, GA, ga_request([cred_id]) | {4: {"hmac-secret": True}}) == ERR.CBOR_UNEXPECTED_TYPE


def test_hmac_secret_needs_user_presence(auth):
    cred_id, _, _ = register(auth, {"hmac-secret": True})
    value, _, _ = hmac_input(auth, PinProtocolV2, SALT1)
    req = ga_request([cred_id]) | {4: {"hmac-secret": value}, 5: {"up": False}}
    assert status(auth, GA, req) == ERR.UNSUPPORTED_OPTION


# -- hmac-secret-mc ------------------------------------------------------------------------------


@pytest.mark.parametrize("proto_cls", PROTOCOLS)
@pytest.mark.parametrize("salts", [SALT1, SALT1 + SALT2])
def test_hmac_secret_mc_matches_later_assertions(auth, proto_cls, salts):
    value, proto, shared = hmac_input(auth, proto_cls, salts)
    cred_id, ad, _ = register(auth, {"hmac-secret": True, "hmac-secret-mc": value})
    assert set(ad["extensions"]) == {"hmac-secret", "hmac-secret-mc"}
    at_creation = proto.decrypt(shared, ad["extensions"]["hmac-secret-mc"])
    assert at_creation == expected_output(auth, cred_id, salts)
    value, proto, shared = hmac_input(auth, proto_cls, salts)
    _, gad = assert_ok(auth, ga_request([cred_id]) | {4: {"hmac-secret": value}})
    assert proto.decrypt(shared, gad["extensions"]["hmac-secret"]) == at_creation


def test_hmac_secret_mc_without_hmac_secret_is_ignored(auth):
    value, _, _ = hmac_input(auth, PinProtocolV2, SALT1)
    cred_id, ad, _ = register(auth, {"hmac-secret-mc": value})
    assert "extensions" not in ad
    assert not auth.wrapper.unwrap(ad["rp_id_hash"], cred_id).hmac_secret


@pytest.mark.parametrize("tamper,code", [(_flip_auth, ERR.PIN_AUTH_INVALID), (_bad_point, ERR.INVALID_PARAMETER)])
def test_hmac_secret_mc_errors_before_the_touch(auth, tamper, code):
    value, _, _ = hmac_input(auth, PinProtocolV2, SALT1, tamper=tamper)
    req = mc_request(rk=True) | {6: {"hmac-secret": True, "hmac-secret-mc": value}}
    assert status(auth, MC, req) == code
    assert auth.board.presence.requests == 0 and auth.store.rk_count() == 0


def test_hmac_secret_mc_malformed(auth):
    value, _, _ = hmac_input(auth, PinProtocolV2, SALT1)
    del value[2]
    req = mc_request() | {6: {"hmac-secret": True, "hmac-secret-mc": value}}
    assert status(auth, MC, req) == ERR.MISSING_PARAMETER


# -- together ----------------------------------------------------------------------------------


def test_all_extensions_in_one_registration(auth):
    auth.store.update({st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES: [hashlib.sha256(RP_ID.encode()).digest()]})
    value, proto, shared = hmac_input(auth, PinProtocolV2, SALT1)
    ext = {
        "credProtect": 2,
        "credBlob": b"blob",
        "largeBlobKey": True,
        "minPinLength": True,
        "hmac-secret": True,
        "hmac-secret-mc": value,
        "unknownExtension": {"x": [1]},
    }
    cred_id, ad, resp = register(auth, ext, rk=True)
    out = ad["extensions"]
    assert set(out) == {"credProtect", "credBlob", "minPinLength", "hmac-secret", "hmac-secret-mc"}
    assert out["credProtect"] == 2 and out["credBlob"] is True and out["minPinLength"] == 4
    assert len(resp[5]) == 32
    # the authData extensions map is canonical CBOR (python-fido2 re-encodes and compares)
    from fido2.webauthn import AuthenticatorData

    assert AuthenticatorData(resp[2]).extensions == out


# -- with user verification (a PIN and a pinUvAuthToken) ---------------------------------------

PIN = "12345678"


def pinned(auth, version=2):
    platform = Platform(auth, version)
    platform.set_pin(PIN)
    return platform


def with_token(platform, req, cdh_key, permissions=PERM_MC | PERM_GA):
    """Add a fresh token's pinUvAuthParam (tokens are used up by each ceremony)."""
    return with_pin_auth(platform, platform.token(PIN, permissions), req, cdh_key)


@pytest.mark.parametrize("version", [1, 2])
def test_hmac_secret_with_uv_uses_cred_random_with_uv(auth, version):
    platform = pinned(auth, version)
    code, resp = call(auth, MC, with_token(platform, mc_request(rk=True) | {6: {"hmac-secret": True}}, 1))
    assert code == 0
    cred_id = parse_auth_data(resp[2])["credential_id"]
    outputs = {}
    for uv in (True, False):
        value, proto, shared = hmac_input(auth, HOST[version], SALT1 + SALT2)
        req = ga_request([cred_id]) | {4: {"hmac-secret": value}}
        if uv:
            req = with_token(platform, req, 2)
        resp, gad = assert_ok(auth, req)
        assert bool(gad["flags"] & 0x04) == uv
        outputs[uv] = proto.decrypt(shared, gad["extensions"]["hmac-secret"])
        assert outputs[uv] == expected_output(auth, cred_id, SALT1 + SALT2, uv=uv)
    assert outputs[True] != outputs[False]


@pytest.mark.parametrize("version", [1, 2])
def test_hmac_secret_mc_with_uv(auth, version):
    platform = pinned(auth, version)
    value, proto, shared = hmac_input(auth, HOST[version], SALT1)
    req = with_token(platform, mc_request(rk=True) | {6: {"hmac-secret": True, "hmac-secret-mc": value}}, 1)
    code, resp = call(auth, MC, req)
    assert code == 0
    ad = parse_auth_data(resp[2])
    assert ad["flags"] & 0x04
    out = proto.decrypt(shared, ad["extensions"]["hmac-secret-mc"])
    assert out == expected_output(auth, ad["credential_id"], SALT1, uv=True)


def test_cred_protect_3_is_usable_with_uv(auth):
    platform = pinned(auth)
    code, resp = call(auth, MC, with_token(platform, mc_request(rk=True) | {6: {"credProtect": 3}}, 1))
    assert code == 0
    cred_id = parse_auth_data(resp[2])["credential_id"]
    assert status(auth, GA, ga_request([cred_id])) == ERR.NO_CREDENTIALS
    assert status(auth, GA, ga_request()) == ERR.NO_CREDENTIALS
    resp, gad = assert_ok(auth, with_token(platform, ga_request(), 2))
    assert resp[1]["id"] == cred_id and gad["flags"] & 0x04
    resp, _ = assert_ok(auth, with_token(platform, ga_request([cred_id]), 2))
    assert resp[1]["id"] == cred_id


def test_cred_protect_3_is_excluded_only_with_uv(auth):
    platform = pinned(auth)
    code, resp = call(auth, MC, with_token(platform, mc_request() | {6: {"credProtect": 3}}, 1))
    cred_id = parse_auth_data(resp[2])["credential_id"]
    exclude = {5: [{"id": cred_id, "type": "public-key"}]}
    assert status(auth, MC, mc_request(user_id=b"other") | exclude) == 0
    assert status(auth, MC, with_token(platform, mc_request(user_id=b"other") | exclude, 1)) == ERR.CREDENTIAL_EXCLUDED


# -- CTAP 2.2 thirdPartyPayment ---------------------------------------------------------------------


@pytest.mark.parametrize("rk", [False, True], ids=["non-discoverable", "discoverable"])
def test_third_party_payment(auth, rk):
    paid, ad, _ = register(auth, {"thirdPartyPayment": True}, rk=rk, user_id=b"payer")
    assert ad["extensions"] == {"thirdPartyPayment": True}
    plain, ad, _ = register(auth, {"thirdPartyPayment": False}, rk=rk, user_id=b"plain")
    assert "extensions" not in ad  # false asks for nothing
    for cid, enabled in ((paid, True), (plain, False)):
        _, ad = assert_ok(auth, ga_request([cid]) | {4: {"thirdPartyPayment": True}})
        assert ad["extensions"] == {"thirdPartyPayment": enabled}
        _, ad = assert_ok(auth, ga_request([cid]))
        assert "extensions" not in ad
        _, ad = assert_ok(auth, ga_request([cid]) | {4: {"thirdPartyPayment": False}})
        assert "extensions" not in ad


def test_third_party_payment_through_get_next_assertion(auth):
    register(auth, {"thirdPartyPayment": True}, rk=True, user_id=b"payer")
    register(auth, {}, rk=True, user_id=b"plain")
    resp, ad = assert_ok(auth, ga_request() | {4: {"thirdPartyPayment": True}})
    assert resp[5] == 2
    assert ad["extensions"] == {"thirdPartyPayment": False}  # newest first
    code, resp = call(auth, GNA)
    assert code == 0 and parse_auth_data(resp[2])["extensions"] == {"thirdPartyPayment": True}


@pytest.mark.parametrize("value", [1, "yes", b"\x01", {}])
def test_third_party_payment_wrong_type(auth, value):
    assert status(auth, MC, mc_request() | {6: {"thirdPartyPayment": value}}) == ERR.CBOR_UNEXPECTED_TYPE
    cid, _, _ = register(auth, {})
    assert status(auth, GA, ga_request([cid]) | {4: {"thirdPartyPayment": value}}) == ERR.CBOR_UNEXPECTED_TYPE


# -- CTAP 2.2 pinComplexityPolicy -------------------------------------------------------------------


def test_pin_complexity_policy_only_for_listed_rps(auth):
    _, ad, _ = register(auth, {"pinComplexityPolicy": True})
    assert "extensions" not in ad
    auth.store.update({st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES: [hashlib.sha256(RP_ID.encode()).digest()]})
    _, ad, _ = register(auth, {"pinComplexityPolicy": True})
    # The value getInfo gives: no policy beyond minPINLength.
    assert ad["extensions"] == {"pinComplexityPolicy": False}
    assert call(auth, GET_INFO)[1][0x1B] is False
    _, ad, _ = register(auth, {"pinComplexityPolicy": False})
    assert "extensions" not in ad


def test_pin_complexity_policy_wrong_type(auth):
    assert status(auth, MC, mc_request() | {6: {"pinComplexityPolicy": 1}}) == ERR.CBOR_UNEXPECTED_TYPE
