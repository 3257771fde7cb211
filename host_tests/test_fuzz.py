"""Bounded, deterministic fuzzing of the whole key (see fuzzing.py for the
oracle). `make fuzz` runs the same targets much longer, with random seeds,
plus atheris; these runs are derandomized so CI is repeatable.
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as S

from fuzzing import ANY_COMMAND_REQUEST, ANY_REQUEST, SCHEMAS, CaseFailure, FuzzKey, apdus, cbor_bytes, report_stream, requests

_CI = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def ci(examples):
    """Deterministic hypothesis settings with a fixed budget for CI."""
    return settings(_CI, max_examples=examples)


@ci(400)
@given(report_stream(ANY_REQUEST))
def test_report_streams(bursts):
    key = FuzzKey()
    key.check_case(key.feed(bursts))


@ci(400)
@given(S.integers(0, 0xFF), cbor_bytes())
def test_cbor_bytes_into_the_router(command, body):
    key = FuzzKey()
    key.check_cbor_response(key.cbor(bytes([command]) + body))
    key.check_case()


@pytest.mark.parametrize("command", sorted(SCHEMAS))
def test_parameter_maps(command):
    @ci(150)
    @given(S.lists(requests(command), min_size=1, max_size=3), S.booleans())
    def run(reqs, pin):
        # With a PIN and a token, pinUvAuthParam stand-ins become real MACs
        # and requests reach what lies behind the PIN check.
        key = FuzzKey(pin=pin)
        for cmd, req in reqs:
            key.request(cmd, req)
        key.check_case()

    run()


@ci(150)
@given(S.lists(ANY_COMMAND_REQUEST, min_size=2, max_size=8), S.booleans())
def test_request_sequences_on_one_key(reqs, pin):
    # State carried between requests: credentials made earlier are named in
    # allow and exclude lists, getNextAssertion follows getAssertion, counters.
    key = FuzzKey(pin=pin)
    for cmd, req in reqs:
        key.request(cmd, req)
    key.check_case()


@ci(300)
@given(S.lists(apdus(), min_size=1, max_size=6))
def test_u2f_apdus(specs):
    # Registered key handles come back in later authenticate APDUs.
    key = FuzzKey()
    for spec in specs:
        key.u2f(spec)
    key.check_case()


# -- the oracle catches what it should ---------------------------------------------------


def test_oracle_rejects_a_logged_exception():
    key = FuzzKey()
    key.board.log_exception(ValueError("x"))
    with pytest.raises(CaseFailure, match="logged"):
        key.check_case()


def test_oracle_rejects_err_other_and_unknown_status():
    key = FuzzKey()
    with pytest.raises(CaseFailure, match="ERR_OTHER"):
        key.check_cbor_response(b"\x7f")
    with pytest.raises(CaseFailure, match="unknown status"):
        key.check_cbor_response(b"\x99")
    with pytest.raises(CaseFailure, match="non-canonical"):
        key.check_cbor_response(b"\x00\xa2\x02\x00\x01\x00")


def test_oracle_rejects_a_counter_that_repeats():
    key = FuzzKey()
    import cbor2

    ad = bytes(32) + b"\x01" + (5).to_bytes(4, "big")
    key.check_cbor_response(b"\x00" + cbor2.dumps({1: "packed", 2: ad, 3: {}}, canonical=True))
    with pytest.raises(CaseFailure, match="counter"):
        key.check_cbor_response(b"\x00" + cbor2.dumps({1: "packed", 2: ad, 3: {}}, canonical=True))


def test_oracle_rejects_malformed_frames_and_a_dead_key():
    key = FuzzKey()
    with pytest.raises(CaseFailure, match="malformed"):
        key.check_reports([b"\x00\x00\x00\x01\x00" + bytes(59)])  # continuation first
    key.hid.poll = lambda: False  # a key that stopped answering
    with pytest.raises(CaseFailure, match="INIT not answered"):
        key.check_alive()


def test_oracle_rejects_a_torn_store():
    key = FuzzKey()
    key.storage.files["rk000.new"] = b"torn"
    key.storage.files["rk007"] = os.urandom(40)
    with pytest.raises(CaseFailure, match="store index"):
        key.check_store()
