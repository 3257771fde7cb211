"""firmware/main_loop.py: wiring the key, the authenticator built after the first INIT, a loop that never dies."""

import os
import struct

from fido2.hid import CAPABILITY, CTAPHID

from boards.host.board import FakeClock, HostBoard, Presence
from boards.host.memory_storage import MemoryStorage
from boards.host.transport import MemoryTransport
from firmware import device, main_loop
from firmware import store as st
from firmware.authenticator import Authenticator
from hidpackets import BROADCAST, init_packet, packets, parse_messages


def _board(storage=None, clock=None):
    transport = MemoryTransport()
    board = HostBoard(transport, presence=Presence("auto"), clock=clock or FakeClock(), storage=storage or MemoryStorage())
    return board, transport


def _init(hid, transport):
    nonce = os.urandom(8)
    transport.inject(init_packet(BROADCAST, CTAPHID.INIT, nonce))
    assert hid.poll()
    ((cid, cmd, payload),) = parse_messages(transport.take())
    assert (cid, cmd, payload[:8]) == (BROADCAST, CTAPHID.INIT, nonce)
    return struct.unpack_from(">I", payload, 8)[0], payload[16]


def test_start_key_answers_init_before_the_authenticator_exists():
    board, transport = _board()
    hid = main_loop.start_key(board)
    assert isinstance(hid.app, main_loop.Starting) and hid.app.authenticator is None
    cid, capabilities = _init(hid, transport)
    assert hid.app.authenticator is None  # INIT needed only CTAPHID and the store's state
    assert capabilities == CAPABILITY.CBOR | CAPABILITY.WINK  # U2F over CTAPHID_MSG: NMSG clear
    # the first CBOR message builds it
    for r in packets(cid, CTAPHID.CBOR, b"\x04"):
        transport.inject(r)
    hid.poll()
    ((_, cmd, payload),) = parse_messages(transport.take())
    assert cmd == CTAPHID.CBOR and payload[0] == 0
    assert isinstance(hid.app.authenticator, Authenticator)


def test_capabilities_before_the_authenticator_come_from_the_store():
    """alwaysUv turns CTAP1 off (NMSG): the flag INIT gives at power-up must already say so."""
    storage = MemoryStorage()
    board, _ = _board(storage)
    main_loop.make_key(board).app.store.update({st.STATE_ALWAYS_UV: True})
    board, transport = _board(storage)
    hid = main_loop.start_key(board)
    _, capabilities = _init(hid, transport)
    assert capabilities & CAPABILITY.NMSG
    assert hid.app.authenticator is None
    assert hid.app.build().capabilities == capabilities  # the same answer once it is built


def test_the_reset_window_counts_from_power_up_not_from_the_build():
    clock = FakeClock()
    board, transport = _board(clock=clock)
    hid = main_loop.start_key(board)
    boot = board.ticks_ms()
    clock.advance(9000)
    auth = hid.app.build()
    assert auth.boot_ms == boot
    clock.advance(2000)  # 11 s after power-up, 2 s after the build
    assert auth.process_cbor(b"\x07")[0] == 0x30  # CTAP2_ERR_NOT_ALLOWED: the 10 s window is over


def test_the_first_boot_makes_the_master_secret_before_the_key_is_on_usb():
    storage = MemoryStorage()
    board, _ = _board(storage)
    main_loop.start_key(board)
    assert storage.read(st.REC_STATE) is not None


def test_run_builds_the_authenticator_at_the_first_idle_turn_after_the_host_spoke():
    board, transport = _board()
    hid = main_loop.start_key(board)
    turns = []

    def stop():
        turns.append(hid.app.authenticator)
        if len(turns) == 3:
            transport.inject(init_packet(BROADCAST, CTAPHID.INIT, os.urandom(8)))
        return len(turns) > 6

    main_loop.run(board, hid, stop)
    assert turns[:4] == [None] * 4  # idle, nothing heard: not built
    assert isinstance(turns[-1], Authenticator)  # heard INIT, then an idle turn built it
    assert parse_messages(transport.take())[0][1] == CTAPHID.INIT


def test_make_key_builds_everything_at_once():
    board, transport = _board()
    hid = main_loop.make_key(board)
    assert isinstance(hid.app, Authenticator)
    _init(hid, transport)


