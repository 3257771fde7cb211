"""End to end: the §12 extensions and authenticatorLargeBlobs through python-fido2.

Client: fido2.client.Fido2Client (its default extension set: hmac-secret/prf,
largeBlob, credBlob, credProtect, minPinLength, credProps) and
fido2.ctap2.LargeBlobs over the socket transport; every registration and
assertion also passes fido2.server.Fido2Server verification.
"""

import hashlib
import os

import pytest
from fido2.ctap import CtapError
from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap2 import ClientPin, Config, CredentialManagement, Ctap2, LargeBlobs
from fido2.ctap2.extensions import HmacSecretExtension
from fido2.server import Fido2Server
from fido2.utils import websafe_decode
from fido2.webauthn import (
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
)

from conftest import ORIGIN, RP_ID, webauthn_client


def _server():
    return Fido2Server(PublicKeyCredentialRpEntity(id=RP_ID, name="Example"))


def _user(n=1):
    return PublicKeyCredentialUserEntity(id=b"user-%d" % n, name="user%d@example.com" % n, display_name="User %d" % n)


def register(client, server, extensions, rk=False, user=None, uv="discouraged"):
    opts, state = server.register_begin(
        user or _user(),
        resident_key_requirement=ResidentKeyRequirement.REQUIRED if rk else ResidentKeyRequirement.DISCOURAGED,
        user_verification=uv,
        extensions=extensions,
    )
    result = client.make_credential(opts.public_key)
    auth_data = server.register_complete(state, result)
    return result, auth_data


def authenticate(client, server, credentials, extensions, allow=True, uv="discouraged"):
    opts, state = server.authenticate_begin(
        credentials if allow else None, user_verification=uv, extensions=extensions
    )
    selection = client.get_assertion(opts.public_key)
    response = selection.get_response(0)
    server.authenticate_complete(state, credentials, response)
    return response


@pytest.fixture
def client(device):
    return webauthn_client(device)


def test_get_info_through_python_fido2(device):
    info = Ctap2(device).get_info()
    assert sorted(info.extensions) == sorted(
        ["credBlob", "credProtect", "hmac-secret", "hmac-secret-mc", "largeBlobKey", "minPinLength", "pinComplexityPolicy", "thirdPartyPayment"]
    )
    assert info.options["largeBlobs"] is True
    assert info.max_large_blob == 8192
    assert info.max_cred_blob_length == 32
    assert LargeBlobs.is_supported(info)


@pytest.mark.parametrize(
    "policy,level",
    [("userVerificationOptional", 1), ("userVerificationOptionalWithCredentialIDList", 2)],
)
def test_cred_protect_through_the_client(client, policy, level):
    server = _server()
    result, auth_data = register(client, server, {"credentialProtectionPolicy": policy}, rk=True)
    assert auth_data.extensions == {"credProtect": level}
    cred = auth_data.credential_data
    # with the credential ID both levels sign in without UV
    authenticate(client, server, [cred], None)
    # discoverable without UV: only level 1
    if level == 1:
        authenticate(client, server, [cred], None, allow=False)
    else:
        with pytest.raises(ClientError):
            authenticate(client, server, [cred], None, allow=False)


def test_cred_protect_required_hides_the_credential_without_uv(client, virtual_key):
    server = _server()
    _, auth_data = register(
        client,
        server,
        {"credentialProtectionPolicy": "userVerificationRequired", "enforceCredentialProtectionPolicy": True},
    )
    assert auth_data.extensions == {"credProtect": 3}
    with pytest.raises(ClientError) as e:
        authenticate(client, server, [auth_data.credential_data], None)
    assert e.value.code == ClientError.ERR.DEVICE_INELIGIBLE


@pytest.mark.parametrize("rk", [False, True])
def test_cred_blob_through_the_client(client, rk):
    server = _server()
    blob = os.urandom(32)
    _, auth_data = register(client, server, {"credBlob": blob}, rk=rk)
    assert auth_data.extensions == {"credBlob": True}
    response = authenticate(client, server, [auth_data.credential_data], {"getCredBlob": True})
    assert response.response.authenticator_data.extensions == {"credBlob": blob}


