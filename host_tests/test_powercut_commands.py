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

import fido2.cbor
import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import blob as blob_module
from fido2.ctap2.blob import LargeBlobs
from fido2.ctap2.config import Config
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin

from firmware import crypto
from firmware import store as st
from firmware.ctap2 import client_pin, pin_uv
from powercut import Key, PowerCut, PowerCutStorage, Step, Violation, observe, probe, run_powercut, variants

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
        reg.verify(app_param, chal)  # signed with the certificate's key
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


# -- PIN and the commands behind a pinUvAuthToken --------------------------------------

PIN = "1234"
NEW_PIN = "56789"
PIN_HASH = hashlib.sha256(PIN.encode()).digest()[:16]
PERM = ClientPin.PERMISSION


def _flash_state(observed):
    return fido2.cbor.decode(observed[0])


def _retries(observed):
    return _flash_state(observed).get(st.STATE_PIN_RETRIES, pin_uv.PIN_RETRIES_MAX)


def _pin(observed):
    return _flash_state(observed).get(st.STATE_PIN_HASH)


def _retries_not_higher(before, got, after):
    """PIN retries never higher than before the attempt (unless it completed)."""
    return got == after or _retries(got) <= _retries(before)


def _pin_old_or_new(before, got, after):
    return _pin(got) in (_pin(before), _pin(after)) and _retries_not_higher(before, got, after)


# The PIN comparison: crypto.ct_equal with the stored PIN hash. When it runs,
# the guess must already be counted in flash.
_COMPARE = (crypto, "ct_equal", lambda args: PIN_HASH in (bytes(args[0]), bytes(args[1])))


def _guess_counted(before, now):
    return _retries(now) < _retries(before)


def set_pin(pin=PIN):
    def step(key, ctx):
        ClientPin(key.ctap2).set_pin(pin)

    return Step("setPIN", step)


def change_pin(old=PIN, new=NEW_PIN):
    def step(key, ctx):
        ClientPin(key.ctap2).change_pin(old, new)

    # decrement, compare, restore retries, store the new PIN: three writes
    return Step("changePIN", step, atomic=False, invariant=_pin_old_or_new, observable=[_COMPARE], at_observable=_guess_counted)


def pin_token(permissions, pin=PIN, save="token"):
    def step(key, ctx):
        cp = ClientPin(key.ctap2)
        ctx[save] = (cp.protocol, cp.get_pin_token(pin, permissions))

    return Step(
        "getPinUvAuthToken (right PIN)", step, atomic=False, invariant=_retries_not_higher, observable=[_COMPARE], at_observable=_guess_counted
    )


def wrong_pin(times=1):
    def step(key, ctx):
        for _ in range(times):
            with pytest.raises(CtapError) as e:
                ClientPin(key.ctap2).get_pin_token("0000")
            assert e.value.code in (CtapError.ERR.PIN_INVALID, CtapError.ERR.PIN_AUTH_BLOCKED)

    return Step("getPinUvAuthToken (wrong PIN x%d)" % times, step, atomic=times == 1, invariant=_retries_not_higher, observable=[_COMPARE], at_observable=_guess_counted)


def make_credential_with_extensions(rp_id, user_id):
    """A discoverable credential whose record carries what the extensions
    store: credProtect (uvRequired), credBlob and a largeBlobKey."""

    def step(key, ctx):
        protocol, token = ctx["token"]
        cdh = _cdh("mc-ext")
        r = key.ctap2.make_credential(
            cdh,
            {"id": rp_id},
            {"id": user_id, "name": "ext"},
            ES256,
            extensions={"credProtect": 3, "credBlob": b"blob-" * 6, "largeBlobKey": True},
            options={"rk": True},
            pin_uv_param=protocol.authenticate(token, cdh),
            pin_uv_protocol=protocol.VERSION,
        )
        assert r.auth_data.extensions.get("credProtect") == 3 and r.large_blob_key
        _counter(ctx, r.auth_data.counter)

    return Step("makeCredential rk with credProtect, credBlob, largeBlobKey", step)


def _credman(key, ctx):
    protocol, token = ctx["token"]
    return CredentialManagement(key.ctap2, protocol, token)


