"""firmware/ctap2/client_pin.py: authenticatorClientPIN, every test for protocols 1 and 2.

Requests go through the router (pinhelpers.call) and are built by a
python-fido2 platform (pinhelpers.Platform), one member broken at a time.
"""

import hashlib
import os

import cbor2
import pytest
from fido2.ctap import CtapError

from firmware import store as st
from firmware.ctap2 import client_pin
from pinhelpers import auth, pinned, plat, protocol  # noqa: F401 (pytest fixtures)
from pinhelpers import (
    PIN,
    CLIENT_PIN,
    GET_ASSERTION,
    MAKE_CREDENTIAL,
    PERM_ACFG,
    PERM_BE,
    PERM_CM,
    PERM_GA,
    PERM_LBW,
    PERM_MC,
    PERM_PCMR,
    RP_ID,
    RESET,
    Platform,
    call,
    code_of,
    ga_with_token,
    info,
    mc_request,
    mc_with_token,
    pad_pin,
    power_cycle,
)

ERR = CtapError.ERR


def err(auth, req, cmd=CLIENT_PIN):
    with pytest.raises(CtapError) as e:
        call(auth, cmd, req)
    return code_of(e)


def state(auth, key, default=None):
    return auth.store.get(key, default)


# -- getKeyAgreement -----------------------------------------------------------------------


def test_key_agreement_is_a_p256_cose_key_stable_within_a_power_up(auth, protocol):
    a = call(auth, CLIENT_PIN, {1: protocol, 2: 2})[1]
    assert a[1] == 2 and a[3] == -25 and a[-1] == 1 and len(a[-2]) == 32 and len(a[-3]) == 32
    assert call(auth, CLIENT_PIN, {1: protocol, 2: 2})[1] == a


def test_each_protocol_has_its_own_key_agreement_key(auth):
    assert call(auth, CLIENT_PIN, {1: 1, 2: 2})[1] != call(auth, CLIENT_PIN, {1: 2, 2: 2})[1]


def test_key_agreement_regenerates_on_power_up_and_reset(auth, protocol):
    a = call(auth, CLIENT_PIN, {1: protocol, 2: 2})[1]
    auth2 = power_cycle(auth)
    b = call(auth2, CLIENT_PIN, {1: protocol, 2: 2})[1]
    assert b != a
    call(auth2, RESET)
    assert call(auth2, CLIENT_PIN, {1: protocol, 2: 2})[1] != b


@pytest.mark.parametrize("version, code", [(None, ERR.MISSING_PARAMETER), (0, ERR.INVALID_PARAMETER), (3, ERR.INVALID_PARAMETER)])
def test_key_agreement_needs_a_supported_protocol(auth, version, code):
    assert err(auth, {1: version, 2: 2}) == code


# -- getPINRetries --------------------------------------------------------------------------


def test_retries_start_at_8(plat):
    assert plat.retries() == (8, False)


def test_retries_without_protocol(auth):
    assert call(auth, CLIENT_PIN, {2: 1})[3] == 8


def test_retries_with_unsupported_protocol(auth):
    assert err(auth, {1: 7, 2: 1}) == ERR.INVALID_PARAMETER


# -- the subcommand itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    "req, code",
    [
        ({1: 1}, ERR.MISSING_PARAMETER),
        ({1: 1, 2: 0}, ERR.INVALID_SUBCOMMAND),
        ({1: 1, 2: 8}, ERR.INVALID_SUBCOMMAND),
        ({1: 1, 2: 0x0A}, ERR.INVALID_SUBCOMMAND),
        ({1: 1, 2: 6}, ERR.INVALID_SUBCOMMAND),  # getPinUvAuthTokenUsingUvWithPermissions: no built-in UV
        ({1: 1, 2: 7}, ERR.INVALID_SUBCOMMAND),  # getUVRetries: no built-in UV
        ({1: 1, 2: "1"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 2: -1}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: "1", 2: 1}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 2: 2, 3: b"x"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 2: 2, 4: "x"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 2: 2, 5: 5}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 2: 2, 6: []}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 2: 2, 9: b"\x01"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 1, 2: 2, 10: b"rp"}, ERR.CBOR_UNEXPECTED_TYPE),
    ],
)
def test_malformed_requests(auth, req, code):
    assert err(auth, req) == code


