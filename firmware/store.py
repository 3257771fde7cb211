"""Persistent state of the key, power-loss safe, over the board's `storage`.

Every record is CBOR followed by an 8-byte SHA-256 check value and is
written as `<name>.new`, then renamed over `<name>`. A power cut at any
instant leaves the old record or the new one: at boot a `.new` that checks
out is rolled forward (the cut came after it was complete), a torn one is
deleted. Nothing else ever writes a record in place.

The two records that must never silently change -- the state (master
secret, PIN) and the signature counter -- hold two copies of their value,
one after the other, each with its own check value ("twin" records, written
like any record: beside the old one, then renamed over it). Power cuts
cannot damage a copy, flash bit rot can: at boot a record with one bad copy
is rewritten from the good one. If no good copy is left, the store is
`damaged`: it regenerates nothing, writes nothing, and the key refuses every
command that needs the state until an explicit authenticatorReset (wipe).
A store with no records at all is a new key, not a damaged one.

Why both copies in one file, not two files: littlefs keeps each file in a
block of its own or in its directory's metadata, and a second file for each
record cost the Pico two flash blocks -- two passkeys of the 256 it promises
(host_tests/test_lfs_capacity.py) -- and doubled the flash operations of
every PIN attempt and counter reservation. Bit rot flips bits, and each copy
is checked on its own; a record that loses both is reported, never replaced.

Record ids (names in board.storage) and what a missing record means:
"""

from micropython import const

import cbor
from firmware import crypto
from firmware.status import CtapError, CTAP2_ERR_INTEGRITY_FAILURE, CTAP2_ERR_KEY_STORE_FULL

_ENOSPC = const(28)  # the OSError errno of a full filesystem (littlefs LFS_ERR_NOSPC, FAT, POSIX)

# The state, a twin record. Missing: a new key (factory state: fresh master
# secret, no PIN, defaults) -- unless records only a key in use writes are
# there (the counter, passkeys, large blobs): then the state was lost. (A
# store from before twin records has one copy; boot writes it as a twin.)
REC_STATE = "state"
# The signature counter's reservation, a twin record. Missing: never used
# (starts at 0), or, when the state holds a counter limit, lost (continue
# above the limit).
REC_COUNTER = "ctr"
TWIN_RECORDS = (REC_STATE, REC_COUNTER)
_REC_RK = "rk"  # "rk000".."rkNNN", one discoverable credential each; missing = free slot
_RK_NAME = _REC_RK + "%03d"
REC_LARGE_BLOBS = "lb"  # the initial serialized large-blob array (CTAP 2.1 §6.10.2)
REC_ATTESTATION = "att"  # no batch attestation provisioned: self attestation
REC_ENTERPRISE_ATTESTATION = "eatt"  # not enterprise attestation capable (no getInfo "ep")
REC_SEED = "seed"  # first boot ever: the DRBG starts from the board's source alone (refresh_seed)
# Retired: the per-device self-signed U2F attestation identity, which linked
# a key's U2F registrations across sites (U2F now attests each registration
# with its own key, firmware/attestation.py). Removed at boot; never reused.
_OLD_REC_U2F_ATTESTATION = "u2fatt"
_TMP = ".new"
_CHECK = const(8)

# What the key answers to every command that needs the state while the store
# is damaged (Authenticator.process_cbor): CTAP 2.1 §8.2 "A checksum did not
# match", which is exactly what happened -- and not CTAP1_ERR_OTHER, which
# says "a fault in the firmware".
STORE_DAMAGED_STATUS = CTAP2_ERR_INTEGRITY_FAILURE
# The LED pattern of a damaged store (boards/common/ui.py), shown from boot
# until the reset.
LED_DAMAGED = "damaged"

