"""The MicroPython key harness itself (host_tests/mpy_key.py, host_tests/mpy_board/pipe_key.py)."""

import os
import threading

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2

from boards.host.memory_storage import MemoryStorage
from mpy_key import KeyDied, KeyPool, MicroPythonKey

PIN = "24681357"


def test_power_off_returns_the_records_and_a_power_cycle_boots_on_them():
    storage = MemoryStorage()
    with MicroPythonKey(storage=storage) as key:
        ClientPin(Ctap2(key.open_device(timeout=10))).set_pin(PIN)
        pid = key.address
        records = key.stop()
    assert "state" in records and storage.files == records
    with MicroPythonKey(storage=storage) as key:  # a new process restored from them
        assert key.address != pid
        assert Ctap2(key.open_device(timeout=10)).get_info().options["clientPin"] is True
        assert key.authenticator.pin_uv.protocols[2].get_public_key()[1] == 2  # EC2 COSE key


def test_power_cut_while_the_key_waits_for_a_touch():
    storage = MemoryStorage()
    with MicroPythonKey(storage=storage, presence="manual") as key:
        ctap = Ctap2(key.open_device(timeout=10))
        asked = threading.Event()
        outcome = []

        def register():
            try:
                ctap.make_credential(
                    os.urandom(32), {"id": "example.com", "name": "Example"}, {"id": b"u", "name": "u"},
                    [{"type": "public-key", "alg": -7}], options={"rk": True},
                    on_keepalive=lambda status: asked.set())
            except Exception as e:
                outcome.append(e)

        t = threading.Thread(target=register)
        t.start()
        assert asked.wait(10)
        key.stop()  # the power goes while the key waits for the touch
        t.join(10)
        assert isinstance(outcome[0], KeyDied)
    with MicroPythonKey(storage=storage) as key:
        assert key.authenticator.store.rk_count() == 0  # nothing half-written
        assert Ctap2(key.open_device(timeout=10)).get_info().remaining_disc_creds == 256


def test_an_exception_the_key_logs_fails_the_test():
    pool = KeyPool()
    try:
        with pytest.raises(pytest.fail.Exception, match="ValueError: boom"):
            with pool.factory() as make:
                key = make()
                key.query("board.log_exception(ValueError('boom'))")
                assert "ValueError: boom" in key.console or key.errors
    finally:
        pool.close()


def test_the_pool_reboots_a_running_key_and_power_cycles_start_a_new_one():
    pool = KeyPool()
    try:
        with pool.factory() as make:
            first = make(presence="manual")
            ClientPin(Ctap2(first.open_device(timeout=10))).set_pin(PIN)
        with pool.factory() as make:
            again = make()  # the same process, a fresh key on fresh records
            assert again is first and again.board.presence.mode == "auto"
            assert Ctap2(again.open_device(timeout=10)).get_info().options["clientPin"] is False
            again.stop()
            cycled = make(storage=again.storage)
            assert cycled is not again and cycled.alive
    finally:
        pool.close()


def test_the_key_ends_when_the_test_side_goes_away():
    key = MicroPythonKey().start()
    proc = key._proc
    os.close(key._pipe)  # as when the test process dies: the key reads end of file
    key._pipe = None
    assert proc.wait(10) == 0
    key.kill()


def test_a_query_that_raises_says_so():
    with MicroPythonKey() as key:
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            key.query("1 // 0")
        assert key.query("board.ticks_diff(5, 3)") == 2


def test_the_clock_can_start_just_before_the_wrap():
    with MicroPythonKey(ticks=(1 << 30) - 50) as key:
        now = key.query("board.ticks_ms()")
        assert now >= (1 << 30) - 50 or now < 10000  # before the wrap, or just after it
        with pytest.raises(CtapError):
            Ctap2(key.open_device(timeout=10)).send_cbor(0x55)  # and the key serves across it
