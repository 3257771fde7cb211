"""firmware/ctap2/config.py: authenticatorConfig, and enterprise attestation in makeCredential."""

import hashlib
import os

import pytest
from cryptography import x509
from fido2 import cbor
from fido2.ctap import CtapError

import make_attestation  # tools/
from firmware import store as st
from pinhelpers import auth, pinned, plat, protocol  # noqa: F401 (pytest fixtures)
from pinhelpers import (
    PIN,
    CONFIG,
    GET_ASSERTION,
    MAKE_CREDENTIAL,
    PERM_ACFG,
    PERM_CM,
    PERM_MC,
    RESET,
    Platform,
    call,
    code_of,
    ga_request,
    info,
    make_auth,
    mc_request,
    mc_with_token,
    power_cycle,
)

ERR = CtapError.ERR


def config_request(sub, params=None, plat=None, token=None):
    """An authenticatorConfig request, MACed as python-fido2's Config._call does when a token is given."""
    req = {1: sub}
    if params is not None:
        req[2] = params
    if token is not None:
        msg = b"\xff" * 32 + b"\x0d" + bytes([sub]) + (cbor.encode(params) if params is not None else b"")
        req[3] = plat.version
        req[4] = plat.mac(token, msg)
    return req


def err(auth, req, cmd=CONFIG):
    with pytest.raises(CtapError) as e:
        call(auth, cmd, req)
    return code_of(e)


def options(auth):
    return info(auth)[4]


# -- the command ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "req, code",
    [
        ({}, ERR.MISSING_PARAMETER),
        ({2: {}}, ERR.MISSING_PARAMETER),
        ({1: "2"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 2, 2: [1]}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 2, 3: "1"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 2, 4: "mac"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 0}, ERR.INVALID_PARAMETER),
        ({1: 4}, ERR.INVALID_PARAMETER),
        ({1: 0xFF}, ERR.INVALID_PARAMETER),  # vendorPrototype
        ({1: 1}, ERR.INVALID_PARAMETER),  # enableEnterpriseAttestation, nothing provisioned
    ],
)
def test_malformed(auth, req, code):
    assert err(auth, req) == code


def test_get_info(auth):
    i = info(auth)
    assert i[4]["authnrCfg"] is True and i[4]["setMinPINLength"] is True
    assert "ep" not in i[4]
    assert i[0x10] == 8


# -- authorization ------------------------------------------------------------------------------------


def test_unprotected_key_needs_no_token(auth):
    call(auth, CONFIG, config_request(3, {1: 6}))
    assert info(auth)[0x0D] == 6


def test_protected_key_needs_a_token(pinned):
    auth = pinned.auth
    assert err(auth, config_request(2)) == ERR.PUAT_REQUIRED
    token = pinned.token(PIN, PERM_ACFG)
    req = config_request(2, plat=pinned, token=token)
    del req[3]
    assert err(auth, req) == ERR.MISSING_PARAMETER
    req = config_request(2, plat=pinned, token=token)
    req[3] = 3
    assert err(auth, req) == ERR.INVALID_PARAMETER
    req = config_request(2, plat=pinned, token=token)
    req[4] = os.urandom(len(req[4]))
    assert err(auth, req) == ERR.PIN_AUTH_INVALID
    assert options(auth)["alwaysUv"] is False
    call(auth, CONFIG, config_request(2, plat=pinned, token=token))
    assert options(auth)["alwaysUv"] is True


def test_needs_acfg_permission(pinned):
    token = pinned.token(PIN, PERM_MC | PERM_CM)
    assert err(pinned.auth, config_request(2, plat=pinned, token=token)) == ERR.PIN_AUTH_INVALID


def test_mac_covers_sub_command_and_params(pinned):
    token = pinned.token(PIN, PERM_ACFG)
    req = config_request(3, {1: 6}, plat=pinned, token=token)
    req[2] = {1: 63}
    assert err(pinned.auth, req) == ERR.PIN_AUTH_INVALID
    req = config_request(3, {1: 6}, plat=pinned, token=token)
    req[1] = 2
    assert err(pinned.auth, req) == ERR.PIN_AUTH_INVALID
    assert info(pinned.auth)[0x0D] == 4 and options(pinned.auth)["alwaysUv"] is False


def test_acfg_token_survives_use(pinned):
    token = pinned.token(PIN, PERM_ACFG)
    call(pinned.auth, CONFIG, config_request(2, plat=pinned, token=token))
    call(pinned.auth, CONFIG, config_request(2, plat=pinned, token=token))
    assert options(pinned.auth)["alwaysUv"] is False


def test_expired_token(pinned):
    token = pinned.token(PIN, PERM_ACFG)
    pinned.auth.board.clock.advance(30001)
    assert err(pinned.auth, config_request(2, plat=pinned, token=token)) == ERR.PIN_AUTH_INVALID