# Keys of the "state" record. New fields are read with .get(key, default) so
# older records load unchanged; retired keys are never reused.
STATE_VERSION = const(0)
STATE_MASTER_SECRET = const(1)  # 32 bytes; wrapping keys for credential IDs derive from it
STATE_PIN_HASH = const(2)  # LEFT(SHA-256(PIN), 16), absent when no PIN is set
STATE_PIN_RETRIES = const(3)  # absent = PIN_RETRIES_MAX
STATE_PIN_CODE_POINTS = const(4)  # length of the current PIN in code points
STATE_MIN_PIN_LENGTH = const(5)
STATE_FORCE_PIN_CHANGE = const(6)
STATE_ALWAYS_UV = const(7)
# Retired: the RP IDs setMinPINLength allowed, as text -- up to 8 x 253
# bytes, which put each copy of the state in a flash block of its own on a
# Pico. Boot turns a list of them into STATE_MIN_PIN_LENGTH_RP_ID_HASHES.
_OLD_STATE_MIN_PIN_LENGTH_RPIDS = const(8)
STATE_ENTERPRISE_ATTESTATION = const(9)
# Set with the new master secret by wipe(); present = a reset was cut short
# after it committed, and boot finishes erasing what the reset erases.
STATE_WIPE_PENDING = const(10)
# Above every signature counter value ever handed out: the counter's
# reservation (REC_COUNTER) never passes it without raising it first, so a
# counter whose two copies are lost continues from here. Absent: the
# counter was never used (or the store predates twin records).
STATE_COUNTER_LIMIT = const(11)
# [SHA-256(rpId), ...] of the RPs setMinPINLength allows to read minPINLength
# (the minPinLength extension); absent = none. At most 8 x 32 bytes: the
# largest state stays within what littlefs keeps in its directory on a Pico
# (512 bytes), so its two copies take no flash block.
STATE_MIN_PIN_LENGTH_RP_ID_HASHES = const(12)
# CTAP 2.2 §6.5.5.7: the persistentPinUvAuthToken (32 bytes, pcmr permission
# only), kept across power cycles; made anew with every setPIN/changePIN
# (firmware/ctap2/client_pin.py). Absent = no PIN (or a PIN set before
# CTAP 2.2: made when pcmr is first asked for).
STATE_PERSISTENT_TOKEN = const(13)
_STATE_FORMAT = const(1)

# Key of the counter record: the highest value that may have been handed out.
_COUNTER_RESERVED = const(1)

# Keys of a discoverable-credential record
RK_CREDENTIAL_ID = const(1)
RK_RP_ID = const(2)
RK_RP_ID_HASH = const(3)
RK_USER_ID = const(4)
RK_USER_NAME = const(5)
RK_USER_DISPLAY_NAME = const(6)
RK_CREATED = const(7)  # creation sequence number: newest first in getAssertion
RK_CRED_BLOB = const(8)
RK_LARGE_BLOB_KEY = const(9)
RK_CRED_PROTECT = const(10)
RK_EPOCH = const(11)  # ties the record to the master secret it was made under
# The credential's COSE algorithm (firmware/cose.py), the one its ID carries
# too. Absent: ES256 -- every record made before the key knew other
# algorithms, and ES256 ones still (two bytes less each).
RK_ALG = const(12)

# Keys of the attestation record (written by tools/, survives reset)
ATT_PRIVATE_KEY = const(1)
ATT_CERTIFICATES = const(2)  # [DER, ...], leaf first
# The enterprise attestation record (tools/, survives reset) uses the same two
# keys plus:
EATT_RP_IDS = const(3)  # RP IDs for vendor-facilitated EA (enterpriseAttestation 1); absent = none

# Keys of the seed record
SEED_VALUE = const(1)  # crypto.SEED_LENGTH bytes drawn from the DRBG of the last boot

# The largest discoverable-credential record the store keeps (CBOR and check
# value). The boards' capacities (boards/*/config.py) are proven on their
# littlefs for records of this size (host_tests/test_lfs_capacity.py), so a
# larger one would void them: it is refused as "no room", like a full store.
# makeCredential's largest record (253-byte rpId, 64-byte user id, names cut
# to 64 bytes, credBlob, largeBlobKey, credProtect) is about 660 bytes.
RK_MAX_RECORD = const(1024)

# The counter is reserved in steps: one flash write per COUNTER_STEP
# signatures (and one per power-up), never a value handed out twice.
COUNTER_STEP = const(64)


def encode_record(obj):
    """The bytes of a record as stored (also used by tools/ to provision).

    A bytearray: the CBOR is encoded into it and the check value appended
    in place, so a record costs its size once rather than three times
    (encoding, bytes copy, concatenation) -- a large-blob array is 8 KiB.
    """
    out = bytearray()
    cbor.dump_into(out, obj)
    out.extend(crypto.sha256(out)[:_CHECK])
    return out


