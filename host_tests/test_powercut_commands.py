"""Every state-changing CTAP command, cut at every flash operation.

Each case is a sequence of commands sent through python-fido2 to a key in
this process (powercut.Key); powercut.run_powercut runs it once uncut, then
once per cut point on simulated littlefs and FAT flash, restarts the key and
checks: the state is the one before or after the interrupted command, the
signature counter never goes back, a cut during the recovery boot changes
nothing, and the key still works with every surviving credential.

A new command is one more entry in COMMAND_CASES (tools/ report the totals
from the same table).
"""

import hashlib

import pytest

from powercut import Key, PowerCut, PowerCutStorage, Violation, observe, probe, run_powercut, variants
from firmware import store as st

ES256 = [{"type": "public-key", "alg": -7}]
RP_A = "a.example"
RP_B = "b.example"


def _cdh(label):
    return hashlib.sha256(label.encode()).digest()


def _counter(ctx, value):
    # Within one uninterrupted run every response's counter is above the last.
    last = ctx.get("last_counter", 0)
    assert value > last, (value, last)
    ctx["last_counter"] = value


def make_credential(rp_id, user_id, rk=True, name="user", save=None):
    def step(key, ctx):
        r = key.ctap2.make_credential(
            _cdh("mc"),
            {"id": rp_id, "name": rp_id},
            {"id": user_id, "name": name, "displayName": name.title()},
            ES256,
            options={"rk": True} if rk else None,
        )
        _counter(ctx, r.auth_data.counter)
        cd = r.auth_data.credential_data
        if save:
            ctx[save] = (cd.credential_id, cd.public_key)

    return ("makeCredential %s user=%r rk=%s" % (rp_id, user_id, rk), step)


def get_assertion(rp_id, cred=None, count=None):
    """getAssertion with one allowed credential (ctx name), or discoverable."""

    def step(key, ctx):
        cdh = _cdh("ga")
        allow = [{"type": "public-key", "id": ctx[cred][0]}] if cred else None
        a = key.ctap2.get_assertion(rp_id, cdh, allow)
        _counter(ctx, a.auth_data.counter)
        if cred:
            ctx[cred][1].verify(bytes(a.auth_data) + cdh, a.signature)
        if count is not None:
            assert a.number_of_credentials == count

    return ("getAssertion %s %s" % (rp_id, cred or "discoverable"), step)


def get_next_assertion():
    def step(key, ctx):
        a = key.ctap2.get_next_assertion()
        _counter(ctx, a.auth_data.counter)

    return ("getNextAssertion", step)


def reset():
    def step(key, ctx):
        key.ctap2.reset()

    return ("reset", step)


def u2f_register(app, save=None):
    def step(key, ctx):
        app_param, chal = hashlib.sha256(app.encode()).digest(), _cdh("u2f")
        reg = key.ctap1.register(chal, app_param)
        reg.verify(app_param, chal)  # signed by the attestation identity on flash
        if save:
            ctx[save] = (reg.key_handle, reg.public_key)

    return ("U2F register %s" % app, step)


def u2f_authenticate(app, cred):
    def step(key, ctx):
        app_param, chal = hashlib.sha256(app.encode()).digest(), _cdh("u2f")
        handle, public_key = ctx[cred]
        sig = key.ctap1.authenticate(chal, app_param, handle)
        sig.verify(app_param, chal, public_key)
        _counter(ctx, sig.counter)

    return ("U2F authenticate %s" % app, step)


def _setup(key, ctx):
    """Two RPs, three discoverable credentials, one non-discoverable, used once."""
    for step in (
        make_credential(RP_A, b"alice", save="a_alice"),
        make_credential(RP_A, b"bob", save="a_bob"),
        make_credential(RP_B, b"alice", save="b_alice"),
        make_credential(RP_A, b"carol", rk=False, save="a_carol"),
        get_assertion(RP_A, "a_carol"),
    ):
        step[1](key, ctx)
    ctx.pop("last_counter")  # a restart may continue anywhere above it