# -- toggleAlwaysUv ----------------------------------------------------------------------------------


def test_toggle_always_uv_without_pin(auth):
    call(auth, CONFIG, config_request(2))
    assert options(auth)["alwaysUv"] is True and options(auth)["makeCredUvNotRqd"] is False
    # alwaysUv without a PIN: other subcommands need a token that cannot exist...
    assert err(auth, config_request(3, {1: 6})) == ERR.PUAT_REQUIRED
    # ...but toggling it off again needs none.
    call(auth, CONFIG, config_request(2))
    assert options(auth)["alwaysUv"] is False and options(auth)["makeCredUvNotRqd"] is True


def test_always_uv_persists_and_reset_clears_it(auth):
    call(auth, CONFIG, config_request(2))
    auth2 = power_cycle(auth)
    assert options(auth2)["alwaysUv"] is True
    with pytest.raises(CtapError) as e:
        call(auth2, MAKE_CREDENTIAL, mc_request())
    assert code_of(e) == ERR.PIN_NOT_SET
    call(auth2, RESET)
    assert options(auth2)["alwaysUv"] is False


def test_always_uv_with_pin_requires_tokens(pinned):
    token = pinned.token(PIN, PERM_ACFG)
    call(pinned.auth, CONFIG, config_request(2, plat=pinned, token=token))
    with pytest.raises(CtapError) as e:
        call(pinned.auth, GET_ASSERTION, ga_request())
    assert code_of(e) == ERR.PUAT_REQUIRED
    token = pinned.token(PIN, PERM_MC)
    call(pinned.auth, MAKE_CREDENTIAL, mc_with_token(pinned, token))


# -- setMinPINLength ------------------------------------------------------------------------------------


def test_set_min_pin_length(pinned):
    token = pinned.token(PIN, PERM_ACFG)
    call(pinned.auth, CONFIG, config_request(3, {1: 4, 3: False}, plat=pinned, token=token))
    assert info(pinned.auth)[0x0D] == 4 and info(pinned.auth)[0x0C] is False
    call(pinned.auth, CONFIG, config_request(3, {1: 6}, plat=pinned, token=token))
    i = info(pinned.auth)
    # The 4-digit PIN is now too short: it must be changed before use.
    assert i[0x0D] == 6 and i[0x0C] is True
    assert err(pinned.auth, pinned.token_request(PIN, PERM_MC), 0x06) == ERR.PIN_POLICY_VIOLATION
    assert err(pinned.auth, pinned.change_pin_request(PIN, "12345"), 0x06) == ERR.PIN_POLICY_VIOLATION
    pinned.change_pin(PIN, "123456")
    assert info(pinned.auth)[0x0C] is False
    pinned.token("123456", PERM_MC)


def test_min_pin_length_never_shrinks(auth):
    call(auth, CONFIG, config_request(3, {1: 8}))
    assert err(auth, config_request(3, {1: 7})) == ERR.PIN_POLICY_VIOLATION
    assert info(auth)[0x0D] == 8
    call(auth, CONFIG, config_request(3, {}))  # absent: the current minimum
    call(auth, CONFIG, config_request(3))  # no parameters at all
    assert info(auth)[0x0D] == 8


def test_min_pin_length_above_the_longest_pin(auth):
    assert err(auth, config_request(3, {1: 64})) == ERR.PIN_POLICY_VIOLATION
    call(auth, CONFIG, config_request(3, {1: 63}))


def test_force_change_pin(pinned):
    token = pinned.token(PIN, PERM_ACFG)
    call(pinned.auth, CONFIG, config_request(3, {3: True}, plat=pinned, token=token))
    assert info(pinned.auth)[0x0C] is True
    assert err(pinned.auth, pinned.token_request(PIN, legacy=True), 0x06) == ERR.PIN_INVALID
    pinned.change_pin(PIN, "4321")
    assert info(pinned.auth)[0x0C] is False


def test_force_change_pin_without_a_pin(auth):
    assert err(auth, config_request(3, {3: True})) == ERR.PIN_NOT_SET
    assert info(auth)[0x0C] is False


def test_min_pin_length_rp_ids(auth):
    def h(rp_id):  # kept as SHA-256(rpId)
        return hashlib.sha256(rp_id.encode()).digest()

    call(auth, CONFIG, config_request(3, {1: 5, 2: ["a.example", "b.example"]}))
    assert auth.store.get(st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES) == [h("a.example"), h("b.example")]
    call(auth, CONFIG, config_request(3, {2: []}))  # empty: unchanged
    assert auth.store.get(st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES) == [h("a.example"), h("b.example")]
    call(auth, CONFIG, config_request(3, {2: ["c.example"]}))  # replaces
    assert auth.store.get(st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES) == [h("c.example")]


