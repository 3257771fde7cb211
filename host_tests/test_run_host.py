"""boards/host/run.py --store DIR: the virtual key's passkeys survive a restart."""

import os
import subprocess
import sys
import time

from fido2.ctap2 import Ctap2

from boards.host.client import open_device

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(sock, store):
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "boards", "host", "run.py"), "--socket", sock, "--store", store],
        stdout=subprocess.PIPE, text=True)
    assert "listening on" in proc.stdout.readline()
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        assert proc.poll() is None and time.monotonic() < deadline, "the key did not start"
        time.sleep(0.02)
    return proc


def test_store_directory_keeps_passkeys_across_restarts(tmp_path):
    sock, store = str(tmp_path / "k.sock"), str(tmp_path / "store")
    cdh = os.urandom(32)
    proc = start(sock, store)
    try:
        dev = open_device(sock, timeout=30)
        att = Ctap2(dev).make_credential(cdh, {"id": "example.com"}, {"id": b"u1", "name": "u"},
                                         [{"type": "public-key", "alg": -7}], options={"rk": True})
        dev.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert "state" in os.listdir(store)
    assert oct(os.stat(store).st_mode & 0o777) == "0o700"  # the master secret is in there
    proc = start(sock, store)
    try:
        dev = open_device(sock, timeout=30)
        assertion = Ctap2(dev).get_assertion("example.com", cdh)  # discoverable: no allow list
        dev.close()
    finally:
        proc.terminate()
        proc.wait(10)
    cred = att.auth_data.credential_data
    assert assertion.credential["id"] == cred.credential_id
    assertion.verify(cdh, cred.public_key)
