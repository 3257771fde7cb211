"""firmware/authenticator.py: the router and the one place status bytes are made."""

import cbor2
import pytest
from fido2.ctap import CtapError

from boards.host.board import HostBoard
from boards.host.transport import MemoryTransport
from firmware import authenticator as authmod
from firmware.authenticator import Authenticator
from firmware.status import CtapError as FwCtapError

ERR = CtapError.ERR


@pytest.fixture
def auth():
    return Authenticator(HostBoard(MemoryTransport()))


def status(resp):
    return resp[0]


def test_empty_message_is_invalid_length(auth):
    assert auth.process_cbor(b"") == bytes([ERR.INVALID_LENGTH])


@pytest.mark.parametrize("cmd", [0x00, 0x03, 0x05, 0x0E, 0x3F, 0x40, 0x42, 0xFF])
def test_unknown_command_byte(auth, cmd):
    assert auth.process_cbor(bytes([cmd])) == bytes([ERR.INVALID_COMMAND])


@pytest.mark.parametrize(
    "body",
    [
        b"\xa1",  # truncated map
        b"\xa0\x00",  # trailing bytes
        b"\xbf\xff",  # indefinite-length map
        b"\xc2\x40",  # tag
        b"\xf9\x00\x00",  # float
        b"\xa2\x01\x01\x01\x02",  # duplicate key
    ],
)
def test_malformed_cbor_is_invalid_cbor(auth, body):
    assert auth.process_cbor(b"\x04" + body) == bytes([ERR.INVALID_CBOR])


@pytest.mark.parametrize("value", [[1, 2], 7, "x", b"y", None])
def test_parameters_must_be_a_map(auth, value):
    assert auth.process_cbor(b"\x04" + cbor2.dumps(value)) == bytes([ERR.CBOR_UNEXPECTED_TYPE])


def test_ctap_error_from_a_handler_is_its_status_byte(auth, monkeypatch):
    def handler(a, req):
        raise FwCtapError(ERR.PIN_INVALID)

    monkeypatch.setitem(authmod._COMMANDS, 0x04, handler)
    assert auth.process_cbor(b"\x04") == bytes([ERR.PIN_INVALID])


def test_unexpected_exception_is_logged_and_err_other(auth, monkeypatch):
    logged = []
    auth.board.log_exception = logged.append

    def handler(a, req):
        raise KeyError("bug")

    monkeypatch.setitem(authmod._COMMANDS, 0x04, handler)
    assert auth.process_cbor(b"\x04") == bytes([ERR.OTHER])
    assert isinstance(logged[0], KeyError)


def test_none_is_an_empty_success(auth, monkeypatch):
    monkeypatch.setitem(authmod._COMMANDS, 0x04, lambda a, req: None)
    assert auth.process_cbor(b"\x04") == b"\x00"


def test_handler_gets_the_decoded_map(auth, monkeypatch):
    seen = []
    monkeypatch.setitem(authmod._COMMANDS, 0x04, lambda a, req: seen.append(req) or {1: b"x"})
    resp = auth.process_cbor(b"\x04" + cbor2.dumps({1: b"a", 2: {"id": "x"}}))
    assert seen == [{1: b"a", 2: {"id": "x"}}]
    assert resp == b"\x00" + cbor2.dumps({1: b"x"})


def test_response_larger_than_max_msg_size_is_err_other(auth, monkeypatch):
    auth.board.log_exception = lambda e: None
    monkeypatch.setitem(authmod._COMMANDS, 0x04, lambda a, req: {1: bytes(8000)})
    assert auth.process_cbor(b"\x04") == bytes([ERR.OTHER])
