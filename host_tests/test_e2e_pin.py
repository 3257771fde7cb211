"""End to end: python-fido2's ClientPin, CredentialManagement, Config and Fido2Client
against the virtual key over the socket transport, responses checked by Fido2Server
and py_webauthn. "Power cycle" = stop the key and start a new one on the same storage.
"""

import hashlib

import pytest
import webauthn
from cryptography import x509
from fido2.client import ClientError, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Config, CredentialManagement, Ctap2
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
)

import make_attestation  # tools/
from boards.host.memory_storage import MemoryStorage
from conftest import ORIGIN, RP_ID, PoweredKey, webauthn_client

ERR = CtapError.ERR
PIN = "271828"
PERM = ClientPin.PERMISSION


@pytest.fixture(params=[PinProtocolV1, PinProtocolV2], ids=["v1", "v2"])
def protocol(request):
    return request.param


class Pin(UserInteraction):
    """A user who types the PIN whenever asked."""

    def __init__(self, pin):
        self.pin = pin
        self.asked = 0

    def request_pin(self, permissions, rp_id):
        self.asked += 1
        return self.pin


def _server():
    return Fido2Server(PublicKeyCredentialRpEntity(id=RP_ID, name="Example"))


def _user(n):
    return PublicKeyCredentialUserEntity(id=b"user-%d" % n, name="user%d@example.com" % n, display_name="User %d" % n)


def _register(client, server, n, uv, rk=False):
    """Register user n; (options, client result, the server's verified authenticator data)."""
    opts, state = server.register_begin(
        _user(n),
        resident_key_requirement=ResidentKeyRequirement.REQUIRED if rk else ResidentKeyRequirement.DISCOURAGED,
        user_verification=uv,
    )
    result = client.make_credential(opts.public_key)
    return opts, result, server.register_complete(state, result)


# -- ClientPin -------------------------------------------------------------------------------------


def test_set_change_and_token(powered, protocol):
    cp = powered.client_pin(protocol)
    assert cp.get_pin_retries() == (8, False)
    cp.set_pin(PIN)
    assert Ctap2(powered.dev).get_info().options["clientPin"] is True
    token = cp.get_pin_token(PIN, PERM.MAKE_CREDENTIAL | PERM.GET_ASSERTION, RP_ID)
    assert len(token) == 32
    cp.change_pin(PIN, "314159")
    with pytest.raises(CtapError) as e:
        cp.get_pin_token(PIN, PERM.GET_ASSERTION)
    assert e.value.code == ERR.PIN_INVALID
    assert cp.get_pin_retries() == (7, False)
    cp.get_pin_token("314159", PERM.CREDENTIAL_MGMT)
    assert cp.get_pin_retries() == (8, False)
    # legacy getPinToken (no permissions) as CTAP 2.0 platforms do it
    assert len(cp.get_pin_token("314159")) == 32


def test_set_pin_twice_and_bad_pins(powered, protocol):
    cp = powered.client_pin(protocol)
    cp.set_pin(PIN)
    with pytest.raises(CtapError) as e:
        cp.set_pin("999999")
    assert e.value.code == ERR.PIN_AUTH_INVALID
    with pytest.raises(CtapError) as e:
        cp.change_pin(PIN, "x" * 64)  # 64 bytes: no room for the padding
    assert e.value.code == ERR.PIN_POLICY_VIOLATION
    with pytest.raises(CtapError) as e:
        cp.change_pin(PIN, "x" * 70)  # padded to 80 bytes, not 64
    assert e.value.code == ERR.INVALID_PARAMETER


def test_lockout_power_cycle_block_and_persistence(powered, protocol):
    powered.client_pin(protocol).set_pin(PIN)
    codes = []
    for attempt in range(8):
        cp = powered.client_pin(protocol)
        with pytest.raises(CtapError) as e:
            cp.get_pin_token("000000", PERM.GET_ASSERTION)
        codes.append(e.value.code)
        if codes[-1] == ERR.PIN_AUTH_BLOCKED:
            # Blocked until power-up, even for the right PIN, and it costs nothing.
            retries, power_cycle_state = cp.get_pin_retries()
            assert power_cycle_state is True
            with pytest.raises(CtapError) as e:
                cp.get_pin_token(PIN, PERM.GET_ASSERTION)
            assert e.value.code == ERR.PIN_AUTH_BLOCKED
            assert cp.get_pin_retries()[0] == retries
            powered.power_cycle()
            # The counter lives in flash: the restart restored nothing.
            assert powered.client_pin(protocol).get_pin_retries() == (retries, False)
    assert codes == [ERR.PIN_INVALID, ERR.PIN_INVALID, ERR.PIN_AUTH_BLOCKED] * 2 + [ERR.PIN_INVALID, ERR.PIN_BLOCKED]
    powered.power_cycle()
    cp = powered.client_pin(protocol)
    assert cp.get_pin_retries()[0] == 0
    with pytest.raises(CtapError) as e:
        cp.get_pin_token(PIN, PERM.GET_ASSERTION)
    assert e.value.code == ERR.PIN_BLOCKED
    # Only a reset (within 10 s of power-up, with a touch) recovers the key.
    powered.ctap.reset()
    assert powered.ctap.get_info().options["clientPin"] is False
    powered.client_pin(protocol).set_pin(PIN)


