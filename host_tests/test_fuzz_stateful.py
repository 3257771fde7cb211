"""A stateful model of the key, checked by hypothesis against the real one.

The model knows which credentials exist (discoverable per RP and user,
non-discoverable), what reset and restart do, and that counters only go up.
Rules drive the real key through python-fido2 in-process (powercut.Key):
register, assert (by ID and discoverable, with getNextAssertion), U2F
register and authenticate (and CTAP2 assertions with U2F handles), PIN set,
change, right and wrong guesses (retries, the power-cycle block after three
mismatches, PIN_BLOCKED at zero), reset inside and outside its window, the
clock, restart -- and restart after a power cut at a chosen flash operation
of the next command, after which the model accepts the old or the new
outcome (PIN retries never above what they were before the attempt) and
adopts what the key shows.
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

from fido2.ctap2.pin import ClientPin

from firmware import store as st
from firmware.ctap2.pin_uv import PIN_RETRIES_MAX
from powercut import BEFORE, TORN_HALF, AFTER, FAT_TARGET_REMOVED, Key, PowerCut, PowerCutStorage

ES256 = [{"type": "public-key", "alg": -7}]
RPS = ["a.example", "b.example", "c.example"]
USERS = [b"u1", b"u2", b"u3"]
PINS = ["1234", "98765", "correct horse"]
RESET_WINDOW_MS = 10_000
ERR = CtapError.ERR


def _pin_hash(pin):
    return None if pin is None else hashlib.sha256(pin.encode()).digest()[:16]


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
        self.pin = None  # the PIN the model believes is set
        self.retries = PIN_RETRIES_MAX
        self.mismatches = 0  # consecutive wrong PINs since power-up (RAM)

    # -- plumbing ------------------------------------------------------------------

    def boot(self, files=None):
        self.storage = PowerCutStorage(self.storage.files if files is None else files, self.fat)
        self.key = Key(self.storage, seed=os.urandom(16))
        self.since_boot = 0
        self.mismatches = 0

    # -- the PIN model -------------------------------------------------------------

    def predict_guess(self, right):
        """Status of a PIN guess (CTAP 2.1 §6.5.5.7), updating the model."""
        if self.pin is None:
            return ERR.PIN_NOT_SET
        if self.retries <= 0:
            return ERR.PIN_BLOCKED
        if self.mismatches >= 3:
            return ERR.PIN_AUTH_BLOCKED
        self.retries -= 1  # counted before the comparison
        if right:
            self.retries = PIN_RETRIES_MAX
            self.mismatches = 0
            return 0
        self.mismatches += 1
        if self.retries <= 0:
            return ERR.PIN_BLOCKED
        if self.mismatches >= 3:
            return ERR.PIN_AUTH_BLOCKED
        return ERR.PIN_INVALID

    def adopt_pin_after_cut(self, old_pin, new_pin, retries_before, may_restore):
        """After a cut inside a PIN command: the PIN is the old or the new one,
        retries never above their value before the attempt (a right guess
        may have restored them); the model takes what the key shows."""
        stored = self.key.auth.store.get(st.STATE_PIN_HASH)
        assert stored in (_pin_hash(old_pin), _pin_hash(new_pin)), "PIN neither old nor new"
        self.pin = old_pin if stored == _pin_hash(old_pin) else new_pin
        retries = self.key.auth.store.get(st.STATE_PIN_RETRIES, PIN_RETRIES_MAX)
        assert retries <= retries_before or (may_restore and retries == PIN_RETRIES_MAX), (retries, retries_before)
        self.retries = retries

    def token(self, permissions, rp_id=None, right=True):
        """getPinUvAuthToken with the right (or a wrong) PIN, checked against
        the model. Returns (protocol, token, cut) -- token None on an error."""
        expected = self.predict_guess(right) if self.pin is not None else ERR.PIN_NOT_SET
        cp = ClientPin(self.key.ctap2)
        old, before = self.pin, self.key.auth.store.get(st.STATE_PIN_RETRIES, PIN_RETRIES_MAX)
        try:
            token, cut = self.run(lambda: cp.get_pin_token(self.pin if right else "0000", permissions, rp_id))
        except CtapError as e:
            assert e.code == expected, (e.code, expected)
            return cp.protocol, None, False
        if cut:
            self.adopt_pin_after_cut(old, old, before, may_restore=right)
            return cp.protocol, None, True
        assert expected == 0, expected
        return cp.protocol, token, False

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
        extra = {}
        if self.pin is not None and rk:
            # A discoverable credential needs user verification once a PIN
            # is set (no makeCredUvNotRqd for rk): a token first.
            protocol, token, cut = self.token(ClientPin.PERMISSION.MAKE_CREDENTIAL, rp)
            if token is None:
                if not cut:  # the PIN is blocked: without UV the key refuses
                    with pytest.raises(CtapError) as e:
                        self.key.ctap2.make_credential(cdh, {"id": rp}, {"id": user}, ES256, options={"rk": True})
                    assert e.value.code == ERR.PUAT_REQUIRED
                return
            extra = {"pin_uv_param": protocol.authenticate(token, cdh), "pin_uv_protocol": protocol.VERSION}
        r, cut = self.run(
            lambda: self.key.ctap2.make_credential(
                cdh, {"id": rp}, {"id": user, "name": "n"}, ES256, options={"rk": rk} if rk else None, **extra
            )
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

    @rule(pin=S.sampled_from(PINS))
    def set_pin(self, pin):
        cp = ClientPin(self.key.ctap2)
        try:
            _, cut = self.run(lambda: cp.set_pin(pin))
        except CtapError as e:
            assert self.pin is not None and e.code == ERR.PIN_AUTH_INVALID, e.code  # changePIN is the way
            return
        assert self.pin is None or cut
        if cut:
            self.adopt_pin_after_cut(self.pin, pin, PIN_RETRIES_MAX, may_restore=True)
            return
        self.pin, self.retries = pin, PIN_RETRIES_MAX

    @rule(new=S.sampled_from(PINS))
    def change_pin(self, new):
        old, before = self.pin, self.key.auth.store.get(st.STATE_PIN_RETRIES, PIN_RETRIES_MAX)
        expected = self.predict_guess(True)
        cp = ClientPin(self.key.ctap2)
        try:
            _, cut = self.run(lambda: cp.change_pin(old or "0000", new))
        except CtapError as e:
            assert e.code == expected, (e.code, expected)
            return
        if cut:
            self.adopt_pin_after_cut(old, new, before, may_restore=True)
            return
        assert expected == 0, expected
        self.pin = new

    @precondition(lambda self: self.pin is not None)
    @rule(times=S.integers(1, 3))
    def wrong_pin(self, times):
        for _ in range(times):
            self.token(ClientPin.PERMISSION.GET_ASSERTION, right=False)

    @precondition(lambda self: self.pin is not None)
    @rule()
    def right_pin(self):
        self.token(ClientPin.PERMISSION.GET_ASSERTION)

    @rule()
    def pin_retries(self):
        if self.pin is None:
            return
        retries, power_cycle = ClientPin(self.key.ctap2).get_pin_retries()
        assert retries == self.retries
        assert bool(power_cycle) == (self.mismatches >= 3)

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
        self.pin, self.retries, self.mismatches = None, PIN_RETRIES_MAX, 0

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
    def pin_state_is_the_models(self):
        store = self.key.auth.store
        assert store.get(st.STATE_PIN_HASH) == _pin_hash(self.pin)
        assert store.get(st.STATE_PIN_RETRIES, PIN_RETRIES_MAX) == self.retries
        assert self.key.auth.pin_consecutive_mismatches == self.mismatches

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
