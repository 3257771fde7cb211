"""firmware/store.py when flash bit rot damages the state or the counter (issue 14).

The state (master secret, PIN, settings) and the signature counter are
"twin" records: two copies of the value, each with its own check value.
Every single-bit flip of either copy is mended from the other copy at boot,
and nothing is lost. With both copies of the state damaged (or
lost), the key never makes a new master secret on its own: it refuses every
command that needs the state with CTAP2_ERR_INTEGRITY_FAILURE, shows it on
the LED and logs why, until an explicit authenticatorReset (10 s after
power-up, with a touch, as always). The counter never goes back: with both
its copies damaged it continues from the limit the state keeps. A store from
before twin records (one copy each) loads and gets its second copies.
The boots that mend, migrate or reset are cut by power at every operation.
"""

import io
import os

import pytest
from fido2.ctap import CtapError

from boards.common import ui
from boards.host.board import FakeClock, HostBoard, Presence
from boards.host.memory_storage import MemoryStorage
from boards.host.transport import MemoryTransport
from ctap2_helpers import (
    CLIENT_PIN,
    CONFIG,
    CRED_MGMT,
    GA,
    GET_INFO,
    GNA,
    LARGE_BLOBS,
    MC,
    RESET,
    SELECTION,
    call,
    ga_request,
    make_credential,
    mc_request,
    parse_auth_data,
    status,
    verify_signature,
)
from firmware import crypto, store as st
from firmware.authenticator import Authenticator
from firmware.ctaphid import CAPABILITY_NMSG
from powercut import BOOKKEEPING, Drbg, PowerCut, PowerCutStorage, _cut_boot, flip_bit, observe, probe, variants

ERR = CtapError.ERR
RP = crypto.sha256(b"example.com")
OTHER = crypto.sha256(b"other.example")

crypto.set_rng(Drbg(b"test_store_damage"))


def _rk(rp_id_hash, user_id):
    return {
        st.RK_CREDENTIAL_ID: b"id-" + user_id,
        st.RK_RP_ID: "example.com",
        st.RK_RP_ID_HASH: rp_id_hash,
        st.RK_USER_ID: user_id,
        st.RK_USER_NAME: "name",
    }


def _state(store):
    """The state without the store's bookkeeping (the counter limit)."""
    return {k: v for k, v in store._state.items() if k not in BOOKKEEPING}


@pytest.fixture(scope="module")
def used():
    """A store in use: a PIN, settings, two passkeys, 70 signatures handed out."""
    storage = MemoryStorage()
    s = st.Store(storage, 8)
    s.update({st.STATE_PIN_HASH: b"\x5a" * 16, st.STATE_PIN_RETRIES: 6, st.STATE_PIN_CODE_POINTS: 6, st.STATE_MIN_PIN_LENGTH: 6})
    s.rk_put(_rk(RP, b"alice"))
    s.rk_put(_rk(OTHER, b"bob"))
    handed_out = max(s.next_sign_count() for _ in range(70))
    return dict(storage.files), handed_out, s.master_secret, _state(s)


# -- one damaged copy: every bit of every copy ------------------------------------------


def _copy_of(files, name, bit):
    """Which copy (1 or 2) of twin record `name` holds `bit`."""
    return 1 if bit < len(files[name]) * 4 else 2


@pytest.mark.parametrize("name", st.TWIN_RECORDS)
def test_every_single_bit_flip_of_either_copy_is_mended_from_the_other(used, name):
    files, handed_out, secret, state = used
    blob = files[name]
    assert st.decode_twin(blob)[1] and len(blob) % 2 == 0
    failures = []
    for bit in range(len(blob) * 8):  # copy 1, then copy 2
        damaged = flip_bit(files, name, bit)
        assert not st.decode_twin(damaged[name])[1], "bit %d: the check value missed it" % bit
        storage = MemoryStorage(damaged)
        s = st.Store(storage, 8)
        mended = {n: storage.files.get(n) for n in st.TWIN_RECORDS}
        problems = []
        if s.damaged is not None:
            problems.append("damaged: %s" % s.damaged)
        else:
            if s.master_secret != secret or _state(s) != state:
                problems.append("state changed")
            if s.rk_count() != 2:
                problems.append("passkeys lost")
            if mended != {n: files[n] for n in mended}:
                problems.append("not mended")
            if s.repaired != [name]:
                problems.append("repaired %r" % s.repaired)
            if s.next_sign_count() <= handed_out:
                problems.append("counter went back")
        if problems:
            failures.append((bit, _copy_of(files, name, bit), problems))
    assert not failures, failures[:5]