def delete_credential(cred):
    def step(key, ctx):
        _credman(key, ctx).delete_cred({"type": "public-key", "id": ctx[cred][0]})

    return Step("credentialManagement deleteCredential %s" % cred, step)


def update_user(cred, user_id, name):
    def step(key, ctx):
        _credman(key, ctx).update_user_info({"type": "public-key", "id": ctx[cred][0]}, {"id": user_id, "name": name, "displayName": name})

    return Step("credentialManagement updateUserInformation %s" % cred, step)


def put_large_blob(data):
    def step(key, ctx):
        protocol, token = ctx["token"]
        # python-fido2 encrypts the blob with a random nonce; a fixed one
        # keeps the stored array the same in the uncut run and every trial.
        real = blob_module.os.urandom
        blob_module.os.urandom = lambda n: bytes(n)
        try:
            LargeBlobs(key.ctap2, protocol, token).put_blob(ctx["lbk"], data)
        finally:
            blob_module.os.urandom = real

    return Step("largeBlobs set (%d bytes)" % len(data), step)


def config(label, call):
    def step(key, ctx):
        protocol, token = ctx["token"]
        call(Config(key.ctap2, protocol, token))

    return Step("authenticatorConfig " + label, step)


def _setup_pin(key, ctx):
    _setup(key, ctx)
    r = key.ctap2.make_credential(
        _cdh("mc"), {"id": RP_B, "name": RP_B}, {"id": b"blob", "name": "b"}, ES256, extensions={"largeBlobKey": True}, options={"rk": True}
    )
    ctx["lbk"] = r.large_blob_key
    ClientPin(key.ctap2).set_pin(PIN)


PIN_CASES = {
    "setPIN": (_setup, [set_pin()]),
    "changePIN": (_setup_pin, [change_pin()]),
    "wrong PIN": (_setup_pin, [wrong_pin()]),
    "three wrong PINs (power-cycle block), then power cut": (_setup_pin, [wrong_pin(3)]),
    "right PIN (retries restored)": (_setup_pin, [wrong_pin(), pin_token(PERM.MAKE_CREDENTIAL)]),
    "makeCredential rk with extensions (PIN set)": (
        _setup_pin,
        [pin_token(PERM.MAKE_CREDENTIAL), make_credential_with_extensions(RP_A, b"erin")],
    ),
    "credMgmt delete": (_setup_pin, [pin_token(PERM.CREDENTIAL_MGMT), delete_credential("a_bob")]),
    "credMgmt update user": (_setup_pin, [pin_token(PERM.CREDENTIAL_MGMT), update_user("a_alice", b"alice", "Alice Renamed")]),
    "largeBlobs set, then replace": (
        _setup_pin,
        [pin_token(PERM.LARGE_BLOB_WRITE), put_large_blob(b"first blob"), put_large_blob(bytes(range(256)) * 8)],
    ),
    "config setMinPINLength (forces a PIN change)": (
        _setup_pin,
        [pin_token(PERM.AUTHENTICATOR_CFG), config("setMinPINLength", lambda c: c.set_min_pin_length(6, ["a.example"], True))],
    ),
    "config toggleAlwaysUv": (_setup_pin, [pin_token(PERM.AUTHENTICATOR_CFG), config("toggleAlwaysUv", lambda c: c.toggle_always_uv())]),
    "reset with a PIN and large blobs": (_setup_pin, [pin_token(PERM.LARGE_BLOB_WRITE), put_large_blob(b"x" * 40), reset()]),
}


@pytest.mark.parametrize("case", list(PIN_CASES))
def test_pin_protected_command_survives_every_cut(case):
    setup, steps = PIN_CASES[case]
    stats = run_powercut(steps, setup=setup, pins=(PIN, NEW_PIN))
    assert stats.cut_points > stats.operations > 0


