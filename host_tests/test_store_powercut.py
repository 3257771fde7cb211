"""firmware/store.py under power cuts: records, recovery, counter, wipe.

The simulated flash (powercut.PowerCutStorage) loses power before, inside and
after every write, rename and remove, on littlefs/POSIX (atomic rename) and
on FAT (rename = remove target, then rename). These tests drive the store's
own verbs; test_powercut_commands.py drives whole CTAP commands.
"""

import pytest

from firmware import store as st
from powercut import (
    AFTER,
    BEFORE,
    FAT_TARGET_REMOVED,
    TORN_ALL_BUT_ONE,
    TORN_EMPTY,
    TORN_ERASED_TAIL,
    TORN_HALF,
    Key,
    PowerCut,
    PowerCutStorage,
    Violation,
    _cut_boot,
    flip_bit,
    observe,
    probe,
    run_powercut,
    variants,
)

RP_A = b"\xaa" * 32
RP_B = b"\xbb" * 32


# -- the simulator does what the model says ------------------------------------------


@pytest.mark.parametrize(
    "variant,left",
    [
        (BEFORE, None),
        (TORN_EMPTY, b""),
        (TORN_HALF, b"abcd"),
        (TORN_ALL_BUT_ONE, b"abcdefg"),
        (TORN_ERASED_TAIL, b"abcd\xff\xff\xff\xff"),
        (AFTER, b"abcdefgh"),
    ],
)
def test_write_cut_leaves_the_modelled_bytes(variant, left):
    s = PowerCutStorage()
    s.arm(0, variant)
    with pytest.raises(PowerCut):
        s.write("x", b"abcdefgh")
    assert s.files.get("x") == left
    with pytest.raises(PowerCut):
        s.read("x")  # nothing runs after the power went


@pytest.mark.parametrize("fat", [False, True])
@pytest.mark.parametrize("variant", [BEFORE, FAT_TARGET_REMOVED, AFTER])
def test_rename_cut(fat, variant):
    s = PowerCutStorage({"a.new": b"new", "a": b"old"}, fat=fat)
    if variant not in variants(("rename", "a", fat)) + [AFTER]:
        return  # atomic rename has no middle
    s.arm(0, variant)
    with pytest.raises(PowerCut):
        s.rename("a.new", "a")
    expected = {
        BEFORE: {"a.new": b"new", "a": b"old"},
        FAT_TARGET_REMOVED: {"a.new": b"new"},
        AFTER: {"a": b"new"},
    }[variant]
    assert s.files == expected


def test_fat_rename_is_two_steps_only_onto_an_existing_file():
    s = PowerCutStorage({"a.new": b"1"}, fat=True)
    s.rename("a.new", "a")
    assert s.log == [("rename", "a", False)]
    s.write("a.new", b"2")
    s.rename("a.new", "a")
    assert s.log[-1] == ("rename", "a", True)
    assert variants(s.log[-1]) == [BEFORE, FAT_TARGET_REMOVED]


def test_removing_a_missing_file_changes_nothing_and_is_no_cut_point():
    s = PowerCutStorage({"a": b"1"})
    s.remove("b")
    s.remove("a")
    assert s.log == [("remove", "a", None)] and s.files == {} and s.writes == 1


def test_write_variants_are_distinct_shapes():
    assert variants(("write", "x", 40)) == [BEFORE, TORN_EMPTY, TORN_HALF, TORN_ALL_BUT_ONE, TORN_ERASED_TAIL]
    # a 2-byte write: half and all-but-one are the same single byte
    assert variants(("write", "x", 2)) == [BEFORE, TORN_EMPTY, TORN_HALF, TORN_ERASED_TAIL]


def test_firmware_cannot_swallow_a_power_cut():
    # The router turns every Exception into ERR_OTHER; a power cut must pass.
    assert not issubclass(PowerCut, Exception)


# -- records -----------------------------------------------------------------------------


def test_no_torn_record_decodes():
    blob = st.encode_record({1: b"\x01" * 40, 2: "name", 3: 7})
    assert st.decode_record(blob) == {1: b"\x01" * 40, 2: "name", 3: 7}
    for n in range(len(blob)):
        assert st.decode_record(blob[:n]) is None, n
        assert st.decode_record(blob[:n] + b"\xff" * (len(blob) - n)) is None, n
        assert st.decode_record(blob[:n] + b"\x00" * (len(blob) - n)) is None, n


