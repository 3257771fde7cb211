"""The one crypto facade of the core: P-256, Ed25519, SHA-256, HMAC, AES-256-CBC, randomness.

Backends, chosen once at import and the same on every board:
  p256        lib/p256 in C -- frozen into firmware, a native .mpy on stock
              firmware, a CPython extension on the host board
  ed25519     lib/ed25519 in C, built the same three ways -- optional: a
              firmware without it (stock MicroPython with only p256.mpy, the
              WebAssembly port) has HAS_ED25519 false, and the key then
              neither advertises nor makes EdDSA credentials
              (firmware/credential.py ALGORITHMS)
  hashlib     SHA-256 (MicroPython, CircuitPython and CPython all have it;
              CircuitPython's offers it only as hashlib.new("sha256", data))
  cryptolib   AES (MicroPython's `cryptolib`/`ucryptolib`; on CPython the shim
              in lib/cryptolib.py); CircuitPython's `aesio` is used where
              `cryptolib` is missing

Randomness: every secret the key makes (master secret, credential keys,
key-agreement keys, pinUvAuthTokens, IVs, ECDSA nonces, U2F material) comes
from an HMAC_DRBG (NIST SP 800-90A Rev. 1 §10.1.2, SHA-256), never from the
board's source directly and never from `random`:

  set_rng(source, personalization)  the board's entropy source, fn(n) -> n bytes,
                 and its personalization string (the chip's unique id)
  seed_rng(flash_seed)  at every boot (firmware/store.py, before anything
                 else draws): instantiate with
                   entropy_input          32 bytes of the board's source
                   nonce                  16 more bytes of it || the seed
                                          kept in flash (none on a first boot)
                   personalization_string the chip's unique id
                 and return the next flash seed, drawn from the new state;
                 the store writes it before the key answers anything, so a
                 boot whose board source repeats an earlier boot's still
                 starts from a state never used before
  random_bytes(n)  DRBG output. A board's source is reseeded into the DRBG
                 every RESEED_INTERVAL generate calls (SP 800-90A allows
                 2**48) and at every boot. Until seed_rng runs (tests, tools
                 that never open a store) the DRBG is instantiated from the
                 source alone at the first use.
  defer_seed(seeder)  seed_rng at the first draw instead of now: a key that
                 has just been plugged in answers its first INIT first
                 (firmware/main_loop.py Starting, store.Store(seed=False))
  refill_random_pool()  between requests (firmware/main_loop.py): outputs
                 are generated POOL_SIZE bytes at a time into a pool that
                 requests take from, so a request's heap carries no DRBG
                 work; each byte is zeroed in the pool as it is handed out
                 (what was handed out cannot be read back from RAM).
"""

import hashlib

from micropython import const

import p256

try:
    import ed25519
except ImportError:
    ed25519 = None

# Ed25519 signing is there (the C module is in the firmware, or loaded).
HAS_ED25519 = ed25519 is not None

try:
    import cryptolib as _aes_mod
except ImportError:
    try:
        import ucryptolib as _aes_mod
    except ImportError:
        _aes_mod = None
        import aesio  # CircuitPython

_CBC = 2  # cryptolib mode number for CBC
_BLOCK = 64  # SHA-256 block size, for HMAC

try:
    _sha256 = hashlib.sha256
except AttributeError:  # CircuitPython: new(name, data) is its hashlib's only constructor

    def _sha256(data=b""):
        return hashlib.new("sha256", data)


# -- hashing ----------------------------------------------------------------


def sha256(data):
    return _sha256(data).digest()


def sha256_hasher(data=b""):
    """A SHA-256 object to update() piece by piece, then digest()."""
    return _sha256(data)


# RFC 2104's ipad and opad, a block each: a padded key starts as one of these
# and only its first len(key) bytes are XORed (the rest of K0 is zeros).
_IPAD = b"\x36" * _BLOCK
_OPAD = b"\x5c" * _BLOCK


def _xor_key_into(pad, key):
    for i in range(len(key)):
        pad[i] ^= key[i]


# The padded key of hmac_sha256, one block for every call (nothing calls it
# while it runs: no HMAC in an interrupt). It holds the key XORed with a
# constant only while a MAC is made, then is set back to the constant: a
# padded key made per call was left in the freed heap instead.
_PAD = bytearray(_BLOCK)


