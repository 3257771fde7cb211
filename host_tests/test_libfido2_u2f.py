"""End to end with libfido2 (C, the second real client) forced onto CTAP1/U2F.

libfido2's own U2F code builds the APDUs, polls on
SW_CONDITIONS_NOT_SATISFIED, probes key handles with check-only and
verifies the fido-u2f attestation and the assertions itself.
"""

import os
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from boards.host.board import Presence
from boards.host.virtual_key import VirtualKey
from libfido2 import FIDO_ERR_NO_CREDENTIALS, FIDO_OK, Libfido2Device, Libfido2Error
from test_e2e_u2f import slow_board  # noqa: F401 (fixture)

RP_ID = "example.com"
FLAG_UP = 0x01


def test_libfido2_u2f_register_and_authenticate(virtual_key):
    dev = Libfido2Device(virtual_key.address, force_u2f=True)
    try:
        cred = dev.make_credential(RP_ID, os.urandom(32), b"user-1")
        assert cred.fmt == "fido-u2f"
        assert cred.verified == FIDO_OK  # libfido2 checked the attestation signature
        assert isinstance(x509.load_der_x509_certificate(cred.x5c).public_key().curve, ec.SECP256R1)
        counts = []
        for _ in range(2):
            a = dev.get_assertion(RP_ID, os.urandom(32), [os.urandom(81), cred.id], cred.public_key)
            assert a.id == cred.id  # found among the allowed handles by check-only
            assert a.verified == FIDO_OK
            assert a.flags & FLAG_UP
            counts.append(a.sign_count)
        assert 0 < counts[0] < counts[1]
    finally:
        dev.close()


def test_libfido2_accepts_unlinkable_u2f_attestations(virtual_key):
    """Without a batch identity each registration has its own certificate
    (for its own key): libfido2 verifies every one, and no two share one."""
    dev = Libfido2Device(virtual_key.address, force_u2f=True)
    try:
        creds = [dev.make_credential(rp, os.urandom(32), b"user-1") for rp in (RP_ID, RP_ID, "other.example")]
    finally:
        dev.close()
    certs = [x509.load_der_x509_certificate(c.x5c) for c in creds]
    assert all(c.verified == FIDO_OK and c.fmt == "fido-u2f" for c in creds)
    assert len({c.x5c for c in creds}) == 3
    assert len({c.serial_number for c in certs}) == 3
    keys = [c.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint) for c in certs]
    assert len(set(keys)) == 3


def test_libfido2_u2f_credential_then_ctap2_assertion(virtual_key):
    u2f = Libfido2Device(virtual_key.address, force_u2f=True)
    ctap2 = Libfido2Device(virtual_key.address)
    try:
        assert ctap2.is_fido2 and not u2f.is_fido2
        cred = u2f.make_credential(RP_ID, os.urandom(32), b"user-1")
        a = ctap2.get_assertion(RP_ID, os.urandom(32), [cred.id], cred.public_key)
        assert a.verified == FIDO_OK and a.id == cred.id
        # and the other way: a CTAP2 credential asserted over U2F
        cred2 = ctap2.make_credential(RP_ID, os.urandom(32), b"user-2")
        assert cred2.fmt == "packed"
        b = u2f.get_assertion(RP_ID, os.urandom(32), [cred2.id], cred2.public_key)
        assert b.verified == FIDO_OK and b.sign_count > a.sign_count
    finally:
        u2f.close()
        ctap2.close()


def test_libfido2_u2f_wrong_rp_finds_no_credential(virtual_key):
    dev = Libfido2Device(virtual_key.address, force_u2f=True)
    try:
        cred = dev.make_credential(RP_ID, os.urandom(32), b"user-1")
        # check-only answers "wrong data" for every handle: libfido2 finds none
        with pytest.raises(Libfido2Error) as e:
            dev.get_assertion("other.example", os.urandom(32), [cred.id], cred.public_key)
        assert e.value.code == FIDO_ERR_NO_CREDENTIALS
    finally:
        dev.close()


def test_libfido2_polls_until_the_touch(tmp_path):
    with VirtualKey(str(tmp_path / "k.sock"), presence=Presence("manual")) as key:
        dev = Libfido2Device(key.address, force_u2f=True)
        timer = threading.Timer(0.5, key.board.presence.press)
        timer.start()
        try:
            cred = dev.make_credential(RP_ID, os.urandom(32), b"user-1")
        finally:
            timer.cancel()
            dev.close()
        assert cred.verified == FIDO_OK
        assert key.board.led_events.count("touch") >= 2  # refused at once, asked again


def test_libfido2_u2f_with_keepalives(virtual_key, slow_board):
    """KEEPALIVE(PROCESSING) during a slow U2F_REGISTER, which libfido2 must ride out."""
    dev = Libfido2Device(virtual_key.address, force_u2f=True)
    try:
        cred = dev.make_credential(RP_ID, os.urandom(32), b"user-1")
    finally:
        dev.close()
    assert cred.verified == FIDO_OK
    assert 0x80 | 0x3B in slow_board  # CTAPHID_KEEPALIVE went out