# -- the store's verbs, cut everywhere --------------------------------------------------


def _record(rp, user, name="u"):
    return {
        st.RK_CREDENTIAL_ID: b"id-" + user,
        st.RK_RP_ID: "rp.example",
        st.RK_RP_ID_HASH: rp,
        st.RK_USER_ID: user,
        st.RK_USER_NAME: name,
    }


def _rename_user(store, slot, name):
    rec = store.rk_load(slot)
    rec[st.RK_USER_NAME] = name
    store.rk_update(slot, rec)


def _seed_store(key, ctx):
    s = key.auth.store
    ctx["a1"] = s.rk_put(_record(RP_A, b"1"))
    ctx["a2"] = s.rk_put(_record(RP_A, b"2"))
    ctx["b1"] = s.rk_put(_record(RP_B, b"1"))
    s.save(st.REC_LARGE_BLOBS, b"\x81" + b"z" * 40)
    s.next_sign_count()


# Record ops of the store bypass credential wrapping, so the probe (which
# asserts with every resident credential) is off for these.
STORE_CASES = {
    "rk_put new slot": [("put", lambda k, c: k.auth.store.rk_put(_record(RP_A, b"3")))],
    "rk_put same RP+user replaces": [("put", lambda k, c: k.auth.store.rk_put(_record(RP_A, b"1", "renamed")))],
    "rk_update": [("update", lambda k, c: _rename_user(k.auth.store, c["a2"], "x"))],
    "rk_delete": [("delete", lambda k, c: k.auth.store.rk_delete(c["a1"]))],
    "state update (PIN retries)": [("retries", lambda k, c: k.auth.store.update({st.STATE_PIN_RETRIES: 7}))],
    "state update (set then clear)": [
        ("set", lambda k, c: k.auth.store.update({st.STATE_PIN_HASH: b"h" * 16, st.STATE_PIN_RETRIES: 8})),
        ("clear", lambda k, c: k.auth.store.update({st.STATE_PIN_HASH: None})),
    ],
    "large-blob record": [
        ("first", lambda k, c: k.auth.store.save(st.REC_LARGE_BLOBS, b"\x80" + b"x" * 16)),
        ("replace", lambda k, c: k.auth.store.save(st.REC_LARGE_BLOBS, b"\x81" + b"y" * 300)),
    ],
    "wipe": [("wipe", lambda k, c: k.auth.store.wipe())],
    "counter across reservations": [
        ("count", lambda k, c: k.auth.store.next_sign_count()) for _ in range(st.COUNTER_STEP + 2)
    ],
}

# A small limit step (see the fixture below) so that a few signatures cross it.
SMALL_LIMIT_STEP = 2 * st.COUNTER_STEP
STORE_CASES["counter across its limit"] = [
    ("count", lambda k, c: k.auth.store.next_sign_count()) for _ in range(SMALL_LIMIT_STEP + st.COUNTER_STEP + 2)
]


@pytest.fixture
def small_limit_step(monkeypatch):
    monkeypatch.setattr(st, "COUNTER_LIMIT_STEP", SMALL_LIMIT_STEP)


@pytest.mark.parametrize("case", list(STORE_CASES))
def test_store_verb_survives_every_cut(case, small_limit_step):
    # ... and every cut followed by a bit flipped in either copy of the state
    # or of the counter (damage_copies): one damaged copy never hurts.
    stats = run_powercut(STORE_CASES[case], setup=_seed_store, check_probe=False, damage_copies=True)
    assert stats.cut_points > stats.operations >= 2


def test_counter_reservation_is_written_before_the_value_is_used():
    # Two reservation writes (the first signature after boot, then one step
    # later), each write + rename, each cut point checked against every
    # value handed out before it. (The setup's signature set the limit in
    # the state, far above these.)
    stats = run_powercut(STORE_CASES["counter across reservations"], setup=_seed_store, check_probe=False, fat_modes=(False,))
    assert stats.operations == 4


def test_counter_limit_is_raised_before_the_reservation_passes_it(small_limit_step):
    stats = run_powercut(STORE_CASES["counter across its limit"], setup=_seed_store, check_probe=False, fat_modes=(False,))
    # reservations (write + rename) and one raise of the limit (the state, likewise)
    reservations = (SMALL_LIMIT_STEP + st.COUNTER_STEP + 2 + st.COUNTER_STEP - 1) // st.COUNTER_STEP
    assert stats.operations == 2 * reservations + 2


