"""boards/host/uhid.py: struct uhid_event encoding, checked against linux/uhid.h, over a socketpair.

This machine has no /dev/uhid; a socketpair stands in for it (the test plays
the kernel). The layout is compared with what the C compiler makes of the
kernel's own header, and a python-fido2 client runs makeCredential and
getAssertion through UHID_OUTPUT / UHID_INPUT2 events.
"""

import errno
import os
import shutil
import socket
import subprocess

import pytest
from fido2.ctap2 import Ctap2
from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

from boards.common.fido_hid import REPORT_DESCRIPTOR
from boards.host import uhid
from boards.host.uhid import UhidTransport

C_LAYOUT = r"""
#include <stddef.h>
#include <stdio.h>
#include <linux/uhid.h>
#define P(name, value) printf("%s %ld\n", name, (long)(value))
int main(void) {
    P("EVENT_SIZE", sizeof(struct uhid_event));
    P("UHID_DESTROY", UHID_DESTROY); P("UHID_START", UHID_START); P("UHID_STOP", UHID_STOP);
    P("UHID_OPEN", UHID_OPEN); P("UHID_CLOSE", UHID_CLOSE); P("UHID_OUTPUT", UHID_OUTPUT);
    P("UHID_GET_REPORT", UHID_GET_REPORT); P("UHID_GET_REPORT_REPLY", UHID_GET_REPORT_REPLY);
    P("UHID_CREATE2", UHID_CREATE2); P("UHID_INPUT2", UHID_INPUT2);
    P("UHID_SET_REPORT", UHID_SET_REPORT); P("UHID_SET_REPORT_REPLY", UHID_SET_REPORT_REPLY);
    P("UHID_OUTPUT_REPORT", UHID_OUTPUT_REPORT); P("UHID_DATA_MAX", UHID_DATA_MAX);
    P("HID_MAX_DESCRIPTOR_SIZE", HID_MAX_DESCRIPTOR_SIZE);
    P("create2.rd_size", 4 + offsetof(struct uhid_create2_req, rd_size));
    P("create2.bus", 4 + offsetof(struct uhid_create2_req, bus));
    P("create2.vendor", 4 + offsetof(struct uhid_create2_req, vendor));
    P("create2.rd_data", 4 + offsetof(struct uhid_create2_req, rd_data));
    P("input2.size", 4 + offsetof(struct uhid_input2_req, size));
    P("input2.data", 4 + offsetof(struct uhid_input2_req, data));
    P("output.size", 4 + offsetof(struct uhid_output_req, size));
    P("output.rtype", 4 + offsetof(struct uhid_output_req, rtype));
    P("get_report_reply.err", 4 + offsetof(struct uhid_get_report_reply_req, err));
    P("set_report_reply.err", 4 + offsetof(struct uhid_set_report_reply_req, err));
    return 0;
}
"""


