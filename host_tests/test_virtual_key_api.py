"""boards/host/api.py: VirtualKey as relying parties use it (pyfido_key.VirtualKey).

Each option in a thread and in a child process where it applies; what the
key holds (credentials()); PIN set through the key's own ClientPIN; the
attestation directory of tools/make_attestation.py; and that stopping leaks
no thread, file descriptor, socket, child process or temporary directory,
also when the `with` body raises.
"""

import glob
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from cryptography import x509
from fido2.client import ClientError
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
)

import make_attestation  # tools/
from boards.host import api
from boards.host.api import AttestationError, VirtualKey
from firmware.authenticator import AAGUID

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIGIN = "https://example.com"
MODES = [pytest.param(False, id="thread"), pytest.param(True, id="process")]


def register(key, user=b"u1", name="alice", uv="discouraged", attestation=None, client=None):
    server = Fido2Server(PublicKeyCredentialRpEntity(id="example.com", name="Example"),
                         attestation=attestation or AttestationConveyancePreference.NONE)
    opts, state = server.register_begin(
        PublicKeyCredentialUserEntity(id=user, name=name, display_name=name.title()),
        resident_key_requirement=ResidentKeyRequirement.REQUIRED, user_verification=uv)
    result = (client or key.client(ORIGIN)).make_credential(opts.public_key)
    return result, server.register_complete(state, result)


def sign_in(key, uv="discouraged"):
    server = Fido2Server(PublicKeyCredentialRpEntity(id="example.com", name="Example"))
    opts, _ = server.authenticate_begin(user_verification=uv)
    return key.client(ORIGIN).get_assertion(opts.public_key).get_response(0)


# -- what the key holds -----------------------------------------------------------


@pytest.mark.parametrize("process", MODES)
def test_credentials_lists_the_passkeys_the_key_holds(process):
    with VirtualKey(process=process) as key:
        assert key.credentials() == []
        _, first = register(key, b"user-1", "alice")
        _, second = register(key, b"user-2", "bob")
        creds = key.credentials()
        assert [c.user_name for c in creds] == ["bob", "alice"]  # newest first
        bob = creds[0]
        assert bob.rp_id == "example.com" and bob.user_id == b"user-2" and bob.user_display_name == "Bob"
        assert bob.credential_id == second.credential_data.credential_id
        assert bob.alg == -7 and bob.cred_protect == 1
        pk = second.credential_data.public_key
        assert bob.public_key == b"\x04" + pk[-2] + pk[-3]  # COSE x (-2), y (-3)
        assert bob.cose_key == dict(pk)
        assert bob.user() == {"id": b"user-2", "name": "bob", "displayName": "Bob"}
        assert [c.user_name for c in key.credentials(rp_id="example.com")] == ["bob", "alice"]
        assert key.credentials(rp_id="other.example") == []
        # the same user again replaces the passkey, as the key does
        register(key, b"user-1", "alice2")
        assert sorted(c.user_name for c in key.credentials()) == ["alice2", "bob"]


def test_credentials_leave_out_records_of_an_earlier_master_secret(tmp_path):
    # A reset cut short leaves passkeys of the old master secret: not the key's.
    store = str(tmp_path / "store")
    with VirtualKey(store=store) as key:
        register(key)
    old = {n: open(os.path.join(store, n), "rb").read() for n in os.listdir(store) if n.startswith("rk")}
    with VirtualKey(store=store) as key:
        Ctap2(key.device).reset()
        assert key.credentials() == []
    for name, data in old.items():
        with open(os.path.join(store, name), "wb") as f:
            f.write(data)
    assert api.read_credentials(api._ReadOnlyDir(store)) == []


# -- store ----------------------------------------------------------------------------


@pytest.mark.parametrize("process", MODES)
def test_a_store_directory_keeps_passkeys_for_the_next_key(tmp_path, process):
    store = tmp_path / "store"
    with VirtualKey(store=store, process=process) as key:
        _, reg = register(key)
    assert oct(os.stat(store).st_mode & 0o777) == "0o700"
    # readable after the key stopped, and by a key in the other mode
    assert [c.user_name for c in VirtualKey(store=store).credentials()] == ["alice"]
    with VirtualKey(store=store, process=not process) as key:
        response = sign_in(key)
        assert response.raw_id == reg.credential_data.credential_id