# -- setPIN ----------------------------------------------------------------------------------------


def test_set_pin(auth, plat):
    assert info(auth)[4]["clientPin"] is False
    plat.set_pin(PIN)
    assert info(auth)[4]["clientPin"] is True
    assert state(auth, st.STATE_PIN_HASH) == hashlib.sha256(PIN.encode()).digest()[:16]
    assert state(auth, st.STATE_PIN_CODE_POINTS) == 4
    assert plat.retries() == (8, False)


def test_set_pin_persists_across_power_up(auth, plat):
    plat.set_pin(PIN)
    auth2 = power_cycle(auth)
    assert info(auth2)[4]["clientPin"] is True
    Platform(auth2, plat.version).token(PIN)


def test_set_pin_twice_is_pin_auth_invalid(pinned):
    assert err(pinned.auth, pinned.set_pin_request("5678")) == ERR.PIN_AUTH_INVALID
    pinned.token(PIN)  # the first PIN stays


@pytest.mark.parametrize("missing, code", [(3, ERR.MISSING_PARAMETER), (4, ERR.MISSING_PARAMETER), (5, ERR.MISSING_PARAMETER), (1, ERR.MISSING_PARAMETER)])
def test_set_pin_missing_member(plat, missing, code):
    req = plat.set_pin_request(PIN)
    del req[missing]
    assert err(plat.auth, req) == code


@pytest.mark.parametrize("version", [0, 3, 255])
def test_set_pin_unsupported_protocol(plat, version):
    req = plat.set_pin_request(PIN)
    req[1] = version
    assert err(plat.auth, req) == ERR.INVALID_PARAMETER


def test_set_pin_with_the_other_protocols_number_fails_the_mac(plat):
    req = plat.set_pin_request(PIN)
    req[1] = 3 - plat.version
    assert err(plat.auth, req) == ERR.PIN_AUTH_INVALID
    assert info(plat.auth)[4]["clientPin"] is False


@pytest.mark.parametrize(
    "key",
    [
        {1: 2, 3: -25, -1: 1, -2: bytes(32), -3: bytes(32)},  # not on the curve
        {1: 2, 3: -25, -1: 1, -2: bytes(32)},  # no y
        {1: 2, 3: -7, -1: 1, -2: bytes(32), -3: bytes(32)},
        {},
    ],
)
def test_set_pin_bad_key_agreement(plat, key):
    req = plat.set_pin_request(PIN)
    if key.get(3) == -7:
        key = dict(req[3])
        key[3] = -7  # a valid point, but not announced as a key-agreement key
    req[3] = key
    assert err(plat.auth, req) == ERR.INVALID_PARAMETER


def test_set_pin_bad_mac(plat):
    req = plat.set_pin_request(PIN)
    req[4] = bytes(len(req[4]))
    assert err(plat.auth, req) == ERR.PIN_AUTH_INVALID


@pytest.mark.parametrize("delta", [-1, 1, 16])
def test_set_pin_mac_of_wrong_length(plat, delta):
    req = plat.set_pin_request(PIN)
    req[4] = req[4] + bytes(delta) if delta > 0 else req[4][:delta]
    assert err(plat.auth, req) == ERR.PIN_AUTH_INVALID


def _resigned(plat, req, new_pin_enc, secret):
    req[5] = new_pin_enc
    req[4] = plat.proto.authenticate(secret, new_pin_enc)
    return req


def test_set_pin_ciphertext_of_partial_block(plat):
    ka, secret = plat.shared()
    enc = plat.proto.encrypt(secret, pad_pin(PIN))[:-1]
    req = {1: plat.version, 2: 3, 3: ka, 4: plat.proto.authenticate(secret, enc), 5: enc}
    assert err(plat.auth, req) == ERR.PIN_AUTH_INVALID


@pytest.mark.parametrize("size", [16, 48, 80, 128])
def test_set_pin_padded_pin_not_64_bytes(plat, size):
    padded = PIN.encode() + bytes(size - 4)
    assert err(plat.auth, plat.set_pin_request(None, padded=padded)) == ERR.INVALID_PARAMETER


