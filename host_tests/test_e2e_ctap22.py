"""End to end, CTAP 2.2 through python-fido2 2.2.1: the persistent read-only
credential-management token (pcmr), getInfo's encIdentifier and
encCredStoreState decrypted with it (Info.get_identifier /
get_cred_store_state), and the 2.2 getInfo members, on the virtual key.
"""

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, CredentialManagement
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2
from fido2.server import Fido2Server
from fido2.webauthn import (
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
)

from conftest import RP_ID, webauthn_client
from test_e2e_pin import Pin, protocol  # noqa: F401 (protocol: the v1/v2 fixture)

ERR = CtapError.ERR
PIN = "271828"
PERM = ClientPin.PERMISSION
PCMR = PERM.PERSISTENT_CREDENTIAL_MGMT


def _register(powered, n):
    """A discoverable credential for user n, made by Fido2Client with the PIN."""
    server = Fido2Server(PublicKeyCredentialRpEntity(id=RP_ID, name="Example"))
    user = PublicKeyCredentialUserEntity(id=b"user-%d" % n, name="user%d" % n, display_name="User %d" % n)
    opts, state = server.register_begin(user, resident_key_requirement=ResidentKeyRequirement.REQUIRED)
    client = webauthn_client(powered.dev, interaction=Pin(PIN))
    result = client.make_credential(opts.public_key)
    server.register_complete(state, result)
    return result


def _persistent(powered, protocol):
    cp = powered.client_pin(protocol)
    return cp, cp.get_pin_token(PIN, PCMR)


def test_get_info_ctap22_members(powered):
    info = powered.ctap.get_info()
    assert info.attestation_formats == ["packed", "none"]
    assert info.transports_for_reset == ["usb"]
    assert info.max_pin_length == 63
    assert info.pin_complexity_policy is False
    assert info.authenticator_config_commands == [2, 3]
    assert info.options["perCredMgmtRO"] is True
    assert CredentialManagement.is_readonly_supported(info)
    assert info.uv_count_since_pin is None  # no built-in UV
    assert info.long_touch_for_reset is False  # the host board's default
    # No persistent token yet: nothing to encrypt under.
    assert info.enc_identifier is None and info.enc_cred_store_state is None


def test_identifier_decrypts_with_the_persistent_token(powered, protocol):
    assert powered.ctap.get_info().enc_identifier is None  # no PIN, no token
    powered.client_pin(protocol).set_pin(PIN)
    # getInfo first, then the token (the order yubikit uses): it decrypts.
    first = powered.ctap.get_info()
    cp, token = _persistent(powered, protocol)
    ident = first.get_identifier(token)
    info = powered.ctap.get_info()
    assert info.get_identifier(token) == ident
    assert len(ident) == 16
    # A fresh IV in every answer: the ciphertext never repeats, the identifier does.
    again = powered.ctap.get_info()
    assert again.enc_identifier != info.enc_identifier
    assert again.get_identifier(token) == ident
    # Both protocols hand out the same persistent token.
    other = PinProtocolV2 if protocol is PinProtocolV1 else PinProtocolV1
    assert powered.client_pin(other).get_pin_token(PIN, PCMR) == token
    # It persists across power cycles, and so does the identifier.
    powered.power_cycle()
    info = powered.ctap.get_info()
    assert info.get_identifier(token) == ident
    cm = CredentialManagement(powered.ctap, protocol(), token)
    assert cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 0


def test_cred_store_state_follows_the_credentials(powered):
    powered.client_pin(PinProtocolV2).set_pin(PIN)
    _, token = _persistent(powered, PinProtocolV2)
    state0 = powered.ctap.get_info().get_cred_store_state(token)
    assert len(state0) == 16
    assert powered.ctap.get_info().get_cred_store_state(token) == state0
    _register(powered, 1)
    state1 = powered.ctap.get_info().get_cred_store_state(token)
    assert state1 != state0
    # Unchanged across a power cycle.
    powered.power_cycle()
    assert powered.ctap.get_info().get_cred_store_state(token) == state1
    _register(powered, 2)
    state2 = powered.ctap.get_info().get_cred_store_state(token)
    assert state2 not in (state0, state1)
    # An update of user information changes it; so does a deletion.
    cp = powered.client_pin(PinProtocolV2)
    cm = CredentialManagement(powered.ctap, cp.protocol, cp.get_pin_token(PIN, PERM.CREDENTIAL_MGMT))
    rp_hash = cm.enumerate_rps()[0][CredentialManagement.RESULT.RP_ID_HASH]
    creds = cm.enumerate_creds(rp_hash)
    first = creds[0]
    cm.update_user_info(
        first[CredentialManagement.RESULT.CREDENTIAL_ID],
        PublicKeyCredentialUserEntity(id=first[CredentialManagement.RESULT.USER]["id"], name="renamed"),
    )
    state3 = powered.ctap.get_info().get_cred_store_state(token)
    assert state3 not in (state0, state1, state2)
    cm.delete_cred(first[CredentialManagement.RESULT.CREDENTIAL_ID])
    state4 = powered.ctap.get_info().get_cred_store_state(token)
    assert state4 not in (state0, state2, state3)
    # The state is a function of what is stored: user 2 (the newest, listed
    # first) is gone, user 1 is as it was, so it reads as it did then -- a
    # platform whose list is from that time has the right one.
    assert first[CredentialManagement.RESULT.USER]["id"] == b"user-2"
    assert state4 == state1


