"""End to end: a real relying party registers and signs in through python-fido2.

Client: fido2.client.Fido2Client over the socket transport. Relying parties:
fido2.server.Fido2Server and py_webauthn (verify_registration_response /
verify_authentication_response) check the very same responses.
"""

import threading
import time

import pytest
import webauthn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fido2.client import ClientError, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
)
from webauthn.helpers.structs import AttestationFormat

from boards.host.board import Presence
from boards.host.memory_storage import MemoryStorage
from conftest import ORIGIN, RP_ID, webauthn_client
from firmware.authenticator import AAGUID

import make_attestation  # tools/


def _server(**kw):
    return Fido2Server(PublicKeyCredentialRpEntity(id=RP_ID, name="Example"), **kw)


def _user(n=1):
    return PublicKeyCredentialUserEntity(id=b"user-%d" % n, name="user%d@example.com" % n, display_name="User %d" % n)


def register(client, server, user=None, rk=False, exclude=None):
    opts, state = server.register_begin(
        user or _user(),
        credentials=exclude,
        resident_key_requirement=ResidentKeyRequirement.REQUIRED if rk else ResidentKeyRequirement.DISCOURAGED,
        user_verification="discouraged",
    )
    result = client.make_credential(opts.public_key)
    auth_data = server.register_complete(state, result)
    return opts, result, auth_data


def authenticate(client, server, credentials=None):
    opts, state = server.authenticate_begin(credentials, user_verification="discouraged")
    selection = client.get_assertion(opts.public_key)
    response = selection.get_response(0)
    server.authenticate_complete(state, credentials or [], response) if credentials else None
    return opts, selection, response


def py_webauthn_registration(opts, result, **kw):
    return webauthn.verify_registration_response(
        credential=dict(result),
        expected_challenge=opts.public_key.challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        **kw,
    )


def py_webauthn_authentication(opts, response, public_key, sign_count):
    return webauthn.verify_authentication_response(
        credential=dict(response),
        expected_challenge=opts.public_key.challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        credential_public_key=public_key,
        credential_current_sign_count=sign_count,
    )


@pytest.fixture
def client(device):
    return webauthn_client(device)


@pytest.mark.parametrize("rk", [False, True], ids=["non-resident", "resident"])
def test_register_and_sign_in_self_attestation(client, rk):
    server = _server()
    opts, result, auth_data = register(client, server, rk=rk)
    cred = auth_data.credential_data
    assert bytes(cred.aaguid) == AAGUID
    assert result.response.attestation_object.fmt == "packed"
    assert "x5c" not in result.response.attestation_object.att_stmt  # self attestation
    assert auth_data.is_user_present() and not auth_data.is_user_verified()

    reg = py_webauthn_registration(opts, result)
    assert reg.fmt == AttestationFormat.PACKED and reg.credential_id == cred.credential_id

    opts, selection, response = authenticate(client, server, [cred])
    ad = response.response.authenticator_data
    assert ad.counter > auth_data.counter and ad.is_user_present()
    verified = py_webauthn_authentication(opts, response, reg.credential_public_key, reg.sign_count)
    assert verified.new_sign_count == ad.counter


def test_discoverable_credential_signs_in_without_allow_list(client):
    server = _server()
    _, _, auth_data = register(client, server, user=_user(7), rk=True)
    opts, state = server.authenticate_begin(user_verification="discouraged")
    selection = client.get_assertion(opts.public_key)
    (response,) = [selection.get_response(i) for i in range(len(selection.get_assertions()))]
    assert response.response.user_handle == b"user-7"
    server.authenticate_complete(state, [auth_data.credential_data], response)


def test_get_next_assertion_walks_credentials_newest_first(client, virtual_key):
    server = _server()
    creds = [register(client, server, user=_user(n), rk=True)[2].credential_data for n in (1, 2, 3)]
    opts, state = server.authenticate_begin(user_verification="discouraged")
    selection = client.get_assertion(opts.public_key)
    assertions = selection.get_assertions()
    assert [a.user["id"] for a in assertions] == [b"user-3", b"user-2", b"user-1"]
    assert assertions[0].number_of_credentials == 3
    # no user name/displayName without user verification
    assert all(set(a.user) == {"id"} for a in assertions)
    for i in range(3):
        server.authenticate_complete(state, creds, selection.get_response(i))
    assert virtual_key.authenticator.store.rk_count() == 3


def test_same_rp_and_user_id_overwrites(client, virtual_key):
    server = _server()
    register(client, server, user=_user(1), rk=True)
    _, _, newer = register(client, server, user=_user(1), rk=True)
    assert virtual_key.authenticator.store.rk_count() == 1
    opts, state = server.authenticate_begin(user_verification="discouraged")
    selection = client.get_assertion(opts.public_key)
    assert len(selection.get_assertions()) == 1
    server.authenticate_complete(state, [newer.credential_data], selection.get_response(0))


def test_exclude_list_refuses_a_second_registration(client, virtual_key):
    server = _server()
    _, _, first = register(client, server)
    touches = virtual_key.board.presence.requests
    with pytest.raises(ClientError) as e:
        register(client, server, exclude=[first.credential_data])
    assert e.value.code == ClientError.ERR.DEVICE_INELIGIBLE
    # the refusal came only after a touch (the list cannot be probed silently)
    assert virtual_key.board.presence.requests == touches + 1


