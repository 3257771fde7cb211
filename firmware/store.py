"""Persistent state of the key, power-loss safe, over the board's `storage`.

Every record is CBOR followed by an 8-byte SHA-256 check value and is
written as `<name>.new`, then renamed over `<name>`. A power cut at any
instant leaves the old record or the new one: at boot a `.new` that checks
out is rolled forward (the cut came after it was complete), a torn one is
deleted. Nothing else ever writes a record in place.

Record ids (names in board.storage) and what a missing record means:
"""

from micropython import const

import cbor
from firmware import crypto
from firmware.status import CtapError, CTAP2_ERR_KEY_STORE_FULL

_ENOSPC = const(28)  # the OSError errno of a full filesystem (littlefs LFS_ERR_NOSPC, FAT, POSIX)

REC_STATE = "state"  # factory state: fresh master secret, no PIN, defaults
REC_COUNTER = "ctr"  # the signature counter has never been used: it starts at 0
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
STATE_MIN_PIN_LENGTH_RPIDS = const(8)
STATE_ENTERPRISE_ATTESTATION = const(9)
# Set with the new master secret by wipe(); present = a reset was cut short
# after it committed, and boot finishes erasing what the reset erases.
STATE_WIPE_PENDING = const(10)
_STATE_FORMAT = const(1)

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


