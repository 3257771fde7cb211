"""boards/host/cli.py: `pyfido-key serve | info | reset` (and boards/host/run.py, its `serve`).

Run as a person runs them, in a child process; the installed console
script is run by test_package.py.
"""

import os
import subprocess
import sys
import time

import pytest
from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
)

import make_attestation  # tools/
from boards.host.api import key_interaction
from boards.host.client import open_device

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_PY = os.path.join(REPO, "boards", "host", "run.py")
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(os.path.join(REPO, p) for p in ("build/host", "boards/host", "lib", "")))
CLI = [sys.executable, "-m", "boards.host.cli"]


def cli(*args, timeout=60):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, env=ENV, cwd=REPO)


class Served:
    """`pyfido-key serve ...` in a child process, stopped with SIGTERM as a service manager does."""

    def __init__(self, *args, cmd=None):
        self.proc = subprocess.Popen((cmd or CLI + ["serve"]) + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
        self.line = self.proc.stdout.readline().strip()
        assert self.line.startswith("virtual key listening"), self.proc.stderr.read()

    def stop(self):
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=20)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, err


def test_help_texts_name_every_command_and_option():
    r = cli("--help")
    assert r.returncode == 0
    for word in ("serve", "info", "reset", "Not a secure element"):
        assert word in r.stdout
    r = cli("serve", "--help")
    for option in ("--socket", "--uhid", "--store", "--presence", "--touches", "--attestation", "--aaguid", "--pin",
                   "make_attestation.py"):
        assert option in r.stdout
    assert "--uhid-path" not in r.stdout  # for tests only
    assert "10 s" in cli("reset", "--help").stdout
    r = cli()
    assert r.returncode == 2 and "COMMAND" in r.stderr


