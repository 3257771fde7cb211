"""firmware/ctap2/large_blobs.py: CTAP 2.1 §6.10 authenticatorLargeBlobs.

Handler level, through the router (CBOR in and out): reads, chunked writes,
every error the spec names, the pinUvAuthParam with the lbw permission for
both protocols, and power cuts during the final write.
"""

import hashlib
import os
import struct

import pytest
from fido2.ctap import CtapError

from boards.host.board import FakeClock
from boards.host.memory_storage import MemoryStorage
from ctap2_helpers import GET_INFO, LARGE_BLOBS, RESET, call, make_auth, status
from firmware.pin_protocol import PERMISSION_CM, PERMISSION_GA, PERMISSION_LBW, PERMISSION_MC
from pinhelpers import Platform

ERR = CtapError.ERR
# CTAP 2.1 §6.10.2: the initial array is h'80' || LEFT(SHA-256(h'80'), 16).
INITIAL = bytes.fromhex("8076be8b528d0075f7aae98d6fa57a6d3c")
MAX_MSG = 7609  # the host board's maxMsgSize
FRAGMENT = MAX_MSG - 64
PIN = "12345678"


def serialized(entries_cbor):
    """A serialized large-blob array: CBOR array bytes || LEFT(SHA-256, 16)."""
    return entries_cbor + hashlib.sha256(entries_cbor).digest()[:16]


def blob_array(n):
    """A valid serialized array of exactly n bytes (n >= 20): one byte-string entry."""
    # 0x81 (array of 1) + byte-string head + payload, then the hash.
    for head_len in (1, 2, 3):
        payload = n - 16 - 1 - head_len
        if payload < 0:
            continue
        if payload < 24 and head_len == 1:
            head = bytes([0x40 | payload])
        elif 24 <= payload < 256 and head_len == 2:
            head = bytes([0x58, payload])
        elif 256 <= payload < 65536 and head_len == 3:
            head = bytes([0x59]) + struct.pack(">H", payload)
        else:
            continue
        data = serialized(b"\x81" + head + os.urandom(payload))
        assert len(data) == n
        return data
    raise ValueError(n)


def lb_get(auth, offset, get):
    return call(auth, LARGE_BLOBS, {1: get, 3: offset})


def lb_set(auth, offset, data, length=None, extra=None):
    req = {2: data, 3: offset}
    if length is not None:
        req[4] = length
    req.update(extra or {})
    return status(auth, LARGE_BLOBS, req)


def read_all(auth):
    out, offset = b"", 0
    while True:
        code, resp = lb_get(auth, offset, FRAGMENT)
        assert code == 0, hex(code)
        out += resp[1]
        if len(resp[1]) < FRAGMENT:
            return out
        offset += FRAGMENT


def write_all(auth, data, fragment=FRAGMENT, token=None):
    for offset in range(0, len(data), fragment):
        chunk = data[offset : offset + fragment]
        extra = {}
        if token is not None:
            extra = sign(token, offset, chunk)
        code = lb_set(auth, offset, chunk, len(data) if offset == 0 else None, extra)
        if code:
            return code
    return 0


def sign(token, offset, chunk, protocol=None):
    """pinUvAuthParam/protocol as python-fido2's LargeBlobs.write_blob_array makes them."""
    proto, key = token
    msg = b"\xff" * 32 + b"\x0c\x00" + struct.pack("<I", offset) + hashlib.sha256(chunk).digest()
    return {5: proto.authenticate(key, msg), 6: protocol or proto.VERSION}


@pytest.fixture
def auth():
    return make_auth(clock=FakeClock())


# -- reading ----------------------------------------------------------------------------


def test_initial_array_is_the_empty_array_and_its_hash(auth):
    code, resp = lb_get(auth, 0, 1000)
    assert code == 0 and resp == {1: INITIAL}


def test_get_info_states_the_capacity(auth):
    code, info = call(auth, GET_INFO)
    assert info[4]["largeBlobs"] is True
    assert info[0x0B] == 8192 and info[0x0B] >= 1024
    assert "largeBlobKey" in info[2]


def test_capacity_comes_from_the_board_config():
    auth = make_auth(config={"max_serialized_large_blob_array": 2048})
    assert call(auth, GET_INFO)[1][0x0B] == 2048
    assert lb_set(auth, 0, b"x", 2049) == ERR.LARGE_BLOB_STORAGE_FULL
    assert write_all(auth, blob_array(2048)) == 0


