"""Report transports for the host board.

Wire format of the socket transport (what a client must speak): a stream
socket, Unix (a filesystem path) or TCP on loopback ("127.0.0.1:PORT"); each
direction carries bare 64-byte HID reports back to back, no report id, no
length prefix. Output reports go to the client that last used their channel
id (for the broadcast channel: the client that last sent on it), just as each
hidraw reader of a real key sees the answers on its own channel.
"""

import collections
import os
import select
import socket
import threading

REPORT_SIZE = 64


def parse_address(address):
    """'path/to.sock' -> (AF_UNIX, path); 'host:port' -> (AF_INET, (host, port))."""
    if isinstance(address, tuple):
        return socket.AF_INET, address
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and "/" not in address:
        return socket.AF_INET, (host or "127.0.0.1", int(port))
    return socket.AF_UNIX, address


class SocketTransport:
    """Serves reports to any number of local clients over one listening socket."""

    def __init__(self, address):
        family, addr = parse_address(address)
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_UNIX:
            if os.path.exists(addr):
                os.unlink(addr)
        else:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(addr)
        self._listener.listen(8)
        self._listener.setblocking(False)
        self.address = self._listener.getsockname() if family == socket.AF_INET else addr
        self._family = family
        self._clients = {}  # socket -> bytearray of partial input
        self._ready = collections.deque()  # (socket, report)
        self._route = {}  # cid bytes -> socket

    def close(self):
        for c in list(self._clients):
            c.close()
        self._clients.clear()
        self._listener.close()
        if self._family == socket.AF_UNIX and os.path.exists(self.address):
            os.unlink(self.address)

    def _pump(self, timeout):
        socks = [self._listener] + list(self._clients)
        try:
            readable, _, _ = select.select(socks, [], [], timeout)
        except (OSError, ValueError):
            return
        for s in readable:
            if s is self._listener:
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                c.setblocking(True)
                self._clients[c] = bytearray()
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                self._drop(s)
                continue
            buf = self._clients[s]
            buf += data
            while len(buf) >= REPORT_SIZE:
                self._ready.append((s, bytes(buf[:REPORT_SIZE])))
                del buf[:REPORT_SIZE]

    def _drop(self, s):
        self._clients.pop(s, None)
        for cid in [k for k, v in self._route.items() if v is s]:
            del self._route[cid]
        s.close()

    def recv(self):
        """The next report from any client, or None."""
        if not self._ready:
            self._pump(0)
        if not self._ready:
            return None
        s, report = self._ready.popleft()
        self._route[report[:4]] = s
        return report

    def send(self, report):
        s = self._route.get(bytes(report[:4]))
        targets = [s] if s is not None else list(self._clients)
        for c in targets:
            try:
                c.sendall(report)
            except OSError:
                self._drop(c)

    def wait(self, timeout):
        if not self._ready:
            self._pump(timeout)


class MemoryTransport:
    """In-process reports for unit tests: inject() in, sent out."""

    def __init__(self):
        self.inbox = collections.deque()
        self.sent = []
        self._cond = threading.Condition()

    def inject(self, report):
        report = bytes(report)
        assert len(report) == REPORT_SIZE
        with self._cond:
            self.inbox.append(report)
            self._cond.notify_all()

    def recv(self):
        with self._cond:
            return self.inbox.popleft() if self.inbox else None

    def send(self, report):
        with self._cond:
            self.sent.append(bytes(report))
            self._cond.notify_all()

    def wait(self, timeout):
        with self._cond:
            if not self.inbox:
                self._cond.wait(timeout)

    def take(self):
        """Everything sent since the last take()."""
        with self._cond:
            out, self.sent = self.sent, []
        return out