def test_large_blob_write_and_read_through_the_client(client, device):
    server = _server()
    result, auth_data = register(client, server, {"largeBlob": {"support": "required"}}, rk=True)
    assert result.client_extension_results["largeBlob"]["supported"] is True
    cred = auth_data.credential_data
    data = os.urandom(3000)  # incompressible: a multi-fragment blob
    response = authenticate(client, server, [cred], {"largeBlob": {"write": data}})
    assert response.client_extension_results["largeBlob"]["written"] is True
    response = authenticate(client, server, [cred], {"largeBlob": {"read": True}}, allow=False)
    assert websafe_decode(response.client_extension_results["largeBlob"]["blob"]) == data
    # the stored array is a valid one with exactly that entry
    assert len(LargeBlobs(Ctap2(device)).read_blob_array()) == 1


def test_large_blobs_api_round_trip(device):
    ctap = Ctap2(device)
    blobs = LargeBlobs(ctap)
    assert blobs.read_blob_array() == []
    keys = [os.urandom(32) for _ in range(3)]
    for i, key in enumerate(keys):
        blobs.put_blob(key, b"blob %d " % i * 100)
    for i, key in enumerate(keys):
        assert blobs.get_blob(key) == b"blob %d " % i * 100
    blobs.delete_blob(keys[1])
    assert blobs.get_blob(keys[1]) is None and blobs.get_blob(keys[2]) is not None
    # an array larger than one fragment (maxMsgSize - 64), written in chunks
    big = [{1: os.urandom(1000), 2: os.urandom(12), 3: 1000} for _ in range(7)]
    blobs.write_blob_array(big)
    assert blobs.read_blob_array() == big


def test_large_blob_array_over_capacity_is_refused(device):
    blobs = LargeBlobs(Ctap2(device))
    with pytest.raises(CtapError) as e:
        blobs.write_blob_array([{1: os.urandom(8200), 2: os.urandom(12), 3: 1}])
    assert e.value.code == CtapError.ERR.LARGE_BLOB_STORAGE_FULL
    assert blobs.read_blob_array() == []


# -- with a PIN: user verification, prf/hmac-secret, largeBlob writes -------------------------------

PIN = "4321abcd"


class PinInteraction(UserInteraction):
    def request_pin(self, permissions, rd_id):
        return PIN


@pytest.fixture
def pin_client(device):
    ClientPin(Ctap2(device)).set_pin(PIN)
    return webauthn_client(device, interaction=PinInteraction())


def prf_first(result):
    return websafe_decode(result.client_extension_results["prf"]["results"]["first"])


def test_prf_at_registration_and_assertion(pin_client):
    server = _server()
    salt = os.urandom(20)
    result, auth_data = register(pin_client, server, {"prf": {"eval": {"first": salt}}}, rk=True, uv="required")
    assert result.client_extension_results["prf"]["enabled"] is True
    at_creation = prf_first(result)  # hmac-secret-mc
    assert auth_data.is_user_verified() and len(at_creation) == 32
    cred = auth_data.credential_data
    for allow in (True, False):
        response = authenticate(
            pin_client, server, [cred], {"prf": {"eval": {"first": salt, "second": b"x"}}}, allow=allow, uv="required"
        )
        assert prf_first(response) == at_creation
        second = websafe_decode(response.client_extension_results["prf"]["results"]["second"])
        assert second != at_creation and len(second) == 32
    other = authenticate(pin_client, server, [cred], {"prf": {"eval": {"first": b"other"}}}, uv="required")
    assert prf_first(other) != at_creation


def hmac_client(device, interaction):
    """A Fido2Client that lets the raw hmac-secret inputs through (not only prf)."""
    return Fido2Client(
        device,
        client_data_collector=DefaultClientDataCollector(ORIGIN),
        user_interaction=interaction,
        extensions=[HmacSecretExtension(allow_hmac_secret=True)],
    )


def test_hmac_secret_with_and_without_uv(device):
    """Raw hmac-secret: CredRandomWithoutUV before a PIN exists, CredRandomWithUV after."""
    client = hmac_client(device, UserInteraction())
    server = _server()
    result, auth_data = register(client, server, {"hmacCreateSecret": True})
    assert result.client_extension_results["hmacCreateSecret"] is True
    cred = auth_data.credential_data
    salt = os.urandom(32)
    ext = {"hmacGetSecret": {"salt1": salt}}

    def output(c, uv):
        response = authenticate(c, server, [cred], ext, uv=uv)
        assert response.response.authenticator_data.is_user_verified() == (uv == "required")
        return websafe_decode(response.client_extension_results["hmacGetSecret"]["output1"])

    without_uv = output(client, "discouraged")
    assert output(client, "discouraged") == without_uv
    ClientPin(Ctap2(device)).set_pin(PIN)
    pin_client = hmac_client(device, PinInteraction())
    with_uv = output(pin_client, "required")
    assert with_uv != without_uv and output(pin_client, "required") == with_uv