@pytest.mark.parametrize(
    "pin, ok",
    [
        ("123", False),
        ("1234", True),
        ("\u00e4\u00e4\u00e4", False),  # 6 bytes but 3 code points
        ("\u00e4\u00e4\u00e4\u00e4", True),
        ("\U0001f600" * 4, True),  # 16 bytes, 4 code points
        ("x" * 63, True),
        ("", False),
    ],
)
def test_set_pin_length_in_code_points(plat, pin, ok):
    req = plat.set_pin_request(pin)
    if ok:
        call(plat.auth, CLIENT_PIN, req)
        assert state(plat.auth, st.STATE_PIN_CODE_POINTS) == len(pin)
        plat.token(pin)
    else:
        assert err(plat.auth, req) == ERR.PIN_POLICY_VIOLATION
        assert info(plat.auth)[4]["clientPin"] is False


def test_set_pin_of_64_bytes_has_no_room_for_padding(plat):
    assert err(plat.auth, plat.set_pin_request(None, padded=b"7" * 64)) == ERR.PIN_POLICY_VIOLATION


@pytest.mark.parametrize(
    "pin",
    [
        b"\xff\xfe\xfd\xfc",
        # RFC 3629 forbids these too, but MicroPython's bytes.decode() lets them
        # through (test_e2e_micropython_ctap2.py runs this test there).
        b"\xc0\xb1\xc0\xb2\xc0\xb3\xc0\xb4",  # overlong "1234"
        b"\xed\xa0\x80123",  # a UTF-16 surrogate
        b"\xf4\x90\x80\x80123",  # above U+10FFFF
    ],
    ids=["invalid", "overlong", "surrogate", "too-large"],
)
def test_set_pin_not_utf8(plat, pin):
    assert err(plat.auth, plat.set_pin_request(None, padded=pad_pin(pin))) == ERR.PIN_POLICY_VIOLATION
    assert info(plat.auth)[4]["clientPin"] is False


def test_set_pin_keeps_inner_zero_bytes(plat):
    # Only trailing 0x00 is padding: "12\0 34" is a five code point PIN.
    call(plat.auth, CLIENT_PIN, plat.set_pin_request(None, padded=pad_pin(b"12\x0034")))
    assert state(plat.auth, st.STATE_PIN_CODE_POINTS) == 5
    assert state(plat.auth, st.STATE_PIN_HASH) == hashlib.sha256(b"12\x0034").digest()[:16]


# -- changePIN -----------------------------------------------------------------------------------


def test_change_pin(pinned):
    old = pinned.token(PIN, PERM_GA)
    pinned.change_pin(PIN, "98765")
    assert state(pinned.auth, st.STATE_PIN_CODE_POINTS) == 5
    assert state(pinned.auth, st.STATE_PIN_HASH) == hashlib.sha256(b"98765").digest()[:16]
    assert err(pinned.auth, pinned.token_request(PIN, PERM_GA)) == ERR.PIN_INVALID
    new = pinned.token("98765", PERM_GA)
    # The token issued before the change is dead; the new one works.
    assert err(pinned.auth, ga_with_token(pinned, old), GET_ASSERTION) == ERR.PIN_AUTH_INVALID
    assert err(pinned.auth, ga_with_token(pinned, new), GET_ASSERTION) == ERR.NO_CREDENTIALS


def test_change_pin_invalidates_the_current_token(pinned):
    token = pinned.token(PIN, PERM_MC)
    pinned.change_pin(PIN, "4321")
    assert err(pinned.auth, mc_with_token(pinned, token), MAKE_CREDENTIAL) == ERR.PIN_AUTH_INVALID


def test_change_pin_without_a_pin(plat):
    assert err(plat.auth, plat.change_pin_request(PIN, "5678")) == ERR.PIN_NOT_SET


@pytest.mark.parametrize("missing", [1, 3, 4, 5, 6])
def test_change_pin_missing_member(pinned, missing):
    req = pinned.change_pin_request(PIN, "5678")
    del req[missing]
    assert err(pinned.auth, req) == ERR.MISSING_PARAMETER


def test_change_pin_bad_mac_costs_no_retry(pinned):
    req = pinned.change_pin_request(PIN, "5678")
    req[4] = bytes(len(req[4]))
    assert err(pinned.auth, req) == ERR.PIN_AUTH_INVALID
    assert pinned.retries() == (8, False)