def test_device_capabilities_follow_always_uv():
    assert device.capabilities(False) == CAPABILITY.CBOR | CAPABILITY.WINK
    assert device.capabilities(True) == CAPABILITY.CBOR | CAPABILITY.WINK | CAPABILITY.NMSG


def test_the_loop_logs_and_survives_what_the_application_raises():
    board, transport = _board()
    hid = main_loop.make_key(board)
    logged = []
    board.log_exception = logged.append
    calls = []

    def broken_tick():
        calls.append(1)
        raise RuntimeError("a timer broke")

    hid.app.tick = broken_tick
    main_loop.run(board, hid, lambda: len(calls) >= 3)
    assert len(logged) == 3 and all(isinstance(e, RuntimeError) for e in logged)


def test_the_idle_loop_refills_the_drbg_pool_a_request_drew_from():
    """Randomness for a request comes from a pool the loop fills while nothing comes (firmware/crypto.py)."""
    from firmware import crypto

    board, transport = _board()
    hid = main_loop.make_key(board)
    assert crypto._rng.taken  # the first boot drew the master secret from it
    turns = [0]

    def stop():
        turns[0] += 1
        return turns[0] > 2

    main_loop.run(board, hid, stop)
    assert crypto._rng.taken == 0  # whole again
    cid, _ = _init(hid, transport)
    mc = bytes([0x01]) + bytes.fromhex(
        "a4015820" + "00" * 32 + "02a16269646b6578616d706c652e636f6d03a1626964417504" + "81a263616c672664747970656a7075626c69632d6b6579"
    )
    for r in packets(cid, CTAPHID.CBOR, mc):
        transport.inject(r)
    turns[0] = 0
    main_loop.run(board, hid, lambda: turns.__setitem__(0, turns[0] + 1) or turns[0] > 3)
    answers = [m for m in parse_messages(transport.take()) if m[1] == CTAPHID.CBOR]  # (keepalives aside)
    assert [payload[0] for _, _, payload in answers] == [0]  # makeCredential took its key pair, IV and nonce
    assert crypto._rng.taken == 0  # and the loop refilled the pool afterwards


class _OpLog(MemoryStorage):
    """MemoryStorage that remembers the names it wrote and renamed, in order."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def write(self, name, data):
        self.ops.append(("write", name))
        super().write(name, data)

    def rename(self, old, new):
        self.ops.append(("rename", new))
        super().rename(old, new)


def _seed_ops(storage):
    return [op for op in storage.ops if op[1].startswith(st.REC_SEED)]


def test_a_provisioned_key_answers_init_before_the_drbg_is_seeded_and_seeds_it_before_the_build():
    """The flash seed's write and the DRBG's instantiation are not in the way of
    the first INIT; they come first in build(), before any secret is made."""
    from firmware import crypto

    storage = _OpLog()
    main_loop.make_key(_board(storage)[0])  # an earlier boot: state, counter, seed
    seed = storage.read(st.REC_SEED)
    storage.ops.clear()
    board, transport = _board(storage)
    hid = main_loop.start_key(board)
    _init(hid, transport)
    crypto.refill_random_pool()  # the idle turns before the build leave it alone too
    assert _seed_ops(storage) == [] and crypto._rng.drbg is None
    assert storage.read(st.REC_SEED) == seed
    hid.app.build()
    assert _seed_ops(storage) == [("write", st.REC_SEED + ".new"), ("rename", st.REC_SEED)]
    assert crypto._rng.drbg is not None and storage.read(st.REC_SEED) != seed


def test_a_draw_before_the_build_seeds_the_drbg_with_the_flash_seed_first():
    from firmware import crypto

    storage = _OpLog()
    main_loop.make_key(_board(storage)[0])
    storage.ops.clear()
    board, _ = _board(storage)
    hid = main_loop.start_key(board)
    crypto.random_bytes(16)
    assert _seed_ops(storage) == [("write", st.REC_SEED + ".new"), ("rename", st.REC_SEED)]
    hid.app.build()  # seeded once per boot
    assert len(_seed_ops(storage)) == 2


def test_a_first_boot_seeds_the_drbg_before_it_makes_the_master_secret():
    storage = _OpLog()
    main_loop.start_key(_board(storage)[0])
    first_state = storage.ops.index(("write", st.REC_STATE + ".new"))
    assert storage.ops[:first_state] == [("write", st.REC_SEED + ".new"), ("rename", st.REC_SEED)]