def test_batch_attestation_verifies_to_the_ca(key_factory):
    ca_cert, _, dev_cert, dev_key = make_attestation.make()
    storage = MemoryStorage()
    make_attestation.install(storage, dev_key, dev_cert)
    key = key_factory(storage=storage)
    client = webauthn_client(key.open_device(timeout=30))
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)

    def verify_attestation(attestation_object, client_data_hash):
        leaf = x509.load_der_x509_certificate(attestation_object.att_stmt["x5c"][0])
        leaf.verify_directly_issued_by(ca_cert)

    server = _server(
        attestation=AttestationConveyancePreference.DIRECT, verify_attestation=verify_attestation
    )
    opts, result, auth_data = register(client, server, rk=True)
    att_stmt = result.response.attestation_object.att_stmt
    leaf = x509.load_der_x509_certificate(att_stmt["x5c"][0])
    assert leaf == dev_cert
    aaguid_ext = leaf.extensions.get_extension_for_oid(make_attestation.OID_FIDO_GEN_CE_AAGUID)
    assert aaguid_ext.value.value[2:] == bytes(auth_data.credential_data.aaguid)

    reg = py_webauthn_registration(opts, result, pem_root_certs_bytes_by_fmt={AttestationFormat.PACKED: [ca_pem]})
    assert reg.fmt == AttestationFormat.PACKED
    # and a foreign root is refused by the RP
    other_ca = make_attestation.make()[0].public_bytes(serialization.Encoding.PEM)
    with pytest.raises(Exception):
        py_webauthn_registration(opts, result, pem_root_certs_bytes_by_fmt={AttestationFormat.PACKED: [other_ca]})


class RecordingInteraction(UserInteraction):
    def __init__(self):
        self.prompts = 0

    def prompt_up(self):
        self.prompts += 1


def test_cancel_during_make_credential(key_factory):
    key = key_factory(presence=Presence("manual"))  # nobody touches the key
    dev = key.open_device(timeout=30)
    ui = RecordingInteraction()
    client = webauthn_client(dev, interaction=ui)
    server = _server()
    opts, _ = server.register_begin(_user(), user_verification="discouraged")
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(ClientError) as e:
        client.make_credential(opts.public_key, event=cancel)
    assert isinstance(e.value.cause, CtapError)
    assert e.value.cause.code == CtapError.ERR.KEEPALIVE_CANCEL
    assert time.monotonic() - t0 < 10
    assert ui.prompts == 1  # python-fido2 prompted once, on the first UPNEEDED keepalive
    # the key is free again: the channel works
    assert dev.ping(b"after") == b"after"


def test_upneeded_keepalives_arrive_while_waiting(key_factory):
    key = key_factory(presence=Presence("manual"))
    dev = key.open_device(timeout=30)
    statuses = []
    threading.Timer(0.6, key.board.presence.press).start()
    Ctap2(dev).selection(on_keepalive=statuses.append)
    # python-fido2 reports only status changes; the raw keepalive rate is
    # checked in test_ctaphid.py with a fake clock.
    assert statuses == [2]  # STATUS_UPNEEDED


def test_presence_refused_is_operation_denied(key_factory):
    key = key_factory(presence=Presence("deny"))
    dev = key.open_device(timeout=30)
    with pytest.raises(CtapError) as e:
        Ctap2(dev).selection()
    assert e.value.code == CtapError.ERR.OPERATION_DENIED


def test_credentials_survive_a_restart_and_the_counter_goes_on(key_factory):
    storage = MemoryStorage()
    key = key_factory(storage=storage)
    client = webauthn_client(key.open_device(timeout=30))
    server = _server()
    _, _, resident = register(client, server, user=_user(1), rk=True)
    _, _, plain = register(client, server, user=_user(2))
    _, _, last = authenticate(client, server, [plain.credential_data])
    counter = last.response.authenticator_data.counter
    key.stop()

    key = key_factory(storage=storage)  # power-up with the same flash
    client = webauthn_client(key.open_device(timeout=30))
    _, _, again = authenticate(client, server, [plain.credential_data])
    assert again.response.authenticator_data.counter > counter
    opts, state = server.authenticate_begin(user_verification="discouraged")
    selection = client.get_assertion(opts.public_key)
    server.authenticate_complete(state, [resident.credential_data], selection.get_response(0))


def test_reset_forgets_everything(device, virtual_key):
    client = webauthn_client(device)
    server = _server()
    _, _, resident = register(client, server, user=_user(1), rk=True)
    _, _, plain = register(client, server, user=_user(2))
    Ctap2(device).reset()
    assert virtual_key.authenticator.store.rk_count() == 0
    for creds in ([plain.credential_data], [resident.credential_data], None):
        with pytest.raises(ClientError) as e:
            authenticate(client, server, creds)
        assert e.value.code == ClientError.ERR.DEVICE_INELIGIBLE


def test_reset_only_shortly_after_power_up(key_factory):
    key = key_factory(config={"reset_window_ms": 0})
    time.sleep(0.01)
    dev = key.open_device(timeout=30)
    with pytest.raises(CtapError) as e:
        Ctap2(dev).reset()
    assert e.value.code == CtapError.ERR.NOT_ALLOWED


def test_get_info_states_what_the_credentials_support(device, virtual_key):
    info = Ctap2(device).get_info()
    assert info.options["rk"] is True and info.options["up"] is True
    # ES256 first; EdDSA and Ed25519 where the firmware has the ed25519 module
    # (always on the host: test_get_info.py), ESP256 everywhere
    assert [a["alg"] for a in info.algorithms] in ([-7, -8, -9, -19], [-7, -9])
    assert all(a["type"] == "public-key" for a in info.algorithms)
    assert info.max_cred_id_length >= 113
    assert info.max_creds_in_list >= 1
    # 256 on the virtual key; a firmware key promises what its board and runtime keep
    capacity = getattr(virtual_key, "passkey_capacity", 256)
    assert info.remaining_disc_creds == capacity
    client = webauthn_client(device)
    register(client, _server(), rk=True)
    assert Ctap2(device).get_info().remaining_disc_creds == capacity - 1