def test_restart_between_wrong_pins_does_not_restore_retries(powered, protocol):
    powered.client_pin(protocol).set_pin(PIN)
    for expected in range(7, 0, -1):
        with pytest.raises(CtapError) as e:
            powered.client_pin(protocol).get_pin_token("000000", PERM.GET_ASSERTION)
        assert e.value.code == ERR.PIN_INVALID
        powered.power_cycle()
        assert powered.client_pin(protocol).get_pin_retries()[0] == expected
    powered.client_pin(protocol).get_pin_token(PIN, PERM.GET_ASSERTION)
    assert powered.client_pin(protocol).get_pin_retries()[0] == 8


# -- Fido2Client + Fido2Server with user verification ------------------------------------------------


def test_register_and_sign_in_with_pin(powered):
    ClientPin(powered.ctap).set_pin(PIN)
    user = Pin(PIN)
    client = webauthn_client(powered.dev, interaction=user)
    server = _server()
    opts, result, auth_data = _register(client, server, 1, "required", rk=True)
    assert auth_data.is_user_verified() and auth_data.is_user_present()
    reg = webauthn.verify_registration_response(
        credential=dict(result),
        expected_challenge=opts.public_key.challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
    )
    assert user.asked == 1

    opts, state = server.authenticate_begin(user_verification="required")
    selection = client.get_assertion(opts.public_key)
    response = selection.get_response(0)
    server.authenticate_complete(state, [auth_data.credential_data], response)
    ad = response.response.authenticator_data
    assert ad.is_user_verified()
    # With UV the key shows who the credential belongs to.
    assert selection.get_assertions()[0].user["name"] == "user1@example.com"
    webauthn.verify_authentication_response(
        credential=dict(response),
        expected_challenge=opts.public_key.challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        credential_public_key=reg.credential_public_key,
        credential_current_sign_count=reg.sign_count,
        require_user_verification=True,
    )
    assert user.asked == 2


def test_exclude_list_with_pin_still_refuses(powered):
    ClientPin(powered.ctap).set_pin(PIN)
    client = webauthn_client(powered.dev, interaction=Pin(PIN))
    server = _server()
    first = _register(client, server, 1, "required")[2]
    opts, _ = server.register_begin(_user(1), credentials=[first.credential_data], user_verification="required")
    with pytest.raises(ClientError) as e:
        client.make_credential(opts.public_key)
    assert e.value.code == ClientError.ERR.DEVICE_INELIGIBLE


def test_discouraged_uv_resident_key_asks_for_the_pin_after_puat_required(powered):
    """makeCredUvNotRqd covers only non-resident credentials: a PIN'd key wants UV for a passkey."""
    ClientPin(powered.ctap).set_pin(PIN)
    user = Pin(PIN)
    client = webauthn_client(powered.dev, interaction=user)
    server = _server()
    auth_data = _register(client, server, 2, "discouraged", rk=True)[2]
    assert auth_data.is_user_verified() and user.asked == 1
    auth_data = _register(client, server, 3, "discouraged")[2]
    assert not auth_data.is_user_verified() and user.asked == 1


def test_wrong_pin_through_the_client(powered):
    ClientPin(powered.ctap).set_pin(PIN)
    client = webauthn_client(powered.dev, interaction=Pin("999999"))
    opts, _ = _server().register_begin(_user(1), user_verification="required")
    with pytest.raises(ClientError) as e:
        client.make_credential(opts.public_key)
    assert e.value.code == ClientError.ERR.BAD_REQUEST
    assert isinstance(e.value.cause, CtapError) and e.value.cause.code == ERR.PIN_INVALID


# -- CredentialManagement ------------------------------------------------------------------------------


def _passkeys(powered, users):
    creds = {}
    for rp_id, n in users:
        server = Fido2Server(PublicKeyCredentialRpEntity(id=rp_id, name=rp_id))
        client = webauthn_client(powered.dev, "https://" + rp_id, Pin(PIN))
        creds[n] = _register(client, server, n, "required", rk=True)[2].credential_data
    return creds


