"""End to end: the §12 extensions and authenticatorLargeBlobs through python-fido2.

Client: fido2.client.Fido2Client (its default extension set: hmac-secret/prf,
largeBlob, credBlob, credProtect, minPinLength, credProps) and
fido2.ctap2.LargeBlobs over the socket transport; every registration and
assertion also passes fido2.server.Fido2Server verification.
"""

import os

import pytest
from fido2.client import ClientError
from fido2.ctap2 import Ctap2, LargeBlobs
from fido2.server import Fido2Server
from fido2.utils import websafe_decode
from fido2.webauthn import (
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
)

from conftest import RP_ID, webauthn_client


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
    assert {"credBlob", "credProtect", "largeBlobKey", "minPinLength"} <= set(info.extensions)
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
    from fido2.ctap import CtapError

    blobs = LargeBlobs(Ctap2(device))
    with pytest.raises(CtapError) as e:
        blobs.write_blob_array([{1: os.urandom(8200), 2: os.urandom(12), 3: 1}])
    assert e.value.code == CtapError.ERR.LARGE_BLOB_STORAGE_FULL
    assert blobs.read_blob_array() == []
