"""The ssh path: libfido2 creating and using credentials exactly as OpenSSH's sk-usbhid.c does.

`ssh-keygen -t ed25519-sk [-O resident] [-O no-touch-required]` enrolls
through sk-usbhid.c's sk_enroll, `ssh` signs through sk_sign (after
sk_try's silent probe when several keys are plugged in), `ssh-keygen -K`
loads resident keys through read_rks. Each function below makes the same
libfido2 calls with the same values (OpenSSH 9.x sk-usbhid.c), through the
suite's libfido2 binding (host_tests/libfido2.py) against the virtual key;
the signatures are then checked the way sshd checks an sk-ssh-ed25519 or
sk-ecdsa-sha2-nistp256 signature (ssh-ed25519-sk.c, ssh-ecdsa-sk.c): over
SHA-256(application) || flags || counter || SHA-256(data), with
`cryptography`, independently of libfido2's own fido_assert_verify.
"""

import contextlib
import hashlib
import os
import struct

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from libfido2 import (  # noqa: F401 (dev: the fixture)
    COSE_EDDSA,
    COSE_ES256,
    FIDO_ERR_NO_CREDENTIALS,
    FIDO_OK,
    Libfido2Device,
    Libfido2Error,
    dev,
)

# sk-api.h
SSH_SK_ECDSA, SSH_SK_ED25519 = 0x00, 0x01
SSH_SK_USER_PRESENCE_REQD = 0x01
SSH_SK_USER_VERIFICATION_REQD = 0x04
SSH_SK_RESIDENT_KEY = 0x20
# libfido2 fido/param.h
FIDO_CRED_PROT_UV_OPTIONAL_WITH_ID = 0x02
FIDO_CRED_PROT_UV_REQUIRED = 0x03

APPLICATION = "ssh:"  # ssh-keygen's default -O application
PIN = "4321"
UP = 0x01


def sk_enroll(dev, alg, challenge, application=APPLICATION, flags=SSH_SK_USER_PRESENCE_REQD, pin=None, user=b""):
    """sk-usbhid.c sk_enroll: the credential ssh-keygen writes into id_*_sk(.pub)."""
    cose_alg = {SSH_SK_ECDSA: COSE_ES256, SSH_SK_ED25519: COSE_EDDSA}[alg]
    user_id = user.ljust(32, b"\0")  # memset(user_id, 0, 32), then -O user=...
    cred_prot = 0
    if flags & (SSH_SK_RESIDENT_KEY | SSH_SK_USER_VERIFICATION_REQD):
        # "refusing to create unprotected resident/verify-required key"
        assert dev.supports_cred_prot
        cred_prot = (
            FIDO_CRED_PROT_UV_REQUIRED if flags & SSH_SK_USER_VERIFICATION_REQD else FIDO_CRED_PROT_UV_OPTIONAL_WITH_ID
        )
    cred = dev.make_credential(
        application,
        hashlib.sha256(challenge).digest(),
        user_id,
        pin=pin,
        rk=bool(flags & SSH_SK_RESIDENT_KEY),  # FIDO_OPT_TRUE, else FIDO_OPT_OMIT
        cred_protect=cred_prot,
        cose_alg=cose_alg,
        user_name="openssh",
        display_name="openssh",
    )
    # fido_cred_verify (x5c) or fido_cred_verify_self, then pack_public_key
    assert cred.verified == FIDO_OK
    assert cred.type == cose_alg
    assert len(cred.public_key) == (32 if alg == SSH_SK_ED25519 else 64)
    return cred


def sk_try(dev, application, key_handle):
    """sk-usbhid.c sk_try: is this key handle on this key? A silent assertion over SHA-256("")."""
    try:
        dev.get_assertion(application, hashlib.sha256(b"").digest(), [key_handle], None, up=False)
        return True
    except Libfido2Error as e:
        assert e.code == FIDO_ERR_NO_CREDENTIALS, e
        return False