def test_change_pin_mac_covers_pin_hash_enc(pinned):
    req = pinned.change_pin_request(PIN, "5678")
    req[6] = os.urandom(len(req[6]))
    assert err(pinned.auth, req) == ERR.PIN_AUTH_INVALID
    assert pinned.retries() == (8, False)


def test_change_pin_wrong_current_pin(pinned):
    assert err(pinned.auth, pinned.change_pin_request("0000", "5678")) == ERR.PIN_INVALID
    assert pinned.retries() == (7, False)
    pinned.token(PIN)


def test_change_pin_new_pin_too_short_after_a_right_pin(pinned):
    assert err(pinned.auth, pinned.change_pin_request(PIN, "12")) == ERR.PIN_POLICY_VIOLATION
    # the current PIN was right: retries are back at the maximum, PIN unchanged
    assert pinned.retries() == (8, False)
    pinned.token(PIN)


def test_change_pin_padded_new_pin_of_wrong_size(pinned):
    req = pinned.change_pin_request(PIN, None, padded=b"5678" + bytes(28))
    assert err(pinned.auth, req) == ERR.INVALID_PARAMETER


def test_mismatch_regenerates_the_key_agreement_key(pinned):
    req = pinned.change_pin_request("0000", "5678")
    before = call(pinned.auth, CLIENT_PIN, {1: pinned.version, 2: 2})[1]
    assert err(pinned.auth, req) == ERR.PIN_INVALID
    assert call(pinned.auth, CLIENT_PIN, {1: pinned.version, 2: 2})[1] != before
    # a request built on the old key no longer even passes its MAC
    stale = dict(req)
    assert err(pinned.auth, stale) == ERR.PIN_AUTH_INVALID
    assert pinned.retries() == (7, False)


# -- getPinToken / getPinUvAuthTokenUsingPinWithPermissions ----------------------------------------


def test_token_with_permissions(pinned):
    token = pinned.token(PIN, PERM_MC | PERM_GA | PERM_CM | PERM_ACFG, "example.com")
    assert len(token) == 32
    t = pinned.auth.pin_uv
    assert t.in_use and t.permissions == PERM_MC | PERM_GA | PERM_CM | PERM_ACFG and t.rp_id == "example.com"
    assert t.get_user_verified_flag_value() and not t.get_user_present_flag_value()


def test_each_token_request_replaces_the_last_token(pinned):
    a = pinned.token(PIN, PERM_MC)
    b = pinned.token(PIN, PERM_MC)
    assert a != b
    assert err(pinned.auth, mc_with_token(pinned, a), MAKE_CREDENTIAL) == ERR.PIN_AUTH_INVALID
    call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, b))


def test_legacy_get_pin_token_grants_mc_and_ga_only(pinned):
    token = pinned.token(PIN, legacy=True)
    t = pinned.auth.pin_uv
    assert t.permissions == PERM_MC | PERM_GA and t.rp_id is None
    call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token))


@pytest.mark.parametrize("member, value", [(9, 1), (10, "example.com")])
def test_legacy_get_pin_token_refuses_permissions(pinned, member, value):
    req = pinned.token_request(PIN, legacy=True)
    req[member] = value
    assert err(pinned.auth, req) == ERR.INVALID_PARAMETER
    assert pinned.retries() == (8, False)


@pytest.mark.parametrize("missing", [1, 3, 6, 9])
def test_token_missing_member(pinned, missing):
    req = pinned.token_request(PIN, PERM_GA)
    del req[missing]
    assert err(pinned.auth, req) == ERR.MISSING_PARAMETER


@pytest.mark.parametrize("missing", [3, 6])
def test_legacy_token_missing_member(pinned, missing):
    req = pinned.token_request(PIN, legacy=True)
    del req[missing]
    assert err(pinned.auth, req) == ERR.MISSING_PARAMETER


def test_token_zero_permissions(pinned):
    assert err(pinned.auth, pinned.token_request(PIN, 0)) == ERR.INVALID_PARAMETER


@pytest.mark.parametrize("perm", [PERM_BE, 0x80, PERM_MC | PERM_BE, PERM_PCMR | PERM_CM, PERM_PCMR | PERM_MC | PERM_GA])
def test_token_unsupported_permission(pinned, perm):
    # CTAP 2.2: pcmr only alone (the persistent token is read-only).
    assert err(pinned.auth, pinned.token_request(PIN, perm)) == ERR.UNAUTHORIZED_PERMISSION
    assert pinned.retries() == (8, False)  # refused before the PIN is looked at


