"""The key's full flow on MicroPython with a fixed heap, and the least heap it runs in.

    from mpy_full_flow import runs_in, least_heap
    ok, why = runs_in(48 * 1024)       # True, "" -- or False and what went wrong
    least_heap()                        # bytes, by bisection (1 KB steps)

The flow is what a first use of a key with a PIN costs: setPIN, a
pinUvAuthToken (protocol 2, makeCredential permission), a discoverable
makeCredential with it, another token (getAssertion permission) and a
getAssertion whose signature is checked against the new credential. The
client is python-fido2 on CPython; the key is host_tests/mpy_key.py's
MicroPythonKey (the test board host_tests/mpy_board/pipe_key.py) on the unix
port PYFIDO_MICROPYTHON names, with `-X heapsize=`: the heap holds the core's
state (its code is frozen into the binary, as on a board), the test board
and every request. Only the unix port keeps to a heap size (the wasm build
grows its heap).

A run that fails for lack of heap shows it as a MemoryError in the key's
console (the key's process died, or logged it), or as CTAP1_ERR_OTHER, the
answer to a request that found no heap (test_heap_lock_micropython.py;
logging its MemoryError may need heap too). Any other failure is a bug and
is raised; and least_heap() first runs the flow with ample heap, where
nothing may fail at all, so a broken flow never passes for "needs more heap".
"""

import os

from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.ctap2.pin import PinProtocolV2

from mpy_key import KeyDied, MicroPythonKey

PIN = "31415926"
RP = {"id": "example.com", "name": "Example"}
USER = {"id": b"user-1", "name": "alice", "displayName": "Alice"}
ES256 = [{"type": "public-key", "alg": -7}]
STEP = 1024


def full_flow(key):
    """Run the flow on a started key; raises on any failure."""
    ctap = Ctap2(key.open_device(timeout=30))
    client_pin = ClientPin(ctap, PinProtocolV2())
    client_pin.set_pin(PIN)
    token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, RP["id"])
    cdh = os.urandom(32)
    made = ctap.make_credential(
        cdh, RP, USER, ES256, options={"rk": True},
        pin_uv_param=client_pin.protocol.authenticate(token, cdh), pin_uv_protocol=2)
    credential = made.auth_data.credential_data
    token = client_pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
    cdh = os.urandom(32)
    got = ctap.get_assertion(
        RP["id"], cdh, pin_uv_param=client_pin.protocol.authenticate(token, cdh), pin_uv_protocol=2)
    assert got.credential["id"] == credential.credential_id
    assert got.auth_data.is_user_verified()
    got.verify(cdh, credential.public_key)  # raises if the signature is wrong
    assert key.errors == [], key.errors


def runs_in(heapsize):
    """(True, "") when the full flow runs on a fresh key with this heap; else (False, why).

    False only when the key ran out of heap; anything else raises.
    """
    key = MicroPythonKey(heapsize=heapsize)
    try:
        key.start()
        full_flow(key)
        return True, ""
    except (KeyDied, CtapError, OSError) as e:
        console = key.console
        if ("MemoryError" in console or any("MemoryError" in x for x in key.errors)
                or (isinstance(e, CtapError) and e.code == CtapError.ERR.OTHER)):
            return False, "%s\n%s" % (e, console[-1500:])
        raise
    finally:
        key.kill()


def least_heap(low=16 * 1024, high=256 * 1024, tries=3):
    """The least heap (a multiple of STEP) the full flow runs in `tries` times out of `tries`.

    By bisection between `low` (too small) and `high` (enough). Near the
    limit a run may pass or fail with the flow's random bytes (key
    handles, signature lengths) and where the collector leaves holes, so a
    size counts only when every one of its runs passes.
    """
    ok, why = runs_in(high)
    if not ok:
        raise AssertionError("the full flow does not run in %d bytes of heap:\n%s" % (high, why))
    while high - low > STEP:
        mid = (low + high) // 2 // STEP * STEP
        if all(runs_in(mid)[0] for _ in range(tries)):
            high = mid
        else:
            low = mid
    return high
