"""The relying party's tests: sign-up and sign-in through a real CTAP 2.2 key.

`fido2_client` is a python-fido2 Fido2Client (what a browser does) on
`virtual_key`, a pyfido-key VirtualKey; both come from pyfido-key's pytest
plugin. `@pytest.mark.virtual_key(...)` sets the key's options.
create_credential_json / get_assertion_json do what the page's
navigator.credentials.create() / get() do: the site's options JSON in,
PublicKeyCredential JSON out.
"""

import base64
import json

import pytest
from fido2.client import ClientError
from fido2.webauthn import AuthenticatorData
from pyfido_key import create_credential_json, get_assertion_json
from webauthn.helpers import decode_credential_public_key
from webauthn.helpers.cose import COSEAlgorithmIdentifier

from rp import RelyingParty, SignInError, _b64url_decode


def flags_of(credential_json):
    return AuthenticatorData(_b64url_decode(json.loads(credential_json)["response"]["authenticatorData"]))


def sign_up(rp, client, username="alice"):
    sid, options = rp.begin_registration(username)
    return rp.finish_registration(sid, create_credential_json(client, options))


def sign_in(rp, client):
    sid, options = rp.begin_sign_in()
    response = get_assertion_json(client, options)
    return rp.finish_sign_in(sid, response), response


def test_sign_up_then_sign_in_with_the_passkey(rp, fido2_client, virtual_key):
    reg = sign_up(rp, fido2_client)
    assert reg.user_verified is False  # the key has no PIN: nothing to verify with

    # What the key holds: one passkey, for this site and this user.
    (held,) = virtual_key.credentials()
    assert held.rp_id == "localhost"
    assert held.user_name == "alice"
    assert held.user_id == rp.users["alice"].handle
    assert held.credential_id == reg.credential_id
    # py_webauthn offers EdDSA first, so the key made an Ed25519 passkey.
    cose = decode_credential_public_key(reg.credential_public_key)
    assert held.alg == cose.alg == COSEAlgorithmIdentifier.EDDSA
    assert held.public_key == cose.x

    username, response = sign_in(rp, fido2_client)
    assert username == "alice"
    auth_data = flags_of(response)
    assert auth_data.is_user_present() and not auth_data.is_user_verified()
    assert auth_data.counter > reg.sign_count
    assert rp.users["alice"].credentials[reg.credential_id].sign_count == auth_data.counter


def test_a_site_that_offers_only_es256_gets_a_p256_passkey(fido2_client, virtual_key):
    rp = RelyingParty(rp_id="localhost", origin="https://localhost", algorithms=[COSEAlgorithmIdentifier.ECDSA_SHA_256])
    reg = sign_up(rp, fido2_client)
    (held,) = virtual_key.credentials()
    cose = decode_credential_public_key(reg.credential_public_key)
    assert held.alg == cose.alg == COSEAlgorithmIdentifier.ECDSA_SHA_256
    assert held.public_key == b"\x04" + cose.x + cose.y
    username, _ = sign_in(rp, fido2_client)
    assert username == "alice"


@pytest.mark.virtual_key(pin="246810")
def test_user_verification_with_the_keys_pin(uv_rp, fido2_client, virtual_key):
    reg = sign_up(uv_rp, fido2_client)
    assert reg.user_verified is True
    username, response = sign_in(uv_rp, fido2_client)
    assert username == "alice"
    auth_data = flags_of(response)
    assert auth_data.is_user_present() and auth_data.is_user_verified()
    assert [c.user_name for c in virtual_key.credentials()] == ["alice"]


def test_a_site_requiring_uv_refuses_a_key_without_pin(uv_rp, fido2_client, virtual_key):
    sid, options = uv_rp.begin_registration("alice")
    with pytest.raises(ClientError):
        create_credential_json(fido2_client, options)  # the browser cannot verify the user: no PIN on the key
    assert virtual_key.credentials() == []


@pytest.mark.virtual_key(pin="246810")
def test_a_sign_in_without_uv_is_refused_where_uv_is_required(uv_rp, fido2_client):
    sign_up(uv_rp, fido2_client)
    sid, options = uv_rp.begin_sign_in()
    # Something between the site and the browser downgrades the request.
    options = json.loads(options)
    options["userVerification"] = "discouraged"
    response = get_assertion_json(fido2_client, json.dumps(options))
    assert flags_of(response).is_user_present() and not flags_of(response).is_user_verified()
    with pytest.raises(SignInError, match="[Uu]ser verification"):
        uv_rp.finish_sign_in(sid, response)


def test_a_tampered_signature_is_refused(rp, fido2_client):
    sign_up(rp, fido2_client)
    sid, options = rp.begin_sign_in()
    response = json.loads(get_assertion_json(fido2_client, options))
    sig = bytearray(_b64url_decode(response["response"]["signature"]))
    sig[-1] ^= 1
    response["response"]["signature"] = base64.urlsafe_b64encode(bytes(sig)).rstrip(b"=").decode()
    with pytest.raises(SignInError, match="signature"):
        rp.finish_sign_in(sid, json.dumps(response))


def test_a_counter_that_goes_back_is_refused(rp, fido2_client):
    reg = sign_up(rp, fido2_client)
    sign_in(rp, fido2_client)
    stored = rp.users["alice"].credentials[reg.credential_id]
    stored.sign_count += 1000  # as if a clone of the key had signed 1000 times more
    with pytest.raises(SignInError, match="count"):
        sign_in(rp, fido2_client)


def test_a_replayed_response_is_refused(rp, fido2_client):
    sign_up(rp, fido2_client)
    sid, options = rp.begin_sign_in()
    response = get_assertion_json(fido2_client, options)
    assert rp.finish_sign_in(sid, response) == "alice"
    with pytest.raises(SignInError, match="answered already"):
        rp.finish_sign_in(sid, response)


@pytest.mark.virtual_key(presence="deny")
def test_no_touch_no_passkey(rp, fido2_client, virtual_key):
    sid, options = rp.begin_registration("alice")
    with pytest.raises(ClientError):
        create_credential_json(fido2_client, options)
    assert virtual_key.credentials() == []
    assert rp.users["alice"].credentials == {}


@pytest.mark.virtual_key(presence=1)
def test_one_touch_signs_up_but_does_not_sign_in(rp, fido2_client, virtual_key):
    sign_up(rp, fido2_client)
    with pytest.raises(ClientError):
        sign_in(rp, fido2_client)
    assert len(virtual_key.credentials()) == 1


@pytest.mark.virtual_key(pin="135790", process=True)
def test_the_key_in_its_own_process(uv_rp, fido2_client, virtual_key):
    sign_up(uv_rp, fido2_client, "bob")
    assert sign_in(uv_rp, fido2_client)[0] == "bob"
    assert [c.user_name for c in virtual_key.credentials()] == ["bob"]


def test_two_keys_two_passkeys(rp, virtual_key_factory, fido2_origin):
    first, second = virtual_key_factory(), virtual_key_factory()
    sign_up(rp, first.client(fido2_origin), "alice")
    sign_up(rp, second.client(fido2_origin), "alice")  # a second passkey for the same account
    assert len(rp.users["alice"].credentials) == 2
    assert sign_in(rp, second.client(fido2_origin))[0] == "alice"