def test_without_a_store_every_key_is_new():
    with VirtualKey() as key:
        register(key)
        assert len(key.credentials()) == 1
    with VirtualKey() as key:
        assert key.credentials() == []
    with pytest.raises(RuntimeError, match="memory"):
        key.credentials()


# -- PIN ------------------------------------------------------------------------------


@pytest.mark.parametrize("process", MODES)
def test_pin_is_set_through_client_pin_and_gives_uv(process):
    with VirtualKey(pin="4321", process=process) as key:
        ctap2 = Ctap2(key.device)
        assert ctap2.get_info().options["clientPin"] is True
        assert ClientPin(ctap2).get_pin_retries()[0] == 8
        with pytest.raises(CtapError) as e:
            ClientPin(ctap2).get_pin_token("0000")
        assert e.value.code == CtapError.ERR.PIN_INVALID
        _, reg = register(key, uv="required")
        assert reg.is_user_verified()
        assert sign_in(key, uv="required").response.authenticator_data.is_user_verified()


def test_a_store_with_another_pin_is_refused_and_the_key_stopped(tmp_path):
    store = tmp_path / "store"
    with VirtualKey(store=store, pin="4321"):
        pass
    with VirtualKey(store=store, pin="4321") as key:  # the same PIN: kept
        assert Ctap2(key.device).get_info().options["clientPin"] is True
    before = threading.active_count()
    with pytest.raises(ValueError, match="already has a PIN"):
        VirtualKey(store=store, pin="9999").start()
    assert threading.active_count() == before


def test_a_key_without_pin_cannot_do_uv():
    with VirtualKey() as key:
        with pytest.raises(ClientError):
            register(key, uv="required")
        assert key.credentials() == []


@pytest.mark.parametrize("process", MODES)
@pytest.mark.parametrize("alg", [-8, -9, -19])
def test_credentials_report_each_passkeys_own_algorithm(process, alg):
    with VirtualKey(process=process) as key:
        att = Ctap2(key.device).make_credential(b"\1" * 32, {"id": "example.com"}, {"id": b"u", "name": "u"},
                                                [{"type": "public-key", "alg": alg}], options={"rk": True})
        pk = att.auth_data.credential_data.public_key
        (held,) = key.credentials()
        assert held.alg == alg == pk[3] and held.cose_key == dict(pk)
        # Ed25519 keys are the 32-byte OKP x, P-256 ones the uncompressed point
        assert held.public_key == (pk[-2] if alg in (-8, -19) else b"\x04" + pk[-2] + pk[-3])


# -- presence ------------------------------------------------------------------------


@pytest.mark.parametrize("process", MODES)
def test_presence_deny_refuses_every_request(process):
    with VirtualKey(presence="deny", process=process) as key:
        with pytest.raises(CtapError) as e:
            Ctap2(key.device).make_credential(b"\1" * 32, {"id": "example.com"}, {"id": b"u", "name": "u"},
                                              [{"type": "public-key", "alg": -7}], options={"rk": True})
        assert e.value.code == CtapError.ERR.OPERATION_DENIED
        assert key.credentials() == []


@pytest.mark.parametrize("process", MODES)
def test_presence_as_a_count_of_touches(process):
    with VirtualKey(presence=2, process=process) as key:
        register(key, b"u1")
        register(key, b"u2")
        with pytest.raises(ClientError) as e:
            register(key, b"u3")
        assert e.value.cause.code == CtapError.ERR.OPERATION_DENIED
        assert len(key.credentials()) == 2
        if not process:
            assert key.presence_requests == 3 and key.presence.touches_left == 0


def test_presence_callback_decides_each_request():
    answers = [True, False, True]
    asked = []

    def touch():
        asked.append(1)
        return answers.pop(0)

    with VirtualKey(presence=touch) as key:
        register(key, b"u1")
        with pytest.raises(ClientError):
            register(key, b"u2")
        register(key, b"u3")
        assert len(asked) == 3 and key.presence_requests == 3
        assert sorted(c.user_id for c in key.credentials()) == [b"u1", b"u3"]


