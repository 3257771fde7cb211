"""firmware/store.py: records, recovery, the counter, discoverable credentials, wipe.

(The power-cut injection at every storage operation is in test_powercut*.py.)
"""

import os

import pytest
from fido2.ctap import CtapError

from boards.host.memory_storage import MemoryStorage
from firmware import crypto, store as st
from firmware.store import Store

crypto.set_rng(os.urandom)
RP = crypto.sha256(b"example.com")
OTHER = crypto.sha256(b"other.example")


def new_store(storage=None, capacity=8):
    return Store(storage if storage is not None else MemoryStorage(), capacity)


def rk(rp_id_hash, user_id, cred=b"c"):
    return {st.RK_CREDENTIAL_ID: cred, st.RK_RP_ID: "x", st.RK_RP_ID_HASH: rp_id_hash, st.RK_USER_ID: user_id}


def test_record_ids_are_unique():
    ids = [st.REC_STATE, st.REC_COUNTER, st._REC_RK, st.REC_LARGE_BLOBS, st.REC_ATTESTATION,
           st.REC_ENTERPRISE_ATTESTATION, st.REC_SEED, st._OLD_REC_U2F_ATTESTATION]
    assert len(set(ids)) == len(ids)
    # no id is a prefix of another (the rk and lb families are matched by prefix)
    for a in ids:
        for b in ids:
            assert a == b or not b.startswith(a), (a, b)
    for prefix in ("STATE_", "RK_", "ATT_", "SEED_"):
        values = [getattr(st, n) for n in dir(st) if n.startswith(prefix)]
        assert len(values) == len(set(values)), prefix


def test_fresh_store_makes_and_keeps_a_master_secret():
    storage = MemoryStorage()
    a = new_store(storage)
    assert len(a.master_secret) == 32
    assert new_store(storage).master_secret == a.master_secret
    assert new_store().master_secret != a.master_secret


def test_state_updates_persist_and_none_deletes():
    storage = MemoryStorage()
    s = new_store(storage)
    s.update({st.STATE_PIN_RETRIES: 5, st.STATE_MIN_PIN_LENGTH: 6})
    s.update({st.STATE_MIN_PIN_LENGTH: None})
    again = new_store(storage)
    assert again.get(st.STATE_PIN_RETRIES) == 5
    assert again.get(st.STATE_MIN_PIN_LENGTH, 4) == 4


def test_records_are_cbor_with_a_check_value():
    blob = st.encode_record({1: b"x"})
    assert st.decode_record(blob) == {1: b"x"}
    assert st.decode_record(blob[:-1]) is None
    assert st.decode_record(blob[:-8] + bytes(8)) is None
    assert st.decode_record(b"") is None and st.decode_record(None) is None