@pytest.mark.parametrize("offset,get", [(0, 5), (5, 100), (16, 1), (17, 0), (0, 0)])
def test_get_returns_a_slice(auth, offset, get):
    code, resp = lb_get(auth, offset, get)
    assert code == 0 and resp[1] == INITIAL[offset : offset + get]


def test_get_past_the_end_is_invalid_parameter(auth):
    assert lb_get(auth, len(INITIAL) + 1, 1)[0] == ERR.INVALID_PARAMETER


def test_get_more_than_a_fragment_is_invalid_length(auth):
    assert lb_get(auth, 0, FRAGMENT)[0] == 0
    assert lb_get(auth, 0, FRAGMENT + 1)[0] == ERR.INVALID_LENGTH


@pytest.mark.parametrize(
    "req",
    [
        {1: 10},  # 1. no offset
        {3: 0},  # 2. neither get nor set
        {1: 10, 2: b"x", 3: 0},  # 3. both
        {1: 10, 3: 0, 4: 17},  # 4.1. get with length
        {1: 10, 3: 0, 5: bytes(16)},  # 4.2. get with pinUvAuthParam
        {1: 10, 3: 0, 6: 1},  # 4.2. get with pinUvAuthProtocol
    ],
)
def test_malformed_requests_are_invalid_parameter(auth, req):
    assert status(auth, LARGE_BLOBS, req) == ERR.INVALID_PARAMETER


@pytest.mark.parametrize(
    "req",
    [
        {1: "10", 3: 0},
        {1: -1, 3: 0},
        {2: "text", 3: 0, 4: 17},
        {2: b"x", 3: b"\x00", 4: 17},
        {2: b"x", 3: 0, 4: True},
        {2: b"x", 3: 0, 4: 17, 5: "mac"},
        {2: b"x", 3: 0, 4: 17, 5: b"mac", 6: "1"},
    ],
)
def test_wrong_types_are_cbor_unexpected_type(auth, req):
    assert status(auth, LARGE_BLOBS, req) == ERR.CBOR_UNEXPECTED_TYPE


# -- writing ----------------------------------------------------------------------------


def test_single_fragment_write_and_read_back(auth):
    data = blob_array(200)
    assert lb_set(auth, 0, data, len(data)) == 0
    assert read_all(auth) == data
    assert set(auth.store._st.list()) >= {"lb"} and "lb.new" not in auth.store._st.list()


def test_chunked_write_of_the_full_capacity(auth):
    data = blob_array(8192)
    assert write_all(auth, data) == 0  # 2 fragments of maxFragmentLength
    assert read_all(auth) == data
    assert write_all(auth, blob_array(8192), fragment=1000) == 0  # 9 smaller fragments
    # reading in odd slices gives the same bytes
    stored = read_all(auth)
    pieces = [lb_get(auth, off, 333)[1][1] for off in range(0, len(stored), 333)]
    assert b"".join(pieces) == stored


def test_the_array_survives_a_restart(auth):
    data = blob_array(3000)
    assert write_all(auth, data, fragment=1000) == 0
    again = make_auth(storage=auth.store._st)
    assert read_all(again) == data


def test_set_larger_than_a_fragment_is_invalid_length(auth):
    assert lb_set(auth, 0, bytes(FRAGMENT + 1), 8000) == ERR.INVALID_LENGTH


@pytest.mark.parametrize(
    "length,code",
    [(None, ERR.INVALID_PARAMETER), (8193, ERR.LARGE_BLOB_STORAGE_FULL), (2**32, ERR.LARGE_BLOB_STORAGE_FULL),
     (16, ERR.INVALID_PARAMETER), (0, ERR.INVALID_PARAMETER)],
)
def test_first_fragment_length_rules(auth, length, code):
    assert lb_set(auth, 0, b"\x80", length) == code


def test_length_only_on_the_first_fragment(auth):
    data = blob_array(100)
    assert lb_set(auth, 0, data[:50], 100) == 0
    assert lb_set(auth, 50, data[50:], 100) == ERR.INVALID_PARAMETER


