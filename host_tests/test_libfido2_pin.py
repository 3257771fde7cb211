"""End to end with libfido2 (C, the second real client): PIN, UV, credential management, config.

libfido2 negotiates the pinUvAuthProtocol itself (2, as getInfo prefers),
asks for getPinUvAuthTokenUsingPinWithPermissions because pinUvAuthToken is
advertised, and MACs every command its own way: an independent check of the
bytes the key verifies.
"""

import os

import pytest

from boards.host.memory_storage import MemoryStorage
from libfido2 import (  # noqa: F401 (dev: the fixture)
    FIDO_ERR_OPERATION_DENIED,
    FIDO_ERR_PIN_AUTH_BLOCKED,
    FIDO_ERR_PIN_BLOCKED,
    FIDO_ERR_PIN_INVALID,
    FIDO_ERR_PIN_POLICY_VIOLATION,
    FIDO_OK,
    Libfido2Device,
    Libfido2Error,
    dev,
)

RP_ID = "example.com"
PIN = "246810"
FLAG_UP, FLAG_UV = 0x01, 0x04


def expect(code, fn, *args):
    with pytest.raises(Libfido2Error) as e:
        fn(*args)
    assert e.value.code == code, e.value


def test_set_pin_and_ceremonies_with_it(dev, virtual_key):
    assert dev.retry_count() == 8
    assert dev.supports_pin and not dev.has_pin
    dev.set_pin(PIN)
    # getInfo now says clientPin: true, and a client opening the key sees a PIN
    assert dev.cbor_info().options["clientPin"] is True
    again = Libfido2Device(virtual_key.address)
    try:
        assert again.has_pin
    finally:
        again.close()
    cred = dev.make_credential(RP_ID, os.urandom(32), b"user-1", pin=PIN, rk=True)
    assert cred.verified == FIDO_OK and cred.flags & (FLAG_UP | FLAG_UV) == FLAG_UP | FLAG_UV
    a = dev.get_assertion(RP_ID, os.urandom(32), [cred.id], cred.public_key, pin=PIN)
    assert a.verified == FIDO_OK and a.flags & (FLAG_UP | FLAG_UV) == FLAG_UP | FLAG_UV
    # Without the PIN: an assertion without UV is allowed, a passkey is not.
    a = dev.get_assertion(RP_ID, os.urandom(32), [cred.id], cred.public_key)
    assert a.verified == FIDO_OK and not a.flags & FLAG_UV


def test_change_pin_and_wrong_pins(dev, virtual_key):
    dev.set_pin(PIN)
    dev.set_pin("13579", old_pin=PIN)
    expect(FIDO_ERR_PIN_INVALID, dev.make_credential, RP_ID, os.urandom(32), b"u", PIN)
    assert dev.retry_count() == 7
    expect(FIDO_ERR_PIN_INVALID, dev.set_pin, "999999", PIN)
    expect(FIDO_ERR_PIN_AUTH_BLOCKED, dev.make_credential, RP_ID, os.urandom(32), b"u", PIN)
    expect(FIDO_ERR_PIN_AUTH_BLOCKED, dev.make_credential, RP_ID, os.urandom(32), b"u", "13579")
    assert dev.retry_count() == 5
    assert virtual_key.authenticator.pin_consecutive_mismatches == 3


def test_pin_blocked_after_eight(key_factory):
    storage = MemoryStorage()
    key = key_factory(storage=storage)
    dev = Libfido2Device(key.address)
    dev.set_pin(PIN)
    for i in range(8):
        if i and i % 3 == 0:  # power cycle before the power-up block bites
            dev.close()
            key.stop()
            key = key_factory(storage=storage)
            dev = Libfido2Device(key.address)
        expected = FIDO_ERR_PIN_BLOCKED if i == 7 else (FIDO_ERR_PIN_AUTH_BLOCKED if i % 3 == 2 else FIDO_ERR_PIN_INVALID)
        expect(expected, dev.make_credential, RP_ID, os.urandom(32), b"u", "000000")
    assert dev.retry_count() == 0
    expect(FIDO_ERR_PIN_BLOCKED, dev.make_credential, RP_ID, os.urandom(32), b"u", PIN)
    dev.close()


