"""firmware/crypto.py's HMAC_DRBG (NIST SP 800-90A Rev. 1, SHA-256) and how the key uses it.

Known answers: the NIST CAVP HMAC_DRBG SHA-256 cases npm's `hmac-drbg`
package ships (test/fixtures/hmac-drbg-nist.json, read from tools/node's
node_modules, never copied here): instantiate + two generates, without and
with additional input. That file has no reseed and no personalization
case, and the DRBG's design has no prediction resistance (reseeds come on a
schedule), so the reseed and personalization paths are checked against
that package's own HMAC_DRBG, an independent implementation, run by Node.
Both run on CPython and on MicroPython (host_tests/mpy.py).

Then the key: every secret it makes comes from the DRBG (the board's
source is read only to seed and reseed), the flash seed keeps a board
source that repeats from repeating the key's randomness, a power cut at
every point of the seed refresh never repeats a state the key drew from,
and no code of boards/ or firmware/ reads os.urandom for a secret.
"""

import ast
import glob
import hashlib
import hmac
import json
import os
import random
import subprocess

import pytest

from boards.host.memory_storage import MemoryStorage
from firmware import crypto
from firmware import store as st
from mpy import REPO, run_micropython
from powercut import AFTER, Drbg, Key, PowerCut, PowerCutStorage, variants

NODE_DIR = os.path.join(REPO, "tools", "node")
FIXTURE = os.path.join(NODE_DIR, "node_modules", "hmac-drbg", "test", "fixtures", "hmac-drbg-nist.json")


def cavp_cases():
    if not os.path.exists(FIXTURE):
        pytest.fail("missing %s: run `make node-deps` (npm ci --prefix tools/node)" % os.path.relpath(FIXTURE, REPO))
    with open(FIXTURE) as f:
        cases = json.load(f)
    assert len(cases) == 30
    return cases


def _b(h):
    return bytes.fromhex(h) if h else b""


class Reference:
    """SP 800-90A HMAC_DRBG written from the spec with the standard library's hmac: the tests' oracle."""

    def __init__(self, entropy, nonce, pers=b""):
        self.k, self.v = bytes(32), b"\x01" * 32
        self.update(entropy + nonce + pers)

    def _mac(self, data):
        return hmac.new(self.k, data, hashlib.sha256).digest()

    def update(self, data=b""):
        self.k = self._mac(self.v + b"\x00" + data)
        self.v = self._mac(self.v)
        if data:
            self.k = self._mac(self.v + b"\x01" + data)
            self.v = self._mac(self.v)

    def reseed(self, entropy, add=b""):
        self.update(entropy + add)

    def generate(self, n, add=b""):
        if add:
            self.update(add)
        out = b""
        while len(out) < n:
            self.v = self._mac(self.v)
            out += self.v
        self.update(add)
        return out[:n]


# -- known answers ---------------------------------------------------------------------


def test_cavp_hmac_drbg_sha256_no_reseed():
    """Instantiate(entropy, nonce), Generate(add[0]), Generate(add[1]) = ReturnedBits."""
    cases = cavp_cases()
    with_add = 0
    for c in cases:
        drbg = crypto.HmacDrbg(_b(c["entropy"]), _b(c["nonce"]), _b(c["pers"]))
        n = len(c["expected"]) // 2
        assert n == 128  # ReturnedBitsLen 1024
        out = None
        for add in c["add"]:
            out = drbg.generate(n, _b(add))
        assert out.hex() == c["expected"], c["name"]
        assert drbg.reseed_counter == 3
        with_add += c["add"][0] is not None
        ref = Reference(_b(c["entropy"]), _b(c["nonce"]), _b(c["pers"]))
        for add in c["add"]:
            expect = ref.generate(n, _b(add))
        assert expect.hex() == c["expected"]  # the oracle below is right too
    assert with_add == 15  # AdditionalInputLen 0 and 256, 15 cases each


