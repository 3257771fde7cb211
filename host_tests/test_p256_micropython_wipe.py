"""lib/p256/p256_mpy.c leaves no secret on the C stack when the heap is full (issue 14).

A MicroPython allocation that fails raises MemoryError by a longjmp: nothing
after it in the C function runs. keygen used to compute the private key
into a stack buffer and then allocate its result, so a full heap left the
key on the stack, unwiped; ecdh did the same with the shared secret. They
now allocate their results first and compute into them.

The proof, on the unix port (the binding as a user C module, as frozen into
firmware, and as a native .mpy module, as stock firmware loads it): call
keygen and ecdh on a full heap from under 200 C frames of nested `filter`
iterators (no exception handler, no Python frame in between, so nothing
overwrites the dead frame before the scan), then search the process's whole
stack mapping (/proc/self/maps, read with uctypes) for the secret. A control
shows the scan sees what a function left at that depth: the X coordinate of
the public key p256.public_key computed there. Reverting p256_mpy.c to
compute first finds the key and the secret (checked when this was written).
"""

import os
import subprocess

import pytest

import mpy
from mpy import only_on

_SCRIPT = mpy.STACK_SCAN + r"""
import gc, micropython
import %(module)s as p256

SEED = bytes(range(40))
priv, pub = p256.keygen(SEED)
priv2, pub2 = p256.keygen(bytes(range(2, 42)))
secret = p256.ecdh(priv2, pub)

# the control: a value public_key computed down there is found
next(deep(filter(p256.public_key, [priv2])))
print("control", on_stack(pub2[1:33]))

# keygen with the heap locked: its first allocation fails
it = deep(filter(p256.keygen, [SEED]))
micropython.heap_lock()
try:
    next(it)
    raised = "no"
except MemoryError:
    raised = "MemoryError"
micropython.heap_unlock()
print("keygen", raised, on_stack(priv))

# ecdh on a full heap with one block left, which map() takes for its
# arguments: ecdh's own allocation fails
it = deep(map(p256.ecdh, [priv2], [pub]))
hold = [None] * 100000
n = 0
raised = None

def fill(i):
    try:
        while True:
            hold[i] = (i,)  # one block each
            i += 1
    except MemoryError:
        return i

gc.collect()
gc.disable()
n = fill(0)
hold[n - 1] = None
gc.collect()
n = fill(n - 1)  # exactly full
hold[n - 1] = None
gc.collect()  # one block free
try:
    next(it)
    raised = "no"
except MemoryError:
    raised = "MemoryError"
hold = None
gc.enable()
gc.collect()
print("ecdh", raised, on_stack(secret))

# and with room, the results are ordinary bytes: equal, hashed, usable as keys
d, q = p256.keygen(SEED)
print("bytes", d == priv and q == pub and d == bytes(list(d)) and hash(q) == hash(bytes(list(q)))
      and {q: 1}.get(bytes(list(q))) == 1 and p256.ecdh(priv2, q) == secret == bytes(list(secret)))
"""

NATMOD_HINT = "make firmware-p256-natmod P256_NATMOD_ARCHS=%s MICROPY_DIR=/path/to/micropython"


def _run(tmp_path, module, extra=None):
    binary = mpy.unix_binary()
    for name, path in (extra or {}).items():
        with open(path, "rb") as src, open(tmp_path / name, "wb") as dst:
            dst.write(src.read())
    script = tmp_path / "wipe.py"
    script.write_text(_SCRIPT % {"module": module})
    r = subprocess.run([binary, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return dict(line.split(" ", 1) for line in r.stdout.splitlines())


def _check(out):
    assert out == {
        "control": "True",  # the scan sees a dead frame down there
        "keygen": "MemoryError False",  # raised cleanly, and no private key left behind
        "ecdh": "MemoryError False",  # raised cleanly, and no shared secret left behind
        "bytes": "True",
    }


def test_user_c_module_leaves_no_secret_when_the_heap_is_full(tmp_path):
    only_on("unix", "it needs the unix port's lib/p256 user C module, micropython.heap_lock() and /proc")
    _check(_run(tmp_path, "p256"))


def test_native_module_leaves_no_secret_when_the_heap_is_full(tmp_path):
    only_on("unix", "it needs the unix port to load a native x64/x86 module, micropython.heap_lock() and /proc")
    arch = "x64" if mpy.word_bits() == 64 else "x86"
    natmod = os.path.join(mpy.REPO, "build", "natmod", arch, "p256.mpy")
    if not os.path.isfile(natmod):
        pytest.fail("%s is missing: build it with `%s`" % (natmod, NATMOD_HINT % arch), pytrace=False)
    _check(_run(tmp_path, "p256nat", {"p256nat.mpy": natmod}))