@pytest.mark.parametrize("name", st.TWIN_RECORDS)
@pytest.mark.parametrize("which", [1, 2])
def test_mending_a_copy_survives_a_power_cut_anywhere(used, name, which):
    """The boot that rewrites a record with a damaged copy, cut at each of
    its operations (littlefs and FAT), then booted again: the same state,
    the counter above every value handed out."""
    files, handed_out, _, _ = used
    bits = len(files[name]) * 8
    damaged = flip_bit(files, name, 13 + (which - 1) * bits // 2)
    dry = PowerCutStorage(damaged)
    st.Store(dry, 8)
    seeding = [("write", st.REC_SEED + ".new"), ("rename", st.REC_SEED)]  # every boot's, after the mending
    assert [op[:2] for op in dry.log] == [("write", name + ".new"), ("rename", name)] + seeding
    for fat in (False, True):
        assert _cut_boot(name, damaged, fat, above=handed_out) >= 2


# -- both copies damaged ----------------------------------------------------------------


def _both_copies_damaged(files, name=st.REC_STATE, first=40, second=-1):
    """One bit flipped in each copy of twin record `name` (offsets in bits
    into each copy; negative from its end)."""
    bits = len(files[name]) * 4
    return flip_bit(flip_bit(files, name, first % bits), name, bits + second % bits)


def _both_state_copies_damaged(files):
    return _both_copies_damaged(files)


def _records(files):
    """The store's records but the DRBG's seed, which the authenticator's first draw writes, damaged or not."""
    return {name: data for name, data in files.items() if not name.startswith(st.REC_SEED)}


@pytest.mark.parametrize("how", ["bit flips", "check values", "torn", "one copy, damaged", "missing"])
def test_both_state_copies_damaged_is_never_a_new_master_secret(used, how):
    files, _, secret, _ = used
    if how == "bit flips":
        damaged = _both_state_copies_damaged(files)
    elif how == "check values":
        damaged = _both_copies_damaged(files, first=-3, second=-60)
    elif how == "torn":
        damaged = dict(files)
        damaged[st.REC_STATE] = files[st.REC_STATE][:20]
    elif how == "one copy, damaged":  # a second copy that went missing (a shortened file)
        damaged = flip_bit(files, st.REC_STATE, 100)
        damaged[st.REC_STATE] = damaged[st.REC_STATE][: len(files[st.REC_STATE]) // 2]
    else:
        damaged = {n: v for n, v in files.items() if n != st.REC_STATE}
    storage = PowerCutStorage(damaged)
    s = st.Store(storage, 8)
    assert s.damaged and s.damaged.startswith("state:")
    assert s.master_secret is None and s.get(st.STATE_PIN_HASH) is None
    # nothing written, nothing removed: not the passkeys (whose master secret
    # is unknown), not the damaged copies
    assert storage.log == [] and storage.files == damaged
    assert s.rk_count() == 0 and [n for n in storage.files if n.startswith("rk")] == ["rk000", "rk001"]
    for verb in (s.next_sign_count, lambda: s.update({st.STATE_PIN_RETRIES: 1}), lambda: s.rk_put(_rk(RP, b"x")), lambda: s.rk_delete(0)):
        with pytest.raises(Exception) as e:
            verb()
        assert e.value.code == ERR.INTEGRITY_FAILURE
    assert storage.log == []
    assert secret not in [v for v in storage.files.values()]


def test_pairs_of_damaged_state_bits_are_damaged(used):
    """A sample of pairs, one flipped bit in each copy: always `damaged`."""
    files, _, _, _ = used
    bits = len(files[st.REC_STATE]) * 4
    for bit in range(0, bits, 7):
        damaged = _both_copies_damaged(files, first=bit, second=bit * 31 + 5)
        assert st.Store(MemoryStorage(damaged), 8).damaged, bit


def test_a_new_key_is_not_damaged():
    assert st.Store(MemoryStorage(), 8).damaged is None
    # a provisioned attestation identity may come before the first boot
    att = st.encode_record({st.ATT_PRIVATE_KEY: b"k" * 32, st.ATT_CERTIFICATES: [b"c"]})
    s = st.Store(MemoryStorage({st.REC_ATTESTATION: att}), 8)
    assert s.damaged is None and len(s.master_secret) == 32


@pytest.mark.parametrize("left", [st.REC_COUNTER, "rk000", st.REC_LARGE_BLOBS])
def test_a_lost_state_beside_records_of_a_key_in_use_is_damaged(used, left):
    files, _, _, _ = used
    remaining = {left: files.get(left, st.encode_record(b"\x80"))}
    s = st.Store(MemoryStorage(remaining), 8)
    assert s.damaged == "state: the record is missing, but the key was in use"


# -- the counter ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["both damaged", "both missing"])
def test_a_lost_counter_continues_above_everything_handed_out(used, how):
    files, handed_out, secret, state = used
    if how == "both damaged":
        damaged = _both_copies_damaged(files, st.REC_COUNTER, 3, 77)
    else:
        damaged = {n: v for n, v in files.items() if n != st.REC_COUNTER}
    storage = MemoryStorage(damaged)
    s = st.Store(storage, 8)
    assert s.damaged is None and s.master_secret == secret and _state(s) == state
    assert s.repaired == [st.REC_COUNTER]
    limit = s.get(st.STATE_COUNTER_LIMIT)
    assert handed_out < limit <= handed_out + st.COUNTER_STEP + st.COUNTER_LIMIT_STEP
    assert s.next_sign_count() == limit + 1
    # and so on across restarts: the copies were written again
    assert st.Store(MemoryStorage(storage.files), 8).next_sign_count() > limit + 1


def test_the_limit_is_raised_before_a_reservation_passes_it(monkeypatch):
    monkeypatch.setattr(st, "COUNTER_LIMIT_STEP", 2 * st.COUNTER_STEP)
    storage = MemoryStorage()
    s = st.Store(storage, 8)
    for value in range(1, 10 * st.COUNTER_STEP):
        assert s.next_sign_count() == value
        reserved, whole = st.decode_twin(storage.files[st.REC_COUNTER])
        assert whole and value <= reserved[1] <= s.get(st.STATE_COUNTER_LIMIT)


def test_a_damaged_counter_on_a_damaged_state_is_unknown_until_reset(used):
    files, handed_out, _, _ = used
    damaged = _both_copies_damaged(_both_state_copies_damaged(files), st.REC_COUNTER, 3, 3)
    storage = MemoryStorage(damaged)
    s = st.Store(storage, 8)
    assert s.damaged.startswith("state:")
    s.wipe()
    # No bound survived: the counter restarts, and no credential it could go
    # back for survives the reset (the master secret is new).
    assert s.damaged is None and s.next_sign_count() == 1
    assert st.Store(MemoryStorage(storage.files), 8).next_sign_count() > 1


# -- a store from before the two copies -----------------------------------------------------

OLD_SECRET = bytes(range(32))
OLD_EPOCH = crypto.sha256(b"rk-epoch" + OLD_SECRET)[:4]


def _old_store():
    """The records of the store before two copies, byte for byte as it wrote
    them: one "state" (no sequence number, no counter limit), one "ctr"."""
    rec = _rk(RP, b"alice")
    rec.update({st.RK_CREATED: 1, st.RK_EPOCH: OLD_EPOCH})
    return {
        "state": st.encode_record({0: 1, 1: OLD_SECRET, 2: b"\x11" * 16, 3: 5, 4: 6}),
        "ctr": st.encode_record({1: 127}),
        "rk000": st.encode_record(rec),
    }


def test_an_old_store_loads_and_gets_its_second_copies():
    storage = MemoryStorage(_old_store())
    s = st.Store(storage, 8)
    assert s.damaged is None and s.master_secret == OLD_SECRET
    assert _state(s) == {0: 1, 1: OLD_SECRET, 2: b"\x11" * 16, 3: 5, 4: 6}
    assert s.rk_count() == 1
    for name in st.TWIN_RECORDS:
        assert st.decode_twin(storage.files[name])[1]
    assert s.get(st.STATE_COUNTER_LIMIT) > 127  # the limit every later loss continues from
    assert s.next_sign_count() > 127
    # from now on one damaged copy is harmless
    again = st.Store(MemoryStorage(flip_bit(storage.files, st.REC_STATE, 9)), 8)
    assert again.damaged is None and again.master_secret == OLD_SECRET


def test_an_old_store_migrates_through_power_cuts_anywhere():
    files = _old_store()
    dry = PowerCutStorage(files)
    st.Store(dry, 8)
    # the state as a twin, the counter as a twin, the state with its limit; the boot's seed
    assert len(dry.log) == 8
    for fat in (False, True):
        assert _cut_boot("old store", files, fat, above=127) >= len(dry.log)


def test_an_old_store_with_its_only_state_damaged_is_damaged():
    s = st.Store(MemoryStorage(flip_bit(_old_store(), "state", 50)), 8)
    assert s.damaged.startswith("state:")


def test_an_old_store_with_its_only_counter_damaged_is_damaged():
    """No copy left and no limit kept: no value is known to be above every
    one handed out, so the key does not sign until reset."""
    storage = MemoryStorage(flip_bit(_old_store(), "ctr", 20))
    s = st.Store(storage, 8)
    assert s.damaged.startswith("counter:")
    with pytest.raises(Exception) as e:
        s.next_sign_count()
    assert e.value.code == ERR.INTEGRITY_FAILURE
    s.wipe()
    assert s.damaged is None and s.master_secret != OLD_SECRET and s.rk_count() == 0


# -- the key with a damaged store ---------------------------------------------------------


class LoggingBoard(HostBoard):
    def __init__(self, storage, presence="auto", clock=None):
        super().__init__(MemoryTransport(), storage=storage, presence=Presence(presence), clock=clock or FakeClock(), log=io.StringIO())
        self.random = Drbg(os.urandom(8))
        self.logged = []

    def log_exception(self, e):
        self.logged.append(e)


def _used_key_files():
    """A key in use, through its commands: a passkey, a non-discoverable credential, signatures."""
    board = LoggingBoard(MemoryStorage())
    auth = Authenticator(board)
    rk_id, rk_pub, _ = make_credential(auth, user_id=b"alice", rk=True)
    plain_id, _, ad = make_credential(auth)
    assert not board.logged
    return dict(board.storage.files), ad["counter"], rk_id, plain_id


def _boot(files, presence="auto", clock=None):
    board = LoggingBoard(MemoryStorage(files), presence, clock)
    return Authenticator(board), board


# Commands that need the state, with a well-formed request each.
NEEDS_STATE = {
    "makeCredential": (MC, mc_request()),
    "getAssertion": (GA, ga_request()),
    "getNextAssertion": (GNA, None),
    "clientPIN getRetries": (CLIENT_PIN, {1: 2, 2: 1}),
    "clientPIN getKeyAgreement": (CLIENT_PIN, {1: 2, 2: 2}),
    "credentialManagement": (CRED_MGMT, {1: 1, 3: 2, 4: b"\x00" * 32}),
    "largeBlobs get": (LARGE_BLOBS, {1: 64, 3: 0}),
    "config toggleAlwaysUv": (CONFIG, {1: 2}),
    "credentialManagement 2.1-PRE": (0x41, {1: 1}),
}


def test_a_damaged_key_refuses_what_needs_the_state_shows_it_and_logs_why():
    files, _, _, _ = _used_key_files()
    auth, board = _boot(_both_state_copies_damaged(files))
    # logged once, with the reason; the LED shows it from the start
    assert len(board.logged) == 1 and isinstance(board.logged[0], st.StoreDamaged)
    assert "state" in str(board.logged[0]) and "check value" in str(board.logged[0])
    assert board.led_events == [st.LED_DAMAGED]
    for name, (cmd, req) in NEEDS_STATE.items():
        assert status(auth, cmd, req) == ERR.INTEGRITY_FAILURE, name
    # getInfo answers (platforms find the key and can offer the reset); U2F is off
    code, info = call(auth, GET_INFO)
    assert code == 0 and "U2F_V2" not in info[1] and "FIDO_2_0" in info[1]
    assert auth.capabilities & CAPABILITY_NMSG
    # selection needs only a touch; its LED pattern gives way to the damage again
    assert status(auth, SELECTION) == 0
    assert board.led_events[-1] == st.LED_DAMAGED
    assert len(board.logged) == 1  # once, not per command
    assert _records(board.storage.files) == _records(_both_state_copies_damaged(files))  # nothing written


def test_a_damaged_key_is_reset_only_as_always_within_10_s_with_a_touch():
    """authenticatorReset keeps its rules on a damaged key: a host cannot wipe
    a key that has been plugged in for a while, nor without a person's touch
    -- the reset is what makes the damage final."""
    files, counter, _, _ = _used_key_files()
    damaged = _both_state_copies_damaged(files)
    clock = FakeClock()
    auth, board = _boot(damaged, presence="deny", clock=clock)
    assert status(auth, RESET) == ERR.OPERATION_DENIED
    assert auth.store.damaged and board.led_events[-1] == st.LED_DAMAGED
    clock.advance(10001)
    board.presence.mode = "auto"
    assert status(auth, RESET) == ERR.NOT_ALLOWED
    assert auth.store.damaged and _records(board.storage.files) == _records(damaged)


def test_reset_is_the_way_out_and_the_counter_goes_on():
    files, counter, rk_id, plain_id = _used_key_files()
    auth, board = _boot(_both_state_copies_damaged(files))
    assert status(auth, RESET) == 0
    assert auth.store.damaged is None and board.led_events[-1] == "idle"
    assert status(auth, GA, ga_request()) == ERR.NO_CREDENTIALS  # the passkey went with the reset
    assert status(auth, GA, ga_request([plain_id])) == ERR.NO_CREDENTIALS
    cred_id, public_key, ad = make_credential(auth, rk=True)
    assert ad["counter"] > counter  # the counter's copies were good: it goes on
    code, resp = call(auth, GA, ga_request())
    assert code == 0 and parse_auth_data(resp[2])["counter"] > ad["counter"]
    verify_signature(public_key, resp[3], resp[2] + ga_request()[2])
    assert "U2F_V2" in call(auth, GET_INFO)[1][1]
    observe(board.storage.files)  # boots clean: every record whole, both copies alike
    assert len(board.logged) == 1


def test_a_damaged_counter_beside_a_good_state_keeps_every_credential():
    files, counter, rk_id, plain_id = _used_key_files()
    damaged = _both_copies_damaged(files, st.REC_COUNTER, 30, 31)
    auth, board = _boot(damaged)
    assert not board.logged and auth.store.damaged is None
    for allow in ([rk_id], [plain_id], None):
        code, resp = call(auth, GA, ga_request(allow))
        assert code == 0 and parse_auth_data(resp[2])["counter"] > counter
        counter = parse_auth_data(resp[2])["counter"]


def test_a_damaged_key_started_for_a_fast_first_init_reports_at_once():
    """main_loop.Starting opens the store before the authenticator exists:
    the damage is logged and shown then, U2F is off at the first INIT, and
    the authenticator built later does not log it again."""
    from firmware import main_loop

    files, _, _, _ = _used_key_files()
    board = LoggingBoard(MemoryStorage(_both_state_copies_damaged(files)))
    starting = main_loop.Starting(board)
    assert len(board.logged) == 1 and board.led_events == [st.LED_DAMAGED]
    assert starting.capabilities & CAPABILITY_NMSG
    auth = starting.build()
    assert len(board.logged) == 1 and status(auth, MC, mc_request()) == ERR.INTEGRITY_FAILURE


def test_a_reset_of_a_damaged_key_cut_anywhere_is_done_or_still_damaged():
    """Cut authenticatorReset on a damaged key at every operation (littlefs
    and FAT): the next boot finds the key still damaged (the cut came before
    the new state was whole) or reset -- clean, no passkey left, the counter
    above every value handed out before the damage."""
    files, counter, _, _ = _used_key_files()
    damaged = _both_state_copies_damaged(files)
    outcomes = set()
    for fat in (False, True):
        dry = PowerCutStorage(damaged, fat)
        auth = Authenticator(LoggingBoard(dry))
        booted = len(dry.log)
        assert [op[1] for op in dry.log] == [st.REC_SEED + ".new", st.REC_SEED]  # only the DRBG's seed
        assert status(auth, RESET) == 0
        for k, op in enumerate(dry.log[booted:]):
            for v in variants(op):
                storage = PowerCutStorage(damaged, fat)
                auth = Authenticator(LoggingBoard(storage))
                storage.arm(k, v)
                with pytest.raises(PowerCut):
                    status(auth, RESET)
                after = st.Store(PowerCutStorage(storage.files, fat), 256)
                if after.damaged:
                    outcomes.add("still damaged")
                    continue
                outcomes.add("reset")
                observe(storage.files, fat)
                probe(storage.files, fat, counter)
                assert after.rk_count() == 0
    assert outcomes == {"still damaged", "reset"}


# -- the LED -------------------------------------------------------------------------------


def test_the_damaged_pattern_is_two_flashes_unlike_any_other():
    clock = FakeClock(0)
    states = []
    led = ui.Led(states.append, clock.ticks_ms, lambda a, b: a - b)
    shapes = {}
    for pattern in ("idle", "touch", "wink", "off", "damaged"):
        led.show(pattern)
        seen = []
        for _ in range(3000):
            led.update()
            seen.append(led._state)
            clock.advance(1)
        shapes[pattern] = seen
    damaged = shapes["damaged"]
    # two flashes per 1.5 s period
    rises = [t for t in range(1, 3000) if damaged[t] and not damaged[t - 1]] + ([0] if damaged[0] else [])
    assert sorted(rises) == [0, 300, 1500, 1800]
    assert all(shapes[p] != damaged for p in shapes if p != "damaged")
    assert ui._PATTERNS[st.LED_DAMAGED] == (120, 180, 120, 1080)