def test_a_complete_new_record_is_rolled_forward_and_a_torn_one_dropped():
    storage = MemoryStorage()
    s = new_store(storage)
    s.update({st.STATE_PIN_RETRIES: 7})
    # a cut after writing state.new but before the rename
    storage.files["state.new"] = st.encode_twin({**s._state, st.STATE_PIN_RETRIES: 6})
    assert new_store(storage).get(st.STATE_PIN_RETRIES) == 6
    assert "state.new" not in storage.files
    # a cut in the middle of writing the first copy of state.new
    good = st.encode_twin({**s._state, st.STATE_PIN_RETRIES: 5})
    storage.files["state.new"] = good[: len(good) // 4]
    assert new_store(storage).get(st.STATE_PIN_RETRIES) == 6
    assert "state.new" not in storage.files
    # FAT: the full length written, the second copy still erased flash: the
    # first copy is the whole new value (and the record is made whole again)
    storage.files["state.new"] = good[: len(good) // 2] + b"\xff" * (len(good) // 2)
    assert new_store(storage).get(st.STATE_PIN_RETRIES) == 5
    assert "state.new" not in storage.files and st.decode_twin(storage.files["state"]) == (st.decode_twin(good)[0], True)


def test_fat_style_rename_window_is_recovered():
    """FAT removes the target before renaming: only name.new may exist."""
    storage = MemoryStorage()
    s = new_store(storage)
    secret = s.master_secret
    storage.files["state.new"] = storage.files.pop("state")
    assert new_store(storage).master_secret == secret


def test_counter_strictly_increases_across_restarts_with_bounded_writes():
    storage = MemoryStorage()
    s = new_store(storage)
    writes = storage.writes
    values = [s.next_sign_count() for _ in range(200)]
    assert values == list(range(1, 201))
    # One reservation (write + rename) per COUNTER_STEP values; and once per
    # COUNTER_LIMIT_STEP values (here the first), the limit in the state.
    reservations = (200 + st.COUNTER_STEP - 1) // st.COUNTER_STEP
    assert 200 < st.COUNTER_LIMIT_STEP
    assert storage.writes - writes == 2 * reservations + 2
    for _ in range(5):  # power cuts right after a value was handed out
        s = new_store(storage)
        v = s.next_sign_count()
        assert v > values[-1]
        values.append(v)
    assert values[-1] < 2**31 // 1000


def test_resident_credentials_newest_first_and_overwrite():
    s = new_store()
    s.rk_put(rk(RP, b"u1", b"c1"))
    s.rk_put(rk(OTHER, b"u1", b"o1"))
    s.rk_put(rk(RP, b"u2", b"c2"))
    slots = s.rk_slots(RP)
    assert [s.rk_load(x)[st.RK_CREDENTIAL_ID] for x in slots] == [b"c2", b"c1"]
    # same RP + user: replaced in place, and now the newest
    s.rk_put(rk(RP, b"u1", b"c1b"))
    assert s.rk_count() == 3
    assert [s.rk_load(x)[st.RK_CREDENTIAL_ID] for x in s.rk_slots(RP)] == [b"c1b", b"c2"]
    assert len(s.rk_slots()) == 3


def test_an_rps_credentials_are_counted_and_walked_on_the_index():
    """rk_count and rk_next: newest first, one RP, up to a credProtect level,
    from the index alone (getAssertion and credential management walk an RP
    this way, keeping one slot between steps)."""
    storage = MemoryStorage()
    s = new_store(storage, capacity=16)
    levels = {}
    for i, level in enumerate([0, 3, 1, 2, 0, 3, 1]):
        rec = rk(RP, b"u%d" % i, b"c%d" % i)
        if level:
            rec[st.RK_CRED_PROTECT] = level
        levels[s.rk_put(rec)] = level
        s.rk_put(rk(OTHER, b"u%d" % i, b"o%d" % i))

    def walk(max_level):
        out, slot = [], None
        while True:
            slot = s.rk_next(RP, slot, max_level)
            if slot is None:
                return out
            out.append(s.rk_load(slot)[st.RK_CREDENTIAL_ID])

    assert walk(3) == [b"c6", b"c5", b"c4", b"c3", b"c2", b"c1", b"c0"] == [
        s.rk_load(x)[st.RK_CREDENTIAL_ID] for x in s.rk_slots(RP)
    ]
    assert walk(1) == [b"c6", b"c4", b"c2", b"c0"]
    assert walk(2) == [b"c6", b"c4", b"c3", b"c2", b"c0"]
    assert (s.rk_count(RP), s.rk_count(RP, 1), s.rk_count(RP, 2), s.rk_count(OTHER), s.rk_count()) == (7, 4, 5, 7, 14)
    assert s.rk_next(crypto.sha256(b"nobody.example")) is None and s.rk_count(crypto.sha256(b"nobody.example")) == 0
    # and the same after a boot (the index rebuilt from the records)
    again = new_store(storage, capacity=16)
    assert [again.rk_load(x)[st.RK_CREDENTIAL_ID] for x in again.rk_slots(RP)] == walk(3)
    assert again.rk_count(RP, 1) == 4
    # reads nothing: the walk is the index's
    reads = []
    storage.read = lambda name: reads.append(name)
    slot = None
    for _ in range(7):
        slot = again.rk_next(RP, slot)
    assert again.rk_next(RP, slot) is None and reads == []
    # a slot no longer in the index (deleted) ends a walk
    assert again.rk_next(RP, 999) is None


def test_a_credential_is_found_by_its_id_on_the_index():
    storage = MemoryStorage()
    s = new_store(storage, capacity=16)
    for i in range(6):
        s.rk_put(rk(RP, b"u%d" % i, b"id-%d" % i))  # IDs whose last 3 bytes differ
        s.rk_put(rk(OTHER, b"u%d" % i, b"id-%d-x" % i))
    again = new_store(storage, capacity=16)  # the index as boot builds it
    reads = []
    read = storage.read
    storage.read = lambda name: reads.append(name) or read(name)
    slot, rec = again.rk_find_id(b"id-2", RP)
    assert rec[st.RK_USER_ID] == b"u2" and rec[st.RK_RP_ID_HASH] == RP and reads == ["rk%03d" % slot]
    assert again.rk_find_id(b"id-2", OTHER) is None  # not another RP's (nothing read)
    assert again.rk_find_id(b"id-3-x")[1][st.RK_RP_ID_HASH] == OTHER  # any RP
    assert again.rk_find_id(b"id-9") is None and again.rk_find_id(b"") is None
    assert len(reads) == 2


def test_index_is_rebuilt_at_boot():
    storage = MemoryStorage()
    s = new_store(storage)
    s.rk_put(rk(RP, b"u1", b"c1"))
    s.rk_put(rk(RP, b"u2", b"c2"))
    again = new_store(storage)
    assert [again.rk_load(x)[st.RK_CREDENTIAL_ID] for x in again.rk_slots(RP)] == [b"c2", b"c1"]
    again.rk_put(rk(RP, b"u3", b"c3"))
    assert again.rk_load(again.rk_slots(RP)[0])[st.RK_CREDENTIAL_ID] == b"c3"


def test_full_store_refuses_and_loses_nothing():
    s = new_store(capacity=2)
    s.rk_put(rk(RP, b"u1"))
    s.rk_put(rk(RP, b"u2"))
    assert s.rk_remaining() == 0
    with pytest.raises(Exception) as e:
        s.rk_put(rk(RP, b"u3"))
    assert e.value.code == CtapError.ERR.KEY_STORE_FULL
    with pytest.raises(Exception):
        s.rk_room_for(RP, b"u3")
    s.rk_room_for(RP, b"u1")  # replacing needs no room
    s.rk_put(rk(RP, b"u1", b"new"))
    assert s.rk_count() == 2
    s.rk_delete(s.rk_slots(RP)[-1])
    assert s.rk_remaining() == 1


def test_wipe_keeps_attestation_and_counter_and_drops_the_rest():
    storage = MemoryStorage()
    s = new_store(storage)
    storage.write(st.REC_ATTESTATION, st.encode_record({st.ATT_PRIVATE_KEY: b"k" * 32, st.ATT_CERTIFICATES: [b"cert"]}))
    s.rk_put(rk(RP, b"u1"))
    s.update({st.STATE_PIN_HASH: bytes(16)})
    storage.write(st.REC_LARGE_BLOBS, b"blob")
    c = s.next_sign_count()
    secret = s.master_secret
    s.wipe()
    assert s.master_secret != secret and s.get(st.STATE_PIN_HASH) is None
    assert s.rk_count() == 0 and st.REC_LARGE_BLOBS not in storage.files
    assert s.attestation() == (b"k" * 32, [b"cert"])
    assert s.next_sign_count() > c
    assert new_store(storage).master_secret == s.master_secret


def test_records_from_before_a_reset_are_dropped_at_boot():
    """A reset cut short after the new master secret: old records must not come back."""
    storage = MemoryStorage()
    s = new_store(storage)
    s.rk_put(rk(RP, b"u1"))
    leftover = dict(storage.files)
    s.wipe()
    storage.files.update({k: v for k, v in leftover.items() if k.startswith("rk")})
    again = new_store(storage)
    assert again.rk_count() == 0
    assert not [k for k in storage.files if k.startswith("rk")]


def test_a_corrupt_rk_record_is_not_indexed():
    storage = MemoryStorage()
    s = new_store(storage)
    s.rk_put(rk(RP, b"u1"))
    (name,) = [k for k in storage.files if k.startswith("rk")]
    storage.files[name] = storage.files[name][:-1] + bytes([storage.files[name][-1] ^ 0xFF])
    assert new_store(storage).rk_count() == 0


def test_rk_state_follows_every_change_and_survives_a_restart():
    """CTAP 2.2 encCredStoreState's plaintext (Store.rk_state), from the index alone."""
    storage = MemoryStorage()
    s = new_store(storage)
    empty = s.rk_state()
    assert len(empty) == 16 and s.rk_state() == empty
    a = s.rk_put(rk(b"A" * 32, b"u1", b"c1"))
    one = s.rk_state()
    assert one != empty
    assert new_store(storage).rk_state() == one  # rebuilt at boot from the records
    s.rk_put(rk(b"A" * 32, b"u2", b"c2"))
    two = s.rk_state()
    assert two not in (empty, one)
    rec = dict(s.rk_load(a))
    rec[st.RK_USER_NAME] = "renamed"
    s.rk_update(a, rec)
    renamed = s.rk_state()
    assert renamed not in (empty, one, two)
    assert new_store(storage).rk_state() == renamed
    # The same RP and user again replaces the record: a new state too.
    s.rk_put(rk(b"A" * 32, b"u2", b"c3"))
    replaced = s.rk_state()
    assert replaced not in (empty, one, two, renamed)
    s.rk_delete(a)
    assert s.rk_state() not in (empty, one, two, renamed, replaced)
    # A reset: a new master secret, so even the empty store reads differently.
    s.wipe()
    assert s.rk_state() != empty
