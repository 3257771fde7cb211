"""CTAPHID on real MicroPython: raw packets and python-fido2 against the core on the wasm build.

The key is the unchanged core running firmware.main_loop.run() on MicroPython
(WebAssembly) in a child process (host_tests/mpy_key.py). The packet-level
scenarios of test_ctaphid.py and the python-fido2 ones of test_e2e_hid.py
run here unchanged, through the `key` and `key_factory` fixtures below.
What test_ctaphid.py checks with a fake clock (message timeout, LOCK expiry,
keepalives while waiting for a touch, busy channels, cancel) is checked here
in real time against the real authenticator.
"""

import os
import struct
import time

import pytest
from fido2.hid import CTAPHID

from hidpackets import (
    BROADCAST,
    ERR_CHANNEL_BUSY,
    ERR_INVALID_SEQ,
    ERR_LOCK_REQUIRED,
    ERR_MSG_TIMEOUT,
    FencedHid,
    cont_packet,
    error,
    init_packet,
    packets,
)
from test_ctaphid import Key  # noqa: F401  (for its init())

# The packet-level scenarios, unchanged (the ones needing a fake clock,
# a stand-in application or reports of the wrong size stay in test_ctaphid.py;
# their real-time versions are below).
from test_ctaphid import (  # noqa: F401
    test_broadcast_init_while_busy_is_busy,
    test_cancel_with_nothing_pending_is_not_answered,
    test_cbor_or_msg_without_data_is_err_invalid_len,
    test_cbor_reaches_the_authenticator,
    test_init_allocates_fresh_channels,
    test_init_in_the_middle_of_a_message_resyncs,
    test_init_on_allocated_channel_resyncs_it,
    test_init_with_wrong_nonce_length,
    test_largest_message_uses_all_128_sequence_numbers,
    test_lock_parameters,
    test_lock_zero_releases,
    test_message_longer_than_max_is_refused_at_once,
    test_msg_reaches_ctap1,
    test_new_command_in_the_middle_of_a_message,
    test_one_byte_cbor_and_msg_reach_the_application,
    test_only_init_may_use_broadcast,
    test_ping_echoes_any_size,
    test_second_channel_gets_busy_while_a_message_is_assembled,
    test_spurious_continuation_packets_are_ignored,
    test_unallocated_and_reserved_channels_are_invalid,
    test_unknown_and_host_side_commands_are_invalid,
    test_wink,
    test_wrong_sequence_number,
)

# python-fido2's CtapHidDevice: INIT, PING 1..7609 bytes, WINK, getInfo, two clients.
from test_e2e_hid import (  # noqa: F401
    test_get_info,
    test_init_gives_a_channel_and_capabilities,
    test_ping,
    test_two_clients_share_the_key,
    test_unknown_command_is_invalid_command,
    test_wink as test_wink_through_python_fido2,
)

CBOR_SELECTION = b"\x0b"  # authenticatorSelection: waits for a touch, nothing else
KEEPALIVE_CANCEL = 0x2D


@pytest.fixture
def key_factory(mpy_key_factory):
    return mpy_key_factory


class MicroPythonRawKey:
    """test_ctaphid.Key's interface (send, init, board, hid.app) over the MicroPython key."""

    init = Key.init

    def __init__(self, key):
        self.mpy = key
        self.board = key.board
        self.hid = type("Hid", (), {"app": key.authenticator})()
        self.raw = FencedHid(key.connection(timeout=10))

    def send(self, *reports):
        return self.raw.send(*reports)


@pytest.fixture
def key(mpy_key):
    return MicroPythonRawKey(mpy_key)


@pytest.fixture
def waiting(key_factory):
    """A raw key whose button only a test presses."""
    return MicroPythonRawKey(key_factory(presence="manual"))


# -- timeouts and LOCK in real time ----------------------------------------------------


def test_stalled_message_times_out_after_500_ms(key):
    cid = key.init()
    pkts = packets(cid, CTAPHID.PING, bytes(100))
    sent = time.monotonic()
    assert key.send(pkts[0]) == []  # the fence answers at once: no error yet
    assert key.raw.read_message() == error(cid, ERR_MSG_TIMEOUT)
    # The key measured 500 ms from its own receipt, which came after `sent`
    # (taken before the send: send() returns once the fence is answered,
    # after the key had the packet).
    assert time.monotonic() - sent >= 0.5
    assert key.send(pkts[1]) == []  # a late continuation is spurious now
    assert key.send(*packets(cid, CTAPHID.PING, b"again")) == [(cid, CTAPHID.PING, b"again")]


def test_a_slow_but_steady_sender_does_not_time_out(key):
    cid = key.init()
    data = os.urandom(700)  # 12 packets, 50 ms apart: the message takes longer than 500 ms
    assert key.raw.trickle(packets(cid, CTAPHID.PING, data), 0.05) == [(cid, CTAPHID.PING, data)]


