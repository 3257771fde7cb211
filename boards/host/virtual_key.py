"""The virtual key: host board + core, served on a socket from a thread.

Used by the tests, the demo and `python boards/host/run.py`.
"""

import threading

from boards.host.board import HostBoard, Presence
from boards.host.transport import SocketTransport
from firmware import main_loop


class VirtualKey:
    """A running key; `address` is what clients connect to."""

    def __init__(self, address, storage=None, presence=None, clock=None, log=None, config=None, transport=None):
        # transport: another report transport (boards/host/uhid.py) instead of
        # the socket at `address`.
        self.transport = transport if transport is not None else SocketTransport(address)
        self.address = self.transport.address
        self.board = HostBoard(
            self.transport,
            storage=storage,
            presence=presence or Presence("auto"),
            clock=clock,
            log=log,
            config=config,
        )
        self.hid = main_loop.make_key(self.board)
        self.authenticator = self.hid.app
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self.serve, name="virtual-key", daemon=True)
        self._thread.start()
        return self

    def serve(self):
        main_loop.run(self.board, self.hid, self._stop.is_set)

    def open_device(self, timeout=None):
        """A python-fido2 CtapHidDevice connected to this key (CTAPHID INIT done)."""
        from boards.host.client import open_device

        return open_device(self.address, timeout)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.transport.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
