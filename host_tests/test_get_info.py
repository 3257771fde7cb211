"""authenticatorGetInfo's cached answer (Authenticator.get_info_response): always what a fresh build gives.

The key encodes getInfo once and again only after its store changed
(Store.changes). Each test here changes one thing getInfo reports, through
the command a platform would use, and checks that the answer changed with
it and equals a freshly built and encoded one -- so a change that forgot to
invalidate the cache fails here.
"""

import hashlib

import pytest
from fido2 import cbor as fido2_cbor
from fido2.ctap import CtapError

import cbor
import make_attestation  # tools/
from firmware import store as st
from firmware.ctap2 import get_info
from pinhelpers import auth, pinned, plat, protocol  # noqa: F401 (pytest fixtures)
from pinhelpers import (
    PIN,
    CONFIG,
    CRED_MGMT,
    GET_INFO,
    MAKE_CREDENTIAL,
    PERM_ACFG,
    PERM_CM,
    PERM_MC,
    RESET,
    Platform,
    call,
    credential_id_of,
    make_auth,
    mc_request,
    mc_with_token,
)

ERR = CtapError.ERR

_VERSIONS = 0x01
_OPTIONS = 0x04
_FORCE_PIN_CHANGE = 0x0C
_MIN_PIN_LENGTH = 0x0D
_REMAINING_DISCOVERABLE_CREDENTIALS = 0x14


_ENCRYPTED = (0x19, 0x1E)  # CTAP 2.2 encIdentifier, encCredStoreState: a fresh IV each time


def get_info_now(auth):
    """getInfo through the router, checked against a fresh build; decoded.

    The encrypted members differ in every answer (fresh IVs): they must
    decrypt to the same plaintexts, and everything else must be equal.
    """
    answer = auth.process_cbor(bytes([GET_INFO]))
    fresh = b"\x00" + cbor.dumps(get_info.handle(auth, {}))
    a, b = cbor.loads(answer[1:]), cbor.loads(fresh[1:])
    token = auth.store.get(st.STATE_PERSISTENT_TOKEN)
    for key, info in zip(_ENCRYPTED, (b"encIdentifier", b"encCredStoreState")):
        assert (key in a) == (key in b) == (token is not None)
        if token is not None:
            assert _decrypt(token, info, a.pop(key)) == _decrypt(token, info, b.pop(key))
    if token is None:
        assert bytes(answer) == fresh
    else:
        assert a == b
    return cbor.loads(answer[1:])


def config(auth, sub, params=None, plat=None, token=None):
    """authenticatorConfig, MACed as python-fido2's Config._call does when a token is given."""
    req = {1: sub}
    if params is not None:
        req[2] = params
    if token is not None:
        msg = b"\xff" * 32 + b"\x0d" + bytes([sub]) + (fido2_cbor.encode(params) if params is not None else b"")
        req[3] = plat.version
        req[4] = plat.mac(token, msg)
    return call(auth, CONFIG, req)


def test_get_info_is_built_once_while_nothing_changes(auth, monkeypatch):
    built = []
    real = get_info.handle
    monkeypatch.setattr(get_info, "handle", lambda a, req, *rest: built.append(1) or real(a, req, *rest))
    first = auth.process_cbor(bytes([GET_INFO]))
    assert auth.process_cbor(bytes([GET_INFO])) == first
    assert len(built) == 1


def test_malformed_get_info_requests_keep_their_errors(auth):
    get_info_now(auth)  # cached
    assert auth.process_cbor(bytes([GET_INFO, 0xFF])) == bytes([ERR.INVALID_CBOR])
    assert auth.process_cbor(bytes([GET_INFO, 0x01])) == bytes([ERR.CBOR_UNEXPECTED_TYPE])
    assert auth.process_cbor(bytes([GET_INFO, 0xA0]))[0] == 0  # an empty map is fine


def test_setting_a_pin(plat):
    auth = plat.auth
    assert get_info_now(auth)[_OPTIONS]["clientPin"] is False
    plat.set_pin(PIN)
    assert get_info_now(auth)[_OPTIONS]["clientPin"] is True


