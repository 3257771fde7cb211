"""firmware/ctap2/pin_uv.py: the PIN/UV steps of makeCredential and getAssertion (protocols 1 and 2)."""

import os

import pytest
from fido2.ctap import CtapError

from firmware import store as st
from pinhelpers import auth, pinned, plat, protocol  # noqa: F401 (pytest fixtures)
from pinhelpers import (
    PIN,
    GET_ASSERTION,
    MAKE_CREDENTIAL,
    PERM_CM,
    PERM_GA,
    PERM_LBW,
    PERM_MC,
    call,
    code_of,
    credential_id_of,
    flags_of,
    ga_request,
    ga_with_token,
    info,
    make_auth,
    mc_request,
    mc_with_token,
)

ERR = CtapError.ERR
UP, UV = 0x01, 0x04


def err(auth, cmd, req):
    with pytest.raises(CtapError) as e:
        call(auth, cmd, req)
    return code_of(e)


def always_uv(auth):
    auth.store.update({st.STATE_ALWAYS_UV: True})


# -- steps 1-2: the probe and the protocol -----------------------------------------------------

PROBES = [(MAKE_CREDENTIAL, mc_request, 8), (GET_ASSERTION, ga_request, 6)]


@pytest.mark.parametrize("cmd, make, key", PROBES, ids=["mc", "ga"])
def test_zero_length_probe_without_pin(auth, cmd, make, key):
    req = make()
    req[key] = b""
    assert err(auth, cmd, req) == ERR.PIN_NOT_SET
    assert auth.board.presence.requests == 1  # after a touch


@pytest.mark.parametrize("cmd, make, key", PROBES, ids=["mc", "ga"])
def test_zero_length_probe_with_pin(pinned, cmd, make, key):
    req = make()
    req[key] = b""
    req[key + 1] = 99  # the probe comes before the protocol check
    assert err(pinned.auth, cmd, req) == ERR.PIN_INVALID
    assert pinned.retries() == (8, False)


@pytest.mark.parametrize("cmd, make, key", PROBES, ids=["mc", "ga"])
@pytest.mark.parametrize("presence", ["deny", "manual"], ids=["refused", "no-touch"])
def test_zero_length_probe_without_a_touch_is_operation_denied(cmd, make, key, presence):
    auth = make_auth(presence=presence)
    req = make()
    req[key] = b""
    assert err(auth, cmd, req) == ERR.OPERATION_DENIED


@pytest.mark.parametrize("cmd, make, key", PROBES, ids=["mc", "ga"])
@pytest.mark.parametrize("version, code", [(None, ERR.MISSING_PARAMETER), (0, ERR.INVALID_PARAMETER), (3, ERR.INVALID_PARAMETER)])
def test_pin_uv_auth_protocol_checked(pinned, cmd, make, key, version, code):
    req = make()
    req[key] = os.urandom(32)
    if version is not None:
        req[key + 1] = version
    assert err(pinned.auth, cmd, req) == code


@pytest.mark.parametrize("cmd, make, key", PROBES, ids=["mc", "ga"])
def test_pin_uv_auth_param_type(auth, cmd, make, key):
    req = make()
    req[key] = "mac"
    req[key + 1] = 2
    assert err(auth, cmd, req) == ERR.CBOR_UNEXPECTED_TYPE


# -- makeCredential -----------------------------------------------------------------------------


def test_make_credential_with_token_is_user_verified(pinned):
    token = pinned.token(PIN, PERM_MC, "example.com")
    resp = call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, rk=True))
    assert flags_of(resp[2]) & (UP | UV) == UP | UV


def test_make_credential_without_token_after_pin_non_resident(pinned):
    # makeCredUvNotRqd: a non-discoverable credential needs no UV.
    resp = call(pinned.auth, MAKE_CREDENTIAL, mc_request())
    assert flags_of(resp[2]) & UV == 0


def test_make_credential_resident_needs_token_once_pin_is_set(pinned):
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_request(rk=True)) == ERR.PUAT_REQUIRED
    assert pinned.auth.store.rk_count() == 0


def test_resident_without_pin_needs_no_token(auth):
    resp = call(auth, MAKE_CREDENTIAL, mc_request(rk=True))
    assert flags_of(resp[2]) & UV == 0


def test_uv_option_is_refused_no_built_in_uv(pinned):
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_request(options={"uv": True})) == ERR.INVALID_OPTION


def test_uv_option_with_token_is_fine(pinned):
    token = pinned.token(PIN, PERM_MC)
    req = mc_with_token(pinned, token, options={"uv": True})
    assert flags_of(call(pinned.auth, MAKE_CREDENTIAL, req)[2]) & UV


