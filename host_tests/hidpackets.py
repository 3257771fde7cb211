"""Raw CTAPHID packet helpers for tests that speak to the key below python-fido2.

Independent of firmware/ctaphid.py on purpose: the constants are taken from
python-fido2 (fido2.hid.CTAPHID, fido2.hid.CAPABILITY) and the CTAP 2.1 spec.
"""

import struct
import time

from fido2.hid import CTAPHID

REPORT = 64
BROADCAST = 0xFFFFFFFF
ERR_INVALID_CMD = 0x01
ERR_INVALID_PAR = 0x02
ERR_INVALID_LEN = 0x03
ERR_INVALID_SEQ = 0x04
ERR_MSG_TIMEOUT = 0x05
ERR_CHANNEL_BUSY = 0x06
ERR_LOCK_REQUIRED = 0x0A
ERR_INVALID_CHANNEL = 0x0B
ERR_OTHER = 0x7F


def init_packet(cid, cmd, data=b"", bcnt=None):
    """One initialization packet; bcnt defaults to len(data)."""
    if bcnt is None:
        bcnt = len(data)
    pkt = struct.pack(">IBH", cid, 0x80 | cmd, bcnt) + bytes(data[:57])
    return pkt.ljust(REPORT, b"\0")


def cont_packet(cid, seq, data=b""):
    return (struct.pack(">IB", cid, seq) + bytes(data[:59])).ljust(REPORT, b"\0")


def packets(cid, cmd, data):
    """All packets of one message, as a host sends them."""
    out = [init_packet(cid, cmd, data)]
    rest = data[57:]
    seq = 0
    while rest:
        out.append(cont_packet(cid, seq, rest))
        rest = rest[59:]
        seq += 1
    return out


def parse_messages(reports):
    """Reassemble output reports into [(cid, cmd, payload)] and check framing."""
    msgs = []
    cur = None
    for r in reports:
        assert len(r) == REPORT
        cid = struct.unpack_from(">I", r)[0]
        if r[4] & 0x80:
            assert cur is None, "new message before the last one ended"
            cmd = r[4] & 0x7F
            bcnt = struct.unpack_from(">H", r, 5)[0]
            cur = [cid, cmd, bcnt, bytearray(r[7 : 7 + min(bcnt, 57)]), 0]
            assert r[7 + min(bcnt, 57) :] == bytes(REPORT - 7 - min(bcnt, 57)), "padding not zero"
        else:
            assert cur is not None and cid == cur[0], "stray continuation"
            assert r[4] == cur[4], "sequence %d, expected %d" % (r[4], cur[4])
            cur[4] += 1
            n = min(cur[2] - len(cur[3]), 59)
            cur[3] += r[5 : 5 + n]
            assert r[5 + n :] == bytes(REPORT - 5 - n), "padding not zero"
        if cur is not None and len(cur[3]) == cur[2]:
            msgs.append((cur[0], cur[1], bytes(cur[3])))
            cur = None
    assert cur is None, "incomplete message"
    return msgs


def error(cid, code):
    return (cid, CTAPHID.ERROR, bytes([code]))


class FencedHid:
    """Raw packets to a running key over any python-fido2 CtapHidConnection.

    send(*reports) -> [(cid, cmd, payload)]: every message the key sent in
    answer, and nothing else. After the reports it sends a one-packet PING
    on a channel of its own (the fence) and reads until the fence's answer:
    the key handles reports in order, so whatever it says about the earlier
    ones comes before -- no sleeping, and "no answer" is a definite []. The
    fence's answer itself (its echo, or ERR_CHANNEL_BUSY / ERR_LOCK_REQUIRED
    while another channel holds the key) is left out.
    """

    def __init__(self, connection):
        self.connection = connection
        self.fence = None
        nonce = bytes(range(8))
        self.write(init_packet(BROADCAST, CTAPHID.INIT, nonce))
        while self.fence is None:
            r = self.connection.read_packet()
            if struct.unpack_from(">I", r)[0] == BROADCAST and r[7:15] == nonce:
                self.fence = struct.unpack_from(">I", r, 15)[0]

    def write(self, *reports):
        for r in reports:
            self.connection.write_packet(bytes(r))

    def read_message(self):
        """The next whole message (one channel talking at a time)."""
        reports = [self.connection.read_packet()]
        bcnt = struct.unpack_from(">H", reports[0], 5)[0]
        have = min(bcnt, REPORT - 7)
        while have < bcnt:
            reports.append(self.connection.read_packet())
            have += REPORT - 5
        return parse_messages(reports)[0]

    def trickle(self, reports, gap):
        """send() each report, `gap` seconds apart; every message that came back."""
        out = []
        for i, r in enumerate(reports):
            if i:
                time.sleep(gap)
            out += self.send(r)
        return out

    def send(self, *reports):
        self.write(*reports)
        self.write(init_packet(self.fence, CTAPHID.PING, b"fence"))
        got = []
        while True:
            r = self.connection.read_packet()
            if struct.unpack_from(">I", r)[0] == self.fence and r[4] & 0x80:
                return parse_messages(got)
            got.append(r)