def test_credential_management(powered, protocol):
    ClientPin(powered.ctap).set_pin(PIN)
    creds = _passkeys(powered, [(RP_ID, 1), (RP_ID, 2), ("other.example", 3)])
    cp = powered.client_pin(protocol)
    token = cp.get_pin_token(PIN, PERM.CREDENTIAL_MGMT)
    cm = CredentialManagement(powered.ctap, cp.protocol, token)
    meta = cm.get_metadata()
    assert meta[1] == 3 and meta[2] == powered.key.authenticator.store.max_resident - 3

    rps = cm.enumerate_rps()
    assert sorted(r[3]["id"] for r in rps) == [RP_ID, "other.example"]
    rp_hash = [r[4] for r in rps if r[3]["id"] == RP_ID][0]
    listed = cm.enumerate_creds(rp_hash)
    assert sorted(c[6]["id"] for c in listed) == [b"user-1", b"user-2"]
    for c in listed:
        n = int(c[6]["id"][-1:])
        assert c[7]["id"] == creds[n].credential_id
        assert c[8] == dict(creds[n].public_key)  # the key the RP stored
        assert c[6]["displayName"] == "User %d" % n

    cm.update_user_info(
        {"id": creds[1].credential_id, "type": "public-key"},
        {"id": b"user-1", "name": "renamed@example.com", "displayName": "Renamed"},
    )
    cm.delete_cred({"id": creds[2].credential_id, "type": "public-key"})
    listed = cm.enumerate_creds(rp_hash)
    assert [(c[6]["name"], c[6]["displayName"]) for c in listed] == [("renamed@example.com", "Renamed")]
    assert cm.get_metadata()[1] == 2

    # The deleted passkey is gone for the RP too.
    client = webauthn_client(powered.dev, interaction=Pin(PIN))
    server = _server()
    opts, state = server.authenticate_begin([creds[2]], user_verification="discouraged")
    with pytest.raises(ClientError) as e:
        client.get_assertion(opts.public_key)
    assert e.value.code == ClientError.ERR.DEVICE_INELIGIBLE
    opts, state = server.authenticate_begin(user_verification="required")
    selection = client.get_assertion(opts.public_key)
    assert [a.user["name"] for a in selection.get_assertions()] == ["renamed@example.com"]
    server.authenticate_complete(state, [creds[1]], selection.get_response(0))


def test_credential_management_token_bound_to_an_rp(powered, protocol):
    ClientPin(powered.ctap).set_pin(PIN)
    _passkeys(powered, [(RP_ID, 1), ("other.example", 3)])
    cp = powered.client_pin(protocol)
    cm = CredentialManagement(powered.ctap, cp.protocol, cp.get_pin_token(PIN, PERM.CREDENTIAL_MGMT, RP_ID))
    with pytest.raises(CtapError) as e:
        cm.get_metadata()
    assert e.value.code == ERR.PIN_AUTH_INVALID
    assert len(cm.enumerate_creds(hashlib.sha256(RP_ID.encode()).digest())) == 1
    with pytest.raises(CtapError) as e:
        cm.enumerate_creds(hashlib.sha256(b"other.example").digest())
    assert e.value.code == ERR.PIN_AUTH_INVALID


def test_credential_management_empty_key(powered):
    cp = ClientPin(powered.ctap)
    cp.set_pin(PIN)
    cm = CredentialManagement(powered.ctap, cp.protocol, cp.get_pin_token(PIN, PERM.CREDENTIAL_MGMT))
    assert cm.enumerate_rps() == []
    assert cm.get_metadata()[1] == 0


# -- Config --------------------------------------------------------------------------------------------


def test_config_always_uv_and_min_pin_length(powered, protocol):
    cp = powered.client_pin(protocol)
    cp.set_pin(PIN)
    cfg = Config(powered.ctap, cp.protocol, cp.get_pin_token(PIN, PERM.AUTHENTICATOR_CFG))
    cfg.toggle_always_uv()
    info = powered.ctap.get_info()
    assert info.options["alwaysUv"] is True and info.options["makeCredUvNotRqd"] is False

    # alwaysUv: even a non-resident credential now needs the PIN.
    user = Pin(PIN)
    client = webauthn_client(powered.dev, interaction=user)
    assert _register(client, _server(), 1, "discouraged")[2].is_user_verified()
    assert user.asked == 1

    # That registration took a new token: every older one, cfg's too, is dead.
    with pytest.raises(CtapError) as e:
        cfg.set_min_pin_length(8)
    assert e.value.code == ERR.PIN_AUTH_INVALID
    cfg = Config(powered.ctap, cp.protocol, cp.get_pin_token(PIN, PERM.AUTHENTICATOR_CFG))
    cfg.set_min_pin_length(8, rp_ids=["example.com"])
    info = powered.ctap.get_info()
    assert info.min_pin_length == 8 and info.force_pin_change is True
    with pytest.raises(CtapError) as e:
        cp.get_pin_token(PIN, PERM.GET_ASSERTION)
    assert e.value.code == ERR.PIN_POLICY_VIOLATION
    with pytest.raises(CtapError) as e:
        cp.change_pin(PIN, "1234567")
    assert e.value.code == ERR.PIN_POLICY_VIOLATION
    cp.change_pin(PIN, "12345678")
    assert powered.ctap.get_info().force_pin_change is False

    # Settings live in flash.
    powered.power_cycle()
    info = powered.ctap.get_info()
    assert info.min_pin_length == 8 and info.options["alwaysUv"] is True