# -- CTAP 2.2 persistentPinUvAuthToken (pcmr) ------------------------------------------------


def test_persistent_token_is_kept_in_the_store(pinned):
    auth = pinned.auth
    token = pinned.token(PIN, PERM_PCMR)
    assert len(token) == 32
    assert auth.store.get(st.STATE_PERSISTENT_TOKEN) == token
    # Asked again (any protocol): the same one, not a new one per platform.
    assert pinned.token(PIN, PERM_PCMR) == token
    # It leaves the pinUvAuthToken in use alone, and is no such token.
    assert not auth.pin_uv.in_use
    regular = pinned.token(PIN, PERM_MC)
    assert regular != token
    assert pinned.token(PIN, PERM_PCMR) == token
    assert auth.pin_uv.in_use and auth.pin_uv.permissions == PERM_MC


def test_persistent_token_survives_a_power_cycle(pinned):
    token = pinned.token(PIN, PERM_PCMR)
    again = power_cycle(pinned.auth)
    assert again.store.get(st.STATE_PERSISTENT_TOKEN) == token


def test_persistent_token_needs_the_pin(pinned):
    made = pinned.auth.store.get(st.STATE_PERSISTENT_TOKEN)  # by setPIN
    assert err(pinned.auth, pinned.token_request("9999", PERM_PCMR)) == ERR.PIN_INVALID
    assert pinned.retries() == (7, False)
    assert pinned.auth.store.get(st.STATE_PERSISTENT_TOKEN) == made
    assert pinned.token(PIN, PERM_PCMR) == made


def test_set_pin_makes_the_persistent_token(plat):
    assert plat.auth.store.get(st.STATE_PERSISTENT_TOKEN) is None
    plat.set_pin(PIN)
    assert len(plat.auth.store.get(st.STATE_PERSISTENT_TOKEN)) == 32


def test_a_pin_from_before_ctap22_gets_its_token_when_asked(pinned):
    """A PIN set by an older firmware: no token in the state until pcmr is asked for."""
    pinned.auth.store.update({st.STATE_PERSISTENT_TOKEN: None})
    token = pinned.token(PIN, PERM_PCMR)
    assert pinned.auth.store.get(st.STATE_PERSISTENT_TOKEN) == token
    assert pinned.token(PIN, PERM_PCMR) == token


def test_persistent_token_without_pin(plat):
    assert err(plat.auth, plat.token_request(PIN, PERM_PCMR)) == ERR.PIN_NOT_SET


def test_persistent_token_has_no_rp_id(pinned):
    assert err(pinned.auth, pinned.token_request(PIN, PERM_PCMR, rp_id=RP_ID)) == ERR.INVALID_PARAMETER
    assert pinned.retries() == (8, False)


def test_persistent_token_ends_with_change_pin(pinned):
    token = pinned.token(PIN, PERM_PCMR)
    pinned.change_pin(PIN, "5678")
    new = pinned.auth.store.get(st.STATE_PERSISTENT_TOKEN)
    assert new is not None and new != token
    assert pinned.token("5678", PERM_PCMR) == new


def test_persistent_token_with_force_pin_change(pinned):
    pinned.auth.store.update({st.STATE_FORCE_PIN_CHANGE: True})
    assert err(pinned.auth, pinned.token_request(PIN, PERM_PCMR)) == ERR.PIN_POLICY_VIOLATION
    assert pinned.retries() == (8, False)  # the PIN was right


def test_supported_permissions_follow_get_info(auth, monkeypatch):
    assert auth.options()["largeBlobs"] is True
    assert client_pin.supported_permissions(auth) & PERM_LBW
    monkeypatch.setattr(type(auth), "options", lambda self: {"largeBlobs": False})
    assert client_pin.supported_permissions(auth) & PERM_LBW == 0


def test_token_without_a_pin(plat):
    assert err(plat.auth, plat.token_request(PIN, PERM_GA)) == ERR.PIN_NOT_SET
    assert err(plat.auth, plat.token_request(PIN, legacy=True)) == ERR.PIN_NOT_SET