def test_presence_options_that_cannot_work_are_refused_up_front():
    with pytest.raises(ValueError, match="callback needs process=False"):
        VirtualKey(presence=lambda: True, process=True)
    for bad in ("sometimes", -1, True, 1.5):
        for process in (False, True):
            with pytest.raises(ValueError):
                VirtualKey(presence=bad, process=process)


# -- AAGUID, attestation -----------------------------------------------------------------


@pytest.mark.parametrize("process", MODES)
def test_a_fixed_aaguid(process):
    aaguid = "12345678-9abc-def0-1234-56789abcdef0"
    with VirtualKey(aaguid=aaguid, process=process) as key:
        assert str(Ctap2(key.device).get_info().aaguid) == aaguid
        _, reg = register(key)
        assert str(reg.credential_data.aaguid) == aaguid
    with VirtualKey() as key:
        assert bytes(Ctap2(key.device).get_info().aaguid) == AAGUID
    for bad in ("12", b"\0" * 15, "not-a-uuid"):
        with pytest.raises(ValueError, match="AAGUID"):
            VirtualKey(aaguid=bad)


@pytest.fixture(scope="module")
def attestation_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("attestation")
    make_attestation.main(["--out", str(out)])
    return out


@pytest.mark.parametrize("process", MODES)
def test_batch_attestation_from_the_make_attestation_directory(attestation_dir, process):
    device_cert = (attestation_dir / "device-cert.der").read_bytes()
    with VirtualKey(attestation=attestation_dir, process=process) as key:
        assert key.attestation_ca == (attestation_dir / "attestation-ca.pem").read_bytes()
        result, _ = register(key, attestation=AttestationConveyancePreference.DIRECT)
        att = result.response.attestation_object
        assert att.fmt == "packed" and att.att_stmt["x5c"] == [device_cert]
        ca = x509.load_pem_x509_certificate(key.attestation_ca)
        x509.load_der_x509_certificate(device_cert).verify_directly_issued_by(ca)
    with VirtualKey() as key:  # without: self attestation
        result, _ = register(key, attestation=AttestationConveyancePreference.DIRECT)
        assert "x5c" not in result.response.attestation_object.att_stmt


