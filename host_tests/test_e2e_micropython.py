"""End to end on real MicroPython: python-fido2's clients against the core on the wasm build.

The scenarios of test_e2e_webauthn.py (Fido2Client + Fido2Server and
py_webauthn: register and sign in, rk and non-rk, getNextAssertion, exclude
list, attestation, cancel, reset, power cycles), test_e2e_pin.py (ClientPin
for both protocols, retries across power cycles, PIN_AUTH_BLOCKED, credential
management, config, enterprise attestation), test_e2e_extensions.py
(hmac-secret/prf, credProtect, credBlob, largeBlob/largeBlobKey, minPinLength,
LargeBlobs), test_e2e_ctap22.py (the persistent token, encIdentifier and
encCredStoreState, thirdPartyPayment, pinComplexityPolicy) and
test_e2e_u2f.py (fido2.ctap1.Ctap1, U2F fallback, appid) run
here unchanged: `key_factory` below makes their virtual keys MicroPythonKeys,
the unchanged core in a Node child process (host_tests/mpy_key.py). A power
cycle there stops the process (its records come back to CPython) and starts
a new one from them.
"""

import pytest

import test_e2e_ctap22
import test_e2e_algorithms
import test_e2e_extensions
import test_e2e_pin
import test_e2e_u2f
import test_e2e_webauthn
from mpy_key import adopt_tests
from test_e2e_extensions import client, pin_client  # noqa: F401 (pytest fixtures)
from test_e2e_pin import protocol  # noqa: F401
from test_e2e_u2f import manual_key, u2f  # noqa: F401

_CPYTHON_ONLY = {
    test_e2e_webauthn: {},
    test_e2e_algorithms: {},
    test_e2e_pin: {},
    test_e2e_extensions: {},
    test_e2e_ctap22: {},
    test_e2e_u2f: {
        "test_ctap1_rides_out_keepalives": "slows down the CPython core's key generation (monkeypatch)",
    },
}

# The fixtures through which the scenarios reach a key.
_ON_THE_KEY = ("key_factory", "virtual_key", "device", "powered", "client", "pin_client", "u2f", "manual_key")


@pytest.fixture
def key_factory(mpy_key_factory):
    return mpy_key_factory


for _module, _skip in _CPYTHON_ONLY.items():
    adopt_tests(globals(), _module, _skip, _ON_THE_KEY)


def test_without_the_ed25519_module_the_key_offers_no_eddsa():
    """A firmware without the ed25519 module (stock MicroPython with only
    p256.mpy): getInfo lists ES256 and ESP256 only, and an RP that accepts
    EdDSA alone gets CTAP2_ERR_UNSUPPORTED_ALGORITHM, on MicroPython itself."""
    from mpy_key import MicroPythonKey

    with MicroPythonKey(without=("ed25519",)) as key:
        _offers_no_eddsa(key.open_device())
        assert not key.take_errors()


def test_with_the_ed25519_module_the_key_offers_eddsa(device):
    from fido2.ctap2 import Ctap2

    assert [a["alg"] for a in Ctap2(device).get_info().algorithms] == [-7, -8, -9, -19]


def _offers_no_eddsa(device):
    from fido2.ctap import CtapError
    from fido2.ctap2 import Ctap2

    ctap = Ctap2(device)
    assert [a["alg"] for a in ctap.get_info().algorithms] == [-7, -9]
    for algs in ([-8], [-19], [-19, -8]):
        with pytest.raises(CtapError) as e:
            ctap.make_credential(bytes(32), {"id": "example.com"}, {"id": b"u"},
                                 [{"type": "public-key", "alg": a} for a in algs])
        assert e.value.code == CtapError.ERR.UNSUPPORTED_ALGORITHM
    r = ctap.make_credential(bytes(32), {"id": "example.com"}, {"id": b"u"},
                             [{"type": "public-key", "alg": a} for a in (-8, -19, -9)])
    assert r.auth_data.credential_data.public_key[3] == -9 and r.att_stmt["alg"] == -9