def hmac_sha256(key, *message):
    """RFC 2104 HMAC over SHA-256 of message, given as one or more parts.

    The parts are MACed as their concatenation without being joined in
    memory: hmac_sha256(k, a, b) == hmac_sha256(k, a + b). On MicroPython
    this costs two hash objects and their two digests (the padded key is a
    block kept for it: 80 bytes less per MAC, five of them in an hmac-secret
    getAssertion); the Python loops run over the key's bytes only (32 for
    every key here), not the whole block twice. A key used again and again
    is an HmacKey instead.
    """
    if len(key) > _BLOCK:
        key = sha256(key)
    pad = _PAD
    try:
        pad[:] = _IPAD  # the same length: copied in place
        _xor_key_into(pad, key)
        inner = _sha256(pad)
        for part in message:
            inner.update(part)
        pad[:] = _OPAD
        _xor_key_into(pad, key)
        outer = _sha256(pad)
    finally:
        pad[:] = _OPAD  # no trace of the key left in it, whatever happened
    outer.update(inner.digest())
    return outer.digest()


class HmacKey:
    """HMAC-SHA-256 under one key, used again and again: its padded blocks are made once.

    mac(*message) == hmac_sha256(key, *message), without a loop in Python
    (the padding loops were 1.8 ms of an HMAC at 125 MHz on a Cortex-M0+).
    """

    def __init__(self, key):
        if len(key) > _BLOCK:
            key = sha256(key)
        pad = bytearray(_IPAD)
        _xor_key_into(pad, key)
        self._ipad = bytes(pad)
        pad[:] = _OPAD
        _xor_key_into(pad, key)
        self._opad = bytes(pad)

    def mac(self, *message):
        inner = _sha256(self._ipad)
        for part in message:
            inner.update(part)
        outer = _sha256(self._opad)
        outer.update(inner.digest())
        return outer.digest()


def hkdf_sha256(salt, ikm, info, length):
    """RFC 5869 HKDF-SHA-256: Extract, then Expand."""
    return hkdf_expand_sha256(hmac_sha256(salt, ikm), info, length)


def hkdf_expand_sha256(prk, info, length):
    """RFC 5869 HKDF-Expand with SHA-256 (CTAP only needs length <= 32: one block)."""
    t = hmac_sha256(prk, info, b"\x01")
    if length <= len(t):
        return t if length == len(t) else t[:length]
    out = t
    i = 2
    while len(out) < length:
        t = hmac_sha256(prk, t, info, bytes((i,)))
        out += t
        i += 1
    return out[:length]


