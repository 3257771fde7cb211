"""Linux UHID backend: the virtual key as a real /dev/hidrawN FIDO device.

The kernel's uhid driver (Documentation/hid/uhid.rst, include/uapi/linux/uhid.h)
creates a HID device from user space: we write UHID_CREATE2 with our report
descriptor, UHID_INPUT2 for each report the key sends, and read UHID_OUTPUT
for each report a client writes to the hidraw node. Browsers, libfido2
(`fido2-token -L`), `ssh-keygen -t ecdsa-sk` and python-fido2 then find the
key by its usage page 0xF1D0 like any USB key.

Every event is one `struct uhid_event` (packed): a __u32 type, then the
request's union member. UhidTransport has the same recv/send/wait/close as
the socket transport, so HostBoard and the core do not change.
"""

import collections
import errno
import os
import select
import struct

from boards.common.fido_hid import REPORT_DESCRIPTOR, REPORT_SIZE

# enum uhid_event_type (the __UHID_LEGACY_* slots keep the numbering)
UHID_DESTROY = 1
UHID_START = 2
UHID_STOP = 3
UHID_OPEN = 4
UHID_CLOSE = 5
UHID_OUTPUT = 6
UHID_GET_REPORT = 9
UHID_GET_REPORT_REPLY = 10
UHID_CREATE2 = 11
UHID_INPUT2 = 12
UHID_SET_REPORT = 13
UHID_SET_REPORT_REPLY = 14

# enum uhid_report_type
UHID_FEATURE_REPORT = 0
UHID_OUTPUT_REPORT = 1
UHID_INPUT_REPORT = 2

UHID_DATA_MAX = 4096
HID_MAX_DESCRIPTOR_SIZE = 4096
BUS_USB = 0x03  # linux/input.h

