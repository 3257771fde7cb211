"""Power-cut injection: a flash that can lose power at any operation, and a
driver that cuts every command sequence at every cut point and restarts.

The model (what boards/common/vfs_storage.py may really do when the power
goes; see its docstring for the five operations):

  write(name, data)  the file may be missing, empty, hold a prefix of data,
                     or have its full length with the tail still erased
                     flash (0xFF): FAT updates the directory entry and the
                     data clusters separately
  rename(old, new)   happens or not; on FAT (CircuitPython) the target is
                     removed first, so the power can also go between the two
  remove(name)       happens or not

A cut raises PowerCut, a BaseException: the firmware's `except Exception`
(which keeps the main loop alive) must not be able to swallow a power cut,
just as no code on a board runs after one. "Restart" is a new Authenticator
on the files that survived, exactly what the board's boot does.

run_powercut(steps, ...) is generic: any sequence of steps (each a function
of a running key, usually one CTAP command sent through python-fido2) is run
once uncut to learn its flash operations and the state after each step, then
once per cut point. After every cut the key is restarted and checked:

  - the persistent state after boot is the state before the interrupted step
    or the state after it -- never a mixture, never a lost or torn record
    (resident credentials, the state record with master secret and PIN,
    large blobs), and boot leaves no temporary or undecodable file;
  - the next signature counter is above every value handed out before the
    cut, including values of the interrupted step;
  - a power cut during that boot's own recovery changes nothing (checked at
    every cut point of the recovery too), and the counter after it is still
    above every value handed out;
  - with damage_copies=True, also one damaged copy after the cut: for each
    of the two copies in the state and in the counter record on flash, a bit
    flipped in it (flash bit rot while the key was off) -- boot must mend it
    from the other copy, with the same guarantees (a state the cut may
    leave, the counter above every value handed out);
  - the key still works: getInfo, an assertion with every surviving resident
    credential (signature verified), and a new credential.

Steps are atomic unless they say otherwise (Step): a command that writes
twice on purpose (a correct PIN guess: retries decremented, then restored)
may leave any state the uncut run passed through, under an invariant of
its own; and a command whose outcome becomes observable before it returns
(the PIN comparison) names that point: when it is reached, the flash must
already show what a cut there would have to keep (the guess is counted).
"""

import copy
import hashlib
import os

import fido2.cbor
from fido2.ctap import CtapDevice
from fido2.ctap1 import Ctap1
from fido2.ctap2.pin import ClientPin
from fido2.ctap2 import Ctap2
from fido2.hid import CAPABILITY, CTAPHID

from boards.host.board import FakeClock, HostBoard, Presence
from boards.host.transport import MemoryTransport
from firmware import crypto
from firmware import store as st
from firmware.authenticator import Authenticator
from firmware.credential import CRED_PROTECT_UV_REQUIRED


class PowerCut(BaseException):
    """The power went. Nothing the firmware does may catch this."""


# -- where in one operation the power goes ---------------------------------------

BEFORE = "before"  # the operation never started
AFTER = "after"  # it completed; the power went right after it
TORN_EMPTY = "torn-empty"  # write: the file exists with no data
TORN_HALF = "torn-half"  # write: the first half of the data
TORN_ALL_BUT_ONE = "torn-all-but-one"  # write: everything but the last byte
TORN_ERASED_TAIL = "torn-erased-tail"  # write: full length, second half 0xFF
FAT_TARGET_REMOVED = "fat-target-removed"  # FAT rename: target gone, source not renamed

_TORN = (TORN_EMPTY, TORN_HALF, TORN_ALL_BUT_ONE, TORN_ERASED_TAIL)


