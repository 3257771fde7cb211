"""End to end with libfido2 (C, the second real client): getInfo, makeCredential, getAssertion, reset.

libfido2 runs its own CTAPHID, CBOR and CTAP2 code against the virtual key
(host_tests/libfido2.py, over the socket transport): it parses getInfo,
checks every attestation (fido_cred_verify_self, fido_cred_verify with an
x5c) and every assertion signature (fido_assert_verify), and walks
getNextAssertion itself. PIN, credential management and config are in
test_libfido2_pin.py, U2F in test_libfido2_u2f.py, extensions and large
blobs in test_libfido2_extensions.py.
"""

import os

import pytest
from fido2.cose import ES256
from fido2.ctap2 import Ctap2

from boards.host.board import FakeClock
from firmware.authenticator import AAGUID
from libfido2 import (  # noqa: F401 (dev: the fixture)
    FIDO_ERR_CREDENTIAL_EXCLUDED,
    FIDO_ERR_INVALID_SIG,
    FIDO_ERR_NO_CREDENTIALS,
    FIDO_ERR_NOT_ALLOWED,
    FIDO_OK,
    Libfido2Device,
    Libfido2Error,
    dev,
)

RP_ID = "example.com"
# authenticator data flags
UP, AT = 0x01, 0x40


def expect(code, fn, *args, **kw):
    with pytest.raises(Libfido2Error) as e:
        fn(*args, **kw)
    assert e.value.code == code, e.value


def test_cbor_info_agrees_with_the_key_and_python_fido2(dev, virtual_key, device):
    auth = virtual_key.authenticator
    # CTAPHID INIT as libfido2 read it when it opened the device
    assert dev.ctaphid_protocol == 2
    assert dev.ctaphid_version == tuple(auth.firmware_version)
    assert dev.ctaphid_capabilities == auth.capabilities
    assert dev.is_fido2
    # what the key does not do, libfido2 must not believe it does
    assert dev.supports_pin == ("clientPin" in auth.options())
    assert not dev.has_pin
    assert dev.supports_credman == ("credMgmt" in auth.options())

    info = dev.cbor_info()
    assert info.versions == auth.versions()
    assert info.aaguid == AAGUID
    assert info.options == auth.options()
    assert info.transports == auth.transports
    assert info.algorithms == [("public-key", a["alg"]) for a in auth.algorithms()]
    assert info.max_msg_size == auth.max_msg_size
    assert info.max_cred_count_in_list == auth.max_credential_count_in_list
    assert info.rk_remaining == auth.store.rk_remaining()
    # Every other member, as the other client parses the same response.
    py = Ctap2(device).info
    assert info.extensions == py.extensions
    assert info.pin_protocols == py.pin_uv_protocols
    assert info.max_cred_id_length == py.max_cred_id_length
    assert info.max_large_blob == py.max_large_blob
    assert info.max_cred_blob_length == py.max_cred_blob_length
    assert info.max_rpids_for_min_pin == py.max_rpids_for_min_pin
    assert info.min_pin_length == py.min_pin_length
    assert info.firmware_version == py.firmware_version
    assert info.force_pin_change == py.force_pin_change


@pytest.mark.parametrize("rk", [True, False], ids=["discoverable", "non-discoverable"])
def test_make_credential_es256_attestation_verifies(dev, virtual_key, rk):
    cred = dev.make_credential(RP_ID, os.urandom(32), b"\x01\x02", rk=rk)
    assert cred.fmt == "packed"
    assert cred.verified == FIDO_OK
    assert cred.aaguid == AAGUID
    assert cred.flags == UP | AT
    assert len(cred.public_key) == 64  # ES256 x || y
    assert virtual_key.authenticator.store.rk_count() == (1 if rk else 0)


@pytest.mark.parametrize("rk", [True, False], ids=["discoverable", "non-discoverable"])
def test_assertions_verify_and_the_counter_only_goes_up(dev, rk):
    cred = dev.make_credential(RP_ID, os.urandom(32), b"u", rk=rk)
    counters = [cred.sign_count]
    for _ in range(3):
        a = dev.get_assertion(RP_ID, os.urandom(32), [cred.id], cred.public_key)
        assert a.id == cred.id
        assert a.verified == FIDO_OK
        assert a.flags & UP
        counters.append(a.sign_count)
    assert counters == sorted(set(counters)), counters  # strictly increasing


