"""End to end: credentials of every algorithm the key offers, through real clients and relying parties.

python-fido2's Fido2Client registers and signs in against Fido2Server
(whose PublicKeyCredentialParameters list is set to prefer EdDSA, as an RP
that wants Ed25519 does) and py_webauthn 3.0.1 verifies the same
registration and assertion. py_webauthn knows -7 and -8 (its
COSEAlgorithmIdentifier has no -9 or -19), so RFC 9864's ESP256 and Ed25519
are checked with python-fido2 alone, which has a CoseKey class for each
(fido2.cose.ESP256, fido2.cose.Ed25519) and verifies packed self
attestation with them (fido2.attestation.PackedAttestation: attStmt alg
must equal the credential key's alg).

test_e2e_micropython.py runs these against the core on MicroPython, where
the WebAssembly build has no ed25519 module: there the same requests get
ES256 or ESP256 credentials, or CTAP2_ERR_UNSUPPORTED_ALGORITHM.
"""

import pytest
import webauthn
from fido2.attestation import PackedAttestation
from fido2.client import ClientError
from fido2.cose import CoseKey
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.webauthn import PublicKeyCredentialParameters, PublicKeyCredentialType
from webauthn.helpers.cose import COSEAlgorithmIdentifier

from conftest import webauthn_client
from test_e2e_webauthn import _server, _user, authenticate, py_webauthn_authentication, py_webauthn_registration, register

ES256, EDDSA, ESP256, ED25519 = -7, -8, -9, -19


def offered(device):
    """The algorithms the key lists in getInfo, as python-fido2 parsed them."""
    return [a["alg"] for a in Ctap2(device).get_info().algorithms]


def _server_preferring(*algs):
    server = _server()
    server.allowed_algorithms = [
        PublicKeyCredentialParameters(type=PublicKeyCredentialType.PUBLIC_KEY, alg=alg) for alg in algs
    ]
    return server


@pytest.mark.parametrize("rk", [False, True], ids=["non-resident", "resident"])
def test_an_rp_preferring_eddsa_gets_eddsa_where_the_key_has_it(device, rk):
    """Fido2Server's parameters ordered EdDSA first, then ES256; both relying
    parties verify the registration (packed self attestation, alg -8) and the
    sign-in (a 64-byte Ed25519 signature over authData || clientDataHash)."""
    want = EDDSA if EDDSA in offered(device) else ES256
    client = webauthn_client(device)
    server = _server_preferring(EDDSA, ES256)
    opts, result, auth_data = register(client, server, rk=rk)
    cred = auth_data.credential_data
    assert cred.public_key[3] == want and isinstance(cred.public_key, CoseKey.for_alg(want))
    att = result.response.attestation_object
    assert att.fmt == "packed" and att.att_stmt["alg"] == want and "x5c" not in att.att_stmt
    PackedAttestation().verify(att.att_stmt, att.auth_data, result.response.client_data.hash)

    reg = py_webauthn_registration(
        opts, result, supported_pub_key_algs=[COSEAlgorithmIdentifier.EDDSA, COSEAlgorithmIdentifier.ECDSA_SHA_256]
    )
    assert reg.credential_id == cred.credential_id

    opts, selection, response = authenticate(client, server, [cred])  # Fido2Server verifies the signature
    if want == EDDSA:
        assert len(response.response.signature) == 64
    verified = py_webauthn_authentication(opts, response, reg.credential_public_key, reg.sign_count)
    assert verified.new_sign_count == response.response.authenticator_data.counter


@pytest.mark.parametrize("alg", [ESP256, ED25519, EDDSA, ES256])
def test_each_algorithm_alone_through_fido2_client_and_server(device, alg):
    """An RP that accepts one algorithm only: where the key offers it, a
    credential of exactly that algorithm -- -9 and -19 preserved in the COSE
    key, the attestation and every assertion; elsewhere the client reports
    the key's CTAP2_ERR_UNSUPPORTED_ALGORITHM."""
    client = webauthn_client(device)
    server = _server_preferring(alg)
    if alg not in offered(device):
        with pytest.raises(ClientError) as e:
            register(client, server)
        assert e.value.code == ClientError.ERR.CONFIGURATION_UNSUPPORTED
        assert isinstance(e.value.cause, CtapError) and e.value.cause.code == CtapError.ERR.UNSUPPORTED_ALGORITHM
        return
    opts, result, auth_data = register(client, server, user=_user(3), rk=True)
    cred = auth_data.credential_data
    assert cred.public_key[3] == alg and type(cred.public_key) is CoseKey.for_alg(alg)
    att = result.response.attestation_object
    assert att.att_stmt["alg"] == alg
    PackedAttestation().verify(att.att_stmt, att.auth_data, result.response.client_data.hash)
    # a discoverable sign-in and one with the allow list
    opts, state = server.authenticate_begin(user_verification="discouraged")
    selection = client.get_assertion(opts.public_key)
    server.authenticate_complete(state, [cred], selection.get_response(0))
    authenticate(client, server, [cred])


def test_py_webauthn_refuses_what_the_rp_did_not_allow(device):
    """py_webauthn checks the credential's algorithm against supported_pub_key_algs:
    the key made what the RP asked for, nothing else."""
    if EDDSA not in offered(device):
        return  # nothing but ES256 to compare with (test above covers it)
    client = webauthn_client(device)
    opts, result, _ = register(client, _server_preferring(EDDSA))
    with pytest.raises(webauthn.helpers.exceptions.InvalidRegistrationResponse):
        py_webauthn_registration(opts, result, supported_pub_key_algs=[COSEAlgorithmIdentifier.ECDSA_SHA_256])