@pytest.mark.parametrize(
    "params, code",
    [
        ({2: ["r%d.example" % i for i in range(9)]}, ERR.KEY_STORE_FULL),
        ({2: ["x" * 254]}, ERR.KEY_STORE_FULL),
        ({1: "6"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({1: -1}, ERR.CBOR_UNEXPECTED_TYPE),
        ({2: "a.example"}, ERR.CBOR_UNEXPECTED_TYPE),
        ({2: [b"a.example"]}, ERR.CBOR_UNEXPECTED_TYPE),
        ({3: 1}, ERR.CBOR_UNEXPECTED_TYPE),
    ],
)
def test_set_min_pin_length_bad_params_change_nothing(auth, params, code):
    before = dict(auth.store._state)
    params = dict(params)
    params.setdefault(1, 6)
    assert err(auth, config_request(3, params)) == code
    assert auth.store._state == before


def test_reset_restores_the_defaults(pinned):
    token = pinned.token(PIN, PERM_ACFG)
    call(pinned.auth, CONFIG, config_request(3, {1: 9, 2: ["a.example"]}, plat=pinned, token=token))
    call(pinned.auth, RESET)
    assert info(pinned.auth)[0x0D] == 4 and info(pinned.auth)[0x0C] is False
    assert pinned.auth.store.get(st.STATE_MIN_PIN_LENGTH_RP_ID_HASHES) is None


# -- enterprise attestation ------------------------------------------------------------------------------


@pytest.fixture
def ea():
    """A key provisioned with an enterprise attestation identity (RP corp.example)."""
    ca_cert, ca_key, _, _ = make_attestation.make()
    cert, key = make_attestation.make_enterprise(ca_cert, ca_key, "SN-42")
    auth = make_auth()
    make_attestation.install_enterprise(auth.board.storage, key, cert, ["corp.example"])
    auth = make_auth(storage=auth.board.storage)
    return auth, cert


def test_enterprise_attestation_capable_key_advertises_ep(ea):
    auth, _ = ea
    assert options(auth)["ep"] is False
    call(auth, CONFIG, config_request(1))
    assert options(auth)["ep"] is True
    call(auth, CONFIG, config_request(1))  # idempotent
    call(auth, RESET)
    assert options(auth)["ep"] is False  # reset disables it; the identity stays


def test_enable_enterprise_attestation_needs_acfg_once_protected(ea, protocol):
    auth, _ = ea
    plat = Platform(auth, protocol)
    plat.set_pin(PIN)
    assert err(auth, config_request(1)) == ERR.PUAT_REQUIRED
    token = plat.token(PIN, PERM_ACFG)
    call(auth, CONFIG, config_request(1, plat=plat, token=token))
    assert options(auth)["ep"] is True


def _leaf(resp):
    return x509.load_der_x509_certificate(resp[3]["x5c"][0])


def test_make_credential_with_enterprise_attestation(ea):
    auth, cert = ea
    assert err(auth, mc_request(extra={10: 2}), MAKE_CREDENTIAL) == ERR.INVALID_PARAMETER  # ep disabled
    call(auth, CONFIG, config_request(1))
    # Platform-managed: any RP the platform vouches for.
    resp = call(auth, MAKE_CREDENTIAL, mc_request(extra={10: 2}))
    assert resp[4] is True and _leaf(resp) == cert
    # Vendor-facilitated: only the provisioned RP IDs.
    resp = call(auth, MAKE_CREDENTIAL, mc_request(rp_id="corp.example", extra={10: 1}))
    assert resp[4] is True and _leaf(resp) == cert
    resp = call(auth, MAKE_CREDENTIAL, mc_request(rp_id="other.example", extra={10: 1}))
    assert 4 not in resp and "x5c" not in resp[3]  # ordinary (self) attestation
    # Without the parameter: never the enterprise certificate.
    resp = call(auth, MAKE_CREDENTIAL, mc_request(extra={}))
    assert 4 not in resp and "x5c" not in resp[3]
    # attestationFormatsPreference "none" wins: no statement, no epAtt.
    resp = call(auth, MAKE_CREDENTIAL, mc_request(extra={10: 2, 11: ["none"]}))
    assert 4 not in resp and resp[3] == {}


@pytest.mark.parametrize("value", [0, 3, 255])
def test_enterprise_attestation_value(ea, value):
    auth, _ = ea
    call(auth, CONFIG, config_request(1))
    assert err(auth, mc_request(extra={10: value}), MAKE_CREDENTIAL) == ERR.INVALID_OPTION


def test_enterprise_attestation_on_a_key_without_it(auth):
    assert err(auth, mc_request(extra={10: 1}), MAKE_CREDENTIAL) == ERR.INVALID_PARAMETER
    assert err(auth, mc_request(extra={10: "1"}), MAKE_CREDENTIAL) == ERR.CBOR_UNEXPECTED_TYPE
