"""Run the virtual key as a process: `python boards/host/run.py --help`.

The checkout's way to say `pyfido-key serve` (boards/host/cli.py): the same
options, among them --attestation DIR for the directory
tools/make_attestation.py writes. Clients connect to the socket (see
boards/host/transport.py for the wire format; boards/host/client.py for
python-fido2).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for p in (os.path.join(REPO, "build", "host"), os.path.join(REPO, "lib"), HERE, REPO):
    if p not in sys.path:
        sys.path.insert(0, p)

from boards.host.cli import main as cli_main  # noqa: E402


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    return cli_main(["serve"] + argv, prog="run.py")


if __name__ == "__main__":
    sys.exit(main())