def test_config_without_pin_needs_no_token(powered):
    cfg = Config(powered.ctap)
    cfg.set_min_pin_length(6)
    assert powered.ctap.get_info().min_pin_length == 6
    with pytest.raises(CtapError) as e:
        cfg.set_min_pin_length(5)
    assert e.value.code == ERR.PIN_POLICY_VIOLATION


def test_enterprise_attestation(key_factory):
    ca_cert, ca_key, _, _ = make_attestation.make()
    ea_cert, ea_key = make_attestation.make_enterprise(ca_cert, ca_key, "SN-7")
    storage = MemoryStorage()
    make_attestation.install_enterprise(storage, ea_key, ea_cert, [RP_ID])
    powered = PoweredKey(key_factory, storage)
    try:
        assert powered.ctap.get_info().options["ep"] is False
        cp = ClientPin(powered.ctap)
        cp.set_pin(PIN)
        Config(powered.ctap, cp.protocol, cp.get_pin_token(PIN, PERM.AUTHENTICATOR_CFG)).enable_enterprise_attestation()
        assert powered.ctap.get_info().options["ep"] is True
        client = webauthn_client(powered.dev, interaction=Pin(PIN))
        server = Fido2Server(
            PublicKeyCredentialRpEntity(id=RP_ID, name="Example"),
            attestation=AttestationConveyancePreference.ENTERPRISE,
            verify_attestation=lambda att, cdh: None,
        )
        opts, state = server.register_begin(_user(1), user_verification="required")
        result = client.make_credential(opts.public_key)
        att = result.response.attestation_object
        assert x509.load_der_x509_certificate(att.att_stmt["x5c"][0]) == ea_cert
        assert server.register_complete(state, result).is_user_verified()
        # The CTAP response says so too (epAtt), here for platform-managed EA.
        token = cp.get_pin_token(PIN, PERM.MAKE_CREDENTIAL, "corp.example")
        cdh = bytes(32)
        resp = powered.ctap.make_credential(
            cdh,
            {"id": "corp.example", "name": "Corp"},
            {"id": b"u", "name": "u"},
            [{"type": "public-key", "alg": -7}],
            pin_uv_param=cp.protocol.authenticate(token, cdh),
            pin_uv_protocol=cp.protocol.VERSION,
            enterprise_attestation=2,
        )
        assert resp.ep_att is True and x509.load_der_x509_certificate(resp.att_stmt["x5c"][0]) == ea_cert
    finally:
        powered.dev.close()


def test_get_info_as_python_fido2_sees_it(device):
    info = Ctap2(device).get_info()
    assert info.pin_uv_protocols == [2, 1]
    assert ClientPin.is_supported(info) and ClientPin.is_token_supported(info)
    assert CredentialManagement.is_supported(info) and CredentialManagement.is_update_supported(info)
    assert Config.is_supported(info)
    assert info.min_pin_length == 4 and info.max_rpids_for_min_pin == 8
    assert "uv" not in info.options


def test_always_uv_turns_u2f_off(key_factory):
    from fido2.ctap1 import Ctap1
    from fido2.hid import CAPABILITY

    powered = PoweredKey(key_factory)
    try:
        assert "U2F_V2" in powered.ctap.get_info().versions
        assert Ctap1(powered.dev).get_version() == "U2F_V2"
        Config(powered.ctap).toggle_always_uv()
        assert "U2F_V2" not in powered.ctap.get_info().versions
        with pytest.raises(CtapError) as e:
            Ctap1(powered.dev).get_version()
        assert e.value.code == ERR.INVALID_COMMAND
        powered.power_cycle()  # a new INIT: the capability says it too
        assert powered.dev.capabilities & CAPABILITY.NMSG
        Config(powered.ctap).toggle_always_uv()
        assert Ctap1(powered.dev).get_version() == "U2F_V2"
    finally:
        powered.dev.close()
