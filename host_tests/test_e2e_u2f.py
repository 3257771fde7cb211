"""End to end: CTAP1/U2F with unmodified python-fido2 over the socket transport.

fido2.ctap1.Ctap1 (what pam_u2f-era tools speak), Fido2Client falling back to
U2F as browsers do, the WebAuthn appid extension against a U2F registration,
CTAP1 <-> CTAP2 credential interop, reset and restarts. Signatures are checked
with `cryptography` and relying-party side with py_webauthn.
"""

import hashlib
import os
import threading
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client
from fido2.cose import ES256
from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.ctap2 import Ctap2
from fido2.hid import CAPABILITY
from fido2.rpid import verify_rp_id
from fido2.webauthn import PublicKeyCredentialRequestOptions
from webauthn import verify_authentication_response, verify_registration_response

from boards.common.vfs_storage import VfsStorage
from boards.host.board import Presence

ORIGIN = "https://example.com"
RP_ID = "example.com"
APP_PARAM = hashlib.sha256(RP_ID.encode()).digest()
# A legacy U2F site's AppID: the application parameter is its SHA-256.
APPID = "https://example.com/u2f/app-id.json"
APPID_PARAM = hashlib.sha256(APPID.encode()).digest()
SW_WRONG_DATA = APDU.WRONG_DATA
SW_CONDITIONS_NOT_SATISFIED = APDU.USE_NOT_SATISFIED


def ecdsa_verify(public_key, signature, message):
    """`cryptography`'s ECDSA P-256/SHA-256 check; raises InvalidSignature."""
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(public_key))
    key.verify(signature, message, ec.ECDSA(hashes.SHA256()))


def u2f_register(ctap1, app_param):
    client_param = os.urandom(32)
    reg = ctap1.register(client_param, app_param)
    return client_param, reg


@pytest.fixture
def u2f(device):
    return Ctap1(device)


# -- fido2.ctap1.Ctap1 -------------------------------------------------------------------


def test_get_version(u2f):
    assert u2f.get_version() == "U2F_V2"


def test_init_capabilities_clear_nmsg(device):
    assert not device.capabilities & CAPABILITY.NMSG
    assert "U2F_V2" in Ctap2(device).get_info().versions


def test_register_and_authenticate(u2f):
    client_param, reg = u2f_register(u2f, APP_PARAM)
    cert = x509.load_der_x509_certificate(reg.certificate)
    # the registration signature, by the attestation certificate's key
    cert.public_key().verify(
        reg.signature,
        b"\x00" + APP_PARAM + client_param + reg.key_handle + reg.public_key,
        ec.ECDSA(hashes.SHA256()),
    )
    reg.verify(APP_PARAM, client_param)  # and python-fido2 agrees
    counters = []
    for _ in range(3):
        challenge = os.urandom(32)
        sig = u2f.authenticate(challenge, APP_PARAM, reg.key_handle)
        assert sig.user_presence == 1
        ecdsa_verify(reg.public_key, sig.signature, APP_PARAM + sig[:5] + challenge)
        sig.verify(APP_PARAM, challenge, reg.public_key)
        counters.append(sig.counter)
    assert counters == sorted(set(counters)) and counters[0] < 2**16


def test_check_only(u2f):
    _, reg = u2f_register(u2f, APP_PARAM)
    with pytest.raises(ApduError) as e:
        u2f.authenticate(os.urandom(32), APP_PARAM, reg.key_handle, check_only=True)
    assert e.value.code == SW_CONDITIONS_NOT_SATISFIED  # "it is mine"
    with pytest.raises(ApduError) as e:
        u2f.authenticate(os.urandom(32), APPID_PARAM, reg.key_handle, check_only=True)
    assert e.value.code == SW_WRONG_DATA  # not for this application


def test_malformed_apdus_over_the_wire(u2f):
    for kwargs, sw in [
        ({"cla": 0x80, "ins": 0x03}, 0x6E00),
        ({"ins": 0x55}, 0x6D00),
        ({"ins": 0x01, "data": bytes(63)}, 0x6700),
        ({"ins": 0x02, "p1": 0x03, "data": bytes(64)}, 0x6700),
        ({"ins": 0x03, "data": b"x"}, 0x6700),
    ]:
        with pytest.raises(ApduError) as e:
            u2f.send_apdu(**kwargs)
        assert e.value.code == sw


# -- presence: U2F polls, the channel stays free -------------------------------------------


@pytest.fixture
def manual_key(key_factory):
    return key_factory(presence=Presence("manual"))


