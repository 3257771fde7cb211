"""`make demo`: start the virtual key as its own process and use it like a browser would.

The key runs as `boards/host/run.py` on a Unix socket; this script is the
client side, exactly what any python-fido2 program does with a USB key:
CTAPHID INIT and PING, authenticatorGetInfo, then a passkey registered with
a relying party (python-fido2's Fido2Server) and a sign-in with it, each
response verified by the relying party.

    python tools/demo.py --key ADDRESS   # the same against a key already running there

`--key` takes any key on the socket wire format (boards/host/transport.py):
the firmware on the emulated Pico (`make firmware-demo`), or a virtual key
you started yourself.
"""

import dataclasses
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction  # noqa: E402
from fido2.ctap2 import Ctap2, Info  # noqa: E402
from fido2.server import Fido2Server  # noqa: E402
from fido2.webauthn import (  # noqa: E402
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
)

from boards.host.client import open_device  # noqa: E402

ORIGIN = "https://demo.example"


def start_key(sock):
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "boards", "host", "run.py"), "--socket", sock],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the virtual key did not start")
        time.sleep(0.05)
    print("[key]    %s (pid %d)" % (line, proc.pid))
    return proc


class Touch(UserInteraction):
    def __init__(self, who="the virtual key approves by itself"):
        self.who = who

    def prompt_up(self):
        print("[client] the key asks for a touch (%s)" % self.who)


def show_info(dev):
    raw = Ctap2(dev).send_cbor(Ctap2.CMD.GET_INFO)
    names = [f.name for f in dataclasses.fields(Info)]
    print("[client] authenticatorGetInfo (what the key returned):")
    for k in sorted(raw):
        name = names[k - 1] if k <= len(names) else "0x%02x" % k
        value = raw[k].hex() if isinstance(raw[k], bytes) else raw[k]
        print("           %-24s %s" % (name, value))


def passkey(dev, touch=None):
    rp = PublicKeyCredentialRpEntity(id="demo.example", name="Demo RP")
    server = Fido2Server(rp)
    client = Fido2Client(dev, client_data_collector=DefaultClientDataCollector(ORIGIN), user_interaction=touch or Touch())
    user = PublicKeyCredentialUserEntity(id=b"alice-0001", name="alice", display_name="Alice")

    print("[rp]     registration for %s at %s" % (user.name, rp.id))
    options, state = server.register_begin(
        user, resident_key_requirement=ResidentKeyRequirement.REQUIRED, user_verification="discouraged"
    )
    result = client.make_credential(options.public_key)
    auth_data = server.register_complete(state, result)
    cred = auth_data.credential_data
    print("[rp]     registered and verified a passkey (%s attestation)" % result.response.attestation_object.fmt)
    print("           credential id  %s" % cred.credential_id.hex())
    pk = cred.public_key
    print("           public key     ES256 (COSE alg %d) x=%s" % (pk[3], pk[-2].hex()))
    print("                                               y=%s" % pk[-3].hex())
    print("           counter        %d" % auth_data.counter)

    print("[rp]     sign-in without a username (the key finds the passkey)")
    options, state = server.authenticate_begin(user_verification="discouraged")
    selection = client.get_assertion(options.public_key)
    response = selection.get_response(0)
    server.authenticate_complete(state, [cred], response)
    ad = response.response.authenticator_data
    print("[rp]     signature verified for user handle %r" % response.response.user_handle)
    print("           signature      %s" % response.response.signature.hex())
    print("           counter        %d (went up from %d)" % (ad.counter, auth_data.counter))


def session(sock, touch=None):
    """What a browser does with the key at sock: INIT, PING, getInfo, register a passkey, sign in."""
    dev = open_device(sock, timeout=60)
    print(
        "[client] CTAPHID INIT: channel 0x%08x, protocol %d, device version %s, capabilities 0x%02x"
        % (dev._channel_id, dev.version, dev.device_version, dev.capabilities)
    )
    msg = os.urandom(1000)
    t = time.perf_counter()
    assert dev.ping(msg) == msg
    print("[client] PING of %d bytes echoed in %.1f ms" % (len(msg), 1000 * (time.perf_counter() - t)))
    show_info(dev)
    passkey(dev, touch)
    dev.close()


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--key", metavar="ADDRESS", help="use the key already running at ADDRESS (a socket path or HOST:PORT)")
    args = ap.parse_args(argv)
    if args.key:
        session(args.key, Touch("someone presses its button"))
        print("demo finished")
        return
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "key.sock")
        proc = start_key(sock)
        try:
            session(sock)
        finally:
            proc.terminate()
            proc.wait(5)
    print("demo finished")


if __name__ == "__main__":
    main()