@pytest.mark.parametrize(
    "break_it",
    [
        lambda p, r: r.__setitem__(8, bytes(len(r[8]))),  # wrong MAC
        lambda p, r: r.__setitem__(8, r[8][:-1]),  # short MAC
        lambda p, r: r.__setitem__(8, r[8] + b"\x00"),  # long MAC
        lambda p, r: r.__setitem__(1, os.urandom(32)),  # MAC over another clientDataHash
        lambda p, r: r.__setitem__(9, 3 - p.version),  # the other protocol's number
    ],
    ids=["wrong", "short", "long", "other-cdh", "other-protocol"],
)
def test_make_credential_bad_pin_uv_auth_param(pinned, break_it):
    token = pinned.token(PIN, PERM_MC)
    req = mc_with_token(pinned, token)
    break_it(pinned, req)
    assert err(pinned.auth, MAKE_CREDENTIAL, req) == ERR.PIN_AUTH_INVALID


def test_make_credential_needs_mc_permission(pinned):
    token = pinned.token(PIN, PERM_GA | PERM_CM)
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token)) == ERR.PIN_AUTH_INVALID


def test_make_credential_rp_id_must_match_the_token(pinned):
    token = pinned.token(PIN, PERM_MC, "other.example")
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token)) == ERR.PIN_AUTH_INVALID


def test_unbound_token_binds_to_the_first_rp(pinned):
    token = pinned.token(PIN, PERM_MC | PERM_GA)
    req = ga_with_token(pinned, token, rp_id="a.example", options={"up": False})
    assert err(pinned.auth, GET_ASSERTION, req) == ERR.NO_CREDENTIALS  # verified, then nothing found
    assert pinned.auth.pin_uv.rp_id == "a.example"
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, rp_id="b.example")) == ERR.PIN_AUTH_INVALID
    call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, rp_id="a.example"))


def test_token_is_consumed_by_a_ceremony_with_presence(pinned):
    token = pinned.token(PIN, PERM_MC | PERM_GA)
    call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token))
    # userVerified and mc/ga are gone: a second use needs a new token.
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token)) == ERR.PIN_AUTH_INVALID
    assert err(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token)) == ERR.PIN_AUTH_INVALID


def _token_state(auth):
    t = auth.pin_uv
    return t.get_user_present_flag_value(), t.get_user_verified_flag_value(), t.permissions


# CTAP 2.1 §6.1.2 step 14 / §6.2.2 step 9: the token's flags and permissions
# are cleared once presence is obtained; a refused touch ends the operation
# before that (OPERATION_DENIED), so the platform may retry with the same token.


def test_declined_make_credential_touch_leaves_the_token_usable(pinned):
    token = pinned.token(PIN, PERM_MC | PERM_GA | PERM_LBW)
    pinned.auth.board.presence.mode = "deny"
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, rk=True)) == ERR.OPERATION_DENIED
    assert _token_state(pinned.auth) == (False, True, PERM_MC | PERM_GA | PERM_LBW)
    assert pinned.auth.store.rk_count() == 0
    pinned.auth.board.presence.mode = "auto"
    resp = call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, rk=True))
    assert flags_of(resp[2]) & (UP | UV) == UP | UV
    # Presence obtained: userPresent, userVerified and every permission but lbw gone.
    assert _token_state(pinned.auth) == (False, False, PERM_LBW)
    assert err(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token)) == ERR.PIN_AUTH_INVALID


def test_declined_get_assertion_touch_leaves_the_token_usable(pinned):
    _resident(pinned)
    token = pinned.token(PIN, PERM_GA | PERM_MC | PERM_LBW, "example.com")
    pinned.auth.board.presence.mode = "deny"
    assert err(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token)) == ERR.OPERATION_DENIED
    assert _token_state(pinned.auth) == (False, True, PERM_GA | PERM_MC | PERM_LBW)
    pinned.auth.board.presence.mode = "auto"
    resp = call(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token))
    assert flags_of(resp[2]) & (UP | UV) == UP | UV
    assert resp[4]["name"] == "alice"  # verified: the user's name is shown
    assert _token_state(pinned.auth) == (False, False, PERM_LBW)
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token)) == ERR.PIN_AUTH_INVALID


def test_a_ceremony_with_presence_but_no_token_clears_the_token_in_use(pinned):
    """The clearing step is not conditional on pinUvAuthParam (§6.2.2 step 9)."""
    cred = credential_id_of(call(pinned.auth, MAKE_CREDENTIAL, mc_request()))
    token = pinned.token(PIN, PERM_MC | PERM_GA)
    resp = call(pinned.auth, GET_ASSERTION, ga_request(allow=[cred]))
    assert flags_of(resp[2]) & (UP | UV) == UP
    assert _token_state(pinned.auth) == (False, False, 0)
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token)) == ERR.PIN_AUTH_INVALID


