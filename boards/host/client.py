"""python-fido2 transport for the virtual key: a CtapHidConnection over the socket.

    from boards.host.client import open_device
    dev = open_device("/tmp/pyfido.sock")        # a fido2.hid.CtapHidDevice
    info = fido2.ctap2.Ctap2(dev).get_info()

Unmodified python-fido2 code then talks to the virtual key exactly as to a
USB key: CtapHidDevice does INIT, framing, keepalives and cancel itself.
"""

import socket

from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

from boards.host.transport import REPORT_SIZE, parse_address

# pid.codes test ids (VID 0x1209, PID 0x0001 "Test PID"): fine for a virtual
# key and for development boards, never for a product.
VID = 0x1209
PID = 0x0001
PRODUCT = "PyFIDO virtual key"


class SocketCtapHidConnection(CtapHidConnection):
    """Bare 64-byte reports over a stream socket (see transport.py)."""

    def __init__(self, address, timeout=None):
        family, addr = parse_address(address)
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(addr)

    def write_packet(self, data):
        if len(data) != REPORT_SIZE:
            raise ValueError("a report is %d bytes, not %d" % (REPORT_SIZE, len(data)))
        self._sock.sendall(data)

    def read_packet(self):
        buf = b""
        while len(buf) < REPORT_SIZE:
            chunk = self._sock.recv(REPORT_SIZE - len(buf))
            if not chunk:
                raise OSError("virtual key closed the connection")
            buf += chunk
        return buf

    def close(self):
        self._sock.close()


def descriptor(address):
    return HidDescriptor(str(address), VID, PID, REPORT_SIZE, REPORT_SIZE, PRODUCT, None)


def open_device(address, timeout=None):
    """Connect to a running virtual key and do CTAPHID INIT; a CtapHidDevice."""
    return CtapHidDevice(descriptor(address), SocketCtapHidConnection(address, timeout))
