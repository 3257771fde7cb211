"""`make demo`: start the virtual key as its own process and use it with python-fido2.

The key runs as `boards/host/run.py` on a Unix socket; this script is the
client side, exactly what any python-fido2 program would do with a USB key.
"""

import dataclasses
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from fido2.ctap2 import Ctap2, Info  # noqa: E402

from boards.host.client import open_device  # noqa: E402


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


def main():
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "key.sock")
        proc = start_key(sock)
        try:
            dev = open_device(sock, timeout=60)
            print(
                "[client] CTAPHID INIT: channel 0x%08x, protocol %d, device version %s, "
                "capabilities 0x%02x" % (dev._channel_id, dev.version, dev.device_version, dev.capabilities)
            )
            msg = os.urandom(1000)
            t = time.perf_counter()
            assert dev.ping(msg) == msg
            print("[client] PING of %d bytes echoed in %.1f ms" % (len(msg), 1000 * (time.perf_counter() - t)))
            ctap2 = Ctap2(dev)  # python-fido2 runs getInfo itself here
            raw = ctap2.send_cbor(Ctap2.CMD.GET_INFO)
            names = [f.name for f in dataclasses.fields(Info)]
            print("[client] authenticatorGetInfo (what the key returned):")
            for k in sorted(raw):
                name = names[k - 1] if k <= len(names) else "0x%02x" % k
                value = raw[k].hex() if isinstance(raw[k], bytes) else raw[k]
                print("           %-22s %s" % (name, value))
            dev.close()
        finally:
            proc.terminate()
            proc.wait(5)
    print("demo finished")


if __name__ == "__main__":
    main()