COMMAND_CASES = {
    "makeCredential rk, new user": [make_credential(RP_A, b"dave")],
    "makeCredential rk, same RP+user replaces": [make_credential(RP_A, b"alice", name="alice2")],
    "makeCredential rk, first credential of an RP": [make_credential("c.example", b"x")],
    "makeCredential non-resident": [make_credential(RP_B, b"erin", rk=False)],
    "getAssertion (allowList), first after boot": [get_assertion(RP_A, "a_carol"), get_assertion(RP_B, "b_alice")],
    "getAssertion across counter reservations": [get_assertion(RP_A, "a_carol")] * (st.COUNTER_STEP + 2),
    "getAssertion + getNextAssertion": [get_assertion(RP_A, count=2), get_next_assertion()],
    "reset": [reset()],
    "U2F register, first (makes the attestation identity)": [u2f_register(RP_A, save="u2f")],
    "U2F register + authenticate + reset + register": [
        u2f_register(RP_A, save="u2f"),
        u2f_authenticate(RP_A, "u2f"),
        reset(),
        u2f_register(RP_B, save="u2f_b"),
        u2f_authenticate(RP_B, "u2f_b"),
    ],
    "sequence: register, replace, assert, reset, register": [
        make_credential(RP_B, b"frank", save="b_frank"),
        make_credential(RP_B, b"frank", name="frank2", save="b_frank"),
        get_assertion(RP_B, "b_frank"),
        reset(),
        make_credential(RP_A, b"alice", save="a_alice"),
        get_assertion(RP_A, "a_alice"),
    ],
}


@pytest.mark.parametrize("case", list(COMMAND_CASES))
def test_command_survives_every_cut(case):
    stats = run_powercut(COMMAND_CASES[case], setup=_setup)
    assert stats.cut_points > stats.operations > 0


def test_replacing_a_credential_leaves_exactly_one_for_the_user():
    """An overwrite cut anywhere: alice on a.example has the old or the new
    credential -- never none, never both."""
    storage = PowerCutStorage()
    key = Key(storage)
    ctx = {}
    _setup(key, ctx)
    files0 = dict(storage.files)
    old_id = ctx["a_alice"][0]
    step = make_credential(RP_A, b"alice", name="alice2", save="a_alice")[1]
    ref = PowerCutStorage(files0)
    step(Key(ref), dict(ctx))
    new_id = None
    for k in range(len(ref.log)):
        for v in variants(ref.log[k]):
            s = PowerCutStorage(files0)
            key = Key(s)
            s.arm(k, v)
            with pytest.raises(PowerCut):
                step(key, dict(ctx))
            key = Key(PowerCutStorage(s.files))
            ids = [
                key.auth.store.rk_load(slot)[st.RK_CREDENTIAL_ID]
                for slot in key.auth.store.rk_slots()
                if key.auth.store.rk_load(slot)[st.RK_USER_ID] == b"alice"
                and key.auth.store.rk_load(slot)[st.RK_RP_ID] == RP_A
            ]
            assert len(ids) == 1, (k, v, ids)
            if ids[0] != old_id:
                new_id = ids[0]
    assert new_id is not None  # some cut points do land after the replacement


def test_first_boot_cut_anywhere():
    """The very first boot writes the state record; cut it anywhere, boot
    again: the key comes up clean and works."""
    dry = PowerCutStorage()
    Key(dry)
    assert dry.log, "first boot writes the state record"
    n = 0
    for fat in (False, True):
        for k, op in enumerate(dry.log):
            for v in variants(op):
                s = PowerCutStorage(fat=fat)
                s.arm(k, v)
                with pytest.raises(PowerCut):
                    Key(s)
                observe(s.files, fat)
                probe(s.files, fat, 0)
                n += 1
    assert n >= 2 * len(dry.log)


def test_a_cut_is_reported_with_its_place(monkeypatch):
    """A broken command (writes its record in place) is caught, and the
    message names the command and the cut."""

    def in_place(self, name, obj):
        self._st.write(name, st.encode_record(obj))

    monkeypatch.setattr(st.Store, "_save", in_place)
    with pytest.raises(Violation, match=r"op 0 \('write', 'ctr', \d+\) \(torn-empty\) of step \"makeCredential a.example user=b'alice' rk=True\""):
        run_powercut(COMMAND_CASES["makeCredential rk, same RP+user replaces"], setup=_setup, fat_modes=(False,))
