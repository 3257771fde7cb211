"""End to end: unmodified python-fido2 over the socket transport (spine)."""

import os

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.hid import CAPABILITY

from firmware.authenticator import AAGUID


def test_init_gives_a_channel_and_capabilities(device, virtual_key):
    assert device.version == 2
    assert device.device_version == virtual_key.authenticator.firmware_version
    assert device.capabilities & CAPABILITY.CBOR
    assert device.capabilities & CAPABILITY.WINK


@pytest.mark.parametrize("n", [1, 57, 58, 1024, 7609])
def test_ping(device, n):
    data = os.urandom(n)
    assert device.ping(data) == data


def test_wink(device, virtual_key):
    device.wink()
    assert "wink" in virtual_key.board.led_events


def test_get_info(device):
    info = Ctap2(device).get_info()
    assert bytes(info.aaguid) == AAGUID
    assert info.max_msg_size == 7609
    assert info.transports == ["usb"]
    assert info.options["plat"] is False
    assert "FIDO_2_0" in info.versions


def test_unknown_command_is_invalid_command(device):
    with pytest.raises(CtapError) as e:
        Ctap2(device).send_cbor(0x55)
    assert e.value.code == CtapError.ERR.INVALID_COMMAND


def test_two_clients_share_the_key(virtual_key):
    a = virtual_key.open_device(timeout=10)
    b = virtual_key.open_device(timeout=10)
    assert a._channel_id != b._channel_id
    assert a.ping(b"a") == b"a" and b.ping(b"b") == b"b"
    assert Ctap2(b).get_info().max_msg_size == 7609
    a.close()
    b.close()