def _torn(data, variant):
    n = len(data)
    if variant == TORN_EMPTY:
        return b""
    if variant == TORN_HALF:
        return data[: n // 2]
    if variant == TORN_ALL_BUT_ONE:
        return data[: n - 1]
    if variant == TORN_ERASED_TAIL:
        return data[: n // 2] + b"\xff" * (n - n // 2)
    raise ValueError(variant)


def variants(op):
    """The distinct cut points inside one logged operation (BEFORE first).

    AFTER is not listed: the state after operation k is the state before
    k + 1, so only the last operation of a run adds it (see _run_mode).
    """
    kind, _, detail = op
    if kind == "write":
        out = [BEFORE]
        shapes = set()
        for v in _TORN:
            shape = (len(_torn(bytes(detail), v)), v == TORN_ERASED_TAIL)
            if shape not in shapes and shape != (detail, False):
                shapes.add(shape)
                out.append(v)
        return out
    if kind == "rename" and detail:
        return [BEFORE, FAT_TARGET_REMOVED]
    return [BEFORE]


class PowerCutStorage:
    """The board storage interface over a dict, with power-cut injection.

    Every operation that changes flash is logged as (kind, name, detail) and
    counted in `writes` (wear figures); read and list change nothing and are
    not cut points (a cut before a read is the cut after the last change).
    `fat=True` makes rename onto an existing file two steps, as on FAT.
    """

    def __init__(self, files=None, fat=False):
        self.files = dict(files or {})
        self.fat = fat
        self.log = []
        self.writes = 0
        self.dead = False
        self._cut = None
        self.after_op = None  # called after each operation that completed

    def arm(self, index, variant):
        """Lose power at operation `index` (counted from now) as `variant`."""
        self._cut = (len(self.log) + index, variant)

    def _alive(self):
        if self.dead:
            raise PowerCut("flash used after the power went")

    def _begin(self, kind, name, detail):
        self._alive()
        i = len(self.log)
        self.log.append((kind, name, detail))
        if self._cut is not None and self._cut[0] == i:
            return self._cut[1]
        return None

    def _die(self, variant):
        self.dead = True
        raise PowerCut(variant)

    def _done(self, variant):
        if self.after_op is not None:
            self.after_op()
        if variant is not None:  # AFTER: the operation completed, then the power went
            self._die(variant)

    # the five operations

    def read(self, name):
        self._alive()
        return self.files.get(name)

    def list(self):
        self._alive()
        return list(self.files)

    def write(self, name, data):
        data = bytes(data)
        v = self._begin("write", name, len(data))
        if v == BEFORE:
            self._die(v)
        if v in _TORN:
            self.files[name] = _torn(data, v)
            self._die(v)
        self.files[name] = data
        self.writes += 1
        self._done(v)

    def rename(self, old, new):
        two_step = self.fat and new in self.files and old != new
        v = self._begin("rename", new, two_step)
        if old not in self.files:
            raise OSError("rename: no such file %r" % old)
        if v == BEFORE:
            self._die(v)
        if two_step:
            del self.files[new]
            if v == FAT_TARGET_REMOVED:
                self._die(v)
        self.files[new] = self.files.pop(old)
        self.writes += 1
        self._done(v)

    def remove(self, name):
        if name not in self.files:
            self._alive()
            return  # nothing on flash changes: not an operation
        v = self._begin("remove", name, None)
        if v == BEFORE:
            self._die(v)
        del self.files[name]
        self.writes += 1
        self._done(v)


# -- a key in this process -----------------------------------------------------------


class Drbg:
    """Deterministic randomness (SHA-256 in counter mode) so a run can be
    repeated byte for byte up to any cut point."""

    def __init__(self, seed):
        self._seed = bytes(seed)
        self._n = 0

    def __call__(self, n):
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self._seed + self._n.to_bytes(8, "big")).digest()
            self._n += 1
        return out[:n]


class _Quiet:
    """The CTAPHID side of a command run in-process: no keepalives, no cancel."""

    cancelled = False

    def keepalive(self, status):
        return False


class InProcessDevice(CtapDevice):
    """python-fido2 CtapDevice that hands messages straight to an Authenticator."""

    def __init__(self, auth):
        self.auth = auth

    @property
    def capabilities(self):
        return self.auth.capabilities | CAPABILITY.CBOR

    def call(self, cmd, data=b"", event=None, on_keepalive=None):
        response = self.auth.handle(cmd, bytes(data), _Quiet())
        if response is None:
            raise AssertionError("authenticator returned no response to command 0x%02x" % cmd)
        return bytes(response)

    @classmethod
    def list_devices(cls):
        return iter(())


class Key:
    """A key booted on `storage`: .auth (the core), .ctap2 (python-fido2).

    Booting is the Authenticator constructor, as on a board. Every signature
    counter value the store hands out is appended to `counters`; exceptions
    the core logs (the main loop's safety net) go to `logged`.
    """

    def __init__(self, storage, seed=b"key", counters=None, config=None):
        self.storage = storage
        self.clock = FakeClock()
        self.board = HostBoard(MemoryTransport(), storage=storage, presence=Presence("auto"), clock=self.clock, config=config)
        self.board.random = Drbg(seed)
        self.logged = []
        self.board.log_exception = self.logged.append
        self.counters = counters if counters is not None else []
        self.auth = Authenticator(self.board)
        store = self.auth.store
        real = store.next_sign_count

        def next_sign_count():
            value = real()
            self.counters.append(value)
            return value

        store.next_sign_count = next_sign_count
        self.device = InProcessDevice(self.auth)
        self._ctap2 = None

    @property
    def ctap2(self):
        if self._ctap2 is None:
            self._ctap2 = Ctap2(self.device)
        return self._ctap2

    @property
    def ctap1(self):
        return Ctap1(self.device)

    def cbor(self, cmd, request=None):
        """Raw CTAPHID_CBOR: (status, decoded body or None)."""
        data = bytes([cmd]) + (fido2.cbor.encode(request) if request is not None else b"")
        resp = self.device.call(CTAPHID.CBOR, data)
        return resp[0], (fido2.cbor.decode(resp[1:]) if len(resp) > 1 else None)


# -- what must survive ------------------------------------------------------------------


class Violation(AssertionError):
    """A power cut broke an invariant."""


# Every record name the store may leave on flash (besides "rk<slot>").
KNOWN_RECORDS = (st.REC_STATE, st.REC_COUNTER, st.REC_LARGE_BLOBS, st.REC_ATTESTATION, st.REC_SEED)

# Keys of the state record that are the store's bookkeeping, not state: the
# counter's limit (the counter is checked on its own, by probe(): above
# every value handed out).
BOOKKEEPING = (st.STATE_COUNTER_LIMIT,)


def _keeps_rng(fn):
    """Booting a key installs its board's randomness in firmware/crypto.py
    (and seeds its DRBG); a check that boots a throwaway key must not disturb
    the key under test."""

    def wrapper(*a, **kw):
        saved = crypto._rng
        try:
            return fn(*a, **kw)
        finally:
            crypto._rng = saved

    return wrapper


@_keeps_rng
def observe(files, fat=False):
    """Boot on a copy of `files`; the persistent state as a comparable value.

    Also checks what boot must leave behind: no temporary record, every file
    a valid record of a known kind.
    """
    storage = PowerCutStorage(files, fat)
    key = Key(storage, seed=b"observer")
    if key.logged:
        raise Violation("boot logged %r" % key.logged)
    if key.auth.store.damaged is not None:
        raise Violation("boot found the store damaged: %s" % key.auth.store.damaged)
    names = set(storage.files)
    for name in names:
        if name.endswith(".new"):
            raise Violation("boot left a temporary record %r" % name)
        if name in st.TWIN_RECORDS:
            if not st.decode_twin(storage.files[name])[1]:
                raise Violation("boot left twin record %r without two good copies" % name)
        elif st.decode_record(storage.files[name]) is None:
            raise Violation("boot left an undecodable record %r" % name)
        if not (name in KNOWN_RECORDS or name.startswith("rk")):
            raise Violation("unknown record %r" % name)
    state = {k: v for k, v in key.auth.store._state.items() if k not in BOOKKEEPING}
    resident = []
    for slot in key.auth.store.rk_slots():
        rec = key.auth.store.rk_load(slot)
        if rec is None:
            raise Violation("indexed slot %d has no record" % slot)
        resident.append(fido2.cbor.encode(rec))
    if len(resident) != len([n for n in names if n.startswith("rk")]):
        raise Violation("resident records on flash that the index does not know")
    lb = storage.files.get(st.REC_LARGE_BLOBS)
    # (The DRBG's seed is not part of the state: every boot replaces it.)
    return (fido2.cbor.encode(dict(state)), tuple(sorted(resident)), lb)


def describe(state):
    """A short human-readable account of an observed state (for failures)."""
    s = fido2.cbor.decode(state[0])
    return "master=%s pin=%s retries=%s resident=%d lb=%s" % (
        s.get(st.STATE_MASTER_SECRET, b"").hex()[:8],
        s.get(st.STATE_PIN_HASH, b"").hex()[:8] or "-",
        s.get(st.STATE_PIN_RETRIES, "-"),
        len(state[1]),
        "-" if state[2] is None else len(state[2]),
    )


class _Uv:
    """pinUvAuthParam for the probe when the key demands user verification
    (alwaysUv, credProtect uvRequired): a token from the PIN the flash holds."""

    def __init__(self, key, pins):
        self.key = key
        stored = key.auth.store.get(st.STATE_PIN_HASH)
        self.pin = next((p for p in pins if crypto.sha256(p.encode())[:16] == stored), None)

    def params(self, rp_id, cdh):
        if self.pin is None:
            raise Violation("the key demands user verification, and its PIN is none of %r" % (self.pin,))
        cp = ClientPin(self.key.ctap2)
        perms = ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION
        token = cp.get_pin_token(self.pin, perms, rp_id)
        return {"pin_uv_param": cp.protocol.authenticate(token, cdh), "pin_uv_protocol": cp.protocol.VERSION}


@_keeps_rng
def probe(files, fat, above, use=True, pins=()):
    """Restart on `files`; the next counter value must exceed `above` (every
    value handed out so far). With `use`, then use the key: getInfo, an
    assertion with every resident credential, a new credential, U2F (when
    alwaysUv leaves it on); with the PIN among `pins` where UV is required.
    """
    key = Key(PowerCutStorage(files, fat), seed=os.urandom(16))
    nxt = key.auth.store.next_sign_count()
    if nxt <= above:
        raise Violation("signature counter went back: %d after %d was handed out" % (nxt, above))
    if not use:
        return
    info = key.ctap2.get_info()
    assert info.aaguid
    always_uv = bool(info.options.get("alwaysUv"))
    uv = _Uv(key, pins)
    store = key.auth.store
    for slot in store.rk_slots():
        rec = store.rk_load(slot)
        rp_id = rec[st.RK_RP_ID]
        cred = key.auth.wrapper.unwrap(rec[st.RK_RP_ID_HASH], rec[st.RK_CREDENTIAL_ID])
        if cred is None:
            raise Violation("resident credential in slot %d does not unwrap under the master secret" % slot)
        cdh = os.urandom(32)
        extra = uv.params(rp_id, cdh) if always_uv or cred.cred_protect == CRED_PROTECT_UV_REQUIRED else {}
        a = key.ctap2.get_assertion(rp_id, cdh, [{"type": "public-key", "id": rec[st.RK_CREDENTIAL_ID]}], **extra)
        public = crypto.p256_public_key(cred.private_key)
        if not crypto.p256_verify(public, bytes(a.auth_data) + cdh, a.signature):
            raise Violation("assertion signature does not verify")
        if a.auth_data.counter <= nxt:
            raise Violation("counter %d not above %d" % (a.auth_data.counter, nxt))
        nxt = a.auth_data.counter
    cdh = os.urandom(32)
    extra = uv.params("probe.example", cdh) if always_uv else {}
    r = key.ctap2.make_credential(cdh, {"id": "probe.example"}, {"id": b"p"}, [{"type": "public-key", "alg": -7}], **extra)
    if r.auth_data.counter <= nxt:
        raise Violation("counter %d not above %d" % (r.auth_data.counter, nxt))
    if "U2F_V2" in info.versions:
        # U2F too: registration signs with the registration's own key (or the batch identity).
        app, chal = crypto.sha256(b"probe.example"), os.urandom(32)
        reg = key.ctap1.register(chal, app)
        reg.verify(app, chal)
        sig = key.ctap1.authenticate(chal, app, reg.key_handle)
        sig.verify(app, chal, reg.public_key)
        if sig.counter <= r.auth_data.counter:
            raise Violation("U2F counter %d not above %d" % (sig.counter, r.auth_data.counter))
    elif not always_uv:
        raise Violation("U2F is off although alwaysUv is not set")
    if key.logged:
        raise Violation("the restarted key logged %r" % key.logged)


# -- the driver -------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.cut_points = 0  # cuts inside the steps
        self.boot_cut_points = 0  # cuts inside the recovery boot after a cut
        self.operations = 0  # flash operations of one uncut run (all modes)

    def __iadd__(self, other):
        self.cut_points += other.cut_points
        self.boot_cut_points += other.boot_cut_points
        self.operations += other.operations
        return self

    def __repr__(self):
        return "Stats(cut_points=%d, boot_cut_points=%d, operations=%d)" % (
            self.cut_points,
            self.boot_cut_points,
            self.operations,
        )


class Step:
    """One step of a power-cut run: a label, fn(key, ctx), and what a cut
    inside it may leave.

    atomic (default): the state before the step or the state after it.
    atomic=False: a command that writes more than once (a correct PIN guess:
        retries decremented, then restored) may also leave the state of any
        operation boundary the uncut run passed up to the cut, provided
        invariant(before, got, after) holds.
    observable: [(object, attribute[, match(args)])] -- functions whose call
        (with arguments match() accepts) makes the command's outcome
        observable (the PIN comparison). In the uncut run,
        at every such call, the flash as it is at that instant (restarted and
        observed) must satisfy at_observable(before, now): e.g. the guess is
        already counted.
    """

    def __init__(self, label, fn, atomic=True, invariant=None, observable=(), at_observable=None):
        self.label = label
        self.fn = fn
        self.atomic = atomic
        self.invariant = invariant
        self.observable = observable
        self.at_observable = at_observable


def _step(s):
    return s if isinstance(s, Step) else Step(*s)


def _run_steps(key, steps, ctx):
    """Run steps in order; return the index of the step the power went in, or None."""
    for i, step in enumerate(steps):
        try:
            step.fn(key, ctx)
        except PowerCut:
            return i
        if key.logged:
            raise Violation("step %r logged %r" % (step.label, key.logged))
    return None


def _watch_observables(steps, current, storage, fat, states):
    """In the uncut run: at each call of a step's observable function, the
    flash at that instant must satisfy the step's at_observable. Returns
    (undo, calls, failures): the steps that made checks, the checks that failed."""
    undo = []
    calls = []
    failures = []
    for entry in {entry for step in steps for entry in step.observable}:
        obj, attr = entry[0], entry[1]
        real = getattr(obj, attr)

        def wrapper(*a, _real=real, _entry=entry, **kw):
            i = current[0]
            step = steps[i] if i is not None else None
            relevant = len(_entry) < 3 or _entry[2](a)
            if step is not None and _entry in step.observable and relevant:
                now = observe(storage.files, fat)
                calls.append(i)
                if not step.at_observable(states[i], now):
                    # Reported after the step: raised here, the firmware's
                    # safety net would turn it into ERR_OTHER.
                    failures.append(
                        "step %r: the outcome becomes observable (%s) while the flash does not show it yet\n"
                        "  flash  %s\n  before %s" % (step.label, _entry[1], describe(now), describe(states[i]))
                    )
            return _real(*a, **kw)

        setattr(obj, attr, wrapper)
        undo.append((obj, attr, real))

    def restore():
        for obj, attr, real in undo:
            setattr(obj, attr, real)

    return restore, calls, failures


def run_powercut(
    steps,
    setup=None,
    fat_modes=(False, True),
    seed=b"powercut",
    nested_boot=True,
    check_probe=True,
    pins=(),
    damage_copies=False,
):
    """Cut `steps` at every flash operation; restart and check after each cut.

    steps: [Step or (label, fn(key, ctx))]; setup: fn(key, ctx) run uncut
    before the snapshot the trials start from (ctx carries e.g. credential
    IDs to the steps). check_probe=False skips using the restarted key (for
    records that are not real credentials); the counter is checked
    regardless. pins: the PINs the steps may leave set (the probe needs one
    when the key demands user verification). damage_copies: after each cut,
    also damage each copy of the state and of the counter in turn (see the
    module docstring). Returns Stats; raises Violation naming the cut on
    failure.
    """
    steps = [_step(s) for s in steps]
    total = Stats()
    for fat in fat_modes:
        total += _run_mode(steps, setup, fat, seed, nested_boot, check_probe, pins, damage_copies)
    return total




def flip_bit(files, name, bit):
    """A copy of `files` with one bit of record `name` flipped (flash bit rot)."""
    out = dict(files)
    blob = bytearray(out[name])
    blob[bit // 8] ^= 1 << (bit % 8)
    out[name] = bytes(blob)
    return out


def _run_mode(steps, setup, fat, seed, nested_boot, check_probe, pins, damage_copies=False):
    stats = Stats()
    # The starting point: setup on a fresh key, then a snapshot of its flash.
    counters = []
    ctx0 = {}
    key = Key(PowerCutStorage(fat=fat), seed=seed + b"/setup", counters=counters)
    if setup is not None:
        setup(key, ctx0)
        assert not key.logged, key.logged
    files0 = dict(key.storage.files)
    setup_max = max(counters, default=0)

    # One uncut run: the operations of each step, the flash after each
    # operation and the state after each step.
    ref = PowerCutStorage(files0, fat)
    ref_counters = []
    key = Key(ref, seed=seed, counters=ref_counters)
    boot_ops = len(ref.log)
    flash_after_op = []
    ref.after_op = lambda: flash_after_op.append(dict(ref.files))
    states = [observe(files0, fat)]
    step_of_op = []
    ctx = copy.deepcopy(ctx0)
    current = [None]
    restore, calls, failures = _watch_observables(steps, current, ref, fat, states)
    try:
        for i, step in enumerate(steps):
            current[0] = i
            try:
                step.fn(key, ctx)
            finally:
                if failures:
                    raise Violation(failures[0])
            if key.logged:
                raise Violation("step %r logged %r" % (step.label, key.logged))
            step_of_op += [i] * (len(ref.log) - boot_ops - len(step_of_op))
            states.append(observe(ref.files, fat))
            if step.observable and i not in calls:
                raise Violation("step %r never called its observable %r" % (step.label, step.observable))
    finally:
        restore()
    ops = ref.log[boot_ops:]
    stats.operations = len(ops)
    boundary = {}  # op index -> observed state right after it (non-atomic steps)

    cuts = [(k, v) for k, op in enumerate(ops) for v in variants(op)]
    if ops:
        cuts.append((len(ops) - 1, AFTER))
    for k, v in cuts:
        i = step_of_op[k]
        step = steps[i]
        where = "fat=%s op %d %r (%s) of step %r" % (fat, k, ops[k], v, step.label)
        storage = PowerCutStorage(files0, fat)
        trial_counters = []
        key = Key(storage, seed=seed, counters=trial_counters)
        storage.arm(k, v)
        cut_step = _run_steps(key, steps, copy.deepcopy(ctx0))
        if cut_step is None:
            raise Violation("%s: the power never went (the run is not deterministic)" % where)
        # Same operations on the same records as the uncut run (sizes may
        # differ by a byte or two: ECDSA signatures in DER, e.g. in a
        # self-signed certificate, vary in length).
        if [op[:2] for op in storage.log[boot_ops:]] != [op[:2] for op in ops[: k + 1]]:
            raise Violation("%s: operations differ from the uncut run:\n%r\n%r" % (where, storage.log[boot_ops:], ops[: k + 1]))
        assert cut_step == i, (cut_step, i)
        stats.cut_points += 1
        survived = dict(storage.files)
        allowed = [states[i], states[i + 1]]
        if not step.atomic:
            for j in range(step_of_op.index(i), k + 1):
                if j not in boundary:
                    boundary[j] = observe(flash_after_op[j], fat)
                allowed.append(boundary[j])
        _check_cut(where, survived, fat, step, states[i], states[i + 1], allowed)
        handed_out = max([setup_max] + trial_counters)
        if nested_boot:
            stats.boot_cut_points += _cut_boot(where, survived, fat, handed_out)
        try:
            probe(survived, fat, handed_out, use=check_probe, pins=pins)
        except Violation as e:
            raise Violation("%s: %s" % (where, e)) from None
        if damage_copies:
            for name, which in [(n, c) for n in st.TWIN_RECORDS for c in (0, 1) if survived.get(n)]:
                # A bit in the middle of one copy: the check value catches
                # any flip (test_store_damage.py flips every one).
                bits = len(survived[name]) * 8
                damaged = flip_bit(survived, name, bits // 4 + which * bits // 2)
                there = "%s, then copy %d of %r damaged" % (where, which + 1, name)
                _check_cut(there, damaged, fat, step, states[i], states[i + 1], allowed)
                try:
                    probe(damaged, fat, handed_out, use=False)
                except Violation as e:
                    raise Violation("%s: %s" % (there, e)) from None
    return stats


def _check_cut(where, files, fat, step, before, after, allowed):
    try:
        got = observe(files, fat)
    except Violation as e:
        raise Violation("%s: %s" % (where, e)) from None
    if got not in allowed:
        raise Violation(
            "%s: state after restart is %s\n"
            "  got    %s\n  before %s\n  after  %s"
            % (
                where,
                "neither the old nor the new one" if step.atomic else "none the uncut run passed through",
                describe(got),
                describe(before),
                describe(after),
            )
        )
    if step.invariant is not None and not step.invariant(before, got, after):
        raise Violation("%s: invariant broken\n  got    %s\n  before %s" % (where, describe(got), describe(before)))


@_keeps_rng
def _cut_boot(where, files, fat, above=None):
    """Cut the recovery boot on `files` at each of its operations; boot again:
    the same state, and (given `above`, the highest counter value handed out)
    a counter above it."""
    dry = PowerCutStorage(files, fat)
    Key(dry, seed=b"boot")
    target = observe(files, fat)
    n = 0
    for j, op in enumerate(dry.log):
        for v in variants(op):
            storage = PowerCutStorage(files, fat)
            storage.arm(j, v)
            try:
                Key(storage, seed=b"boot")
            except PowerCut:
                pass
            else:
                raise Violation("%s: boot cut %d %s never happened" % (where, j, v))
            n += 1
            got = observe(storage.files, fat)
            if got != target:
                raise Violation(
                    "%s, then boot cut at op %d %r (%s): state changed\n  got    %s\n  wanted %s"
                    % (where, j, op, v, describe(got), describe(target))
                )
            if above is not None:
                try:
                    probe(storage.files, fat, above, use=False)
                except Violation as e:
                    raise Violation("%s, then boot cut at op %d %r (%s): %s" % (where, j, op, v, e)) from None
    return n