@pytest.mark.parametrize("size_delta", [-1, 1, 16])
def test_pin_hash_enc_of_wrong_size_is_a_counted_mismatch(pinned, size_delta):
    req = pinned.token_request(PIN, PERM_GA)
    req[6] = req[6][:size_delta] if size_delta < 0 else req[6] + bytes(size_delta)
    assert err(pinned.auth, req) == ERR.PIN_INVALID
    assert pinned.retries() == (7, False)


def test_token_expires_unused_after_30_s(pinned):
    token = pinned.token(PIN, PERM_MC)
    pinned.auth.board.clock.advance(30001)
    assert err(pinned.auth, mc_with_token(pinned, token), MAKE_CREDENTIAL) == ERR.PIN_AUTH_INVALID


def test_token_of_one_protocol_does_not_authenticate_the_other(pinned):
    token = pinned.token(PIN, PERM_MC)
    other = Platform(pinned.auth, 3 - pinned.version)
    assert err(pinned.auth, mc_with_token(other, token), MAKE_CREDENTIAL) == ERR.PIN_AUTH_INVALID


# -- retries, lockout, power-cycle block -------------------------------------------------------------


def test_wrong_pin_decrements_and_right_pin_restores(pinned):
    for expected in (7, 6):
        assert err(pinned.auth, pinned.token_request("9999", PERM_GA)) == ERR.PIN_INVALID
        assert pinned.retries() == (expected, False)
    pinned.token(PIN, PERM_GA)
    assert pinned.retries() == (8, False)
    assert state(pinned.auth, st.STATE_PIN_RETRIES) is None  # absent = 8


def test_three_mismatches_block_until_power_cycle(pinned):
    for _ in range(2):
        assert err(pinned.auth, pinned.token_request("9999", PERM_GA)) == ERR.PIN_INVALID
    assert err(pinned.auth, pinned.token_request("9999", PERM_GA)) == ERR.PIN_AUTH_BLOCKED
    assert pinned.retries() == (5, True)
    # Even the right PIN is refused now, and costs nothing.
    assert err(pinned.auth, pinned.token_request(PIN, PERM_GA)) == ERR.PIN_AUTH_BLOCKED
    assert err(pinned.auth, pinned.token_request(PIN, legacy=True)) == ERR.PIN_AUTH_BLOCKED
    assert err(pinned.auth, pinned.change_pin_request(PIN, "5678")) == ERR.PIN_AUTH_BLOCKED
    assert pinned.retries() == (5, True)
    # Power cycle: retries are what flash says, the block is gone.
    auth2 = power_cycle(pinned.auth)
    p2 = Platform(auth2, pinned.version)
    assert p2.retries() == (5, False)
    p2.token(PIN, PERM_GA)
    assert p2.retries() == (8, False)


def test_consecutive_count_resets_on_success(pinned):
    for _ in range(2):
        err(pinned.auth, pinned.token_request("9999", PERM_GA))
    pinned.token(PIN, PERM_GA)
    for _ in range(2):
        assert err(pinned.auth, pinned.token_request("9999", PERM_GA)) == ERR.PIN_INVALID
    assert pinned.retries() == (6, False)


def test_eight_wrong_pins_block_the_pin_for_good(pinned):
    auth = pinned.auth
    seen = []
    for i in range(8):
        p = Platform(auth, pinned.version)
        seen.append(err(auth, p.token_request("9999", PERM_GA)))
        if i % 3 == 2:
            auth = power_cycle(auth)
    assert seen == [ERR.PIN_INVALID, ERR.PIN_INVALID, ERR.PIN_AUTH_BLOCKED] * 2 + [ERR.PIN_INVALID, ERR.PIN_BLOCKED]
    for a in (auth, power_cycle(auth)):
        p = Platform(a, pinned.version)
        assert p.retries()[0] == 0
        assert err(a, p.token_request(PIN, PERM_GA)) == ERR.PIN_BLOCKED
        assert err(a, p.token_request(PIN, legacy=True)) == ERR.PIN_BLOCKED
        assert err(a, p.change_pin_request(PIN, "5678")) == ERR.PIN_BLOCKED
    # Only authenticatorReset helps: no PIN, 8 retries.
    call(a, RESET)
    assert info(a)[4]["clientPin"] is False
    assert Platform(a, pinned.version).retries() == (8, False)