def ct_equal(a, b):
    """Constant-time comparison (time depends only on the lengths)."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


# -- randomness: HMAC_DRBG (NIST SP 800-90A Rev. 1 §10.1.2) with SHA-256 ----------

_OUTLEN = const(32)  # SHA-256 output: the DRBG's block
# Bytes per generate call: SP 800-90A Table 2, max_number_of_bits_per_request 2**19.
MAX_REQUEST_BYTES = const(65536)
# Generate calls between two reseeds from the board's source (SP 800-90A
# Table 2 allows up to 2**48). The pool is refilled by one call after each
# request that drew from it, so this is a reseed every few hundred requests
# and at least every 64 KiB of output.
RESEED_INTERVAL = const(256)
_ENTROPY_INPUT = const(32)  # security strength 256 bits (SP 800-90A §10.1 Table 2)
_NONCE = const(16)  # at least half the security strength (§8.6.7)
SEED_LENGTH = const(32)  # the seed kept in flash (firmware/store.py)
# Pool of DRBG output requests take from. The largest request takes 136
# bytes (U2F_REGISTER: key pair 40, IV 16, certificate serial 16, two
# ECDSA nonces 32 each); one that needs more than is left refills inline.
POOL_SIZE = const(256)


class HmacDrbg:
    """NIST SP 800-90A Rev. 1 HMAC_DRBG with SHA-256, security strength 256 bits.

    No prediction resistance (no entropy per request): the facade reseeds
    it from the board's source on a schedule (reseed_interval generate
    calls) and instantiates it anew at every boot. Inputs are bytes-like;
    None stands for the spec's Null.

    :ivar reseed_counter: generate calls since the last (re)seed, plus one.
    """

    def __init__(self, entropy_input, nonce, personalization_string=b"", reseed_interval=RESEED_INTERVAL):
        # §10.1.2.3 Instantiate: Key = 0x00 00...00, V = 0x01 01...01,
        # (Key, V) = Update(entropy_input || nonce || personalization_string).
        self._key = HmacKey(bytes(_OUTLEN))
        self.v = b"\x01" * _OUTLEN
        self._update(entropy_input, nonce, personalization_string)
        self.reseed_counter = 1
        self.reseed_interval = reseed_interval

    def _update(self, *provided_data):
        """§10.1.2.2 HMAC_DRBG_Update over the concatenation of provided_data."""
        key = self._key
        v = self.v
        k = key.mac(v, b"\x00", *provided_data)
        key = HmacKey(k)
        v = key.mac(v)
        provided = False
        for part in provided_data:
            if part:
                provided = True
        if provided:
            k = key.mac(v, b"\x01", *provided_data)
            key = HmacKey(k)
            v = key.mac(v)
        self.k = k  # kept for the tests that compare states; the HmacKey is what is used
        self._key = key
        self.v = v

    def reseed(self, entropy_input, additional_input=None):
        """§10.1.2.4: (Key, V) = Update(entropy_input || additional_input)."""
        self._update(entropy_input, additional_input or b"")
        self.reseed_counter = 1

    def generate_into(self, out, additional_input=None):
        """§10.1.2.5 Generate, len(out) bytes into out (a bytearray or memoryview).

        Returns False, and generates nothing, when a reseed is required
        (step 1: reseed_counter > reseed_interval).
        """
        n = len(out)
        if n > MAX_REQUEST_BYTES:
            raise ValueError("DRBG request too long")
        if self.reseed_counter > self.reseed_interval:
            return False
        # 2. If additional_input != Null: (Key, V) = Update(additional_input, Key, V)
        if additional_input:
            self._update(additional_input)
        else:
            additional_input = b""
        # 3.-5. temp = V = HMAC(Key, V), ... until len(temp) >= requested bits
        key = self._key
        v = self.v
        i = 0
        while i < n:
            v = key.mac(v)
            m = n - i
            if m >= _OUTLEN:
                out[i : i + _OUTLEN] = v
                i += _OUTLEN
            else:
                out[i:n] = v[:m]
                i = n
        self.v = v
        # 6. (Key, V) = Update(additional_input, Key, V)  7. reseed_counter += 1
        self._update(additional_input)
        self.reseed_counter += 1
        return True

    def generate(self, n, additional_input=None):
        """n bytes (None when a reseed is required): generate_into a new buffer."""
        out = bytearray(n)
        if not self.generate_into(out, additional_input):
            return None
        return bytes(out)


class _Random:
    """The key's DRBG, its board source and its pool (see the module docstring)."""

    def __init__(self, source, personalization):
        self.source = source
        self.personalization = bytes(personalization or b"")
        self.drbg = None
        self.pool = bytearray(POOL_SIZE)
        self._view = memoryview(self.pool)  # made once: a take slices it without another view
        self.taken = POOL_SIZE  # bytes of the pool handed out: all, it is empty
        self.seeder = None  # defer_seed: what instantiates the DRBG at its first draw

    def instantiate(self, flash_seed):
        drawn = self.source(_ENTROPY_INPUT + _NONCE)  # one call: the ESP32-S3's source turns its radio on for it
        if len(drawn) != _ENTROPY_INPUT + _NONCE:
            raise ValueError("board random source")
        self.drbg = HmacDrbg(drawn[:_ENTROPY_INPUT], drawn[_ENTROPY_INPUT:] + flash_seed, self.personalization)
        self._empty_pool()

    def generate_into(self, out):
        if self.drbg is None:
            seeder = self.seeder
            if seeder is not None:
                self.seeder = None
                seeder()  # seed_rng: instantiated with the flash seed
            if self.drbg is None:
                self.instantiate(b"")
        if not self.drbg.generate_into(out):
            entropy_input = self.source(_ENTROPY_INPUT)
            if len(entropy_input) != _ENTROPY_INPUT:
                raise ValueError("board random source")
            self.drbg.reseed(entropy_input)
            self.drbg.generate_into(out)

    def _empty_pool(self):
        pool = self.pool
        for i in range(POOL_SIZE):
            pool[i] = 0
        self.taken = POOL_SIZE

    def refill(self):
        self.generate_into(self.pool)
        self.taken = 0

    def take(self, n):
        if n > POOL_SIZE:
            out = bytearray(n)
            self.generate_into(out)
            return bytes(out)
        at = self.taken
        if POOL_SIZE - at < n:
            self.refill()
            at = 0
        pool = self.pool
        out = bytes(self._view[at : at + n])
        for i in range(at, at + n):
            pool[i] = 0
        self.taken = at + n
        return out


_rng = None


def set_rng(source, personalization=b""):
    """Install the board's entropy source, fn(n) -> n bytes, and its personalization string.

    A new DRBG, instantiated by seed_rng (or from the source alone at its
    first use).
    """
    global _rng
    _rng = _Random(source, personalization)