def test_uhid_without_dev_uhid_is_one_line_saying_what_to_do(tmp_path):
    r = cli("serve", "--uhid", "--uhid-path", str(tmp_path / "uhid"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyfido-key serve: ")
    for hint in ("does not exist", "modprobe uhid", "root", "udev rule"):
        assert hint in lines[0]
    assert r.stdout == ""


def test_uhid_that_cannot_be_opened_says_what_to_do(tmp_path):
    # (root may open anything: a directory stands for a /dev/uhid that cannot be opened read-write)
    r = cli("serve", "--uhid", "--uhid-path", str(tmp_path))
    assert r.returncode == 2
    assert "cannot open %s" % tmp_path in r.stderr and "modprobe uhid" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_run_py_is_serve():
    r = subprocess.run([sys.executable, RUN_PY, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("usage: run.py serve") and "--attestation" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--touches", "1", "--presence", "deny"], "not both"),
    (["--uhid", "--pin", "1234"], "socket only"),
    (["--aaguid", "1234"], "AAGUID"),
    (["--attestation", "/nonexistent"], "make_attestation.py --out"),
    (["--store", "/proc/nope/store"], "cannot create the store directory"),
])
def test_serve_usage_errors(args, message):
    r = cli("serve", *args)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_serve_info_reset(tmp_path):
    sock, store = str(tmp_path / "k.sock"), str(tmp_path / "store")
    served = Served("--socket", sock, "--store", store, "--pin", "2468", "--aaguid", "00" * 15 + "01")
    try:
        assert served.line == "virtual key listening on %s" % sock
        dev = open_device(sock, timeout=30)
        assert Ctap2(dev).info.options["clientPin"] is True  # set before the ready line
        dev.close()
        # register through a client with the PIN (UV), then read it back
        key_dev = open_device(sock, timeout=30)
        client = Fido2Client(key_dev, DefaultClientDataCollector("https://example.com"), key_interaction("2468"))
        server = Fido2Server(PublicKeyCredentialRpEntity(id="example.com", name="Ex"))
        opts, state = server.register_begin(PublicKeyCredentialUserEntity(id=b"u1", name="carol", display_name="C"),
                                            resident_key_requirement=ResidentKeyRequirement.REQUIRED,
                                            user_verification="required")
        server.register_complete(state, client.make_credential(opts.public_key))
        key_dev.close()

        r = cli("info", "--socket", sock, "--store", store)
        assert r.returncode == 0, r.stderr
        assert "FIDO_2_1" in r.stdout and "clientPin=true" in r.stdout
        assert "00000000-0000-0000-0000-000000000001" in r.stdout
        assert "store %s: 1 passkey" % store in r.stdout and "example.com" in r.stdout and "carol" in r.stdout

        r = cli("reset", "--socket", sock)  # within 10 s of the key starting
        assert r.returncode == 0, r.stderr
        assert "reset" in r.stdout
        r = cli("info", "--socket", sock, "--store", store)
        assert "clientPin=false" in r.stdout and "store %s: 0 passkeys" % store in r.stdout
    finally:
        rc, err = served.stop()
    assert rc == 0, err
    assert not os.path.exists(sock)
    # the store alone, with no key running
    r = cli("info", "--no-key", "--store", store)
    assert r.returncode == 0 and "0 passkeys" in r.stdout


def test_info_and_reset_without_a_key_say_how_to_start_one(tmp_path):
    sock = str(tmp_path / "none.sock")
    for command in ("info", "reset"):
        r = cli(command, "--socket", sock)
        assert r.returncode == 2
        assert "no virtual key at %s" % sock in r.stderr and "pyfido-key serve --socket" in r.stderr
    r = cli("info", "--no-key")
    assert r.returncode == 2 and "--store" in r.stderr
    r = cli("info", "--no-key", "--store", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "not a directory" in r.stderr


def test_reset_refused_by_the_key_says_why(tmp_path):
    sock = str(tmp_path / "k.sock")
    served = Served("--socket", sock, "--presence", "deny")
    try:
        r = cli("reset", "--socket", sock)
        assert r.returncode == 2 and "needs a touch" in r.stderr and "OPERATION_DENIED" in r.stderr
    finally:
        served.stop()


def test_serve_touches_counts_presence(tmp_path):
    sock = str(tmp_path / "k.sock")
    served = Served("--socket", sock, "--touches", "1")
    try:
        dev = open_device(sock, timeout=30)
        ctap2 = Ctap2(dev)
        args = (b"\1" * 32, {"id": "example.com"}, {"id": b"u", "name": "u"}, [{"type": "public-key", "alg": -7}])
        ctap2.make_credential(*args)
        with pytest.raises(CtapError) as e:
            ctap2.make_credential(*args)
        assert e.value.code == CtapError.ERR.OPERATION_DENIED
        dev.close()
    finally:
        served.stop()


@pytest.mark.parametrize("via_run_py", [False, True], ids=["pyfido-key", "run.py"])
def test_attestation_directory_as_make_attestation_documents(tmp_path, via_run_py):
    att = tmp_path / "att"
    make_attestation.main(["--out", str(att)])
    sock, store = str(tmp_path / "k.sock"), str(tmp_path / "store")
    cmd = [sys.executable, RUN_PY] if via_run_py else CLI + ["serve"]
    served = Served("--socket", sock, "--store", store, "--attestation", str(att), cmd=cmd)
    try:
        dev = open_device(sock, timeout=30)
        client = Fido2Client(dev, DefaultClientDataCollector("https://example.com"), key_interaction())
        server = Fido2Server(PublicKeyCredentialRpEntity(id="example.com", name="Ex"),
                             attestation=AttestationConveyancePreference.DIRECT)
        opts, state = server.register_begin(PublicKeyCredentialUserEntity(id=b"u", name="u", display_name="U"),
                                            user_verification="discouraged")
        result = client.make_credential(opts.public_key)
        assert result.response.attestation_object.att_stmt["x5c"] == [(att / "device-cert.der").read_bytes()]
        dev.close()
    finally:
        rc, err = served.stop()
    assert rc == 0, err
    # written into the store before the key started, as provisioning does
    assert (tmp_path / "store" / "att").read_bytes() == (att / "att.rec").read_bytes()


def test_sigterm_stops_a_key_with_clients_connected(tmp_path):
    sock = str(tmp_path / "k.sock")
    served = Served("--socket", sock)
    dev = open_device(sock, timeout=30)
    try:
        Ctap2(dev).get_info()
        t = time.monotonic()
        rc, err = served.stop()
        assert rc == 0 and time.monotonic() - t < 10, err
    finally:
        dev.close()