class Store:
    """The key's persistent state.

    :param storage: the board's storage (read/write/rename/remove/list)
    :param max_resident: capacity for discoverable credentials
    :param index: read every passkey record now (and drop stale ones), as
        boot always did; False defers that to the first use of the index --
        firmware/main_loop.Starting opens the store before the key answers
        its first CTAPHID INIT, and with hundreds of passkeys that read
        takes seconds.
    """

    # Goes up with every write or removal of a record: what is derived from
    # the store (getInfo's answer, Authenticator.get_info_response) is fresh
    # while it is unchanged.
    changes = 0

    def __init__(self, storage, max_resident, index=True):
        self._st = storage
        self.max_resident = max_resident
        self._recover()
        refresh_seed(storage)  # before anything draws randomness (the master secret of a first boot)
        self._load_state()
        if self._state.get(STATE_WIPE_PENDING):
            self._finish_wipe()
        self._load_counter()
        self._rk_map = None
        self._rk_created = 0
        if index:
            self._index_rk()

    # -- records ---------------------------------------------------------------

    def _recover(self):
        for name in self._st.list():
            if name.endswith(_TMP):
                if decode_record(self._st.read(name)) is not None:
                    self._st.rename(name, name[: -len(_TMP)])
                else:
                    self._st.remove(name)
            elif name == _OLD_REC_U2F_ATTESTATION:
                self._st.remove(name)

    def _save(self, name, obj):
        self.changes += 1
        data = encode_record(obj)
        if len(data) > RK_MAX_RECORD and name.startswith(_REC_RK):
            raise CtapError(CTAP2_ERR_KEY_STORE_FULL)  # larger than the capacity is proven for
        self._st.write(name + _TMP, data)
        self._st.rename(name + _TMP, name)

    def _save_rk(self, slot, record):
        """Write a discoverable credential; no room (by size or on flash) is KEY_STORE_FULL."""
        name = self._rk_name(slot)
        try:
            self._save(name, record)
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

    # -- the state record --------------------------------------------------------

    def _load_state(self):
        state = self._load(REC_STATE)
        if not isinstance(state, dict) or STATE_MASTER_SECRET not in state:
            state = {STATE_VERSION: _STATE_FORMAT, STATE_MASTER_SECRET: crypto.random_bytes(32)}
            self._save(REC_STATE, state)
        self._state = state
        # Records made under an earlier master secret (a reset cut short by a
        # power cut) are recognised by this tag and dropped at boot.
        self._epoch = crypto.sha256(b"rk-epoch" + state[STATE_MASTER_SECRET])[:4]

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
        self._save(REC_STATE, state)
        self._state = state

    @property
    def master_secret(self):
        return self._state[STATE_MASTER_SECRET]

    @property
    def epoch(self):
        """A tag of the current master secret: records made before a reset carry another."""
        return self._epoch

    # -- signature counter ---------------------------------------------------------

    def _load_counter(self):
        rec = self._load(REC_COUNTER)
        reserved = rec.get(1, 0) if isinstance(rec, dict) else 0
        # Every value up to `reserved` may have been handed out before the
        # power went: continue above it.
        self._counter = reserved
        self._counter_reserved = reserved

    def next_sign_count(self):
        """The next signature counter value: strictly increasing, across power cuts."""
        value = self._counter + 1
        if value > self._counter_reserved:
            # Persist the reservation *before* the value is used.
            self._save(REC_COUNTER, {1: value + COUNTER_STEP - 1})
            self._counter_reserved = value + COUNTER_STEP - 1
        self._counter = value
        return value

    # -- discoverable credentials ------------------------------------------------------

    @property
    def _rk(self):
        if self._rk_map is None:
            self._index_rk()
        return self._rk_map

    def _index_rk(self):
        # RAM index: slot -> (first 8 bytes of rpIdHash, creation number). Full
        # records are read only for the slots of the RP at hand. Records of an
        # earlier master secret (a reset cut short) are dropped here.
        index = {}
        self._rk_created = 0
        for name in self._st.list():
            if name.startswith(_REC_RK) and not name.endswith(_TMP):
                try:
                    slot = int(name[len(_REC_RK) :])
                except ValueError:
                    continue
                rec = self._load(name)
                if not isinstance(rec, dict) or rec.get(RK_EPOCH) != self._epoch:
                    self._st.remove(name)  # torn by nothing we know of, or pre-reset
                    continue
                if RK_RP_ID_HASH in rec:
                    created = rec.get(RK_CREATED, 0)
                    index[slot] = (bytes(rec[RK_RP_ID_HASH][:8]), created)
                    if created > self._rk_created:
                        self._rk_created = created
        self._rk_map = index

    @staticmethod
    def _rk_name(slot):
        return _RK_NAME % slot

    def rk_count(self):
        return len(self._rk)

    def rk_remaining(self):
        return max(0, self.max_resident - len(self._rk))

    def rk_slots(self, rp_id_hash=None):
        """Slots of the discoverable credentials (of one RP), newest first."""
        prefix = None if rp_id_hash is None else bytes(rp_id_hash[:8])
        slots = [s for s in self._rk if prefix is None or self._rk[s][0] == prefix]
        slots.sort(key=lambda s: self._rk[s][1], reverse=True)
        return slots

    def rk_load(self, slot):
        rec = self._load(self._rk_name(slot))
        return rec if isinstance(rec, dict) else None

    def rk_find_user(self, rp_id_hash, user_id):
        for slot in self.rk_slots(rp_id_hash):
            rec = self.rk_load(slot)
            if rec and rec[RK_RP_ID_HASH] == rp_id_hash and rec[RK_USER_ID] == user_id:
                return slot
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
        self._save_rk(slot, record)
        self._rk[slot] = (bytes(rp_id_hash[:8]), self._rk_created)
        return slot

    def rk_update(self, slot, record):
        """Rewrite an existing record in place (user information update)."""
        self._save_rk(slot, record)

    def rk_delete(self, slot):
        self.changes += 1
        self._st.remove(self._rk_name(slot))
        self._rk.pop(slot, None)

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
        """
        # The reset commits in one atomic write: the new master secret (from
        # that instant every old credential ID is dead) marked "wipe pending".
        # If the power goes before the erasing below is done, boot finishes
        # it (_finish_wipe): without the mark, a cut here left the old
        # large-blob array readable on a key that had been reset.
        self._save(
            REC_STATE,
            {STATE_VERSION: _STATE_FORMAT, STATE_MASTER_SECRET: crypto.random_bytes(32), STATE_WIPE_PENDING: True},
        )
        self._load_state()
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