def test_forced_pin_change_and_the_change(pinned):
    auth = pinned.auth
    assert get_info_now(auth)[_FORCE_PIN_CHANGE] is False
    token = pinned.token(PIN, PERM_ACFG)
    config(auth, 3, {3: True}, plat=pinned, token=token)  # setMinPINLength forceChangePin
    assert get_info_now(auth)[_FORCE_PIN_CHANGE] is True
    pinned.change_pin(PIN, "5678")
    assert get_info_now(auth)[_FORCE_PIN_CHANGE] is False


def test_min_pin_length(auth):
    assert get_info_now(auth)[_MIN_PIN_LENGTH] == 4
    config(auth, 3, {1: 6})  # no PIN yet: no token needed
    assert get_info_now(auth)[_MIN_PIN_LENGTH] == 6


def test_always_uv_turns_u2f_off_and_on(pinned):
    auth = pinned.auth
    info = get_info_now(auth)
    assert info[_OPTIONS]["alwaysUv"] is False and "U2F_V2" in info[_VERSIONS]
    config(auth, 2, plat=pinned, token=pinned.token(PIN, PERM_ACFG))
    info = get_info_now(auth)
    assert info[_OPTIONS]["alwaysUv"] is True and info[_OPTIONS]["makeCredUvNotRqd"] is False
    assert "U2F_V2" not in info[_VERSIONS]
    config(auth, 2, plat=pinned, token=pinned.token(PIN, PERM_ACFG))
    assert get_info_now(auth)[_OPTIONS]["alwaysUv"] is False


def test_enterprise_attestation():
    ca_cert, ca_key, _, _ = make_attestation.make()
    cert, key = make_attestation.make_enterprise(ca_cert, ca_key, "SN-42")
    auth = make_auth()
    assert "ep" not in get_info_now(auth)[_OPTIONS]
    make_attestation.install_enterprise(auth.board.storage, key, cert, ["corp.example"])
    auth = make_auth(storage=auth.board.storage)  # provisioned while off, as tools/provision.py does
    assert get_info_now(auth)[_OPTIONS]["ep"] is False
    config(auth, 1)  # enableEnterpriseAttestation
    assert get_info_now(auth)[_OPTIONS]["ep"] is True
    call(auth, RESET)
    assert get_info_now(auth)[_OPTIONS]["ep"] is False


def test_discoverable_credentials_made_replaced_and_deleted(pinned):
    auth = pinned.auth
    room = get_info_now(auth)[_REMAINING_DISCOVERABLE_CREDENTIALS]

    def make(user_id):
        token = pinned.token(PIN, PERM_MC, "example.com")
        return credential_id_of(call(auth, MAKE_CREDENTIAL, mc_with_token(pinned, token, user_id=user_id, rk=True)))

    make(b"u1")
    assert get_info_now(auth)[_REMAINING_DISCOVERABLE_CREDENTIALS] == room - 1
    make(b"u2")
    assert get_info_now(auth)[_REMAINING_DISCOVERABLE_CREDENTIALS] == room - 2
    make(b"u2")  # the same user again: replaced, no more room used
    assert get_info_now(auth)[_REMAINING_DISCOVERABLE_CREDENTIALS] == room - 2
    # credentialManagement deleteCredential
    params = {2: {"id": make(b"u3"), "type": "public-key"}}
    assert get_info_now(auth)[_REMAINING_DISCOVERABLE_CREDENTIALS] == room - 3
    token = pinned.token(PIN, PERM_CM)
    msg = bytes([6]) + fido2_cbor.encode(params)
    call(auth, CRED_MGMT, {1: 6, 2: params, 3: pinned.version, 4: pinned.mac(token, msg)})
    assert get_info_now(auth)[_REMAINING_DISCOVERABLE_CREDENTIALS] == room - 2


def test_a_non_discoverable_credential_changes_nothing(auth):
    before = get_info_now(auth)
    call(auth, MAKE_CREDENTIAL, mc_request())
    assert get_info_now(auth) == before


def test_reset_restores_the_factory_answer(protocol):
    auth = make_auth()
    factory = get_info_now(auth)
    plat = Platform(auth, protocol)
    plat.set_pin(PIN)
    config(auth, 2, plat=plat, token=plat.token(PIN, PERM_ACFG))  # alwaysUv
    token = plat.token(PIN, PERM_MC, "example.com")
    call(auth, MAKE_CREDENTIAL, mc_with_token(plat, token, rk=True))
    changed = get_info_now(auth)
    assert changed != factory
    call(auth, RESET)
    assert get_info_now(auth) == factory


