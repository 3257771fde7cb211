"""Run the virtual key as a process: `python boards/host/run.py --help`.

Clients connect to the socket (see boards/host/transport.py for the wire
format; boards/host/client.py for python-fido2).
"""

import argparse
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for p in (os.path.join(REPO, "build", "host"), os.path.join(REPO, "lib"), REPO):
    if p not in sys.path:
        sys.path.insert(0, p)

from boards.host.board import Presence  # noqa: E402
from boards.host.virtual_key import VirtualKey  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyFIDO virtual security key")
    ap.add_argument(
        "--socket",
        default=os.environ.get("PYFIDO_SOCKET", "/tmp/pyfido-key.sock"),
        help="Unix socket path, or HOST:PORT for TCP on loopback (default %(default)s)",
    )
    ap.add_argument(
        "--uhid",
        action="store_true",
        help="appear as a real HID device (/dev/hidrawN) through Linux UHID instead of the socket, "
        "for browsers, ssh-keygen -t ecdsa-sk and fido2-token",
    )
    ap.add_argument("--uhid-path", default="/dev/uhid", help=argparse.SUPPRESS)
    ap.add_argument(
        "--store",
        metavar="DIR",
        help="keep the key's records (master secret, passkeys, counter) in DIR, so they survive "
        "a restart (default: in memory, gone when the process ends)",
    )
    ap.add_argument(
        "--presence",
        choices=("auto", "prompt", "deny"),
        default="auto",
        help="user presence: approve everything, ask on this terminal, or refuse",
    )
    args = ap.parse_args(argv)
    storage = None
    if args.store:
        from boards.common.vfs_storage import VfsStorage

        os.makedirs(args.store, mode=0o700, exist_ok=True)
        storage = VfsStorage(args.store)
    transport = None
    if args.uhid:
        from boards.host.uhid import UhidTransport

        try:
            transport = UhidTransport.open(args.uhid_path)
        except OSError as e:
            ap.exit(2, "run.py: %s\n" % e.strerror)
    key = VirtualKey(args.socket, storage=storage, presence=Presence(args.presence), transport=transport)
    where = "as a HID device through %s" % args.uhid_path if args.uhid else "on %s" % (key.address,)
    print("virtual key listening %s" % where, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        key.serve()
    except KeyboardInterrupt:
        pass
    finally:
        key.transport.close()


if __name__ == "__main__":
    main()