def test_register_is_refused_until_touched_and_the_key_stays_free(manual_key):
    a = manual_key.open_device(timeout=10)
    b = manual_key.open_device(timeout=10)
    with pytest.raises(ApduError) as e:
        Ctap1(a).register(os.urandom(32), APP_PARAM)
    assert e.value.code == SW_CONDITIONS_NOT_SATISFIED
    assert b.ping(b"still here") == b"still here"
    manual_key.board.presence.press()
    client_param, reg = u2f_register(Ctap1(a), APP_PARAM)
    reg.verify(APP_PARAM, client_param)
    with pytest.raises(ApduError):
        Ctap1(a).register(os.urandom(32), APP_PARAM)  # that touch is spent
    a.close()
    b.close()


def hide_cbor(device):
    """Make python-fido2 treat the key as U2F-only, as it would an old token."""
    device._capabilities &= ~CAPABILITY.CBOR
    return device


def test_fido2client_u2f_fallback_polls_until_the_touch(manual_key):
    dev = hide_cbor(manual_key.open_device(timeout=10))
    client = Fido2Client(dev, DefaultClientDataCollector(ORIGIN))
    assert client.info.versions == ["U2F_V2"]  # python-fido2's CTAP1 backend
    timer = threading.Timer(0.6, manual_key.board.presence.press)
    timer.start()
    try:
        challenge = os.urandom(32)
        reg = client.make_credential(_creation_options(challenge))
    finally:
        timer.cancel()
    assert manual_key.board.presence.requests == 1  # one prompt, several polls
    leds = manual_key.board.led_events
    assert leds[-1] == "idle" and leds.count("touch") >= 2  # asked on each poll until the touch
    verified = verify_registration_response(
        credential=dict(reg), expected_challenge=challenge, expected_rp_id=RP_ID, expected_origin=ORIGIN
    )
    assert verified.fmt == "fido-u2f"
    dev.close()


# -- Fido2Client: browsers' U2F fallback and the appid extension ------------------------------


def _creation_options(challenge):
    return {
        "rp": {"id": RP_ID, "name": "Example"},
        "user": {"id": b"user-1", "name": "alice"},
        "challenge": challenge,
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "attestation": "direct",
    }


def _request_options(challenge, credential_id, **extra):
    return dict(
        {
            "challenge": challenge,
            "rpId": RP_ID,
            "allowCredentials": [{"type": "public-key", "id": credential_id}],
            "userVerification": "discouraged",
        },
        **extra,
    )


def test_py_webauthn_accepts_unlinkable_fido_u2f_registrations(virtual_key):
    """Browsers' U2F fallback, twice on one site: py_webauthn verifies each fido-u2f
    attestation (the signature by the certificate's key; no chain to trust),
    and the two attestation certificates have nothing in common."""
    dev = hide_cbor(virtual_key.open_device(timeout=10))
    client = Fido2Client(dev, DefaultClientDataCollector(ORIGIN))
    x5c = []
    for _ in range(2):
        challenge = os.urandom(32)
        reg = client.make_credential(_creation_options(challenge))
        verified = verify_registration_response(
            credential=dict(reg), expected_challenge=challenge, expected_rp_id=RP_ID, expected_origin=ORIGIN
        )
        assert verified.fmt == "fido-u2f"
        (certificate,) = reg.response.attestation_object.att_stmt["x5c"]
        x5c.append(_certificate_fields(certificate))
    assert x5c[0][0] != x5c[1][0] and x5c[0][1] != x5c[1][1] and x5c[0][3] != x5c[1][3]
    dev.close()


def test_fido2client_over_u2f_then_ctap2(virtual_key):
    """Register and sign in through python-fido2's CTAP1 backend, then over CTAP2."""
    u2f_dev = hide_cbor(virtual_key.open_device(timeout=10))
    client = Fido2Client(u2f_dev, DefaultClientDataCollector(ORIGIN))
    challenge = os.urandom(32)
    reg = client.make_credential(_creation_options(challenge))
    registration = verify_registration_response(
        credential=dict(reg), expected_challenge=challenge, expected_rp_id=RP_ID, expected_origin=ORIGIN
    )
    assert registration.fmt == "fido-u2f"
    credential_id = registration.credential_id

    sign_count = 0
    for dev in (u2f_dev, virtual_key.open_device(timeout=10)):
        client = Fido2Client(dev, DefaultClientDataCollector(ORIGIN))
        challenge = os.urandom(32)
        result = client.get_assertion(_request_options(challenge, credential_id))
        checked = verify_authentication_response(
            credential=dict(result.get_response(0)),
            expected_challenge=challenge,
            expected_rp_id=RP_ID,
            expected_origin=ORIGIN,
            credential_public_key=registration.credential_public_key,
            credential_current_sign_count=sign_count,
        )
        assert checked.new_sign_count > sign_count
        sign_count = checked.new_sign_count
        dev.close()