@pytest.mark.parametrize("offset", [49, 51, 100, 2**32 - 1])
def test_out_of_sequence_fragment_is_invalid_seq(auth, offset):
    data = blob_array(100)
    assert lb_set(auth, 0, data[:50], 100) == 0
    assert lb_set(auth, offset, data[50:]) == ERR.INVALID_SEQ
    assert read_all(auth) == INITIAL


def test_continuation_without_a_write_in_progress_is_invalid_seq(auth):
    assert lb_set(auth, 10, b"x") == ERR.INVALID_SEQ


def test_a_repeated_fragment_is_invalid_seq(auth):
    data = blob_array(100)
    assert lb_set(auth, 0, data[:50], 100) == 0
    assert lb_set(auth, 50, data[50:80]) == 0
    assert lb_set(auth, 50, data[50:80]) == ERR.INVALID_SEQ


def test_more_than_the_announced_length_is_invalid_parameter(auth):
    data = blob_array(100)
    assert lb_set(auth, 0, data + b"\0", 100) == ERR.INVALID_PARAMETER
    assert lb_set(auth, 0, data[:60], 100) == 0
    assert lb_set(auth, 60, data[60:] + b"\0") == ERR.INVALID_PARAMETER
    assert read_all(auth) == INITIAL


def test_bad_hash_is_integrity_failure_and_keeps_the_old_array(auth):
    good = blob_array(300)
    assert write_all(auth, good) == 0
    writes = auth.store._st.writes
    bad = bytearray(blob_array(300))
    bad[5] ^= 1
    assert lb_set(auth, 0, bytes(bad[:100]), 300) == 0
    assert lb_set(auth, 100, bytes(bad[100:])) == ERR.INTEGRITY_FAILURE
    assert read_all(auth) == good
    assert auth.store._st.writes == writes  # nothing written
    # the failed write is over: its continuation is out of sequence
    assert lb_set(auth, 300, b"x") == ERR.INVALID_SEQ


def test_any_other_command_drops_a_pending_write(auth):
    data = blob_array(100)
    assert lb_set(auth, 0, data[:50], 100) == 0
    assert status(auth, GET_INFO) == 0
    assert lb_set(auth, 50, data[50:]) == ERR.INVALID_SEQ
    assert read_all(auth) == INITIAL


def test_reads_between_fragments_keep_the_write_going(auth):
    data = blob_array(100)
    assert lb_set(auth, 0, data[:50], 100) == 0
    assert read_all(auth) == INITIAL  # the old array until the write completes
    assert lb_set(auth, 50, data[50:]) == 0
    assert read_all(auth) == data


def test_a_new_first_fragment_restarts_the_write(auth):
    first, second = blob_array(100), blob_array(60)
    assert lb_set(auth, 0, first[:50], 100) == 0
    assert lb_set(auth, 0, second[:30], 60) == 0
    assert lb_set(auth, 50, first[50:]) == ERR.INVALID_SEQ
    assert lb_set(auth, 30, second[30:]) == 0
    assert read_all(auth) == second


def test_minimum_array_is_accepted(auth):
    assert lb_set(auth, 0, INITIAL, 17) == 0
    assert read_all(auth) == INITIAL


def test_reset_restores_the_initial_array(auth):
    assert write_all(auth, blob_array(500)) == 0
    assert status(auth, RESET) == 0
    assert read_all(auth) == INITIAL


# -- pinUvAuthParam and the lbw permission -------------------------------------------------


def protect(auth, permissions, version=2):
    """Set a PIN and get a pinUvAuthToken with `permissions` through clientPIN: (protocol, token)."""
    platform = Platform(auth, version)
    platform.set_pin(PIN)
    return platform.proto, platform.token(PIN, permissions)


@pytest.mark.parametrize("version", [1, 2])
def test_with_a_pin_a_token_with_lbw_writes(auth, version):
    token = protect(auth, PERMISSION_LBW, version)
    data = blob_array(2000)
    assert write_all(auth, data, fragment=700, token=token) == 0
    assert read_all(auth) == data  # reading needs no token


