"""Fuzzing the core on MicroPython: random U2F APDUs and CTAP2 requests over CTAPHID.

Where MicroPython and CPython differ (exception classes, bytes/str
conversions, integer parsing), an input the CPython fuzzers handle could
still end in an exception on a board. Here every input goes over CTAPHID
to the MicroPython key (mpy_key) and must get a specified answer; the
fixture fails the test if the key's main loop logged any exception.
Presence is refused at once ("deny"), so no input waits for a touch.
"""

import struct

import cbor2
import pytest
from fido2.ctap1 import APDU
from hypothesis import HealthCheck, given, settings, strategies as st

from mpy_key import HidAuthenticator

_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# What a U2F key may answer (FIDO U2F raw message formats §3.3 and ISO 7816-4;
# python-fido2's APDU names only the first three)
U2F_STATUS_WORDS = {
    APDU.OK, APDU.USE_NOT_SATISFIED, APDU.WRONG_DATA,
    0x6700,  # SW_WRONG_LENGTH
    0x6E00,  # SW_CLA_NOT_SUPPORTED
    0x6D00,  # SW_INS_NOT_SUPPORTED
}
CTAP1_ERR_OTHER = 0x7F
CTAP2_COMMANDS = [0x01, 0x02, 0x04, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0C, 0x0D, 0x41]

# CBOR values as platforms send them, nested no deeper than CTAP's four levels.
_scalars = st.one_of(
    st.integers(-(2**64), 2**64 - 1), st.binary(max_size=80), st.text(max_size=40), st.booleans(), st.none())
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.integers(-3, 12), st.text(max_size=12)), inner, max_size=5)),
    max_leaves=12)
_requests = st.dictionaries(st.integers(0, 12), _values, max_size=8)


@pytest.fixture
def auth(mpy_key_factory):
    """The key refusing presence at once; one connection for all of a test's examples."""
    return HidAuthenticator(mpy_key_factory(presence="deny"))


@_FUZZ
@given(apdu=st.binary(min_size=1, max_size=400))  # an empty MSG is CTAPHID's ERR_INVALID_LEN (test_ctaphid.py)
def test_every_apdu_gets_a_status_word(auth, apdu):
    response = auth.process_msg(apdu)
    assert struct.unpack(">H", response[-2:])[0] in U2F_STATUS_WORDS


@_FUZZ
@given(command=st.sampled_from(CTAP2_COMMANDS), request=_requests)
def test_every_ctap2_request_gets_a_specified_status(auth, command, request):
    try:
        body = cbor2.dumps(request, canonical=True)
    except (ValueError, cbor2.CBOREncodeError):
        return  # not encodable (an int beyond 64 bits in a key position): nothing to send
    response = auth.process_cbor(bytes([command]) + body)
    assert response[0] != CTAP1_ERR_OTHER, "an unexpected exception on MicroPython"
    if response[0] == 0 and len(response) > 1:
        cbor2.loads(response[1:])  # a success carries well-formed CBOR


@_FUZZ
@given(command=st.sampled_from(CTAP2_COMMANDS), body=st.binary(max_size=200))
def test_every_ctap2_byte_string_gets_a_specified_status(auth, command, body):
    response = auth.process_cbor(bytes([command]) + body)
    assert response[0] != CTAP1_ERR_OTHER, "an unexpected exception on MicroPython"