def test_retries_are_persisted_before_the_pin_is_compared(pinned, monkeypatch):
    """At the instant of the comparison, flash already holds the decremented counter."""
    seen = []
    real = client_pin.crypto.ct_equal

    def spy(a, b):
        if len(a) == 16 and len(b) == 16:  # the PIN hash comparison (not the record check)
            blob = pinned.auth.board.storage.read(st.REC_STATE)
            seen.append(cbor2.loads(blob[:-8]).get(st.STATE_PIN_RETRIES, 8))
        return real(a, b)

    monkeypatch.setattr(client_pin.crypto, "ct_equal", spy)
    err(pinned.auth, pinned.token_request("9999", PERM_GA))
    pinned.token(PIN, PERM_GA)
    assert seen == [7, 6]
    assert pinned.retries() == (8, False)


def test_power_cut_right_after_the_decrement_keeps_it(pinned):
    """A key unplugged mid-check (the write that restores retries never happens) stays decremented."""
    storage = pinned.auth.board.storage

    class Cut(Exception):
        pass

    real_write = storage.write
    writes = []

    def write(name, data):
        writes.append(name)
        if len(writes) == 2:  # the first write is the decrement, the second the restore
            raise Cut()
        real_write(name, data)

    storage.write = write
    try:
        with pytest.raises(Cut):
            client_pin.handle(pinned.auth, pinned.token_request(PIN, PERM_GA))
    finally:
        storage.write = real_write
    auth2 = power_cycle(pinned.auth)
    assert Platform(auth2, pinned.version).retries() == (7, False)


def test_reset_clears_pin_state_and_runtime_state(pinned):
    for _ in range(3):
        err(pinned.auth, pinned.token_request("9999", PERM_GA))
    call(pinned.auth, RESET)
    assert pinned.auth.pin_consecutive_mismatches == 0
    assert not pinned.auth.pin_uv.in_use
    pinned.set_pin("2468")
    pinned.token("2468", PERM_CM)


# -- forcePINChange and minPINLength --------------------------------------------------------------


def _force_pin_change(auth):
    auth.store.update({st.STATE_FORCE_PIN_CHANGE: True})


def test_force_pin_change_blocks_tokens_until_changed(pinned):
    _force_pin_change(pinned.auth)
    assert info(pinned.auth)[0x0C] is True
    assert err(pinned.auth, pinned.token_request(PIN, legacy=True)) == ERR.PIN_INVALID
    assert err(pinned.auth, pinned.token_request(PIN, PERM_GA)) == ERR.PIN_POLICY_VIOLATION
    # The PIN itself was right: no retry lost.
    assert pinned.retries() == (8, False)
    assert err(pinned.auth, pinned.change_pin_request(PIN, PIN)) == ERR.PIN_POLICY_VIOLATION
    pinned.change_pin(PIN, "8642")
    assert info(pinned.auth)[0x0C] is False
    pinned.token("8642", PERM_GA)


def test_min_pin_length_applies_to_set_and_change(auth, plat):
    auth.store.update({st.STATE_MIN_PIN_LENGTH: 6})
    assert info(auth)[0x0D] == 6
    assert err(auth, plat.set_pin_request("12345")) == ERR.PIN_POLICY_VIOLATION
    plat.set_pin("123456")
    assert err(auth, plat.change_pin_request("123456", "54321")) == ERR.PIN_POLICY_VIOLATION
    plat.change_pin("123456", "654321")


# -- what the token is for ---------------------------------------------------------------------------


def test_cm_token_is_refused_for_make_credential(pinned):
    token = pinned.token(PIN, PERM_CM)
    assert err(pinned.auth, mc_with_token(pinned, token), MAKE_CREDENTIAL) == ERR.PIN_AUTH_INVALID


def test_get_info_pin_members(auth):
    i = info(auth)
    assert i[6] == [2, 1]
    assert i[0x0C] is False and i[0x0D] == 4
    assert i[4]["pinUvAuthToken"] is True and "uv" not in i[4]


def test_set_pin_then_make_credential_needs_no_pin_for_non_resident(pinned):
    call(pinned.auth, MAKE_CREDENTIAL, mc_request())