def test_a_key_powered_up_on_changed_storage(pinned):
    auth = pinned.auth
    get_info_now(auth)
    again = make_auth(storage=auth.board.storage)
    assert get_info_now(again)[_OPTIONS]["clientPin"] is True


@pytest.mark.parametrize("records", [0, 3])
def test_the_store_counts_every_write_and_removal(records):
    auth = make_auth()
    store = auth.store
    for i in range(records):
        store.rk_put({st.RK_RP_ID_HASH: hashlib.sha256(b"r").digest(), st.RK_USER_ID: bytes([i]),
                      st.RK_CREDENTIAL_ID: bytes([i])})
    n = store.changes
    store.update({st.STATE_MIN_PIN_LENGTH: 5})
    assert store.changes > n
    n = store.changes
    store.save(st.REC_LARGE_BLOBS, [])
    assert store.changes > n
    n = store.changes
    if records:
        store.rk_delete(store.rk_slots()[0])
        assert store.changes > n
        n = store.changes
    store.wipe()
    assert store.changes > n


# -- CTAP 2.2 members --------------------------------------------------------------------------

PERM_PCMR = 0x40


def _decrypt(token, info, enc):
    """python-fido2's Info._decrypt, spelled out: HKDF-SHA-256 -> AES-128-CBC."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(hashes.SHA256(), 16, bytes(32), info).derive(token)
    d = Cipher(algorithms.AES(key), modes.CBC(enc[:16])).decryptor()
    return d.update(enc[16:]) + d.finalize()


def test_ctap22_members(auth):
    info = get_info_now(auth)
    assert info[0x16] == ["packed", "none"]  # attestationFormats: what makeCredential can answer
    assert info[0x1A] == ["usb"]  # transportsForReset
    assert info[0x1B] is False  # pinComplexityPolicy
    assert info[0x1D] == 63  # maxPINLength
    assert info[0x1F] == [2, 3]  # authenticatorConfigCommands (no enterprise attestation provisioned)
    assert info[_OPTIONS]["perCredMgmtRO"] is True
    # No PIN: no persistent token to encrypt encIdentifier/encCredStoreState under.
    for absent in (0x15, 0x17, 0x18, 0x19, 0x1C, 0x1E):
        assert absent not in info


def test_a_pin_brings_the_encrypted_members(plat):
    auth = plat.auth
    assert 0x19 not in get_info_now(auth)
    plat.set_pin(PIN)
    before = get_info_now(auth)  # read first, decrypted with the token asked for next
    token = plat.token(PIN, PERM_PCMR)
    assert _decrypt(token, b"encIdentifier", before[0x19]) == get_info.identifier(auth)
    assert _decrypt(token, b"encCredStoreState", before[0x1E]) == auth.store.rk_state()


def test_config_commands_follow_enterprise_attestation():
    ca_cert, ca_key, _, _ = make_attestation.make()
    cert, key = make_attestation.make_enterprise(ca_cert, ca_key, "SN-42")
    auth = make_auth()
    assert get_info_now(auth)[0x1F] == [2, 3]
    make_attestation.install_enterprise(auth.board.storage, key, cert, ["corp.example"])
    auth = make_auth(storage=auth.board.storage)
    assert get_info_now(auth)[0x1F] == [1, 2, 3]  # enableEnterpriseAttestation now answers


def test_encrypted_members_with_a_persistent_token(pinned):
    auth = pinned.auth
    token = pinned.token(PIN, PERM_PCMR)
    first = auth.process_cbor(bytes([GET_INFO]))
    second = auth.process_cbor(bytes([GET_INFO]))
    a, b = cbor.loads(first[1:]), cbor.loads(second[1:])
    # Everything but the two ciphertexts is the cached answer; those get a fresh IV.
    for enc in (0x19, 0x1E):
        assert len(a[enc]) == 32 and a[enc] != b[enc] and a[enc][:16] != b[enc][:16]
        assert a[enc] != get_info.PLACEHOLDER
    assert {k: v for k, v in a.items() if k not in (0x19, 0x1E)} == {k: v for k, v in b.items() if k not in (0x19, 0x1E)}
    fresh = cbor.loads(cbor.dumps(get_info.handle(auth, {})))
    assert {k: v for k, v in a.items() if k not in (0x19, 0x1E)} == {k: v for k, v in fresh.items() if k not in (0x19, 0x1E)}
    ident = _decrypt(token, b"encIdentifier", a[0x19])
    assert ident == _decrypt(token, b"encIdentifier", b[0x19]) == _decrypt(token, b"encIdentifier", fresh[0x19])
    assert ident == get_info.identifier(auth)
    state = _decrypt(token, b"encCredStoreState", a[0x1E])
    assert state == auth.store.rk_state()
    # A credential later: the cached answer follows (new state, same identifier).
    make = pinned.token(PIN, PERM_MC)
    call(auth, MAKE_CREDENTIAL, mc_with_token(pinned, make, rk=True))
    c = cbor.loads(auth.process_cbor(bytes([GET_INFO]))[1:])
    assert _decrypt(token, b"encIdentifier", c[0x19]) == ident
    assert _decrypt(token, b"encCredStoreState", c[0x1E]) != state


def test_identifier_changes_with_reset_only(pinned):
    auth = pinned.auth
    ident = get_info.identifier(auth)
    assert len(ident) == 16
    assert get_info.identifier(make_auth(auth.board.storage)) == ident  # a power cycle keeps it
    auth.reset_state()
    assert get_info.identifier(auth) != ident


# -- algorithms (0x0A): what the crypto facade can sign with -----------------------------------


def test_algorithms_are_every_one_the_key_makes(auth):
    """On the host the firmware has lib/ed25519 (build/host): ES256 first
    (every platform knows it), EdDSA (ssh-keygen -t ed25519-sk), then RFC
    9864's ESP256 and Ed25519."""
    info = call(auth, GET_INFO)
    assert info[0x0A] == [{"alg": alg, "type": "public-key"} for alg in (-7, -8, -9, -19)]