def decode_record(blob):
    """The record's value, or None for a missing, torn or corrupt record."""
    if blob is None or len(blob) <= _CHECK:
        return None
    # Views of the two parts: a record is read on every getAssertion, and
    # copies of its body would cost its size each time.
    fields = memoryview(blob)
    data = fields[: len(blob) - _CHECK]
    check = memoryview(crypto.sha256(data))[:_CHECK]
    if not crypto.ct_equal(check, fields[len(blob) - _CHECK :]):
        return None
    try:
        return cbor.loads(data)
    except ValueError:
        return None


def refresh_seed(storage):
    """Seed the DRBG for this boot and replace the flash seed before anything draws from it.

    crypto.seed_rng instantiates the DRBG from the board's source, the seed
    the last boot left here and the chip's unique id, and returns the next
    seed, drawn from the new state; it is written (`seed.new`, renamed over
    `seed`) before this returns, so before the key makes any secret or
    answers anything. A power cut before that rename leaves the old seed: the
    next boot may start from the same state again, but this one handed out
    nothing from it -- the seed it drew is the one that boot writes. A seed
    that does not decode counts as none. On a flash too full for this small
    record the old seed stays (and the next boot may repeat this one's
    state if the board's source repeats too): the key still starts.
    """
    rec = decode_record(storage.read(REC_SEED))
    seed = rec.get(SEED_VALUE) if isinstance(rec, dict) else None
    following = crypto.seed_rng(seed if isinstance(seed, bytes) else b"")
    try:
        storage.write(REC_SEED + _TMP, encode_record({SEED_VALUE: following}))
    except OSError as e:
        if getattr(e, "errno", None) != _ENOSPC:
            raise
        try:
            storage.remove(REC_SEED + _TMP)
        except OSError:
            pass
        return
    storage.rename(REC_SEED + _TMP, REC_SEED)


def encode_twin(obj):
    """A twin record: the record's bytes twice (store.py: the state and the counter)."""
    out = encode_record(obj)
    out.extend(out)
    return out


def decode_twin(blob):
    """(value, whole) of a twin record: the value of a good copy (None when
    neither is), and whether both copies are good and alike. A record of the
    store before twin records (one copy) gives its value, not whole."""
    if blob is None:
        return None, False
    n = len(blob)
    if n % 2 == 0:
        half = n // 2
        view = memoryview(blob)
        a = decode_record(view[:half])
        b = decode_record(view[half:])
        if a is not None or b is not None:
            return (a if a is not None else b), (a is not None and a == b)
    return decode_record(blob), False


class StoreDamaged(Exception):
    """Why the store is damaged: logged once through the board (Store.report), never raised."""


# The state holds a counter limit this far above the counter's reservation:
# one write of the state per COUNTER_LIMIT_STEP signatures (every 64th
# reservation), and a counter whose two copies are both lost jumps by at
# most this much.
COUNTER_LIMIT_STEP = const(4096)


def _valid_state(rec):
    return isinstance(rec, dict) and STATE_MASTER_SECRET in rec


def _valid_counter(rec):
    return isinstance(rec, dict) and isinstance(rec.get(_COUNTER_RESERVED), int) and rec[_COUNTER_RESERVED] >= 0


def _user_tag(user_id):
    """24 bits of SHA-256(user.id): the records rk_find_user has to read."""
    h = crypto.sha256(user_id)
    return (h[0] << 16) | (h[1] << 8) | h[2]


def _check_tag(blob):
    """24 bits of a record's check value: a new value whenever the record's
    bytes change (credStoreState, Store.rk_state)."""
    n = len(blob)
    return (blob[n - 3] << 16) | (blob[n - 2] << 8) | blob[n - 1]


def _id_tag(credential_id):
    """24 bits of a credential ID -- its last bytes, part of its MAC, as good
    as random: the records rk_find_id has to read."""
    n = len(credential_id)
    tag = 0
    for i in range(n - 3 if n > 3 else 0, n):
        tag = (tag << 8) | credential_id[i]
    return tag