def _appid_allowed(rp_id, origin):
    """FIDO AppID and Facet v1.2 §3.1.2, the same-origin case: an https AppID under the caller's origin."""
    return rp_id.startswith(origin + "/") and origin.startswith("https://")


class AppIdClient(Fido2Client):
    """Fido2Client plus the WebAuthn L2 §10.1.1 appid client extension.

    python-fido2 2.2.1 implements appid only in its Windows client, so this
    adds it the way browsers do for CTAP2 keys: when no credential matches
    the RP ID, ask again with the AppID as the RP ID, whose SHA-256 is the
    U2F application parameter. Returns (AssertionSelection, appid output).
    """

    def __init__(self, device, origin):
        super().__init__(
            device,
            DefaultClientDataCollector(origin, verify=lambda rp, o: verify_rp_id(rp, o) or _appid_allowed(rp, o)),
        )

    def get_assertion(self, options, event=None):
        options = PublicKeyCredentialRequestOptions.from_dict(options)
        appid = (options.extensions or {}).get("appid")
        try:
            return super().get_assertion(options, event), False
        except ClientError as e:
            if not appid or e.code != ClientError.ERR.DEVICE_INELIGIBLE:
                raise
        return super().get_assertion(replace(options, rp_id=appid), event), True


def test_appid_extension_signs_in_with_a_u2f_registration(device, virtual_key):
    # A legacy U2F registration made for the site's AppID.
    _, reg = u2f_register(Ctap1(device), APPID_PARAM)
    public_key = cbor.encode(ES256.from_ctap1(reg.public_key))

    client = AppIdClient(virtual_key.open_device(timeout=10), ORIGIN)
    challenge = os.urandom(32)
    # Without the extension the credential is not found for the RP ID...
    with pytest.raises(ClientError) as e:
        client.get_assertion(_request_options(challenge, reg.key_handle))
    assert e.value.code == ClientError.ERR.DEVICE_INELIGIBLE
    # ... with it, the AppID's application parameter finds it.
    result, appid_used = client.get_assertion(_request_options(challenge, reg.key_handle, extensions={"appid": APPID}))
    assert appid_used
    response = result.get_response(0)
    assert response.response.authenticator_data.rp_id_hash == APPID_PARAM
    # The RP checks the rpIdHash against the AppID (WebAuthn §10.1.1).
    checked = verify_authentication_response(
        credential=dict(response),
        expected_challenge=challenge,
        expected_rp_id=APPID,
        expected_origin=ORIGIN,
        credential_public_key=public_key,
        credential_current_sign_count=0,
    )
    assert checked.new_sign_count > 0


# -- CTAP1 <-> CTAP2 -----------------------------------------------------------------------------


def test_u2f_key_handle_in_ctap2_get_assertion(device):
    u2f = Ctap1(device)
    _, reg = u2f_register(u2f, APP_PARAM)
    first = u2f.authenticate(os.urandom(32), APP_PARAM, reg.key_handle).counter
    client_data_hash = os.urandom(32)
    assertion = Ctap2(device).get_assertion(
        RP_ID, client_data_hash, [{"type": "public-key", "id": reg.key_handle}]
    )
    assert assertion.credential["id"] == reg.key_handle
    assert assertion.auth_data.rp_id_hash == APP_PARAM
    assert assertion.auth_data.counter > first  # one counter for both protocols
    ecdsa_verify(reg.public_key, assertion.signature, bytes(assertion.auth_data) + client_data_hash)


def test_ctap2_credential_in_u2f_authenticate(device):
    ctap2 = Ctap2(device)
    made = ctap2.make_credential(
        os.urandom(32),
        {"id": RP_ID, "name": "Example"},
        {"id": b"user-1", "name": "alice"},
        [{"type": "public-key", "alg": -7}],
    )
    data = made.auth_data.credential_data
    cose = data.public_key
    public_key = b"\x04" + cose[-2] + cose[-3]
    challenge = os.urandom(32)
    sig = Ctap1(device).authenticate(challenge, APP_PARAM, data.credential_id)
    ecdsa_verify(public_key, sig.signature, APP_PARAM + sig[:5] + challenge)
    assert sig.counter > made.auth_data.counter


def test_discoverable_ctap2_credential_is_not_usable_over_u2f(device):
    made = Ctap2(device).make_credential(
        os.urandom(32),
        {"id": RP_ID, "name": "Example"},
        {"id": b"user-1", "name": "alice"},
        [{"type": "public-key", "alg": -7}],
        options={"rk": True},
    )
    with pytest.raises(ApduError) as e:
        Ctap1(device).authenticate(os.urandom(32), APP_PARAM, made.auth_data.credential_data.credential_id)
    assert e.value.code == SW_WRONG_DATA