def test_comparing_the_pin_before_counting_the_guess_is_caught(monkeypatch):
    """A clientPIN that compares first and decrements after is caught by the
    observable check even though no cut point lies between the two."""

    def check_pin_hash(auth, protocol, shared_secret, pin_hash_enc):
        stored = auth.store.get(st.STATE_PIN_HASH)
        pin_hash = protocol.decrypt(shared_secret, pin_hash_enc)
        same = pin_hash is not None and crypto.ct_equal(pin_hash, stored)
        auth.store.update({st.STATE_PIN_RETRIES: pin_uv.pin_retries(auth) - 1})
        if not same:
            protocol.regenerate()
            raise client_pin.CtapError(client_pin.CTAP2_ERR_PIN_INVALID)
        auth.store.update({st.STATE_PIN_RETRIES: None})

    monkeypatch.setattr(client_pin, "_check_pin_hash", check_pin_hash)
    with pytest.raises(Violation, match="observable"):
        run_powercut([wrong_pin()], setup=_setup_pin, fat_modes=(False,))


def test_a_pin_change_that_loses_the_pin_is_caught(monkeypatch):
    """changePIN that clears the old PIN before storing the new one: a cut in
    between leaves no PIN at all."""
    real = client_pin._store_pin

    def store_pin(auth, pin_hash, code_points):
        auth.store.update({st.STATE_PIN_HASH: None})
        real(auth, pin_hash, code_points)

    monkeypatch.setattr(client_pin, "_store_pin", store_pin)
    with pytest.raises(Violation):
        run_powercut([change_pin()], setup=_setup_pin, fat_modes=(False,))


COMMAND_CASES = {
    "makeCredential rk, new user": [make_credential(RP_A, b"dave")],
    "makeCredential rk, same RP+user replaces": [make_credential(RP_A, b"alice", name="alice2")],
    "makeCredential rk, first credential of an RP": [make_credential("c.example", b"x")],
    "makeCredential non-resident": [make_credential(RP_B, b"erin", rk=False)],
    "getAssertion (allowList), first after boot": [get_assertion(RP_A, "a_carol"), get_assertion(RP_B, "b_alice")],
    "getAssertion across counter reservations": [get_assertion(RP_A, "a_carol")] * (st.COUNTER_STEP + 2),
    "getAssertion + getNextAssertion": [get_assertion(RP_A, count=2), get_next_assertion()],
    "reset": [reset()],
    # (U2F_REGISTER itself writes nothing: its attestation is the new key's own)
    "U2F register + authenticate": [u2f_register(RP_A, save="u2f"), u2f_authenticate(RP_A, "u2f")],
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


# Commands that write the state or the counter, cut everywhere and then one
# copy of either damaged (flash bit rot while the key was off): the twin copy
# must make up for it (see powercut.run_powercut damage_copies).
DAMAGE_CASES = {
    "getAssertion across counter reservations": (_setup, COMMAND_CASES["getAssertion across counter reservations"]),
    "reset": (_setup, COMMAND_CASES["reset"]),
    "right PIN (retries restored)": PIN_CASES["right PIN (retries restored)"],
    "changePIN": PIN_CASES["changePIN"],
}


@pytest.mark.parametrize("case", list(DAMAGE_CASES))
def test_command_survives_every_cut_and_then_a_damaged_copy(case):
    setup, steps = DAMAGE_CASES[case]
    stats = run_powercut(steps, setup=setup, pins=(PIN, NEW_PIN), fat_modes=(False,), damage_copies=True)
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
    booted = Key(ref)
    boot_ops = len(ref.log)  # the boot's own writes (the DRBG's seed) come before the step's
    step(booted, dict(ctx))
    ops = ref.log[boot_ops:]
    new_id = None
    for k in range(len(ops)):
        for v in variants(ops[k]):
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
        data = st.encode_record(obj)
        self._st.write(name, data)
        return data  # as Store._save does

    monkeypatch.setattr(st.Store, "_save", in_place)
    # Ops 0-1 are the counter reservation (a twin record, written by
    # _save_twin, which this does not break); op 2, the passkey written in
    # place, is caught.
    with pytest.raises(Violation, match=r"op 2 \('write', 'rk000', \d+\) \(torn-empty\) of step \"makeCredential a.example user=b'alice' rk=True\""):
        run_powercut(COMMAND_CASES["makeCredential rk, same RP+user replaces"], setup=_setup, fat_modes=(False,))