_WITHOUT_ED25519 = r"""
import sys
sys.modules["ed25519"] = None  # as on a firmware without the C module: ImportError
sys.path[:0] = %r
from ctap2_helpers import GET_INFO, MC, call, make_auth, mc_request, parse_auth_data, params_for
from firmware import crypto
auth = make_auth()
out = {"has": crypto.HAS_ED25519, "algs": [e["alg"] for e in call(auth, GET_INFO)[1][0x0A]]}
for name, prefs in (("eddsa", (-8,)), ("ed25519", (-19,)), ("both", (-19, -8)),
                    ("then_es256", (-8, -7)), ("then_esp256", (-19, -9, -7))):
    code, resp = call(auth, MC, mc_request() | {4: params_for(*prefs)})
    out[name] = (code, parse_auth_data(resp[2])["public_key"][3] if code == 0 else None)
print(repr(out))
"""


def test_without_the_ed25519_module_eddsa_is_not_offered():
    """A board whose firmware lacks the ed25519 module (stock MicroPython with
    only p256.mpy): getInfo lists ES256 and ESP256 only, and makeCredential
    takes the next acceptable algorithm or answers
    CTAP2_ERR_UNSUPPORTED_ALGORITHM (CTAP 2.1 §6.1.2 step 3). A fresh
    interpreter, since the facade looks for the module once, at import.
    (MicroPython on WebAssembly, which has no such module, shows the same in
    test_e2e_micropython.py.)"""
    import ast
    import os
    import subprocess
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    paths = [here] + [os.path.join(repo, p) for p in ("build/host", "boards/host", "lib", "tools", "")]
    res = subprocess.run([sys.executable, "-c", _WITHOUT_ED25519 % (paths,)], capture_output=True, text=True, cwd=repo)
    assert res.returncode == 0, res.stderr
    out = ast.literal_eval(res.stdout.strip().splitlines()[-1])
    assert out == {
        "has": False,
        "algs": [-7, -9],
        "eddsa": (0x26, None),  # CTAP2_ERR_UNSUPPORTED_ALGORITHM
        "ed25519": (0x26, None),
        "both": (0x26, None),
        "then_es256": (0, -7),
        "then_esp256": (0, -9),
    }