def test_attestation_directory_errors_say_what_to_do(tmp_path, attestation_dir):
    with pytest.raises(AttestationError, match="make_attestation.py --out"):
        VirtualKey(attestation=tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AttestationError, match="no att.rec"):
        VirtualKey(attestation=empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    data = bytearray((attestation_dir / "att.rec").read_bytes())
    data[3] ^= 1
    (bad / "att.rec").write_bytes(bytes(data))
    with pytest.raises(AttestationError, match="not an attestation record"):
        VirtualKey(attestation=bad)


# -- life cycle: nothing leaks ---------------------------------------------------------------


def _fds():
    return sorted(os.listdir("/proc/self/fd"))


def _children():
    out = []
    for path in glob.glob("/proc/self/task/*/children"):
        with open(path) as f:
            out += f.read().split()
    return out


@pytest.mark.parametrize("process", MODES)
def test_stopping_leaks_nothing_also_when_the_body_raises(process):
    with VirtualKey(process=process, pin="1234") as key:  # warm up: lazy imports, caches
        key.open_device()
    threads, fds, children = set(threading.enumerate()), _fds(), _children()
    for _ in range(2):
        with VirtualKey(process=process, pin="1234") as key:
            key.open_device()
            key.open_device()
            register(key)
            address, tmp = key.address, key._tmp
        assert not os.path.exists(address) and not os.path.exists(tmp)
        with pytest.raises(KeyError):
            with VirtualKey(process=process) as key:
                Ctap2(key.device).get_info()
                tmp = key._tmp
                raise KeyError("the test body failed")
        assert not key.running and not os.path.exists(tmp)
    assert set(threading.enumerate()) == threads
    assert _fds() == fds
    assert _children() == children


def test_no_resource_warning_under_python_dev_mode(tmp_path):
    # ResourceWarning (an unclosed socket, file or subprocess) turned into an
    # error, in a fresh interpreter where nothing else is running.
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent("""
        import gc, sys, threading
        sys.path[:0] = %r
        from boards.host.api import VirtualKey
        from fido2.ctap2 import Ctap2
        for process in (False, True):
            with VirtualKey(process=process, pin="1234") as key:
                Ctap2(key.device).get_info()
                key.open_device()
            try:
                with VirtualKey(process=process) as key:
                    key.device
                    raise ValueError
            except ValueError:
                pass
        gc.collect()
        assert threading.active_count() == 1, threading.enumerate()
        print("done")
    """ % ([os.path.join(REPO, p) for p in ("build/host", "boards/host", "lib", "")],)))
    r = subprocess.run([sys.executable, "-X", "dev", "-W", "error", str(script)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "done", r.stderr
    assert "Warning" not in r.stderr, r.stderr


def test_a_child_that_cannot_start_is_reported_with_its_log(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    before = _children()
    with pytest.raises(RuntimeError, match="exited with status 2.*store directory"):
        VirtualKey(process=True, store=blocker / "store").start()
    assert _children() == before


def test_start_twice_and_devices_of_a_stopped_key():
    key = VirtualKey()
    with pytest.raises(RuntimeError, match="not started"):
        key.open_device()
    with key:
        with pytest.raises(RuntimeError, match="already started"):
            key.start()
    key.stop()  # twice: nothing to do


def test_a_key_process_ends_with_its_parent_killed_or_not(tmp_path):
    # The parent dies without stopping the key (a test run killed): the key's
    # process sees its stdin end and stops; nothing keeps running.
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        sys.path[:0] = %r
        from boards.host.api import VirtualKey
        key = VirtualKey(process=True).start()
        print(key._proc.pid, key.address, flush=True)
        os._exit(9)
    """ % ([os.path.join(REPO, p) for p in ("build/host", "boards/host", "lib", "")],)))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 9, r.stderr
    pid, address = r.stdout.split()
    deadline = time.monotonic() + 20
    while os.path.exists("/proc/%s" % pid) and _state(pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists("/proc/%s" % pid) or _state(pid) == "Z"
    assert not os.path.exists(address)  # it stopped as it does on SIGTERM: socket removed
    shutil.rmtree(os.path.dirname(address))  # the dead parent's temporary directory (its store)


def _state(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_json_ceremonies_as_a_page_makes_them_with_py_webauthn():
    import json

    import webauthn
    from webauthn.helpers.structs import AuthenticatorSelectionCriteria, ResidentKeyRequirement

    from boards.host.api import create_credential_json, get_assertion_json

    with VirtualKey(pin="1357") as key:
        client = key.client("https://localhost")
        options = webauthn.generate_registration_options(
            rp_id="localhost", rp_name="Ex", user_name="dora",
            authenticator_selection=AuthenticatorSelectionCriteria(resident_key=ResidentKeyRequirement.REQUIRED))
        # text, or a dict wrapped in {"publicKey": ...} as some RP libraries send it
        for given in (webauthn.options_to_json(options), {"publicKey": json.loads(webauthn.options_to_json(options))}):
            response = create_credential_json(client, given)
            reg = webauthn.verify_registration_response(credential=response, expected_challenge=options.challenge,
                                                        expected_rp_id="localhost", expected_origin="https://localhost",
                                                        require_user_verification=True)
        assert json.loads(response)["type"] == "public-key"
        assert [c.credential_id for c in key.credentials()] == [reg.credential_id]  # the same user: replaced
        request = webauthn.generate_authentication_options(rp_id="localhost")
        response = get_assertion_json(client, webauthn.options_to_json(request))
        auth = webauthn.verify_authentication_response(
            credential=response, expected_challenge=request.challenge, expected_rp_id="localhost",
            expected_origin="https://localhost", credential_public_key=reg.credential_public_key,
            credential_current_sign_count=reg.sign_count, require_user_verification=True)
        assert auth.user_verified and auth.new_sign_count > reg.sign_count