def test_lock_excludes_other_channels_until_it_expires(key):
    a, b = key.init(), key.init()
    assert key.send(init_packet(a, CTAPHID.LOCK, b"\x02")) == [(a, CTAPHID.LOCK, b"")]
    locked = time.monotonic()  # the key's lock began before this
    assert key.send(init_packet(b, CTAPHID.PING, b"b")) == [error(b, ERR_LOCK_REQUIRED)]
    assert key.send(init_packet(a, CTAPHID.PING, b"a")) == [(a, CTAPHID.PING, b"a")]
    c = key.init()  # a new application still gets a channel
    assert key.send(init_packet(c, CTAPHID.CBOR, b"\x04")) == [error(c, ERR_LOCK_REQUIRED)]
    time.sleep(max(0.0, locked + 2.0 - time.monotonic()))
    assert key.send(init_packet(b, CTAPHID.PING, b"b")) == [(b, CTAPHID.PING, b"b")]


# -- a transaction that waits for a touch ------------------------------------------


def _wait_for_answer(key, cid, after=None, action=None):
    """Read KEEPALIVEs on cid until another message comes; run action() after `after` of them.

    Returns (arrival times of the keepalives, their statuses, the other message).
    """
    times, statuses = [], []
    while True:
        msg = key.raw.read_message()
        if msg[:2] != (cid, CTAPHID.KEEPALIVE):
            return times, statuses, msg
        times.append(time.monotonic())
        statuses.append(msg[2])
        if len(times) == after:
            action()


def test_keepalive_upneeded_while_waiting_then_the_touch_completes(waiting):
    cid = waiting.init()
    waiting.raw.write(init_packet(cid, CTAPHID.CBOR, CBOR_SELECTION))
    times, statuses, last = _wait_for_answer(waiting, cid, after=8, action=waiting.mpy.press)
    assert last == (cid, CTAPHID.CBOR, b"\x00")
    assert set(statuses) == {b"\x02"}  # STATUS_UPNEEDED
    # "at least every 100 ms" (CTAP 2.1 §11.2.9.2.1): the typical gap as the host
    # sees them (the median, so a stall of this busy test machine does not count;
    # test_ctaphid checks every gap with a fake clock)
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    assert gaps[len(gaps) // 2] <= 0.1
    assert waiting.board.led_events == ["touch", "idle"]
    assert waiting.board.presence.requests == 1


def test_cancel_ends_the_wait_with_keepalive_cancel(waiting):
    cid = waiting.init()
    waiting.raw.write(init_packet(cid, CTAPHID.CBOR, CBOR_SELECTION))
    _, _, last = _wait_for_answer(
        waiting, cid, after=3, action=lambda: waiting.raw.write(init_packet(cid, CTAPHID.CANCEL)))
    assert last == (cid, CTAPHID.CBOR, bytes([KEEPALIVE_CANCEL]))
    assert waiting.send(init_packet(cid, CTAPHID.PING, b"free")) == [(cid, CTAPHID.PING, b"free")]


def test_other_channels_are_busy_during_a_transaction(waiting):
    a, b = waiting.init(), waiting.init()
    waiting.raw.write(init_packet(a, CTAPHID.CBOR, CBOR_SELECTION))
    assert waiting.raw.read_message()[:2] == (a, CTAPHID.KEEPALIVE)
    others = [
        init_packet(b, CTAPHID.PING, b"b"),
        init_packet(BROADCAST, CTAPHID.INIT, bytes(8)),
        init_packet(a, CTAPHID.PING, b"a"),
    ]
    # The fence is busy too: its answer closes the list.
    msgs = [m for m in waiting.send(*others) if m[1] != CTAPHID.KEEPALIVE]
    assert msgs == [error(b, ERR_CHANNEL_BUSY), error(BROADCAST, ERR_CHANNEL_BUSY), error(a, ERR_CHANNEL_BUSY)]
    waiting.mpy.press()
    _, _, last = _wait_for_answer(waiting, a)
    assert last == (a, CTAPHID.CBOR, b"\x00")


def test_init_on_the_busy_channel_aborts_the_transaction(waiting):
    cid = waiting.init()
    waiting.raw.write(init_packet(cid, CTAPHID.CBOR, CBOR_SELECTION))
    nonce = os.urandom(8)
    _, _, last = _wait_for_answer(
        waiting, cid, after=2, action=lambda: waiting.raw.write(init_packet(cid, CTAPHID.INIT, nonce)))
    assert last[:2] == (cid, CTAPHID.INIT) and last[2][:8] == nonce
    assert struct.unpack_from(">I", last[2], 8)[0] == cid
    # no CBOR answer follows: the fence comes next
    assert waiting.send() == []


def test_continuation_from_another_channel_during_assembly_is_ignored(key):
    a, b = key.init(), key.init()
    pkts = packets(a, CTAPHID.PING, bytes(range(120)))
    assert key.send(pkts[0], cont_packet(b, 0, b"stray"), pkts[1]) == []
    assert key.send(pkts[2]) == [(a, CTAPHID.PING, bytes(range(120)))]
    assert key.send(pkts[0], init_packet(a, CTAPHID.WINK)) == [error(a, ERR_INVALID_SEQ)]