class Store:
    """The key's persistent state.

    :param storage: the board's storage (read/write/rename/remove/list)
    :param max_resident: capacity for discoverable credentials
    :param index: read every passkey record now (and drop stale ones), as
        boot always did; False defers that to the first use of the index --
        firmware/main_loop.Starting opens the store before the key answers
        its first CTAPHID INIT, and with hundreds of passkeys that read
        takes seconds.
    :param seed: refresh the DRBG's flash seed as the store opens
        (refresh_seed; a damaged store leaves it to the first draw); False defers it to
        seed_random() or to the first draw of randomness, whichever comes first -- Starting calls seed_random()
        right after the first INIT, so the seed's flash write and the DRBG's
        instantiation are not in the way of that answer. Nothing secret is
        drawn before: a first boot's master secret is itself a first draw.
    """

    # Goes up with every write or removal of a record: what is derived from
    # the store (getInfo's answer, Authenticator.get_info_response) is fresh
    # while it is unchanged.
    changes = 0
    # Why the state or the counter cannot be trusted (a short text), or None.
    # Set at boot when no good copy is left; only wipe() clears it. Meanwhile
    # the store writes nothing, regenerates nothing and drops no passkey
    # record (it cannot tell which master secret they belong to).
    damaged = None

    def __init__(self, storage, max_resident, index=True, seed=True):
        self._st = storage
        self.max_resident = max_resident
        self.repaired = []  # copies rewritten from their twin at this boot
        self._reported = False
        self._rk_map = None
        self._rk_created = 0
        self._recover()
        self._seeded = False
        # The DRBG is seeded at its first draw (a first boot's master secret,
        # below; the reset of a damaged store), or at the end of this, or by
        # seed_random() when the key is built (seed=False).
        crypto.defer_seed(self.seed_random)
        self._load_state()
        self._load_counter()
        if self.damaged is None and _OLD_STATE_MIN_PIN_LENGTH_RPIDS in self._state:
            self.update(
                {
                    _OLD_STATE_MIN_PIN_LENGTH_RPIDS: None,
                    STATE_MIN_PIN_LENGTH_RP_ID_HASHES: [
                        crypto.sha256(r.encode()) for r in self._state[_OLD_STATE_MIN_PIN_LENGTH_RPIDS]
                    ],
                }
            )
        if self.damaged is None and self._state.get(STATE_WIPE_PENDING):
            self._finish_wipe()
        if seed and self.damaged is None:
            # A damaged store opens without a write; its DRBG is seeded at the
            # first draw (the authenticator's power-up token, a reset).
            self.seed_random()
        if index:
            self._index_rk()

    def seed_random(self):
        """Seed the DRBG for this boot (refresh_seed), once; later calls do nothing."""
        if not self._seeded:
            self._seeded = True
            refresh_seed(self._st)

    # -- records ---------------------------------------------------------------

    def _recover(self):
        for name in self._st.list():
            if name.endswith(_TMP):
                blob = self._st.read(name)
                if name[: -len(_TMP)] in TWIN_RECORDS:
                    good = decode_twin(blob)[0] is not None  # (a whole first copy is the new value)
                else:
                    good = decode_record(blob) is not None
                if good:
                    self._st.rename(name, name[: -len(_TMP)])
                else:
                    self._st.remove(name)
            elif name == _OLD_REC_U2F_ATTESTATION:
                self._st.remove(name)

    def _write(self, name, data):
        """The one way a record reaches flash: beside the old one, then renamed over it."""
        if self.damaged is not None:
            raise CtapError(STORE_DAMAGED_STATUS)
        self.changes += 1
        self._st.write(name + _TMP, data)
        self._st.rename(name + _TMP, name)

    def _save(self, name, obj):
        data = encode_record(obj)
        if len(data) > RK_MAX_RECORD and name.startswith(_REC_RK):
            raise CtapError(CTAP2_ERR_KEY_STORE_FULL)  # larger than the capacity is proven for
        self._write(name, data)
        return data

    def _save_rk(self, slot, record):
        """Write a discoverable credential; no room (by size or on flash) is KEY_STORE_FULL."""
        name = self._rk_name(slot)
        try:
            return _check_tag(self._save(name, record))
        except OSError as e:
            if getattr(e, "errno", None) != _ENOSPC:
                raise
            # The flash filled up before max_resident did (files other than
            # the key's, a board whose capacity was not proven): the old
            # record, if any, is untouched; drop the partial new one so the
            # next boot cannot roll it forward after we said "full".
            try:
                self._st.remove(name + _TMP)
            except OSError:
                pass
            raise CtapError(CTAP2_ERR_KEY_STORE_FULL)

    def _load(self, name):
        return decode_record(self._st.read(name))

    # -- twin records: the state and the counter -----------------------------------

    def _read_twin(self, name, valid):
        """(value of a good copy or None, whole, present) of twin record `name`."""
        blob = self._st.read(name)
        value, whole = decode_twin(blob)
        if not valid(value):
            value, whole = None, False
        return value, whole, blob is not None

    def _save_twin(self, name, obj):
        self._write(name, encode_twin(obj))

    def _in_use(self):
        """Are there records only a key with a state writes? (Then a missing state was lost.)"""
        for name in self._st.list():
            if name == REC_COUNTER or name.startswith(_REC_RK) or name.startswith(REC_LARGE_BLOBS):
                return True
        return False

    def _fail(self, why):
        # Nothing is trusted, nothing is written: see `damaged`.
        self.damaged = why
        self._state = {}
        self._epoch = None

    def report(self, board):
        """Say that the store is damaged: logged once (why), and the LED shows it.

        Called when the key starts and after each message it handles, so a
        pattern another request showed (a touch) gives way to it again.
        """
        if self.damaged is None:
            return
        if not self._reported:
            self._reported = True
            log = getattr(board, "log_exception", None)
            if log is not None:
                log(StoreDamaged(self.damaged))
        board.led(LED_DAMAGED)

    # -- the state record --------------------------------------------------------

    def _load_state(self):
        state, whole, present = self._read_twin(REC_STATE, _valid_state)
        if state is None:
            if not present and not self._in_use():
                # A new key: the factory state, with a master secret made here.
                self._state = {}
                self._set_state({STATE_VERSION: _STATE_FORMAT, STATE_MASTER_SECRET: crypto.random_bytes(32)})
                return
            if present:
                self._fail("state: no copy of the record passes its check value")
            else:
                self._fail("state: the record is missing, but the key was in use")
            return
        self._use_state(state)
        if not whole:
            # One good copy is enough: the record is made whole again from it
            # (a store from before twin records gets its second copy here).
            self._save_twin(REC_STATE, state)
            self.repaired.append(REC_STATE)

    def _use_state(self, state):
        self._state = state
        # Records made under an earlier master secret (a reset cut short by a
        # power cut) are recognised by this tag and dropped at boot.
        self._epoch = crypto.sha256(b"rk-epoch" + state[STATE_MASTER_SECRET])[:4]

    def _set_state(self, state):
        """Persist `state` (a new dict) and make it the current one."""
        self._save_twin(REC_STATE, state)
        if state.get(STATE_MASTER_SECRET) is self._state.get(STATE_MASTER_SECRET):
            # The same master secret (update): the same epoch, not hashed
            # again -- a PIN attempt writes the state twice.
            self._state = state
        else:
            self._use_state(state)

    def get(self, key, default=None):
        return self._state.get(key, default)

    def update(self, changes):
        """Persist changes to the state record (None deletes a key) atomically."""
        state = dict(self._state)
        for k in changes:
            if changes[k] is None:
                state.pop(k, None)
            else:
                state[k] = changes[k]
        self._set_state(state)

    @property
    def master_secret(self):
        """The 32-byte master secret; None while the store is damaged."""
        return self._state.get(STATE_MASTER_SECRET)

    @property
    def epoch(self):
        """A tag of the current master secret: records made before a reset carry another."""
        return self._epoch

    # -- signature counter ---------------------------------------------------------

    def _load_counter(self):
        rec, whole, present = self._read_twin(REC_COUNTER, _valid_counter)
        limit = self._state.get(STATE_COUNTER_LIMIT)
        if rec is not None:
            # Every value up to the reservation may have been handed out
            # before the power went: continue above it.
            reserved = rec[_COUNTER_RESERVED]
            if not whole and self.damaged is None:
                self._save_twin(REC_COUNTER, rec)
                self.repaired.append(REC_COUNTER)
        elif limit is not None:
            # Both copies damaged, or the record lost: nothing was ever
            # handed out above the limit the state keeps; continue from there.
            reserved = limit
            self._save_twin(REC_COUNTER, {_COUNTER_RESERVED: reserved})
            self.repaired.append(REC_COUNTER)
        elif not present:
            reserved = 0  # never used
        else:
            # Damaged, and the state keeps no limit (a store from before
            # twin records, or a damaged state): no value is known to be
            # above every one handed out. wipe() restarts it; no credential
            # it could go back for survives that.
            reserved = None
            if self.damaged is None:
                self._fail("counter: no copy of the record passes its check value, and no limit is kept")
        self._counter = reserved
        self._counter_reserved = reserved
        if self.damaged is None and reserved > (limit or 0):
            # The limit of a store from before it: above the reservation from now on.
            self.update({STATE_COUNTER_LIMIT: reserved + COUNTER_LIMIT_STEP})

    def next_sign_count(self):
        """The next signature counter value: strictly increasing, across power cuts and damaged copies."""
        if self.damaged is not None:
            raise CtapError(STORE_DAMAGED_STATUS)
        value = self._counter + 1
        if value > self._counter_reserved:
            # Persist the reservation *before* the value is used, and
            # before that a limit above it in the state.
            reserved = value + COUNTER_STEP - 1
            if reserved > self._state.get(STATE_COUNTER_LIMIT, 0):
                self.update({STATE_COUNTER_LIMIT: reserved + COUNTER_LIMIT_STEP})
            self._save_twin(REC_COUNTER, {_COUNTER_RESERVED: reserved})
            self._counter_reserved = reserved
        self._counter = value
        return value

    # -- discoverable credentials ------------------------------------------------------

    @property
    def _rk(self):
        if self._rk_map is None:
            self._index_rk()
        return self._rk_map

    def _index_rk(self):
        # RAM index: slot -> (first 8 bytes of rpIdHash, one bytes object per
        # RP shared by its slots; creation number; 24 bits of SHA-256(user.id)
        # << 2 | credProtect level; 24 bits of the credential ID; 24 bits of
        # the record's check value, which changes with its bytes). Requests
        # find, count and filter an RP's credentials here and read a record
        # only when they return it, so the heap a request takes does not grow
        # with the passkeys of a site. (Four or five items take the heap
        # blocks of three: 32 bytes a slot on a 32-bit board.)
        # Records of an earlier master secret (a reset cut short) are dropped
        # here -- but not while the store is damaged: its master secret is
        # unknown, and the reset will remove them all anyway.
        index = {}
        self._rk_created = 0
        self._rk_map = index
        if self.damaged is not None:
            return
        prefixes = {}
        for name in self._st.list():
            if name.startswith(_REC_RK) and not name.endswith(_TMP):
                try:
                    slot = int(name[len(_REC_RK) :])
                except ValueError:
                    continue
                blob = self._st.read(name)
                rec = decode_record(blob)
                if not isinstance(rec, dict) or rec.get(RK_EPOCH) != self._epoch:
                    self.changes += 1
                    self._st.remove(name)  # torn by nothing we know of, or pre-reset
                    continue
                if RK_RP_ID_HASH in rec:
                    prefix = bytes(rec[RK_RP_ID_HASH][:8])
                    prefix = prefixes.setdefault(prefix, prefix)
                    index[slot] = self._entry(prefix, rec, _check_tag(blob))
                    if index[slot][1] > self._rk_created:
                        self._rk_created = index[slot][1]

    @staticmethod
    def _entry(prefix, rec, check):
        tag = (_user_tag(rec[RK_USER_ID]) << 2) | (rec.get(RK_CRED_PROTECT, 0) & 3)
        return (prefix, rec.get(RK_CREATED, 0), tag, _id_tag(rec[RK_CREDENTIAL_ID]), check)

    def _prefix(self, rp_id_hash):
        """rpIdHash[:8] as the index has it: the RP's shared object when it has slots."""
        prefix = bytes(rp_id_hash[:8])
        rk = self._rk
        for slot in rk:
            if rk[slot][0] == prefix:
                return rk[slot][0]
        return prefix

    @staticmethod
    def _rk_name(slot):
        return _RK_NAME % slot

    def rk_count(self, rp_id_hash=None, max_cred_protect=3):
        """How many discoverable credentials there are (of one RP, with a
        credProtect level of at most max_cred_protect), from the index."""
        rk = self._rk
        if rp_id_hash is None:
            return len(rk)
        prefix = bytes(rp_id_hash[:8])
        n = 0
        for slot in rk:
            entry = rk[slot]
            if entry[0] == prefix and entry[2] & 3 <= max_cred_protect:
                n += 1
        return n

    def rk_remaining(self):
        return max(0, self.max_resident - len(self._rk))

    def rk_slots(self, rp_id_hash=None):
        """Slots of the discoverable credentials (of one RP), newest first.

        From the index alone (8 bytes of rpIdHash: a record read later is
        checked against the whole hash, see rk_load).
        """
        rk = self._rk
        if rp_id_hash is None:
            slots = list(rk)
        else:
            prefix = bytes(rp_id_hash[:8])
            slots = [s for s in rk if rk[s][0] == prefix]
        slots.sort(key=lambda s: rk[s][1], reverse=True)
        return slots

    def rk_next(self, rp_id_hash, after=None, max_cred_protect=3):
        """The slot of the RP's next discoverable credential, newest first:
        the newest one older than the credential in slot `after` (None: the
        newest of all) whose credProtect level is at most max_cred_protect;
        None when there is no other.

        From the index alone, allocating nothing per credential: a request
        that walks an RP's credentials (getAssertion and getNextAssertion,
        credential enumeration) keeps one slot between its steps and reads
        one record at each, however many credentials the RP has. Newest
        first is by creation number, then slot.
        """
        rk = self._rk
        prefix = bytes(rp_id_hash[:8])
        limit = None
        if after is not None:
            entry = rk.get(after)
            if entry is None:
                return None  # gone (only another command removes one, and that ends the walk)
            limit = entry[1]
        best = None
        best_created = -1
        for slot in rk:
            entry = rk[slot]
            if entry[0] != prefix or entry[2] & 3 > max_cred_protect:
                continue
            created = entry[1]
            if limit is not None and (created > limit or (created == limit and slot >= after)):
                continue
            if created > best_created or (created == best_created and slot > best):
                best = slot
                best_created = created
        return best

    def rk_rps(self):
        """One slot per RP with discoverable credentials (its newest), newest first."""
        rk = self._rk
        newest = {}
        for slot in rk:
            prefix = rk[slot][0]
            other = newest.get(prefix)
            if other is None or rk[other][1] < rk[slot][1]:
                newest[prefix] = slot
        slots = list(newest.values())
        slots.sort(key=lambda s: rk[s][1], reverse=True)
        return slots

    def rk_load(self, slot, rp_id_hash=None):
        """The record in `slot` (of this RP, when given), or None."""
        rec = self._load(self._rk_name(slot))
        if not isinstance(rec, dict) or (rp_id_hash is not None and rec.get(RK_RP_ID_HASH) != rp_id_hash):
            return None
        return rec

    def rk_find_user(self, rp_id_hash, user_id):
        # Only the records whose user tag matches are read (about one).
        tag = _user_tag(user_id)
        prefix = bytes(rp_id_hash[:8])
        rk = self._rk
        for slot in rk:
            if rk[slot][2] >> 2 == tag and rk[slot][0] == prefix:
                rec = self.rk_load(slot, rp_id_hash)
                if rec is not None and rec[RK_USER_ID] == user_id:
                    return slot
        return None

    def rk_find_id(self, credential_id, rp_id_hash=None):
        """(slot, record) of the discoverable credential with this ID (of
        this RP, when given), or None. Only the records whose ID tag matches
        are read (about one)."""
        tag = _id_tag(credential_id)
        prefix = None if rp_id_hash is None else bytes(rp_id_hash[:8])
        rk = self._rk
        for slot in rk:
            entry = rk[slot]
            if entry[3] == tag and (prefix is None or entry[0] == prefix):
                rec = self.rk_load(slot, rp_id_hash)
                if rec is not None and crypto.ct_equal(rec[RK_CREDENTIAL_ID], credential_id):
                    return slot, rec
        return None

    def rk_room_for(self, rp_id_hash, user_id):
        """Raise KEY_STORE_FULL unless rk_put for this RP and user can succeed."""
        if len(self._rk) >= self.max_resident and self.rk_find_user(rp_id_hash, user_id) is None:
            raise CtapError(CTAP2_ERR_KEY_STORE_FULL)

    def rk_put(self, record):
        """Store a discoverable credential; the same RP + user.id replaces the old one.

        Returns the slot. Raises CTAP2_ERR_KEY_STORE_FULL when there is no
        room: a credential is never dropped silently.
        """
        rp_id_hash = record[RK_RP_ID_HASH]
        slot = self.rk_find_user(rp_id_hash, record[RK_USER_ID])
        if slot is None:
            if len(self._rk) >= self.max_resident:
                raise CtapError(CTAP2_ERR_KEY_STORE_FULL)
            slot = 0
            while slot in self._rk:
                slot += 1
        self._rk_created += 1
        record[RK_CREATED] = self._rk_created
        record[RK_EPOCH] = self._epoch
        check = self._save_rk(slot, record)
        self._rk[slot] = self._entry(self._prefix(rp_id_hash), record, check)
        return slot

    def rk_update(self, slot, record):
        """Rewrite an existing record in place (user information update)."""
        check = self._save_rk(slot, record)
        self._rk[slot] = self._entry(self._prefix(record[RK_RP_ID_HASH]), record, check)

    def rk_delete(self, slot):
        if self.damaged is not None:
            raise CtapError(STORE_DAMAGED_STATUS)
        self.changes += 1
        self._st.remove(self._rk_name(slot))
        self._rk.pop(slot, None)

    def rk_state(self):
        """16 bytes that change whenever a discoverable credential is created,
        replaced, updated or deleted, and with every reset; the same across
        power cycles while none is (CTAP 2.2 §6.4 encCredStoreState).

        A hash of the master secret (a reset changes it), then each slot
        in use and the check value of its record, in slot order, from the
        index alone: no record is read, and no extra flash write is made
        when credentials change. Runs over a 4-byte buffer, so its heap does
        not grow with the number of passkeys.
        """
        rk = self._rk
        top = -1
        for slot in rk:
            if slot > top:
                top = slot
        h = crypto.sha256_hasher(b"credStoreState")
        h.update(self.master_secret)
        buf = bytearray(5)
        for slot in range(top + 1):
            entry = rk.get(slot)
            if entry is not None:
                check = entry[4]
                buf[0] = slot >> 8
                buf[1] = slot & 0xFF
                buf[2] = check >> 16
                buf[3] = (check >> 8) & 0xFF
                buf[4] = check & 0xFF
                h.update(buf)
        return h.digest()[:16]

    # -- other records -----------------------------------------------------------------

    def load(self, name):
        return self._load(name)

    def save(self, name, obj):
        self._save(name, obj)

    def attestation(self):
        """(private key, [certificate DER, ...]) when provisioned, else None."""
        rec = self._load(REC_ATTESTATION)
        if isinstance(rec, dict) and ATT_PRIVATE_KEY in rec and rec.get(ATT_CERTIFICATES):
            return rec[ATT_PRIVATE_KEY], rec[ATT_CERTIFICATES]
        return None

    def enterprise_attestation(self):
        """(private key, [certificate DER, ...], [RP ID, ...]) when provisioned, else None.

        Like the batch attestation this identity belongs to the device and
        survives authenticatorReset; whether it may be used (getInfo "ep")
        is STATE_ENTERPRISE_ATTESTATION, which reset clears.
        """
        rec = self._load(REC_ENTERPRISE_ATTESTATION)
        if isinstance(rec, dict) and ATT_PRIVATE_KEY in rec and rec.get(ATT_CERTIFICATES):
            return rec[ATT_PRIVATE_KEY], rec[ATT_CERTIFICATES], rec.get(EATT_RP_IDS, [])
        return None

    # -- authenticatorReset ----------------------------------------------------------------

    def wipe(self):
        """Forget every credential, the PIN, the large blobs and the master secret.

        The batch attestation identity and the signature counter survive: the
        first belongs to the device model, the second must never go backwards.
        The one way out of a damaged store: it makes a new state (and, when
        no copy of the counter was readable and no limit was kept, restarts
        the counter -- no credential it could go back for survives a reset).
        """
        reserved = self._counter_reserved
        state = {STATE_VERSION: _STATE_FORMAT, STATE_MASTER_SECRET: crypto.random_bytes(32), STATE_WIPE_PENDING: True}
        if reserved is None:
            state[STATE_COUNTER_LIMIT] = 0  # the counter restarts (see _load_counter)
        else:
            limit = max(self._state.get(STATE_COUNTER_LIMIT, 0), reserved)
            if limit:
                state[STATE_COUNTER_LIMIT] = limit
        self.damaged = None
        # The reset commits in one atomic write: the new master secret (from
        # that instant every old credential ID is dead) marked "wipe pending".
        # If the power goes before the erasing below is done, boot finishes
        # it (_finish_wipe): without the mark, a cut here left the old
        # large-blob array readable on a key that had been reset.
        self._set_state(state)
        if reserved is None:
            self._save_twin(REC_COUNTER, {_COUNTER_RESERVED: 0})
            self._counter = self._counter_reserved = 0
        self._finish_wipe()

    def _finish_wipe(self):
        """Erase what a reset erases, then clear the mark (also run at boot)."""
        self.changes += 1
        for name in self._st.list():
            if name.startswith(_REC_RK) or name.startswith(REC_LARGE_BLOBS):
                self._st.remove(name)
        self._rk_map = {}
        self._rk_created = 0
        self.update({STATE_WIPE_PENDING: None})