# struct uhid_create2_req: name[128] phys[64] uniq[64] rd_size bus vendor
# product version country rd_data[HID_MAX_DESCRIPTOR_SIZE]
_CREATE2 = struct.Struct("<I128s64s64sHHIIII%ds" % HID_MAX_DESCRIPTOR_SIZE)
# struct uhid_input2_req: size data[UHID_DATA_MAX]
_INPUT2 = struct.Struct("<IH%ds" % UHID_DATA_MAX)
# struct uhid_output_req: data[UHID_DATA_MAX] size rtype
_OUTPUT = struct.Struct("<I%dsHB" % UHID_DATA_MAX)
# struct uhid_get_report_req: id rnum rtype
_GET_REPORT = struct.Struct("<IIBB")
# struct uhid_get_report_reply_req: id err size data[UHID_DATA_MAX]
_GET_REPORT_REPLY = struct.Struct("<IIHH%ds" % UHID_DATA_MAX)
# struct uhid_set_report_req: id rnum rtype size data[UHID_DATA_MAX]
_SET_REPORT = struct.Struct("<IIBBH%ds" % UHID_DATA_MAX)
# struct uhid_set_report_reply_req: id err
_SET_REPORT_REPLY = struct.Struct("<IIH")
# sizeof(struct uhid_event): the type plus the union, whose size is its
# largest member (create2_req, 4372 bytes) rounded up to the union's 8-byte
# alignment (uhid_start_req holds a __u64; only the outer struct is packed).
EVENT_SIZE = 4 + ((_CREATE2.size - 4 + 7) // 8) * 8

# pid.codes test ids (VID 0x1209, PID 0x0001 "Test PID"), as boards/host/client.py
VID = 0x1209
PID = 0x0001
NAME = "PyFIDO virtual key"


def _event(packed):
    return packed + bytes(EVENT_SIZE - len(packed))


def create2(name=NAME, phys="", uniq="", vendor=VID, product=PID, version=0, country=0, descriptor=REPORT_DESCRIPTOR):
    return _event(_CREATE2.pack(
        UHID_CREATE2, name.encode()[:127], phys.encode()[:63], uniq.encode()[:63],
        len(descriptor), BUS_USB, vendor, product, version, country, bytes(descriptor)))


def input2(report):
    return _event(_INPUT2.pack(UHID_INPUT2, len(report), bytes(report)))


def destroy():
    return _event(struct.pack("<I", UHID_DESTROY))


def get_report_reply(request_id, err=errno.EIO):
    return _event(_GET_REPORT_REPLY.pack(UHID_GET_REPORT_REPLY, request_id, err, 0, b""))


def set_report_reply(request_id, err=errno.EIO):
    return _event(_SET_REPORT_REPLY.pack(UHID_SET_REPORT_REPLY, request_id, err))


def output(data, rtype=UHID_OUTPUT_REPORT):
    """A UHID_OUTPUT event as the kernel writes it (for tests)."""
    return _event(_OUTPUT.pack(UHID_OUTPUT, bytes(data), len(data), rtype))


def parse(event):
    """(type, fields) of one event read from /dev/uhid (or written to it)."""
    kind = struct.unpack_from("<I", event)[0]
    if kind == UHID_OUTPUT:
        _, data, size, rtype = _OUTPUT.unpack_from(event)
        return kind, {"data": data[:size], "rtype": rtype}
    if kind == UHID_INPUT2:
        _, size, data = _INPUT2.unpack_from(event)
        return kind, {"data": data[:size]}
    if kind == UHID_CREATE2:
        f = _CREATE2.unpack_from(event)
        return kind, {
            "name": f[1].rstrip(b"\0").decode(), "rd_size": f[4], "bus": f[5], "vendor": f[6],
            "product": f[7], "version": f[8], "country": f[9], "rd_data": f[10][: f[4]],
        }
    if kind == UHID_GET_REPORT:
        _, rid, rnum, rtype = _GET_REPORT.unpack_from(event)
        return kind, {"id": rid, "rnum": rnum, "rtype": rtype}
    if kind == UHID_SET_REPORT:
        _, rid, rnum, rtype, size, data = _SET_REPORT.unpack_from(event)
        return kind, {"id": rid, "rnum": rnum, "rtype": rtype, "data": data[:size]}
    if kind == UHID_START:
        return kind, {"dev_flags": struct.unpack_from("<Q", event, 4)[0]}
    return kind, {}


class UhidTransport:
    """64-byte reports through /dev/uhid (or any fd pair speaking its events).

    :param fd: read side (events from the kernel); write_fd defaults to fd.
    """

    def __init__(self, fd, write_fd=None, name=NAME, vendor=VID, product=PID, uniq=""):
        self._rfd = fd
        self._wfd = fd if write_fd is None else write_fd
        self._ready = collections.deque()
        self._partial = b""  # a stream fd (a pipe in tests) may split an event
        self.address = "uhid:" + name
        self.opened = False  # some process has the hidraw node open
        self.started = False
        self._write(create2(name=name, vendor=vendor, product=product, uniq=uniq))

    @classmethod
    def open(cls, path="/dev/uhid", **kw):
        """Create the HID device; a clear OSError when /dev/uhid is not usable."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            raise OSError(e.errno, "cannot open %s (%s): load the uhid module (modprobe uhid) and run "
                          "as root or give your user write access to it" % (path, e.strerror)) from None
        return cls(fd, **kw)

    def _write(self, event):
        n = os.write(self._wfd, event)
        if n != len(event):
            raise OSError(errno.EIO, "short write to uhid")

    def _pump(self, timeout):
        try:
            readable, _, _ = select.select([self._rfd], [], [], timeout)
        except (OSError, ValueError):
            return
        while readable:
            chunk = os.read(self._rfd, EVENT_SIZE - len(self._partial))
            if not chunk:
                return
            self._partial += chunk
            if len(self._partial) == EVENT_SIZE:
                event, self._partial = self._partial, b""
                self._handle(event)
            readable, _, _ = select.select([self._rfd], [], [], 0)

    def _handle(self, event):
        kind, f = parse(event)
        if kind == UHID_OUTPUT and f["rtype"] == UHID_OUTPUT_REPORT:
            data = f["data"]
            # hidraw passes the report number first; ours is 0 (no report IDs).
            if len(data) == REPORT_SIZE + 1 and data[0] == 0:
                data = data[1:]
            if len(data) == REPORT_SIZE:
                self._ready.append(bytes(data))
        elif kind == UHID_GET_REPORT:
            self._write(get_report_reply(f["id"]))  # no feature/input reports to get
        elif kind == UHID_SET_REPORT:
            self._write(set_report_reply(f["id"]))
        elif kind == UHID_OPEN:
            self.opened = True
        elif kind == UHID_CLOSE:
            self.opened = False
        elif kind == UHID_START:
            self.started = True
        elif kind == UHID_STOP:
            self.started = False

    def recv(self):
        if not self._ready:
            self._pump(0)
        return self._ready.popleft() if self._ready else None

    def send(self, report):
        self._write(input2(report))

    def wait(self, timeout):
        if not self._ready:
            self._pump(timeout)

    def close(self):
        try:
            self._write(destroy())
        except OSError:
            pass
        for fd in {self._rfd, self._wfd}:
            try:
                os.close(fd)
            except OSError:
                pass