def test_large_blob_write_needs_the_lbw_token_once_a_pin_is_set(pin_client, device):
    server = _server()
    _, auth_data = register(pin_client, server, {"largeBlob": {"support": "required"}}, rk=True, uv="required")
    cred = auth_data.credential_data
    data = os.urandom(2000)
    response = authenticate(pin_client, server, [cred], {"largeBlob": {"write": data}}, uv="required")
    assert response.client_extension_results["largeBlob"]["written"] is True
    response = authenticate(pin_client, server, [cred], {"largeBlob": {"read": True}}, uv="required")
    assert websafe_decode(response.client_extension_results["largeBlob"]["blob"]) == data
    # without a token the write is refused
    with pytest.raises(CtapError) as e:
        LargeBlobs(Ctap2(device)).write_blob_array([])
    assert e.value.code == CtapError.ERR.PUAT_REQUIRED


def test_large_blobs_api_with_a_token(device):
    ctap = Ctap2(device)
    client_pin = ClientPin(ctap)
    client_pin.set_pin(PIN)
    token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.LARGE_BLOB_WRITE)
    blobs = LargeBlobs(ctap, client_pin.protocol, token)
    key = os.urandom(32)
    data = os.urandom(7600)  # incompressible: two fragments
    blobs.put_blob(key, data)
    assert blobs.get_blob(key) == data
    # a token without the lbw permission cannot write
    token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION)
    with pytest.raises(CtapError) as e:
        LargeBlobs(ctap, client_pin.protocol, token).delete_blob(key)
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    assert blobs.get_blob(key) == data


def test_cred_protect_required_with_uv_through_the_client(pin_client):
    server = _server()
    _, auth_data = register(
        pin_client,
        server,
        {"credentialProtectionPolicy": "userVerificationRequired", "enforceCredentialProtectionPolicy": True},
        rk=True,
        uv="required",
    )
    assert auth_data.extensions == {"credProtect": 3}
    cred = auth_data.credential_data
    authenticate(pin_client, server, [cred], None, uv="required")
    authenticate(pin_client, server, [cred], None, allow=False, uv="required")


def test_min_pin_length_only_for_rps_on_the_config_list(pin_client, device):
    ctap = Ctap2(device)
    client_pin = ClientPin(ctap)

    def configure(rp_ids):
        token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.AUTHENTICATOR_CFG)
        Config(ctap, client_pin.protocol, token).set_min_pin_length(min_pin_length=6, rp_ids=rp_ids)

    server = _server()
    _, auth_data = register(pin_client, server, {"minPinLength": True}, uv="required")
    assert auth_data.extensions is None  # no RP is on the list yet
    configure(["other.example"])
    _, auth_data = register(pin_client, server, {"minPinLength": True}, uv="required")
    assert auth_data.extensions is None
    configure(["other.example", RP_ID])
    _, auth_data = register(pin_client, server, {"minPinLength": True}, uv="required")
    assert auth_data.extensions == {"minPinLength": 6}
    assert ctap.get_info().min_pin_length == 6


def test_credential_management_lists_what_the_extensions_kept(device):
    ctap = Ctap2(device)
    client_pin = ClientPin(ctap)
    client_pin.set_pin(PIN)
    keys = {}
    for level in (1, 2, 3):
        token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, RP_ID)
        cdh = os.urandom(32)
        resp = ctap.make_credential(
            cdh,
            {"id": RP_ID, "name": "Example"},
            {"id": b"user-%d" % level, "name": "u%d" % level},
            [{"type": "public-key", "alg": -7}],
            extensions={"credProtect": level, "largeBlobKey": True},
            options={"rk": True},
            pin_uv_param=client_pin.protocol.authenticate(token, cdh),
            pin_uv_protocol=client_pin.protocol.VERSION,
        )
        assert resp.auth_data.extensions == {"credProtect": level}
        keys[resp.auth_data.credential_data.credential_id] = (level, resp.large_blob_key)
    token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, client_pin.protocol, token)
    listed = {
        c[CredentialManagement.RESULT.CREDENTIAL_ID]["id"]: (
            c[CredentialManagement.RESULT.CRED_PROTECT],
            c[CredentialManagement.RESULT.LARGE_BLOB_KEY],
        )
        for c in cm.enumerate_creds(hashlib.sha256(RP_ID.encode()).digest())
    }
    assert listed == keys