def _node_drbg(cases):
    """Outputs of npm hmac-drbg for [(entropy, nonce, pers, [step, ...])], step =
    ("gen", n, add) or ("reseed", entropy, add); hex in, hex out (one list per case)."""
    script = r"""
const HmacDRBG = require('hmac-drbg');
const hash = require('hash.js');
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(([entropy, nonce, pers, steps]) => {
  const d = new HmacDRBG({hash: hash.sha256, entropy, nonce, pers: pers || null,
                          entropyEnc: 'hex', nonceEnc: 'hex', persEnc: 'hex'});
  const got = [];
  for (const [kind, a, b] of steps) {
    if (kind === 'gen') got.push(d.generate(a, 'hex', b || undefined, 'hex'));
    else d.reseed(a, 'hex', b || undefined, 'hex');
  }
  return got;
});
process.stdout.write(JSON.stringify(out));
"""
    r = subprocess.run(["node", "-e", script], input=json.dumps(cases), capture_output=True, text=True, cwd=NODE_DIR, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def reseed_cases():
    """Personalization, reseeds with and without additional input, odd lengths: random, fixed seed."""
    rnd = random.Random(800_90)
    cases = []
    for i in range(40):
        h = lambda n: rnd.randbytes(n).hex()  # noqa: E731
        steps = []
        for _ in range(rnd.randint(1, 4)):
            if rnd.random() < 0.5:
                steps.append(["reseed", h(rnd.choice((24, 32, 48))), h(rnd.choice((0, 1, 32, 55)))])
            steps.append(["gen", rnd.choice((1, 16, 31, 32, 33, 64, 100, 256)), h(rnd.choice((0, 0, 32, 7)))])
        cases.append([h(rnd.choice((24, 32, 48))), h(rnd.choice((16, 32, 48))), h(rnd.choice((0, 8, 32, 55))), steps])
    return cases


def run_steps(drbg, steps):
    got = []
    for kind, a, b in steps:
        if kind == "gen":
            got.append(drbg.generate(a, bytes.fromhex(b)).hex())
        else:
            drbg.reseed(bytes.fromhex(a), bytes.fromhex(b))
    return got


def test_reseed_and_personalization_agree_with_npm_hmac_drbg():
    cases = reseed_cases()
    expected = _node_drbg(cases)
    assert sum(1 for c in cases for s in c[3] if s[0] == "reseed") > 20
    for case, want in zip(cases, expected):
        entropy, nonce, pers, steps = case
        drbg = crypto.HmacDrbg(bytes.fromhex(entropy), bytes.fromhex(nonce), bytes.fromhex(pers))
        assert run_steps(drbg, steps) == want, case
        ref = Reference(bytes.fromhex(entropy), bytes.fromhex(nonce), bytes.fromhex(pers))
        assert run_steps(ref, steps) == want


def test_the_drbg_runs_the_same_on_micropython():
    cases = cavp_cases()
    rcases = reseed_cases()
    expected = _node_drbg(rcases)
    lines = []
    for c in cases:
        adds = [a or "-" for a in c["add"]]
        lines.append(" ".join(["C", c["entropy"], c["nonce"], c["pers"] or "-", adds[0], adds[1], c["expected"]]))
    for (entropy, nonce, pers, steps), want in zip(rcases, expected):
        lines.append(" ".join(["R", entropy, nonce, pers or "-", json.dumps(steps).replace(" ", ""), ",".join(want)]))
    script = r"""
import binascii, json
from firmware import crypto
h = lambda s: b"" if s == "-" else binascii.unhexlify(s)
ok = 0
with open("/drbg_vectors.txt") as f:
    for line in f:
        p = line.split()
        d = crypto.HmacDrbg(h(p[1]), h(p[2]), h(p[3]))
        if p[0] == "C":
            d.generate(128, h(p[4]))
            got = binascii.hexlify(d.generate(128, h(p[5]))).decode()
            assert got == p[6], line
        else:
            got = []
            for kind, a, b in json.loads(p[4]):
                if kind == "gen":
                    got.append(binascii.hexlify(d.generate(a, h(b or "-"))).decode())
                else:
                    d.reseed(h(a), h(b or "-"))
            assert ",".join(got) == (p[5] if len(p) > 5 else ""), line
        ok += 1
print("DRBG-OK", ok)
"""
    out = run_micropython(script, extra_files={"/drbg_vectors.txt": "\n".join(lines) + "\n"}, timeout=300).stdout
    assert "DRBG-OK %d" % (len(cases) + len(rcases)) in out.splitlines()


def test_generate_asks_for_a_reseed_after_the_interval():
    drbg = crypto.HmacDrbg(bytes(32), bytes(16), reseed_interval=3)
    assert all(drbg.generate(8) is not None for _ in range(3))
    assert drbg.generate(8) is None  # SP 800-90A §10.1.2.5 step 1: reseed required
    drbg.reseed(bytes(32))
    assert drbg.reseed_counter == 1 and drbg.generate(8) is not None
    assert crypto.RESEED_INTERVAL <= 2**48
    with pytest.raises(ValueError):
        drbg.generate(crypto.MAX_REQUEST_BYTES + 1)


# -- the facade ----------------------------------------------------------------------------


class Source:
    """A board's entropy source that records what it was asked for (deterministic bytes)."""

    def __init__(self, tag=b"board"):
        self.drbg = Drbg(tag)
        self.calls = []

    def __call__(self, n):
        out = self.drbg(n)
        self.calls.append(out)
        return out


@pytest.fixture
def keep_rng():
    saved = crypto._rng
    yield
    crypto._rng = saved


def test_random_bytes_are_the_drbg_output_never_the_board_source(keep_rng):
    source = Source()
    crypto.set_rng(source, b"chip id")
    seed = crypto.seed_rng(b"S" * 32)
    (drawn,) = source.calls
    assert len(drawn) == 48  # entropy_input 32, nonce 16: one call
    ref = Reference(drawn[:32], drawn[32:] + b"S" * 32, b"chip id")
    assert seed == ref.generate(32)
    pool = ref.generate(crypto.POOL_SIZE)
    got = b"".join(crypto.random_bytes(n) for n in (32, 40, 16, 1, 31))
    assert got == pool[: len(got)]
    assert crypto.random_bytes(crypto.POOL_SIZE - len(got)) == pool[len(got) :]
    # the pool is used up: the next take is a new generate call
    assert crypto.random_bytes(8) == ref.generate(crypto.POOL_SIZE)[:8]
    assert len(source.calls) == 1  # the board was read once, to seed
    # what was handed out is gone from RAM
    assert bytes(crypto._rng.pool[:8]) == bytes(8)


def test_the_pool_is_refilled_between_requests_and_reseeded_on_schedule(keep_rng):
    source = Source()
    crypto.set_rng(source)
    crypto.seed_rng(b"")
    ref = Reference(source.calls[0][:32], source.calls[0][32:])
    ref.generate(32)
    crypto.refill_random_pool()  # empty after seeding: filled
    first = ref.generate(crypto.POOL_SIZE)
    crypto.refill_random_pool()  # nothing taken: nothing to do
    assert crypto.random_bytes(16) == first[:16]
    generates = 2  # the seed, the first pool
    while generates < crypto.RESEED_INTERVAL:
        crypto.refill_random_pool()
        expect = ref.generate(crypto.POOL_SIZE)
        generates += 1
        assert crypto.random_bytes(16) == expect[:16]
    assert len(source.calls) == 1
    crypto.refill_random_pool()  # the interval is over: the board is read again
    assert len(source.calls) == 2 and len(source.calls[1]) == 32
    ref.reseed(source.calls[1])
    assert crypto.random_bytes(16) == ref.generate(crypto.POOL_SIZE)[:16]


def test_a_large_request_is_generated_directly(keep_rng):
    crypto.set_rng(Source())
    crypto.seed_rng(b"")
    assert len(crypto.random_bytes(crypto.POOL_SIZE + 1)) == crypto.POOL_SIZE + 1


def test_random_bytes_without_a_source_is_an_error(keep_rng):
    crypto._rng = None
    with pytest.raises(ValueError):
        crypto.random_bytes(1)
    with pytest.raises(ValueError):
        crypto.seed_rng(b"")


# -- the key's secrets ---------------------------------------------------------------------------


def _host_key(storage, source):
    from boards.host.board import FakeClock, HostBoard, Presence
    from boards.host.transport import MemoryTransport
    from firmware.authenticator import Authenticator

    board = HostBoard(MemoryTransport(), storage=storage, presence=Presence("auto"), clock=FakeClock())
    board.random = source
    return Authenticator(board)


def test_every_secret_of_the_key_comes_from_the_drbg(keep_rng):
    from fido2.ctap2 import ClientPin
    from powercut import InProcessDevice
    from fido2.ctap2 import Ctap2
    from fido2.ctap1 import Ctap1

    source = Source()
    storage = MemoryStorage()
    auth = _host_key(storage, source)
    # Boot: the board was read once (48 bytes) to seed; the master secret is DRBG output.
    assert [len(c) for c in source.calls] == [48]
    drawn = source.calls[0]
    ref = Reference(drawn[:32], drawn[32:], b"pyfido virtual key")
    next_seed = ref.generate(32)
    assert st.decode_record(storage.read(st.REC_SEED)) == {st.SEED_VALUE: next_seed}
    pool = ref.generate(crypto.POOL_SIZE)
    assert auth.store.master_secret == pool[:32]
    # Then the key makes credential keys, IVs, ECDSA nonces, key-agreement
    # keys, pinUvAuthTokens, U2F keys, a new master secret (reset): the board
    # is never read again, and no secret holds bytes the board gave.
    ctap = Ctap2(InProcessDevice(auth))
    cdh = bytes(32)
    mc = ctap.make_credential(cdh, {"id": "example.com"}, {"id": b"u"}, [{"type": "public-key", "alg": -7}])
    pin = ClientPin(ctap)
    pin.set_pin("12345678")
    token = pin.get_pin_token("12345678", ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    u2f = Ctap1(InProcessDevice(auth)).register(cdh, crypto.sha256(b"app"))
    cred = auth.wrapper.unwrap(mc.auth_data.rp_id_hash, mc.auth_data.credential_data.credential_id)
    secrets = [
        auth.store.master_secret,
        cred.private_key,
        mc.auth_data.credential_data.credential_id[1:17],  # its IV
        token,
        auth.pin_uv.protocol(2)._private_key,  # the key-agreement key set_pin used
        auth.pin_uv.protocol(1).pin_uv_auth_token,
        u2f.key_handle[1:17],
    ]
    assert all(len(s) >= 16 for s in secrets)
    auth.reset_state()
    secrets.append(auth.store.master_secret)
    assert [len(c) for c in source.calls] == [48]
    for s in secrets:
        for chunk in (s[i : i + 8] for i in range(0, len(s) - 7)):
            assert chunk not in drawn


def test_a_board_source_that_repeats_does_not_repeat_the_key(keep_rng):
    """The same board bytes at every boot (a weak source): the flash seed still makes each boot new."""
    storage = MemoryStorage()
    outputs = []
    seeds = []
    for _ in range(4):
        _host_key(storage, Drbg(b"the same every boot"))
        seeds.append(storage.read(st.REC_SEED))
        outputs.append(crypto.random_bytes(64))
    # Without the flash seed every boot after the first (which also drew the
    # master secret) would hand out the same bytes.
    assert len(set(outputs)) == 4 and len(set(seeds)) == 4


def test_the_seed_is_committed_before_the_first_secret():
    storage = PowerCutStorage()
    Key(storage, seed=b"first boot")
    assert [op[:2] for op in storage.log[:3]] == [
        ("write", st.REC_SEED + ".new"),
        ("rename", st.REC_SEED),
        ("write", st.REC_STATE + ".new"),  # the master secret
    ]


def test_a_damaged_seed_counts_as_none(keep_rng):
    storage = MemoryStorage()
    _host_key(storage, os.urandom)
    bad = bytearray(storage.read(st.REC_SEED))
    bad[3] ^= 1
    storage.write(st.REC_SEED, bytes(bad))
    _host_key(storage, os.urandom)  # boots, and writes a good seed again
    assert isinstance(st.decode_record(storage.read(st.REC_SEED)), dict)


class _StateLog:
    """Every DRBG state (K, V) a generate call starts from, with the size it generated."""

    def __init__(self, monkeypatch):
        self.states = []
        real = crypto.HmacDrbg.generate_into

        def generate_into(drbg, out, additional_input=None):
            self.states.append((drbg.k, drbg.v, len(out)))
            return real(drbg, out, additional_input)

        monkeypatch.setattr(crypto.HmacDrbg, "generate_into", generate_into)

    def mark(self):
        return len(self.states)


def _boot_and_use(files, fat, log, cut=None):
    """Boot on `files` with the same board source as every other boot; with the
    key up, draw from it. Returns (survived files, what the boot generated)."""
    storage = PowerCutStorage(files, fat)
    start = log.mark()
    if cut is not None:
        storage.arm(*cut)
    try:
        key = Key(storage, seed=b"a board whose source repeats")
        key.ctap2.make_credential(bytes(32), {"id": "example.com"}, {"id": b"u"}, [{"type": "public-key", "alg": -7}])
    except PowerCut:
        assert cut is not None
    return dict(storage.files), log.states[start:]


@pytest.mark.parametrize("fat", [False, True])
@pytest.mark.parametrize("first_boot", [True, False])
def test_a_power_cut_in_the_seed_refresh_never_repeats_a_used_state(monkeypatch, keep_rng, fat, first_boot):
    """Cut every flash operation of a boot (the seed refresh, and a first boot's
    master secret after it), boot again, draw: no DRBG state the key drew
    from ever comes back. Only the state that drew the seed may recur, in the
    boot after one cut before its seed was committed -- which drew nothing else.
    """
    log = _StateLog(monkeypatch)
    files0 = {}
    history = []
    if not first_boot:
        files0, states = _boot_and_use({}, fat, log)
        history.append(states)
    dry = PowerCutStorage(files0, fat)
    Key(dry, seed=b"a board whose source repeats")
    ops = dry.log
    assert ops[0][:2] == ("write", st.REC_SEED + ".new")
    cuts = [(k, v) for k, op in enumerate(ops) for v in variants(op)] + [(len(ops) - 1, AFTER)]
    assert len(cuts) >= 5
    for cut in cuts:
        files, cut_states = _boot_and_use(files0, fat, log, cut)
        files, next_states = _boot_and_use(files, fat, log)
        files, last_states = _boot_and_use(files, fat, log)
        boots = history + [cut_states, next_states, last_states]
        used = [(k, v) for states in boots for k, v, n in states if n != crypto.SEED_LENGTH]
        assert len(used) == len(set(used)), "cut %r: a DRBG state the key drew from came back" % (cut,)
        seeds = [(k, v) for states in boots for k, v, n in states if n == crypto.SEED_LENGTH]
        assert not set(seeds) & set(used)
        for k, v in set(seeds):
            drew = [states for states in boots if any(s[:2] == (k, v) for s in states)]
            if len(drew) > 1:
                # drawn again only after a boot cut before it committed the
                # seed, which drew nothing else
                assert len(drew) == 2 and drew[0] is cut_states and len(cut_states) == 1, cut


# -- no secret straight from os.urandom -------------------------------------------------------


# The only places boards/ and firmware/ may name urandom: a board's entropy
# source, which the core's DRBG seeds and reseeds from (firmware/crypto.py).
URANDOM_ALLOWED = {
    ("boards/micropython/app.py", "_urandom"),
    ("boards/circuitpython/app.py", "_urandom"),
    ("boards/host/board.py", "random"),
    ("boards/common/provision_device.py", "_set_rng"),  # crypto.set_rng(os.urandom, ...)
    ("boards/common/selftest.py", "run"),  # the throwaway key's source: Authenticator(_Board(os.urandom))
}


class _UrandomUses(ast.NodeVisitor):
    """(file, innermost function) of every `urandom` a file names ("<module>" at top level)."""

    def __init__(self, rel):
        self.rel = rel
        self.stack = ["<module>"]
        self.found = set()

    def visit_FunctionDef(self, node):
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    def visit_Attribute(self, node):
        if node.attr == "urandom":
            self.found.add((self.rel, self.stack[-1]))
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id == "urandom":
            self.found.add((self.rel, self.stack[-1]))

    def visit_alias(self, node):
        if node.name == "urandom":
            self.found.add((self.rel, self.stack[-1]))


def test_no_code_reads_urandom_except_as_a_board_source():
    found = set()
    paths = glob.glob(os.path.join(REPO, "boards", "**", "*.py"), recursive=True)
    paths += glob.glob(os.path.join(REPO, "firmware", "**", "*.py"), recursive=True)
    for path in sorted(paths):
        uses = _UrandomUses(os.path.relpath(path, REPO))
        with open(path) as f:
            uses.visit(ast.parse(f.read()))
        found |= uses.found
    assert found == URANDOM_ALLOWED


def test_provisioning_makes_the_master_secret_with_the_drbg(tmp_path, monkeypatch, keep_rng):
    """tools/provision.py's on-board half (init, attestation_keygen) on the board's os.urandom."""
    from boards.common import provision_device, settings

    calls = []

    def urandom(n):
        calls.append(n)
        return bytes(n)  # the worst board source: the DRBG's state still comes from the flash seed

    monkeypatch.setattr(provision_device.os, "urandom", urandom)
    monkeypatch.setattr(settings, "load", lambda defaults: {"store": str(tmp_path / "pyfido"), "max_resident_credentials": 8})
    provision_device.init()
    storage = provision_device._storage()
    master = st.decode_twin(storage.read(st.REC_STATE))[0][st.STATE_MASTER_SECRET]
    assert calls == [48] and master != bytes(32)
    ref = Reference(bytes(32), bytes(16), b"")
    ref.generate(32)
    assert master == ref.generate(crypto.POOL_SIZE)[:32]
    seed = storage.read(st.REC_SEED)
    provision_device.attestation_keygen()
    assert storage.read(st.REC_SEED) != seed  # a boot's seeding: the key pair is not the first boot's again
    pending = st.decode_record(storage.read("att.pending"))[1]
    assert pending != master and calls == [48, 48]


def test_a_flash_too_full_for_the_seed_still_boots(keep_rng):
    """ENOSPC on the seed's write: the old seed stays, nothing half-written is left, the key starts."""
    import errno

    class Full(MemoryStorage):
        def write(self, name, data):
            if name == st.REC_SEED + ".new":
                super().write(name, data[:3])  # what a full flash may leave
                raise OSError(errno.ENOSPC, "no space")
            super().write(name, data)

    storage = MemoryStorage()
    _host_key(storage, os.urandom)
    full = Full()
    full.files = dict(storage.files)
    old_seed = full.read(st.REC_SEED)
    auth = _host_key(full, os.urandom)
    assert full.read(st.REC_SEED) == old_seed and st.REC_SEED + ".new" not in full.list()
    assert auth.store.master_secret == _host_key(storage, os.urandom).store.master_secret
    broken = Full()
    broken.write = lambda name, data: (_ for _ in ()).throw(OSError(errno.EIO, "flash error"))
    with pytest.raises(OSError):
        _host_key(broken, os.urandom)  # any other error is not hidden