@pytest.mark.parametrize("version", [1, 2])
def test_with_a_pin_every_failure_gets_its_error(auth, version):
    token = protect(auth, PERMISSION_LBW, version)
    data = blob_array(100)
    assert lb_set(auth, 0, data, 100) == ERR.PUAT_REQUIRED
    mac = sign(token, 0, data)
    assert lb_set(auth, 0, data, 100, {5: mac[5]}) == ERR.MISSING_PARAMETER
    assert lb_set(auth, 0, data, 100, sign(token, 0, data, protocol=3)) == ERR.INVALID_PARAMETER
    assert lb_set(auth, 0, data, 100, {5: mac[5], 6: 3 - version}) == ERR.PIN_AUTH_INVALID  # other protocol
    assert lb_set(auth, 0, data, 100, {5: bytes(len(mac[5])), 6: version}) == ERR.PIN_AUTH_INVALID
    assert lb_set(auth, 0, data, 100, sign(token, 0, data[:-1] + bytes([data[-1] ^ 1]))) == ERR.PIN_AUTH_INVALID  # other data
    assert lb_set(auth, 0, data, 100, sign(token, 1, data)) == ERR.PIN_AUTH_INVALID  # other offset
    assert read_all(auth) == INITIAL
    assert lb_set(auth, 0, data, 100, mac) == 0
    assert read_all(auth) == data


@pytest.mark.parametrize("permissions", [PERMISSION_MC, PERMISSION_GA, PERMISSION_CM | PERMISSION_MC])
def test_a_token_without_lbw_is_pin_auth_invalid(auth, permissions):
    token = protect(auth, permissions)
    data = blob_array(100)
    assert lb_set(auth, 0, data, 100, sign(token, 0, data)) == ERR.PIN_AUTH_INVALID
    assert read_all(auth) == INITIAL


def test_no_token_in_use_is_pin_auth_invalid(auth):
    token = protect(auth, PERMISSION_LBW)
    auth.pin_uv.stop_using()
    data = blob_array(100)
    assert lb_set(auth, 0, data, 100, sign(token, 0, data)) == ERR.PIN_AUTH_INVALID


def test_every_fragment_is_authorized(auth):
    token = protect(auth, PERMISSION_LBW)
    data = blob_array(300)
    assert lb_set(auth, 0, data[:100], 300, sign(token, 0, data[:100])) == 0
    assert lb_set(auth, 100, data[100:200]) == ERR.PUAT_REQUIRED
    # a MAC made for the first fragment does not carry over to the second
    assert lb_set(auth, 100, data[100:200], None, sign(token, 0, data[100:200])) == ERR.PIN_AUTH_INVALID
    assert lb_set(auth, 100, data[100:200], None, sign(token, 100, data[100:200])) == 0
    assert lb_set(auth, 200, data[200:], None, sign(token, 200, data[200:])) == 0
    assert read_all(auth) == data


def test_without_a_pin_pin_params_are_not_needed(auth):
    data = blob_array(100)
    assert lb_set(auth, 0, data, 100) == 0


# -- power cuts ------------------------------------------------------------------------------


class PowerCut(BaseException):  # not caught by the router, like a real cut
    pass


class CuttingStorage(MemoryStorage):
    """MemoryStorage whose power goes out before storage operation number `cut`.

    The interrupted write leaves a torn prefix of its data, as flash would.
    """

    def __init__(self, files, cut):
        super().__init__(files)
        self.ops = 0
        self.cut = cut

    def _tick(self):
        self.ops += 1
        if self.ops == self.cut:
            raise PowerCut()

    def write(self, name, data):
        try:
            self._tick()
        except PowerCut:
            self.files[name] = bytes(data[: len(data) // 2])
            raise
        super().write(name, data)

    def rename(self, old, new):
        self._tick()
        super().rename(old, new)

    def remove(self, name):
        self._tick()
        super().remove(name)


def test_a_power_cut_at_any_point_of_the_commit_leaves_old_or_new():
    base = make_auth()
    old = blob_array(4000)
    assert write_all(base, old) == 0
    files = dict(base.store._st.files)
    new = blob_array(5000)
    outcomes = set()
    for cut in range(1, 10):
        storage = CuttingStorage(files, None)  # the boot (which writes the DRBG's seed) is not cut
        auth = make_auth(storage=storage)
        storage.ops = 0  # count from the large-blob write on
        storage.cut = cut
        try:
            code = write_all(auth, new)
        except PowerCut:
            code = None
        else:
            assert code == 0
        rebooted = make_auth(storage=MemoryStorage(storage.files))
        got = read_all(rebooted)
        assert got in (old, new), cut
        outcomes.add(got == new)
        if code == 0:
            break
    assert outcomes == {False, True}