def sk_sign(dev, data, key_handle, application=APPLICATION, flags=SSH_SK_USER_PRESENCE_REQD, public_key=None):
    """sk-usbhid.c sk_sign: (flags, counter, signature) as ssh puts them in its sk signature."""
    a = dev.get_assertion(
        application,
        hashlib.sha256(data).digest(),
        [key_handle],
        public_key,
        up=bool(flags & SSH_SK_USER_PRESENCE_REQD),  # fido_assert_set_up(TRUE / FALSE)
    )
    if public_key is not None:
        assert a.verified == FIDO_OK  # libfido2's own check, beside sshd's below
    return a


def sshd_verify(alg, public_key, application, data, flags, counter, signature):
    """What sshd verifies (ssh-ed25519-sk.c / ssh-ecdsa-sk.c): the authenticator's
    signature over SHA-256(application) || flags || counter || SHA-256(data)."""
    signed = hashlib.sha256(application.encode()).digest() + struct.pack(">BI", flags, counter)
    signed += hashlib.sha256(data).digest()
    if alg == SSH_SK_ED25519:
        assert len(signature) == 64  # pack_sig_ed25519: exactly 64 bytes
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, signed)
    else:
        point = ec.EllipticCurvePublicNumbers(
            int.from_bytes(public_key[:32], "big"), int.from_bytes(public_key[32:], "big"), ec.SECP256R1()
        ).public_key()
        point.verify(signature, signed, ec.ECDSA(hashes.SHA256()))


@contextlib.contextmanager
def no_touch_asked(key):
    """Inside, the key must not ask for a touch. Where the board counts what
    the key asks (the host board, MicroPython keys) the count is checked; a
    firmware key's button is left alone instead (presence "manual"), so a
    request that asked would end in the key's own timeout, never in success."""
    presence = key.board.presence
    if hasattr(presence, "requests"):
        before = presence.requests
        yield
        assert presence.requests == before
        return
    mode = presence.mode
    presence.mode = "manual"
    try:
        yield
    finally:
        presence.mode = mode


@pytest.mark.parametrize("alg", [SSH_SK_ED25519, SSH_SK_ECDSA], ids=["ed25519-sk", "ecdsa-sk"])
@pytest.mark.parametrize("touch", [True, False], ids=["touch", "no-touch-required"])
def test_ssh_keygen_then_ssh(dev, virtual_key, alg, touch):
    """ssh-keygen -t ed25519-sk [-O no-touch-required], then ssh signing in with it."""
    cred = sk_enroll(dev, alg, os.urandom(32))
    assert len(cred.id) <= 113  # ssh stores the key handle in the private key file
    flags = SSH_SK_USER_PRESENCE_REQD if touch else 0
    with no_touch_asked(virtual_key):  # the probe never asks for a touch
        assert sk_try(dev, APPLICATION, cred.id)
        assert not sk_try(dev, "ssh:other", cred.id)
    last = cred.sign_count
    for data in (b"session-id and userauth request", os.urandom(100)):
        with contextlib.ExitStack() as stack:
            if not touch:
                stack.enter_context(no_touch_asked(virtual_key))
            a = sk_sign(dev, data, cred.id, flags=flags, public_key=cred.public_key)
        assert a.flags & UP == (UP if touch else 0)
        assert a.sign_count > last
        last = a.sign_count
        sshd_verify(alg, cred.public_key, APPLICATION, data, a.flags, a.sign_count, a.signature)