def seed_rng(flash_seed):
    """Instantiate the DRBG for this boot; returns the next flash seed, drawn from it.

    flash_seed: the seed the last boot left in flash (b"" on the first boot).
    """
    if _rng is None:
        raise ValueError("no random source: crypto.set_rng(board.random) first")
    _rng.instantiate(bytes(flash_seed))
    seed = bytearray(SEED_LENGTH)
    _rng.generate_into(seed)
    return bytes(seed)


def defer_seed(seeder):
    """Have seeder() -- which calls seed_rng -- run at the DRBG's first draw,
    unless seed_rng ran before (firmware/store.py: Store(seed=False))."""
    if _rng is None:
        raise ValueError("no random source: crypto.set_rng(board.random) first")
    if _rng.drbg is None:
        _rng.seeder = seeder


def random_bytes(n):
    """n bytes of DRBG output."""
    if _rng is None:
        raise ValueError("no random source: crypto.set_rng(board.random) first")
    return _rng.take(n)


def refill_random_pool():
    """Between requests: generate a full pool again if a request drew from it."""
    rng = _rng
    # A DRBG not instantiated yet is left alone: its seeding (with the flash
    # seed's write) waits for the key's first need, not the first idle turn.
    if rng is not None and rng.taken and rng.drbg is not None:
        rng.refill()


# -- AES-256-CBC (no padding: callers pass whole blocks) ----------------------


def aes256_cbc_encrypt(key, iv, data):
    if _aes_mod is not None:
        return _aes_mod.aes(key, _CBC, iv).encrypt(data)
    out = bytearray(len(data))
    aesio.AES(key, aesio.MODE_CBC, iv).encrypt_into(data, out)
    return bytes(out)


# AES-128-CBC the same way: cryptolib and aesio pick AES-128 or AES-256 by
# the key's length (CTAP 2.2 encIdentifier / encCredStoreState use 16 bytes).
def aes_cbc_encrypt(key, iv, data):
    return aes256_cbc_encrypt(key, iv, data)


def aes256_cbc_decrypt(key, iv, data):
    if _aes_mod is not None:
        return _aes_mod.aes(key, _CBC, iv).decrypt(data)
    out = bytearray(len(data))
    aesio.AES(key, aesio.MODE_CBC, iv).decrypt_into(data, out)
    return bytes(out)


# -- P-256 ----------------------------------------------------------------------


def p256_keygen():
    """A fresh key pair: (private key 32 bytes, public key 65 bytes 04||X||Y)."""
    return p256.keygen(random_bytes(40))


def p256_public_key(private_key):
    return p256.public_key(private_key)


def p256_sign(private_key, *message):
    """ECDSA P-256 with SHA-256 over message; DER signature (WebAuthn, U2F).

    message is one or more parts, signed as their concatenation (WebAuthn's
    authenticatorData || clientDataHash) without being joined in memory.
    """
    h = _sha256()
    for part in message:
        h.update(part)
    raw = p256.sign(private_key, h.digest(), random_bytes(32))
    return p256.sig_to_der(raw)


def p256_verify(public_key, message, der_signature):
    try:
        raw = p256.sig_from_der(der_signature)
    except ValueError:
        return False
    return p256.verify(public_key, sha256(message), raw)


def p256_ecdh(private_key, peer_public_key):
    """Shared secret X coordinate; ValueError when the peer point is invalid."""
    return p256.ecdh(private_key, peer_public_key)


def p256_valid_public_key(public_key):
    return p256.validate_public_key(public_key)


# -- Ed25519 (RFC 8032 PureEdDSA) ----------------------------------------------
# Only called when HAS_ED25519: firmware/credential.py offers the Ed25519
# algorithms only then.


def ed25519_keygen():
    """A fresh key pair: (private key = the 32-byte seed of RFC 8032 §5.1.5, public key 32 bytes)."""
    seed = random_bytes(32)
    return seed, ed25519.public_key(seed)


def ed25519_public_key(seed):
    return ed25519.public_key(seed)


def ed25519_sign(seed, *message):
    """PureEdDSA over message, given as one or more parts: a 64-byte signature.

    EdDSA hashes the message twice (for the nonce, then for the challenge),
    so unlike p256_sign the parts are joined first: WebAuthn's
    authenticatorData || clientDataHash, a few hundred bytes at most.
    """
    return ed25519.sign(seed, message[0] if len(message) == 1 else b"".join(message))

