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
        "--presence",
        choices=("auto", "prompt", "deny"),
        default="auto",
        help="user presence: approve everything, ask on this terminal, or refuse",
    )
    args = ap.parse_args(argv)
    key = VirtualKey(args.socket, presence=Presence(args.presence))
    print("virtual key listening on %s" % (key.address,), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        key.serve()
    except KeyboardInterrupt:
        pass
    finally:
        key.transport.close()


if __name__ == "__main__":
    main()