def test_ssh_keygen_resident_then_ssh_keygen_k_then_ssh(dev, virtual_key):
    """ssh-keygen -t ed25519-sk -O resident -O no-touch-required on a key
    with a PIN, then ssh-keygen -K on another machine (read_rks: credential
    management, only the "ssh:" RPs, each key's type and public key), then
    ssh with the key handle it loaded, without a touch."""
    dev.set_pin(PIN)
    flags = SSH_SK_RESIDENT_KEY  # no SSH_SK_USER_PRESENCE_REQD: -O no-touch-required
    cred = sk_enroll(dev, SSH_SK_ED25519, os.urandom(32), flags=flags, pin=PIN, user=b"alice")
    other = sk_enroll(dev, SSH_SK_ECDSA, os.urandom(32), application="ssh:work", flags=flags, pin=PIN)
    web = dev.make_credential("example.com", os.urandom(32), b"web-user", pin=PIN, rk=True, cose_alg=COSE_EDDSA)

    # read_rks
    existing, _ = dev.credman_metadata(PIN)
    assert existing == 3
    rps = dev.credman_rp_ids(PIN)
    assert sorted(rps) == ["example.com", "ssh:", "ssh:work"]
    loaded = {}
    for rp_id in rps:
        if not rp_id.lower().startswith("ssh:"):
            continue  # "Skip non-SSH RP IDs"
        for key_handle, cose_type, public_key in dev.credman_credentials(rp_id, PIN):
            alg = {COSE_ES256: SSH_SK_ECDSA, COSE_EDDSA: SSH_SK_ED25519}[cose_type]
            loaded[rp_id] = (alg, key_handle, public_key)
    assert loaded == {
        "ssh:": (SSH_SK_ED25519, cred.id, cred.public_key),
        "ssh:work": (SSH_SK_ECDSA, other.id, other.public_key),
    }
    assert dev.credman_credentials("example.com", PIN) == [(web.id, COSE_EDDSA, web.public_key)]

    # ssh with what -K loaded: no PIN (not verify-required), no touch
    with no_touch_asked(virtual_key):
        for rp_id, (alg, key_handle, public_key) in loaded.items():
            data = os.urandom(64)
            a = sk_sign(dev, data, key_handle, application=rp_id, flags=0, public_key=public_key)
            assert a.flags & UP == 0
            sshd_verify(alg, public_key, rp_id, data, a.flags, a.sign_count, a.signature)


def test_verify_required_key_needs_the_pin(dev):
    """ssh-keygen -O verify-required: credProtect 3, so ssh must sign with the PIN."""
    dev.set_pin(PIN)
    flags = SSH_SK_USER_PRESENCE_REQD | SSH_SK_USER_VERIFICATION_REQD
    cred = sk_enroll(dev, SSH_SK_ED25519, os.urandom(32), flags=flags, pin=PIN)
    data = os.urandom(32)
    with pytest.raises(Libfido2Error) as e:
        sk_sign(dev, data, cred.id)  # without the PIN the credential is not even found
    assert e.value.code == FIDO_ERR_NO_CREDENTIALS
    a = dev.get_assertion(APPLICATION, hashlib.sha256(data).digest(), [cred.id], cred.public_key, pin=PIN, up=True)
    assert a.verified == FIDO_OK and a.flags & 0x05 == 0x05  # UP | UV
    sshd_verify(SSH_SK_ED25519, cred.public_key, APPLICATION, data, a.flags, a.sign_count, a.signature)


def test_ssh_keygen_k_is_unaffected_by_passkeys_of_rfc_9864_algorithms(dev, device):
    """libfido2 1.12 cannot parse an ESP256 (-9) or Ed25519 (-19) COSE key in
    credential management (fido_credman_get_dev_rk: FIDO_ERR_RX_INVALID_CBOR
    for that RP), and the key reports those algorithms as made (RFC 9864).
    ssh-keygen -K reads the "ssh:" RPs alone, so web passkeys of those
    algorithms, made through python-fido2, leave it working."""
    from fido2.ctap2 import ClientPin, Ctap2

    dev.set_pin(PIN)
    cred = sk_enroll(dev, SSH_SK_ED25519, os.urandom(32), flags=SSH_SK_RESIDENT_KEY, pin=PIN)
    ctap = Ctap2(device)
    client_pin = ClientPin(ctap)
    for alg in (-9, -19):
        token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, "example.com")
        cdh = os.urandom(32)
        ctap.make_credential(
            cdh, {"id": "example.com"}, {"id": b"web%d" % -alg}, [{"type": "public-key", "alg": alg}],
            options={"rk": True}, pin_uv_param=client_pin.protocol.authenticate(token, cdh),
            pin_uv_protocol=client_pin.protocol.VERSION,
        )
    assert sorted(dev.credman_rp_ids(PIN)) == ["example.com", "ssh:"]
    assert dev.credman_credentials("ssh:", PIN) == [(cred.id, COSE_EDDSA, cred.public_key)]