def test_assertion_checked_against_another_credentials_key_fails(dev):
    a = dev.make_credential(RP_ID, os.urandom(32), b"a")
    b = dev.make_credential(RP_ID, os.urandom(32), b"b")
    assert dev.get_assertion(RP_ID, os.urandom(32), [a.id], a.public_key).verified == FIDO_OK
    assert dev.get_assertion(RP_ID, os.urandom(32), [a.id], b.public_key).verified == FIDO_ERR_INVALID_SIG


def test_discoverable_credentials_come_newest_first_via_get_next_assertion(dev):
    creds = [dev.make_credential(RP_ID, os.urandom(32), bytes([i]) * 4, rk=True) for i in range(1, 4)]
    dev.make_credential("other.example", os.urandom(32), b"zz", rk=True)
    found = dev.get_assertions(RP_ID, os.urandom(32), public_keys={c.id: c.public_key for c in creds})
    assert [a.id for a in found] == [c.id for c in reversed(creds)]
    assert [a.user_id for a in found] == [bytes([i]) * 4 for i in (3, 2, 1)]
    assert [a.verified for a in found] == [FIDO_OK] * 3


def test_registering_the_same_user_again_replaces_the_passkey(dev, virtual_key):
    old = dev.make_credential(RP_ID, os.urandom(32), b"same", rk=True)
    new = dev.make_credential(RP_ID, os.urandom(32), b"same", rk=True)
    assert new.id != old.id
    found = dev.get_assertions(RP_ID, os.urandom(32), public_keys={new.id: new.public_key})
    assert [(a.id, a.verified) for a in found] == [(new.id, FIDO_OK)]
    assert virtual_key.authenticator.store.rk_count() == 1


def test_no_credentials_for_an_unknown_rp_or_another_rps_credential_id(dev):
    expect(FIDO_ERR_NO_CREDENTIALS, dev.get_assertions, "nothing.example", os.urandom(32))
    cred = dev.make_credential(RP_ID, os.urandom(32), b"u")
    # a credential ID made for another RP names nothing here
    expect(FIDO_ERR_NO_CREDENTIALS, dev.get_assertions, "other.example", os.urandom(32), [cred.id])


def test_exclude_list_match_refuses_the_credential_and_stores_nothing(dev, virtual_key):
    cred = dev.make_credential(RP_ID, os.urandom(32), b"u")
    expect(FIDO_ERR_CREDENTIAL_EXCLUDED, dev.make_credential, RP_ID, os.urandom(32), b"v", rk=True, exclude=[cred.id])
    assert virtual_key.authenticator.store.rk_count() == 0
    # an exclude list naming nothing of this key does not stand in the way
    other = dev.make_credential(RP_ID, os.urandom(32), b"v", rk=True, exclude=[os.urandom(len(cred.id))])
    assert other.verified == FIDO_OK


def test_credentials_cross_between_python_fido2_and_libfido2(dev, device):
    """Registered by python-fido2, asserted by libfido2 -- and the reverse."""
    ctap2 = Ctap2(device)
    r = ctap2.make_credential(os.urandom(32), {"id": RP_ID}, {"id": b"py"}, [{"type": "public-key", "alg": -7}])
    cd = r.auth_data.credential_data
    a = dev.get_assertion(RP_ID, os.urandom(32), [cd.credential_id], cd.public_key[-2] + cd.public_key[-3])
    assert a.verified == FIDO_OK and a.sign_count > r.auth_data.counter

    cred = dev.make_credential(RP_ID, os.urandom(32), b"c", rk=True)
    cdh = os.urandom(32)
    b = ctap2.get_assertion(RP_ID, cdh, [{"type": "public-key", "id": cred.id}])
    x, y = cred.public_key[:32], cred.public_key[32:]
    ES256({1: 2, 3: -7, -1: 1, -2: x, -3: y}).verify(bytes(b.auth_data) + cdh, b.signature)


def test_reset_within_the_boot_window_erases_the_credentials(dev, virtual_key):
    cred = dev.make_credential(RP_ID, os.urandom(32), b"u", rk=True)
    dev.reset()
    assert virtual_key.authenticator.store.rk_count() == 0
    expect(FIDO_ERR_NO_CREDENTIALS, dev.get_assertions, RP_ID, os.urandom(32), [cred.id])


def test_reset_refused_after_the_boot_window(key_factory):
    clock = FakeClock()
    key = key_factory(clock=clock)
    clock.advance(10_001)
    late = Libfido2Device(key.address)
    try:
        expect(FIDO_ERR_NOT_ALLOWED, late.reset)
    finally:
        late.close()
