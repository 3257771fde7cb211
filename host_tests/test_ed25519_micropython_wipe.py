"""lib/ed25519 leaves no secret on the C stack under MicroPython: after
sign and public_key, neither the secret scalar a (SHA-512 of the seed,
clamped, mod L), nor the nonce prefix (the hash's upper half), nor the
nonce r, nor the seed itself is anywhere in the process's stack mapping.

The proof, on the unix port (the binding as a user C module, as frozen into
firmware, and as a native .mpy module, as stock firmware loads it): call
sign and public_key from under 200 C frames of nested `filter`/`map`
iterators (so nothing overwrites their dead frames before the scan), then
search the whole stack mapping (/proc/self/maps, read with uctypes). The
control: the public key, which sign keeps in its own frame and does not
wipe (it is public), is found there, so the scan does see what sign left.
The secrets are computed here with hashlib and Python integers. Taking the
wipes out of ed25519.c (ed25519_wipe of a/prefix/r and burn_stack) makes
this fail.
"""

import hashlib
import os
import subprocess

import mpy
from mpy import only_on

L = 2**252 + 27742317777372353535851937790883648493
SEED = bytes(range(100, 132))
MSG = b"wipe test message"

_SCRIPT = mpy.STACK_SCAN + r"""
import %(module)s as ed25519

SEED = bytes.fromhex("%(seed)s")
MSG = %(msg)r
sig = next(deep(map(ed25519.sign, [SEED], [MSG])))
print("sign", sig.hex())
print("control", on_stack(ed25519.public_key(SEED)))
for name, hexv in %(secrets)r:
    print(name, on_stack(bytes.fromhex(hexv)))
next(deep(map(ed25519.public_key, [SEED])))
for name, hexv in %(secrets)r:
    if name in ("a", "prefix", "seed"):
        print("pk-" + name, on_stack(bytes.fromhex(hexv)))
"""

NATMOD_HINT = "make firmware-ed25519-natmod ED25519_NATMOD_ARCHS=%s MICROPY_DIR=/path/to/micropython"


def _secrets():
    h = hashlib.sha512(SEED).digest()
    a = bytearray(h[:32])
    a[0] &= 248
    a[31] &= 127
    a[31] |= 64
    a = int.from_bytes(a, "little") % L
    prefix = h[32:]
    r = int.from_bytes(hashlib.sha512(prefix + MSG).digest(), "little") % L
    return [("a", a.to_bytes(32, "little").hex()), ("prefix", prefix.hex()),
            ("r", r.to_bytes(32, "little").hex()), ("seed", SEED.hex())]


def _run(tmp_path, module, extra=None):
    binary = mpy.unix_binary()
    for name, path in (extra or {}).items():
        with open(path, "rb") as src, open(tmp_path / name, "wb") as dst:
            dst.write(src.read())
    script = tmp_path / "wipe.py"
    script.write_text(_SCRIPT % {"module": module, "seed": SEED.hex(), "msg": MSG, "secrets": _secrets()})
    r = subprocess.run([binary, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return dict(line.split(" ", 1) for line in r.stdout.splitlines())


def _check(out):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    assert out.pop("sign") == Ed25519PrivateKey.from_private_bytes(SEED).sign(MSG).hex()
    assert out == {
        "control": "True",  # the scan sees what sign left in its frame
        "a": "False", "prefix": "False", "r": "False", "seed": "False",
        "pk-a": "False", "pk-prefix": "False", "pk-seed": "False",
    }


def test_user_c_module_leaves_no_secret_on_the_stack(tmp_path):
    only_on("unix", "it needs the unix port's lib/ed25519 user C module and /proc")
    _check(_run(tmp_path, "ed25519"))


def test_native_module_leaves_no_secret_on_the_stack(tmp_path):
    only_on("unix", "it needs the unix port to load a native x64/x86 module and /proc")
    arch = "x64" if mpy.word_bits() == 64 else "x86"
    natmod = os.path.join(mpy.REPO, "build", "ed25519", "natmod", arch, "ed25519.mpy")
    assert os.path.isfile(natmod), "%s is missing: build it with `%s`" % (natmod, NATMOD_HINT % arch)
    _check(_run(tmp_path, "ed25519nat", {"ed25519nat.mpy": natmod}))
