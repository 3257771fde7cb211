"""A stateful model of the key, checked by hypothesis against the real one.

The model knows which credentials exist (discoverable per RP and user,
non-discoverable), what reset and restart do, and that counters only go up.
Rules drive the real key through python-fido2 in-process (powercut.Key):
register, assert (by ID and discoverable, with getNextAssertion), U2F
register and authenticate (and CTAP2 assertions with U2F handles), reset
inside and outside its window, the clock, restart -- and restart after a
power cut at a chosen flash operation of the next command, after which the
model accepts the old or the new outcome and adopts what the key shows.
Every assertion's signature is verified with the public key the model
recorded at registration.
"""

import hashlib
import os

import pytest
from fido2.attestation import PackedAttestation
from fido2.cose import ES256 as CoseES256
from fido2.ctap import CtapError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as S
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from firmware import store as st
from powercut import BEFORE, TORN_HALF, AFTER, FAT_TARGET_REMOVED, Key, PowerCut, PowerCutStorage

ES256 = [{"type": "public-key", "alg": -7}]
RPS = ["a.example", "b.example", "c.example"]
USERS = [b"u1", b"u2", b"u3"]
RESET_WINDOW_MS = 10_000


class KeyMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.fat = False
        self.storage = PowerCutStorage()
        self.boot()
        # (rp, user) -> (credential id, public key or None when the
        # credential was made by a command the power cut short)
        self.resident = {}
        self.plain = []  # [(rp, credential id, public key)] non-discoverable
        self.dead = []  # [(rp, credential id)] killed by reset
        self.max_counter = 0
        self.cut = None  # (op index, variant) for the next command

    # -- plumbing ------------------------------------------------------------------

    def boot(self, files=None):
        self.storage = PowerCutStorage(self.storage.files if files is None else files, self.fat)
        self.key = Key(self.storage, seed=os.urandom(16))
        self.since_boot = 0

    def counter(self, value):
        assert value > self.max_counter, "counter %d after %d" % (value, self.max_counter)
        self.max_counter = value

    def run(self, fn):
        """Run one command; with a cut armed, the power may go inside it
        (then the key restarts). Returns (result, cut_happened)."""
        if self.cut is not None:
            self.storage.arm(*self.cut)
            self.cut = None
        try:
            return fn(), False
        except PowerCut:
            self.boot(dict(self.storage.files))
            return None, True
        finally:
            self.storage._cut = None  # an armed cut past the command's end never fires

    def resident_on_key(self):
        store = self.key.auth.store
        out = {}
        for slot in store.rk_slots():
            rec = store.rk_load(slot)
            out[(rec[st.RK_RP_ID], rec[st.RK_USER_ID])] = rec[st.RK_CREDENTIAL_ID]
        return out

    # -- rules -------------------------------------------------------------------------

    @rule(rp=S.sampled_from(RPS), user=S.sampled_from(USERS), rk=S.booleans())
    def register(self, rp, user, rk):
        cdh = os.urandom(32)
        r, cut = self.run(
            lambda: self.key.ctap2.make_credential(cdh, {"id": rp}, {"id": user, "name": "n"}, ES256, options={"rk": rk} if rk else None)
        )
        if cut:
            # Old or new: the user's discoverable credential is the old one,
            # or a new one whose response the cut swallowed -- adopted
            # without a public key.
            if rk:
                old = self.resident.get((rp, user))
                now = self.resident_on_key().get((rp, user))
                if now != (old[0] if old else None):
                    assert now is not None, "credential lost"
                    self.resident[(rp, user)] = (now, None)
            return
        self.counter(r.auth_data.counter)
        PackedAttestation().verify(r.att_stmt, r.auth_data, cdh)  # self attestation
        cd = r.auth_data.credential_data
        if rk:
            self.resident[(rp, user)] = (cd.credential_id, cd.public_key)
        else:
            self.plain.append((rp, cd.credential_id, cd.public_key))

    @rule(rp=S.sampled_from(RPS))
    def u2f_register(self, rp):
        app, chal = hashlib.sha256(rp.encode()).digest(), os.urandom(32)
        reg, cut = self.run(lambda: self.key.ctap1.register(chal, app))
        if cut:
            return
        reg.verify(app, chal)  # attestation signature over the registration
        # A U2F key handle is a non-discoverable credential for the RP whose
        # rpIdHash is the application parameter: CTAP2 assertions use it too.
        self.plain.append((rp, reg.key_handle, CoseES256.from_ctap1(reg.public_key)))

    @precondition(lambda self: self.plain)
    @rule(data=S.data())
    def u2f_authenticate(self, data):
        rp, cid, pk = data.draw(S.sampled_from(self.plain))
        app, chal = hashlib.sha256(rp.encode()).digest(), os.urandom(32)
        sig, cut = self.run(lambda: self.key.ctap1.authenticate(chal, app, cid))
        if cut:
            return
        pk.verify(app + sig[:5] + chal, sig.signature)
        self.counter(sig.counter)

    @precondition(lambda self: self.resident or self.plain)
    @rule(data=S.data())
    def assert_by_id(self, data):
        creds = [(rp, cid, pk) for (rp, _), (cid, pk) in self.resident.items()] + self.plain
        rp, cid, pk = data.draw(S.sampled_from(creds))
        cdh = os.urandom(32)
        a, cut = self.run(lambda: self.key.ctap2.get_assertion(rp, cdh, [{"type": "public-key", "id": cid}]))
        if cut:
            return
        assert a.credential["id"] == cid
        if pk is not None:
            a.verify(cdh, pk)
        self.counter(a.auth_data.counter)

    @rule(rp=S.sampled_from(RPS))
    def assert_discoverable(self, rp):
        expected = {u: v for (r, u), v in self.resident.items() if r == rp}
        cdh = os.urandom(32)
        try:
            first, cut = self.run(lambda: self.key.ctap2.get_assertion(rp, cdh))
        except CtapError as e:
            assert e.code == CtapError.ERR.NO_CREDENTIALS
            assert not expected and not [k for k in self.resident_on_key() if k[0] == rp]
            return
        if cut:
            return
        got = [first]
        for _ in range(1, first.number_of_credentials or 1):
            got.append(self.key.ctap2.get_next_assertion())
        users = [a.user["id"] for a in got]
        assert len(users) == len(set(users))
        assert set(users) == set(expected), (users, expected)
        for a in got:
            self.counter(a.auth_data.counter)
            cid, pk = expected[a.user["id"]]
            assert a.credential["id"] == cid
            if pk is not None:
                a.verify(cdh, pk)

    @precondition(lambda self: self.dead)
    @rule(data=S.data())
    def dead_credentials_stay_dead(self, data):
        rp, cid = data.draw(S.sampled_from(self.dead))
        with pytest.raises(CtapError) as e:
            self.key.ctap2.get_assertion(rp, os.urandom(32), [{"type": "public-key", "id": cid}])
        assert e.value.code == CtapError.ERR.NO_CREDENTIALS

    @rule()
    def reset(self):
        allowed = self.since_boot <= RESET_WINDOW_MS
        old_master = self.key.auth.store.master_secret
        try:
            _, cut = self.run(lambda: self.key.ctap2.reset())
        except CtapError as e:
            assert not allowed and e.code == CtapError.ERR.NOT_ALLOWED
            return
        assert allowed
        if cut and self.key.auth.store.master_secret == old_master:
            return  # cut before the new master secret was stored: nothing changed
        self.dead += [(rp, cid) for (rp, _), (cid, _) in self.resident.items()]
        self.dead += [(rp, cid) for rp, cid, _ in self.plain]
        self.resident = {}
        self.plain = []

    @rule(ms=S.sampled_from([1_000, 5_000, 11_000]))
    def time_passes(self, ms):
        self.key.clock.advance(ms)
        self.since_boot += ms

    @rule(fat=S.booleans())
    def restart(self, fat):
        self.fat = fat
        self.boot(dict(self.storage.files))

    @rule(index=S.sampled_from([0, 0, 1, 1, 2, 3, 5]), variant=S.sampled_from([BEFORE, TORN_HALF, FAT_TARGET_REMOVED, AFTER]))
    def power_will_fail(self, index, variant):
        """Arm a cut at flash operation `index` of the next command."""
        if variant == FAT_TARGET_REMOVED and not self.fat:
            variant = BEFORE
        self.cut = (index, variant)

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def nothing_logged(self):
        assert not self.key.logged, self.key.logged

    @invariant()
    def known_resident_credentials_are_on_the_key(self):
        on_key = self.resident_on_key()
        assert on_key == {k: cid for k, (cid, _) in self.resident.items()}

    @invariant()
    def no_temporary_records_outside_a_command(self):
        # Only a cut leaves one, and boot clears it.
        assert not [n for n in self.storage.files if n.endswith(".new")]


KeyMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_key_model = KeyMachine.TestCase