def test_credential_management_lists_and_deletes_passkeys(dev):
    dev.set_pin(PIN)
    creds = [
        dev.make_credential(rp, os.urandom(32), user, pin=PIN, rk=True)
        for rp, user in [(RP_ID, b"u1"), (RP_ID, b"u2"), ("other.example", b"u3")]
    ]
    existing, remaining = dev.credman_metadata(PIN)
    assert existing == 3 and remaining > 0
    assert sorted(dev.credman_rp_ids(PIN)) == [RP_ID, "other.example"]
    assert sorted(dev.credman_credential_ids(RP_ID, PIN)) == sorted(c.id for c in creds[:2])
    dev.credman_delete(creds[0].id, PIN)
    assert dev.credman_credential_ids(RP_ID, PIN) == [creds[1].id]
    assert dev.credman_metadata(PIN)[0] == 2


def test_config_always_uv_and_a_longer_min_pin_force_a_pin_change(dev, virtual_key):
    dev.set_pin(PIN)
    dev.toggle_always_uv(PIN)
    assert virtual_key.authenticator.options()["alwaysUv"] is True
    dev.set_pin_minlen(8, PIN)
    # The PIN is now too short: tokens wait for a change to an 8+ PIN.
    expect(FIDO_ERR_PIN_POLICY_VIOLATION, dev.make_credential, RP_ID, os.urandom(32), b"u", PIN)
    expect(FIDO_ERR_PIN_POLICY_VIOLATION, dev.set_pin, "1234567", PIN)
    dev.set_pin("12345678", old_pin=PIN)
    cred = dev.make_credential(RP_ID, os.urandom(32), b"u", pin="12345678")
    assert cred.flags & FLAG_UV


# -- CTAP 2.2 next to libfido2 1.12 (which predates it) ------------------------------------------


def test_ctap22_members_and_a_persistent_token_leave_libfido2_working(dev, virtual_key):
    """getInfo with every 2.2 member, encIdentifier/encCredStoreState included
    (a python-fido2 platform holds a persistentPinUvAuthToken), still parses in
    libfido2; its own cm token manages the credentials, and the persistent
    token is untouched by it."""
    from fido2.ctap2 import ClientPin, Ctap2
    from fido2.ctap2.pin import PinProtocolV2

    dev.set_pin(PIN)
    dev.make_credential(RP_ID, os.urandom(32), b"user-1", pin=PIN, rk=True)
    py_dev = virtual_key.open_device(timeout=60)
    try:
        ctap = Ctap2(py_dev)
        token = ClientPin(ctap, PinProtocolV2()).get_pin_token(PIN, ClientPin.PERMISSION.PERSISTENT_CREDENTIAL_MGMT)
        py = ctap.get_info()
        ident = py.get_identifier(token)
        state = py.get_cred_store_state(token)
        info = dev.cbor_info()
        assert info.versions == py.versions and info.options == py.options
        assert info.extensions == py.extensions and info.min_pin_length == py.min_pin_length
        assert dev.credman_metadata(PIN) == (1, py.remaining_disc_creds)
        (cid,) = dev.credman_credential_ids(RP_ID, PIN)
        dev.credman_delete(cid, PIN)
        after = ctap.get_info()
        assert after.get_identifier(token) == ident
        assert after.get_cred_store_state(token) != state
    finally:
        py_dev.close()


@pytest.mark.parametrize("long_touch", [True, False], ids=["long", "short"])
def test_reset_with_long_touch_for_reset(key_factory, long_touch):
    from boards.host.board import Presence

    presence = Presence("manual")
    key = key_factory(presence=presence, config={"long_touch_for_reset": True})
    d = Libfido2Device(key.address)
    try:
        (presence.long_press if long_touch else presence.press)()
        if long_touch:
            d.reset()
        else:
            expect(FIDO_ERR_OPERATION_DENIED, d.reset)
    finally:
        d.close()