def test_silent_assertion_does_not_consume_the_token(pinned):
    """python-fido2 probes the exclude list with up=false, then makes the credential with the same token."""
    cred = credential_id_of(call(pinned.auth, MAKE_CREDENTIAL, mc_request()))
    token = pinned.token(PIN, PERM_MC | PERM_GA, "example.com")
    for _ in range(2):
        resp = call(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token, allow=[cred], options={"up": False}))
        assert flags_of(resp[2]) & (UP | UV) == UV
    resp = call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, user_id=b"user-2"))
    assert flags_of(resp[2]) & (UP | UV) == UP | UV


def test_expired_token(pinned):
    token = pinned.token(PIN, PERM_MC)
    pinned.auth.board.clock.advance(30001)
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token)) == ERR.PIN_AUTH_INVALID


def test_token_used_once_lives_on_until_ten_minutes(pinned):
    cred = credential_id_of(call(pinned.auth, MAKE_CREDENTIAL, mc_request()))
    token = pinned.token(PIN, PERM_GA, "example.com")
    call(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token, allow=[cred], options={"up": False}))
    pinned.auth.board.clock.advance(5 * 60 * 1000)
    call(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token, allow=[cred], options={"up": False}))
    pinned.auth.board.clock.advance(5 * 60 * 1000 + 1)
    req = ga_with_token(pinned, token, allow=[cred], options={"up": False})
    assert err(pinned.auth, GET_ASSERTION, req) == ERR.PIN_AUTH_INVALID


# -- getAssertion -------------------------------------------------------------------------------


def _resident(pinned, user_id=b"user-1", name="alice"):
    token = pinned.token(PIN, PERM_MC)
    return call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, rk=True, user_id=user_id, name=name))


def test_get_assertion_with_token_is_user_verified_and_shows_the_user(pinned):
    _resident(pinned)
    token = pinned.token(PIN, PERM_GA, "example.com")
    resp = call(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token))
    assert flags_of(resp[2]) & (UP | UV) == UP | UV
    assert resp[4] == {"id": b"user-1", "name": "alice", "displayName": "Alice"}


def test_get_assertion_without_token_is_allowed_but_not_verified(pinned):
    _resident(pinned)
    resp = call(pinned.auth, GET_ASSERTION, ga_request())
    assert flags_of(resp[2]) & (UP | UV) == UP
    assert resp[4] == {"id": b"user-1"}  # no PII without UV


def test_get_assertion_needs_ga_permission(pinned):
    token = pinned.token(PIN, PERM_MC)
    assert err(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token)) == ERR.PIN_AUTH_INVALID


def test_get_assertion_rp_id_must_match_the_token(pinned):
    token = pinned.token(PIN, PERM_GA, "example.com")
    assert err(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token, rp_id="evil.example")) == ERR.PIN_AUTH_INVALID


def test_get_assertion_bad_mac(pinned):
    token = pinned.token(PIN, PERM_GA)
    req = ga_with_token(pinned, token)
    req[6] = os.urandom(len(req[6]))
    assert err(pinned.auth, GET_ASSERTION, req) == ERR.PIN_AUTH_INVALID


def test_get_assertion_uv_option_is_refused(pinned):
    assert err(pinned.auth, GET_ASSERTION, ga_request(options={"uv": True})) == ERR.INVALID_OPTION


def test_legacy_token_works_for_both(pinned):
    token = pinned.token(PIN, legacy=True)
    call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, rk=True))
    token = pinned.token(PIN, legacy=True)
    resp = call(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token))
    assert flags_of(resp[2]) & UV


# -- alwaysUv ----------------------------------------------------------------------------------


def test_always_uv_without_pin(auth):
    always_uv(auth)
    assert info(auth)[4]["alwaysUv"] is True and info(auth)[4]["makeCredUvNotRqd"] is False
    assert err(auth, MAKE_CREDENTIAL, mc_request()) == ERR.PIN_NOT_SET
    assert err(auth, GET_ASSERTION, ga_request()) == ERR.PIN_NOT_SET
    # Silent assertions are outside alwaysUv.
    assert err(auth, GET_ASSERTION, ga_request(options={"up": False})) == ERR.NO_CREDENTIALS


def test_always_uv_with_pin(pinned):
    _resident(pinned)
    always_uv(pinned.auth)
    assert err(pinned.auth, MAKE_CREDENTIAL, mc_request()) == ERR.PUAT_REQUIRED
    assert err(pinned.auth, GET_ASSERTION, ga_request()) == ERR.PUAT_REQUIRED
    token = pinned.token(PIN, PERM_MC)
    assert flags_of(call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token))[2]) & UV
    token = pinned.token(PIN, PERM_GA)
    assert flags_of(call(pinned.auth, GET_ASSERTION, ga_with_token(pinned, token))[2]) & UV


def test_get_info_reflects_pin_and_always_uv(pinned):
    opts = info(pinned.auth)[4]
    assert opts["clientPin"] is True and opts["alwaysUv"] is False and opts["makeCredUvNotRqd"] is True