# -- the checks have teeth: broken stores are caught --------------------------------------


def _in_place_save(self, name, obj):
    data = st.encode_record(obj)
    self._st.write(name, data)
    return data  # as Store._save does (its check value tags passkeys in the index)


def test_writing_records_in_place_is_caught(monkeypatch):
    monkeypatch.setattr(st.Store, "_save", _in_place_save)
    with pytest.raises(Violation, match="neither the old nor the new"):
        run_powercut(STORE_CASES["rk_put same RP+user replaces"], setup=_seed_store, check_probe=False, fat_modes=(False,))


def test_using_a_counter_value_before_reserving_it_is_caught(monkeypatch):
    def next_sign_count(self):
        # Off by one: the first value past the reservation goes out unsaved.
        value = self._counter + 1
        if value > self._counter_reserved + 1:
            self._save_twin(st.REC_COUNTER, {1: value + st.COUNTER_STEP - 1})
            self._counter_reserved = value + st.COUNTER_STEP - 1
        self._counter = value
        return value

    monkeypatch.setattr(st.Store, "next_sign_count", next_sign_count)
    with pytest.raises(Violation, match="counter went back"):
        run_powercut(STORE_CASES["counter across reservations"], setup=_seed_store, check_probe=False, fat_modes=(False,))


def test_wipe_without_the_pending_mark_is_caught(monkeypatch):
    """The bug this harness found: a reset cut after the new master secret
    but before the large-blob record was removed left the old array on a
    key that had been reset. Without the mark that lets boot finish the
    wipe, the cut is caught."""
    real = st.Store._save_twin

    def save_without_mark(self, name, obj):
        if name == st.REC_STATE:
            obj = {k: v for k, v in obj.items() if k != st.STATE_WIPE_PENDING}
        real(self, name, obj)

    monkeypatch.setattr(st.Store, "_save_twin", save_without_mark)
    with pytest.raises(Violation, match="of step 'wipe'.*neither the old nor the new"):
        run_powercut(STORE_CASES["wipe"], setup=_seed_store, check_probe=False, fat_modes=(False,))


def test_wipe_that_deletes_credentials_before_the_new_secret_is_caught(monkeypatch):
    real = st.Store.wipe

    def wipe(self):
        for name in self._st.list():
            if name.startswith("rk"):
                self._st.remove(name)
        real(self)

    monkeypatch.setattr(st.Store, "wipe", wipe)
    with pytest.raises(Violation, match="neither the old nor the new"):
        run_powercut(STORE_CASES["wipe"], setup=_seed_store, check_probe=False, fat_modes=(False,))


def test_recovery_that_trusts_an_unchecked_temporary_is_caught(monkeypatch):
    def recover(self):
        for name in self._st.list():
            if name.endswith(".new"):
                self._st.rename(name, name[:-4])  # no check value test

    monkeypatch.setattr(st.Store, "_recover", recover)
    # A record kept once (a passkey): the torn temporary replaces it. (The
    # state would survive this: its twin copy mends a torn one.)
    with pytest.raises(Violation, match="neither the old nor the new"):
        run_powercut(STORE_CASES["rk_update"], setup=_seed_store, check_probe=False, fat_modes=(False,))


def test_a_store_that_trusts_the_first_copy_only_is_caught_with_damaged_copies(monkeypatch):
    """Two copies are worth something only if boot falls back on the second:
    a store that reads the first copy alone passes every plain cut, but not
    a cut followed by a flipped bit in that copy."""

    def first_copy_only(blob):
        if blob is None:
            return None, False
        return st.decode_record(blob[: len(blob) // 2]), True

    monkeypatch.setattr(st, "decode_twin", first_copy_only)
    case = STORE_CASES["state update (PIN retries)"]
    run_powercut(case, setup=_seed_store, check_probe=False, fat_modes=(False,))  # plain cuts: no harm seen
    with pytest.raises(Violation, match=r"copy 1 of 'state' damaged: boot logged \[StoreDamaged"):
        run_powercut(case, setup=_seed_store, check_probe=False, fat_modes=(False,), damage_copies=True)


def test_observe_sees_a_lost_record():
    key = Key(PowerCutStorage())
    _seed_store(key, {})
    files = dict(key.storage.files)
    before = observe(files)
    del files["rk001"]
    assert observe(files) != before