def test_read_only_credential_management(powered, protocol):
    powered.client_pin(protocol).set_pin(PIN)
    _register(powered, 1)
    _register(powered, 2)
    _, token = _persistent(powered, protocol)
    cm = CredentialManagement(powered.ctap, protocol(), token)
    meta = cm.get_metadata()
    assert meta[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2
    rps = cm.enumerate_rps()
    assert [r[CredentialManagement.RESULT.RP]["id"] for r in rps] == [RP_ID]
    creds = cm.enumerate_creds(rps[0][CredentialManagement.RESULT.RP_ID_HASH])
    assert sorted(c[CredentialManagement.RESULT.USER]["id"] for c in creds) == [b"user-1", b"user-2"]
    cred_id = creds[0][CredentialManagement.RESULT.CREDENTIAL_ID]
    # Read-only: deleting or renaming with it is a token without cm.
    with pytest.raises(CtapError) as e:
        cm.delete_cred(cred_id)
    assert e.value.code == ERR.PIN_AUTH_INVALID
    with pytest.raises(CtapError) as e:
        cm.update_user_info(cred_id, PublicKeyCredentialUserEntity(id=creds[0][CredentialManagement.RESULT.USER]["id"], name="x"))
    assert e.value.code == ERR.PIN_AUTH_INVALID
    assert cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2


def test_persistent_token_dies_with_a_pin_change_and_a_reset(powered, protocol):
    cp = powered.client_pin(protocol)
    cp.set_pin(PIN)
    _, token = _persistent(powered, protocol)
    ident = powered.ctap.get_info().get_identifier(token)
    cp.change_pin(PIN, "314159")
    # Now under the new token: the old one no longer reads it.
    assert powered.ctap.get_info().get_identifier(token) != ident
    cm = CredentialManagement(powered.ctap, protocol(), token)
    with pytest.raises(CtapError) as e:
        cm.get_metadata()
    assert e.value.code == ERR.PIN_AUTH_INVALID
    token2 = cp.get_pin_token("314159", PCMR)
    assert token2 != token
    assert powered.ctap.get_info().get_identifier(token2) == ident  # the device is the same
    # authenticatorReset: a new identifier, no token.
    powered.power_cycle()
    powered.ctap.reset()
    assert powered.ctap.get_info().enc_identifier is None
    cp = powered.client_pin(protocol)
    cp.set_pin(PIN)
    token3 = cp.get_pin_token(PIN, PCMR)
    assert powered.ctap.get_info().get_identifier(token3) != ident


def test_persistent_token_is_not_a_pin_uv_auth_token(powered, protocol):
    """It manages nothing else: makeCredential, getAssertion, config refuse it."""
    cp = powered.client_pin(protocol)
    cp.set_pin(PIN)
    _, token = _persistent(powered, protocol)
    proto = protocol()
    cdh = b"\x11" * 32
    with pytest.raises(CtapError) as e:
        powered.ctap.make_credential(
            cdh,
            {"id": RP_ID, "name": RP_ID},
            {"id": b"u", "name": "u"},
            [{"type": "public-key", "alg": -7}],
            pin_uv_param=proto.authenticate(token, cdh),
            pin_uv_protocol=proto.VERSION,
        )
    assert e.value.code == ERR.PIN_AUTH_INVALID
    # pcmr comes alone.
    with pytest.raises(CtapError) as e:
        cp.get_pin_token(PIN, PCMR | PERM.CREDENTIAL_MGMT)
    assert e.value.code == ERR.UNAUTHORIZED_PERMISSION


def test_persistent_token_with_a_wrong_pin(powered, protocol):
    cp = powered.client_pin(protocol)
    cp.set_pin(PIN)
    info = powered.ctap.get_info()
    with pytest.raises(CtapError) as e:
        cp.get_pin_token("000000", PCMR)
    assert e.value.code == ERR.PIN_INVALID
    assert cp.get_pin_retries()[0] == 7
    token = cp.get_pin_token(PIN, PCMR)
    assert powered.ctap.get_info().get_identifier(token) == info.get_identifier(token)


# -- extensions: thirdPartyPayment, pinComplexityPolicy ---------------------------------------------


def _client(powered, extensions):
    from fido2.client import DefaultClientDataCollector, Fido2Client

    from conftest import ORIGIN

    return Fido2Client(
        powered.dev,
        client_data_collector=DefaultClientDataCollector(ORIGIN),
        user_interaction=Pin(PIN),
        extensions=extensions,
    )


def test_third_party_payment_through_fido2client(powered):
    from fido2.ctap2.extensions import ThirdPartyPaymentExtension

    powered.client_pin(PinProtocolV2).set_pin(PIN)
    client = _client(powered, [ThirdPartyPaymentExtension()])
    server = Fido2Server(PublicKeyCredentialRpEntity(id=RP_ID, name="Bank"))
    creds = {}
    for n, payment in ((1, True), (2, False)):
        user = PublicKeyCredentialUserEntity(id=b"user-%d" % n, name="u%d" % n)
        opts, state = server.register_begin(
            user,
            resident_key_requirement=ResidentKeyRequirement.REQUIRED,
            extensions={"payment": {"isPayment": payment}},
        )
        result = client.make_credential(opts.public_key)
        auth_data = server.register_complete(state, result)
        assert auth_data.extensions == ({"thirdPartyPayment": True} if payment else None)
        creds[payment] = auth_data.credential_data
    for payment, cred in creds.items():
        opts, state = server.authenticate_begin([cred], extensions={"payment": {"isPayment": True}})
        response = client.get_assertion(opts.public_key).get_response(0)
        server.authenticate_complete(state, [cred], response)
        assert response.response.authenticator_data.extensions == {"thirdPartyPayment": payment}
    # Credential management lists it (0x0C) for the enabled one only.
    cp = powered.client_pin(PinProtocolV2)
    cm = CredentialManagement(powered.ctap, cp.protocol, cp.get_pin_token(PIN, PERM.CREDENTIAL_MGMT))
    rp_hash = cm.enumerate_rps()[0][CredentialManagement.RESULT.RP_ID_HASH]
    listed = {
        c[CredentialManagement.RESULT.USER]["id"]: c.get(CredentialManagement.RESULT.THIRD_PARTY_PAYMENT)
        for c in cm.enumerate_creds(rp_hash)
    }
    assert listed == {b"user-1": True, b"user-2": None}


def test_pin_complexity_policy_through_fido2client(powered):
    from fido2.ctap2 import Config
    from fido2.ctap2.extensions import PinComplexityPolicyExtension

    cp = powered.client_pin(PinProtocolV2)
    cp.set_pin(PIN)
    client = _client(powered, [PinComplexityPolicyExtension()])
    server = Fido2Server(PublicKeyCredentialRpEntity(id=RP_ID, name="Example"))

    def register(n):
        user = PublicKeyCredentialUserEntity(id=b"user-%d" % n, name="u%d" % n)
        opts, state = server.register_begin(user, extensions={"pinComplexityPolicy": True})
        return server.register_complete(state, client.make_credential(opts.public_key)).extensions

    assert register(1) is None  # not an RP setMinPINLength named
    token = cp.get_pin_token(PIN, PERM.AUTHENTICATOR_CFG)
    Config(powered.ctap, cp.protocol, token).set_min_pin_length(rp_ids=[RP_ID])
    assert register(2) == {"pinComplexityPolicy": False}
    assert powered.ctap.get_info().pin_complexity_policy is False


def test_versions_name_no_ctap_2_2(powered):
    """CTAP 2.2 created no version string (its editors: "no value was created
    to indicate support for CTAP 2.2"; 2.3 added FIDO_2_3): the key says
    FIDO_2_1 and announces each 2.2 feature by its own getInfo member."""
    info = powered.ctap.get_info()
    assert info.versions[-2:] == ["FIDO_2_0", "FIDO_2_1"]
    assert not any(v.startswith("FIDO_2_2") or v.startswith("FIDO_2_3") for v in info.versions)
    assert "thirdPartyPayment" in info.extensions and info.options["perCredMgmtRO"] is True