# -- reset and restarts ------------------------------------------------------------------------------


def test_reset_kills_u2f_key_handles(device):
    u2f = Ctap1(device)
    _, reg = u2f_register(u2f, APP_PARAM)
    Ctap2(device).reset()
    for check_only in (False, True):
        with pytest.raises(ApduError) as e:
            u2f.authenticate(os.urandom(32), APP_PARAM, reg.key_handle, check_only=check_only)
        assert e.value.code == SW_WRONG_DATA
    with pytest.raises(Exception):
        Ctap2(device).get_assertion(RP_ID, os.urandom(32), [{"type": "public-key", "id": reg.key_handle}])
    # (a registration's certificate is its own anyway)
    _, again = u2f_register(u2f, APP_PARAM)
    old = x509.load_der_x509_certificate(reg.certificate).public_key()
    assert x509.load_der_x509_certificate(again.certificate).public_key() != old


def test_counter_survives_a_restart(key_factory, tmp_path):
    root = str(tmp_path / "flash")
    key = key_factory(storage=VfsStorage(root))
    dev = key.open_device(timeout=10)
    u2f = Ctap1(dev)
    _, reg = u2f_register(u2f, APP_PARAM)
    before = [u2f.authenticate(os.urandom(32), APP_PARAM, reg.key_handle).counter for _ in range(3)]
    dev.close()
    key.stop()
    key = key_factory(storage=VfsStorage(root))  # power-up on the same flash
    dev = key.open_device(timeout=10)
    u2f = Ctap1(dev)
    challenge = os.urandom(32)
    sig = u2f.authenticate(challenge, APP_PARAM, reg.key_handle)
    sig.verify(APP_PARAM, challenge, reg.public_key)
    assert sig.counter > max(before)
    assert u2f_register(u2f, APP_PARAM)[1].certificate != reg.certificate  # nothing kept that links them
    dev.close()


# -- unlinkable registrations --------------------------------------------------------------


def _certificate_fields(certificate):
    """(serial, public key, tbsCertificate with both blanked, signature) of a U2F attestation certificate."""
    cert = x509.load_der_x509_certificate(certificate)
    serial = cert.serial_number
    public_key = cert.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    tbs = cert.tbs_certificate_bytes
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big")
    assert tbs.count(serial_bytes) == 1 and tbs.count(public_key) == 1
    template = tbs.replace(serial_bytes, bytes(len(serial_bytes))).replace(public_key, bytes(65))
    return serial, public_key, template, cert.signature


def test_u2f_registrations_share_nothing_that_identifies_the_key(u2f, key_factory):
    """Two registrations for one site, one for another, one on another key:
    no certificate, serial, public key, signature key or signature in common,
    and what the certificates do share is the same for every key."""
    other_key = Ctap1(key_factory().open_device(timeout=10))
    regs = []
    for ctap1, app in ((u2f, APP_PARAM), (u2f, APP_PARAM), (u2f, APPID_PARAM), (other_key, APP_PARAM)):
        client_param, reg = u2f_register(ctap1, app)
        reg.verify(app, client_param)  # python-fido2: signed by the certificate's key
        regs.append(reg)
    fields = [_certificate_fields(r.certificate) for r in regs]
    serials, keys, templates, signatures = zip(*fields)
    assert len({r.certificate for r in regs}) == 4
    assert len(set(serials)) == 4 and len(set(signatures)) == 4
    # the registration is signed by its own new key, the one the certificate holds
    assert list(keys) == [bytes(r.public_key) for r in regs] and len(set(keys)) == 4
    # the rest is the product's template: this key's certificates carry
    # nothing another key's do not
    assert len(set(templates)) == 1


@pytest.fixture
def slow_board(virtual_key, monkeypatch):
    """A board whose P-256 key generation takes 250 ms; yields the command bytes the key sent."""
    import time

    from firmware import crypto

    keygen = crypto.p256_keygen

    def slow_keygen():
        time.sleep(0.25)
        return keygen()

    monkeypatch.setattr(crypto, "p256_keygen", slow_keygen)
    sent = []
    send = virtual_key.transport.send
    monkeypatch.setattr(virtual_key.transport, "send", lambda r: sent.append(r[4]) or send(r))
    return sent


def test_ctap1_rides_out_keepalives(device, slow_board):
    """KEEPALIVE(PROCESSING) during a slow U2F_REGISTER; python-fido2 waits."""
    client_param = os.urandom(32)
    Ctap1(device).register(client_param, APP_PARAM).verify(APP_PARAM, client_param)
    assert 0x80 | 0x3B in slow_board  # CTAPHID_KEEPALIVE went out