def test_layout_matches_the_kernel_header(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc, "a C compiler is needed (make boards-test-deps installs gcc and linux-libc-dev)"
    assert os.path.exists("/usr/include/linux/uhid.h"), "linux/uhid.h missing: install linux-libc-dev"
    src = tmp_path / "layout.c"
    src.write_text(C_LAYOUT)
    subprocess.run([cc, "-o", str(tmp_path / "layout"), str(src)], check=True)
    out = subprocess.run([str(tmp_path / "layout")], check=True, capture_output=True, text=True).stdout
    c = {k: int(v) for k, v in (line.split() for line in out.splitlines())}
    assert c["EVENT_SIZE"] == uhid.EVENT_SIZE
    for name in ("UHID_DESTROY", "UHID_START", "UHID_STOP", "UHID_OPEN", "UHID_CLOSE", "UHID_OUTPUT",
                 "UHID_GET_REPORT", "UHID_GET_REPORT_REPLY", "UHID_CREATE2", "UHID_INPUT2",
                 "UHID_SET_REPORT", "UHID_SET_REPORT_REPLY", "UHID_OUTPUT_REPORT", "UHID_DATA_MAX",
                 "HID_MAX_DESCRIPTOR_SIZE"):
        assert c[name] == getattr(uhid, name), name
    # Field offsets, read back from events we encode with marker values.
    ev = uhid.create2(vendor=0x11223344, product=0x55667788, descriptor=b"\xAA\xBB")
    assert ev[c["create2.rd_size"]: c["create2.rd_size"] + 2] == (2).to_bytes(2, "little")
    assert ev[c["create2.bus"]: c["create2.bus"] + 2] == uhid.BUS_USB.to_bytes(2, "little")
    assert ev[c["create2.vendor"]: c["create2.vendor"] + 4] == (0x11223344).to_bytes(4, "little")
    assert ev[c["create2.rd_data"]: c["create2.rd_data"] + 2] == b"\xAA\xBB"
    ev = uhid.input2(b"\x01" * 64)
    assert ev[c["input2.size"]: c["input2.size"] + 2] == (64).to_bytes(2, "little")
    assert ev[c["input2.data"]: c["input2.data"] + 64] == b"\x01" * 64
    ev = uhid.output(b"\x02" * 65)
    assert ev[c["output.size"]: c["output.size"] + 2] == (65).to_bytes(2, "little")
    assert ev[c["output.rtype"]] == uhid.UHID_OUTPUT_REPORT
    reply = uhid.get_report_reply(7)
    assert reply[c["get_report_reply.err"]: c["get_report_reply.err"] + 2] == errno.EIO.to_bytes(2, "little")
    reply = uhid.set_report_reply(9)
    assert reply[c["set_report_reply.err"]: c["set_report_reply.err"] + 2] == errno.EIO.to_bytes(2, "little")


@pytest.fixture
def kernel():
    """(transport, the kernel's end of the 'uhid' socket)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    transport = UhidTransport(os.dup(ours.fileno()))
    ours.close()
    yield transport, theirs
    transport.close()
    theirs.close()


def read_event(sock):
    data = sock.recv(uhid.EVENT_SIZE + 1)
    assert len(data) == uhid.EVENT_SIZE
    return uhid.parse(data)


def test_create2_announces_a_fido_usb_device(kernel):
    _, sock = kernel
    kind, f = read_event(sock)
    assert kind == uhid.UHID_CREATE2
    assert f["bus"] == uhid.BUS_USB and (f["vendor"], f["product"]) == (0x1209, 0x0001)
    assert f["rd_data"] == REPORT_DESCRIPTOR and f["rd_size"] == len(REPORT_DESCRIPTOR)
    assert f["name"] == "PyFIDO virtual key"


def test_output_with_report_number_becomes_a_report_and_input2_goes_back(kernel):
    transport, sock = kernel
    read_event(sock)  # CREATE2
    report = bytes(range(64))
    sock.send(uhid.output(b"\x00" + report))  # as hidraw writes it: report number 0 first
    sock.send(uhid.output(report))  # a 64-byte output (no number) is taken as is
    transport.wait(1)
    assert transport.recv() == report and transport.recv() == report
    assert transport.recv() is None
    transport.send(report[::-1])
    kind, f = read_event(sock)
    assert kind == uhid.UHID_INPUT2 and f["data"] == report[::-1]


def test_get_and_set_report_are_refused_with_eio(kernel):
    import struct

    transport, sock = kernel
    read_event(sock)
    sock.send(struct.pack("<IIBB", uhid.UHID_GET_REPORT, 41, 0, uhid.UHID_FEATURE_REPORT).ljust(uhid.EVENT_SIZE, b"\0"))
    sock.send(struct.pack("<IIBBH", uhid.UHID_SET_REPORT, 42, 0, uhid.UHID_FEATURE_REPORT, 0).ljust(uhid.EVENT_SIZE, b"\0"))
    sock.send(struct.pack("<I", uhid.UHID_OPEN).ljust(uhid.EVENT_SIZE, b"\0"))
    transport.wait(1)
    assert transport.recv() is None
    data = sock.recv(uhid.EVENT_SIZE)
    kind, rid, err = struct.unpack_from("<IIH", data)
    assert (kind, rid, err) == (uhid.UHID_GET_REPORT_REPLY, 41, errno.EIO)
    kind, rid, err = struct.unpack_from("<IIH", sock.recv(uhid.EVENT_SIZE))
    assert (kind, rid, err) == (uhid.UHID_SET_REPORT_REPLY, 42, errno.EIO)
    assert transport.opened


def test_events_split_by_a_stream_pipe_are_reassembled():
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    transport = UhidTransport(r_in, write_fd=w_out)
    try:
        event = uhid.output(b"\x00" + b"\x07" * 64)
        os.write(w_in, event[:1000])
        transport.wait(0.1)
        assert transport.recv() is None
        os.write(w_in, event[1000:])
        transport.wait(1)
        assert transport.recv() == b"\x07" * 64
    finally:
        transport.close()
        for fd in (w_in, r_out):
            os.close(fd)


def test_close_destroys_the_device():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    transport = UhidTransport(os.dup(ours.fileno()))
    ours.close()
    transport.close()
    assert read_event(theirs)[0] == uhid.UHID_CREATE2
    assert read_event(theirs)[0] == uhid.UHID_DESTROY
    theirs.close()


def test_open_names_the_fix_when_dev_uhid_is_missing(tmp_path):
    with pytest.raises(OSError) as e:
        UhidTransport.open(str(tmp_path / "no-uhid"))
    assert "modprobe uhid" in str(e.value)


class KernelSideConnection(CtapHidConnection):
    """What hidraw does for a client: reports out as UHID_OUTPUT, in from UHID_INPUT2."""

    def __init__(self, sock):
        self.sock = sock

    def write_packet(self, data):
        self.sock.send(uhid.output(b"\x00" + data))

    def read_packet(self):
        while True:
            kind, f = uhid.parse(self.sock.recv(uhid.EVENT_SIZE))
            if kind == uhid.UHID_INPUT2:
                return f["data"]

    def close(self):
        pass


def test_python_fido2_through_uhid_events():
    from boards.host.virtual_key import VirtualKey

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    transport = UhidTransport(os.dup(ours.fileno()))
    ours.close()
    assert read_event(theirs)[0] == uhid.UHID_CREATE2
    theirs.settimeout(30)
    key = VirtualKey(None, transport=transport).start()
    try:
        desc = HidDescriptor("uhid", 0x1209, 0x0001, 64, 64, "PyFIDO virtual key", None)
        dev = CtapHidDevice(desc, KernelSideConnection(theirs))
        ctap = Ctap2(dev)
        cdh = os.urandom(32)
        att = ctap.make_credential(cdh, {"id": "example.com"}, {"id": b"u", "name": "u"},
                                   [{"type": "public-key", "alg": -7}])
        cred = att.auth_data.credential_data
        assertion = ctap.get_assertion("example.com", cdh, [{"type": "public-key", "id": cred.credential_id}])
        assertion.verify(cdh, cred.public_key)
    finally:
        key.stop()
        theirs.close()


def test_run_py_uhid_explains_a_missing_device(tmp_path):
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, os.path.join(repo, "boards", "host", "run.py"), "--uhid",
                        "--uhid-path", str(tmp_path / "uhid")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "modprobe uhid" in r.stderr


