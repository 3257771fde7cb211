"""CTAP 2.1 §11.2 USB HID transport (CTAPHID): packets, channels, messages.

This layer turns 64-byte reports into (cid, command, payload) messages and
frames the answers. It knows nothing of CBOR or CTAP2: CTAPHID_CBOR and
CTAPHID_MSG payloads go up to the application object unchanged, and the bytes
it returns go back on the same channel.

Shape (CTAP 2.1 §11.2.4):
  initialization packet  CID(4) CMD|0x80(1) BCNTH(1) BCNTL(1) DATA(57)
  continuation packet    CID(4) SEQ 0..0x7F(1) DATA(59)
so the largest message is 57 + 128 * 59 = 7609 bytes.

A board whose USB stack can send several reports in one transfer offers
write_reports(buf): buf holds whole reports, back to back; it returns once
the host has taken them all (or they were dropped). An answer of up to
_FIRST_END bytes then goes out in one call (_send_batch): framed in place in
the message buffer, one USB transfer instead of one per report, each of
which cost a dozen Python calls on the way down and a completion callback on
the way up. Other boards get one write_report(buf) per report.

The application object (firmware/authenticator.py) provides:
  capabilities              CAPABILITY_* flags for the INIT answer
  handle(cmd, payload, ctx) -> bytes, for CTAPHID_CBOR and CTAPHID_MSG
where ctx is this object: while a command waits (user presence) the
application calls ctx.keepalive(status), which sends KEEPALIVE at least every
100 ms, reads incoming reports and returns True once the host has cancelled.

Nothing here allocates but the view of the request handed to the
application: receiving and reassembling reports, INIT, PING, WINK, LOCK,
CANCEL, KEEPALIVE, every CTAPHID error and the framing of any answer use
buffers made once, so the key answers even with no heap left (proved under
micropython.heap_lock() on the unix port:
host_tests/test_heap_lock_micropython.py). Hence channel IDs are kept as
signed 32-bit values (see _read_cid), one-report answers are framed in
place, and longer ones are sent from the message buffer (_send_message).

And nothing here stores into a slice of the message buffer, whose views
are 7.6 KB long: MicroPython's slice store (py/objarray.c array_subscr ->
py/obj.h mp_seq_replace_slice_no_grow) copies the slice, then memmoves
everything after it onto itself -- up to 7.6 KB, byte by byte when
unaligned, for every report (0.5 ms at 125 MHz). Data goes into the buffer
with struct.pack_into at an offset ("Ns" copies N bytes, zero-filling past
a shorter source), and out of it through views that end where the copy
ends.
"""

from micropython import const
import struct

from firmware.ticks import elapsed_ms

REPORT_SIZE = const(64)
_INIT_DATA = const(57)  # REPORT_SIZE - 7
_CONT_DATA = const(59)  # REPORT_SIZE - 5
MAX_MESSAGE_SIZE = const(7609)  # _INIT_DATA + 128 * _CONT_DATA

# CTAP 2.1 §11.2.9 commands (the byte on the wire has 0x80 set in an
# initialization packet)
CTAPHID_PING = const(0x01)
CTAPHID_MSG = const(0x03)
CTAPHID_LOCK = const(0x04)
CTAPHID_INIT = const(0x06)
CTAPHID_WINK = const(0x08)
CTAPHID_CBOR = const(0x10)
CTAPHID_CANCEL = const(0x11)
CTAPHID_KEEPALIVE = const(0x3B)
CTAPHID_ERROR = const(0x3F)
# 0x40..0x7F vendor commands: none implemented, answered ERR_INVALID_CMD.

_TYPE_INIT = const(0x80)
CID_BROADCAST = const(0xFFFFFFFF)  # on the wire
_CID_RESERVED = const(0)
# Channel IDs as _read_cid() gives them: signed 32-bit values, so the
# broadcast CID is -1. A CID whose two top bits differ (0x40000000 to
# 0xBFFFFFFF) would be a long integer on a 32-bit MicroPython (small ints
# have 31 bits), i.e. an allocation per report; no key allocates such a
# channel (_LAST_CID), so all of them read as one value that is never
# allocated either, and an answer to such a report copies its CID bytes.
_BROADCAST = const(-1)
_CID_WIDE = const(0x3FFFFFFF)
_LAST_CID = const(0x3FFFFFFE)  # channels are allocated 1.._LAST_CID, then again from 1

# CTAP 2.1 §11.2.9.1.6 CTAPHID_ERROR codes
ERR_INVALID_CMD = const(0x01)
ERR_INVALID_PAR = const(0x02)
ERR_INVALID_LEN = const(0x03)
ERR_INVALID_SEQ = const(0x04)
ERR_MSG_TIMEOUT = const(0x05)
ERR_CHANNEL_BUSY = const(0x06)
ERR_LOCK_REQUIRED = const(0x0A)
ERR_INVALID_CHANNEL = const(0x0B)
ERR_OTHER = const(0x7F)

# CTAP 2.1 §11.2.9.1.3 CTAPHID_INIT capability flags
CAPABILITY_WINK = const(0x01)
CAPABILITY_CBOR = const(0x04)
CAPABILITY_NMSG = const(0x08)  # set while CTAPHID_MSG (CTAP1) is NOT implemented
CTAPHID_PROTOCOL_VERSION = const(2)

# CTAP 2.1 §11.2.9.2.1 CTAPHID_KEEPALIVE status
STATUS_PROCESSING = const(1)
STATUS_UPNEEDED = const(2)

# Timing. The spec leaves the inter-packet timeout to the vendor; half a
# second is what U2F keys have used since the U2F HID spec and is far above
# the few milliseconds a host needs between reports.
MSG_TIMEOUT_MS = const(500)
# "at least every 100 ms" (§11.2.9.2.1): send a little earlier than that so a
# poll loop with 10 ms granularity never overshoots.
KEEPALIVE_INTERVAL_MS = const(80)
LOCK_MAX_SECONDS = const(10)

_ZEROS = bytes(REPORT_SIZE)
# KEEPALIVE payloads by status, made once (not one bytes object per keepalive)
_KEEPALIVE_DATA = (b"", b"\x01", b"\x02")
_INIT_RESPONSE_SIZE = const(17)  # nonce(8) CID(4) version(1) major minor build(3) capabilities(1)
# The message buffer: the largest message, and room for a continuation
# packet's data field past it (data fields are copied whole).
_MSG_BUFFER = const(7668)  # MAX_MESSAGE_SIZE + _CONT_DATA
# struct formats that copy into the message buffer (literals, so no string
# is made at run time): a data field; an answer, zero-filled to the end of
# the first reports (_FIRST_END) or of the buffer; the last report's padding.
_FMT_INIT_DATA = "57s"  # _INIT_DATA
_FMT_CONT_DATA = "59s"  # _CONT_DATA, also the padding after a message
_FMT_ANSWER_FIRST = "1119s"  # _FIRST_END + _CONT_DATA
_FMT_ANSWER = "7668s"  # _MSG_BUFFER
# _send_message sends the first reports of a message from where their data
# lies (the initialization packet and _FIRST_CONT continuation packets:
# _FIRST_END bytes, all a CTAP2 answer but large blobs needs); beyond that,
# the rest moves up to the head of the buffer and _LATER_CONT more reports
# go from there, and so on. Both shifts are multiples of 4, so the move
# copies words.
_FIRST_CONT = const(17)
_FIRST_END = const(1060)  # _INIT_DATA + _FIRST_CONT * _CONT_DATA
_LATER_CONT = const(8)
_LATER_END = const(472)  # _LATER_CONT * _CONT_DATA


# struct.pack_into(fmt, buffer, offset, data): copies into the buffer at an
# offset without a slice store. MicroPython takes any buffer for "s";
# CPython only bytes (it allocates freely anyway).
try:
    struct.pack_into("1s", bytearray(1), 0, memoryview(bytearray(1)))
    _pack_into = struct.pack_into
except struct.error:

    def _pack_into(fmt, buffer, offset, data):
        struct.pack_into(fmt, buffer, offset, bytes(data))


def _read_cid(pkt):
    """The report's CID as a signed 32-bit value; _CID_WIDE when that is no small int.

    Not struct.unpack_from: its result tuple would be one allocation per
    report; and only values of 31 bits (signed) are small ints everywhere.
    """
    b0 = pkt[0]
    if b0 < 0x40:
        return (b0 << 24) | (pkt[1] << 16) | (pkt[2] << 8) | pkt[3]
    if b0 >= 0xC0:
        return ((b0 - 256) << 24) | (pkt[1] << 16) | (pkt[2] << 8) | pkt[3]
    return _CID_WIDE

# Assembler states
_IDLE = const(0)
_ASSEMBLING = const(1)
_BUSY = const(2)  # a complete message is with the application


class CtapHid:
    """The CTAPHID state machine of one HID interface."""

    def __init__(self, board, app, version=(1, 0, 0)):
        self._board = board
        self.app = app
        self._version = version
        self._rx = bytearray(REPORT_SIZE)
        # Views of the fields of _rx, made once: slicing a report per packet
        # would allocate a copy (or a view) every time.
        rx = memoryview(self._rx)
        self._rx_cid = rx[:4]
        self._rx_nonce = rx[7:15]  # an INIT's nonce
        self._rx_init_data = rx[7:]
        self._rx_cont_data = rx[5:]
        # Two transmit buffers, swapped after each report: a USB stack that
        # queues the buffer it was given never sees it overwritten.
        self._tx = (bytearray(REPORT_SIZE), bytearray(REPORT_SIZE))
        self._tx_i = 0
        # The message in, then the message out, and room for a continuation
        # packet's data field past the largest (data fields are copied whole).
        self._msg = bytearray(_MSG_BUFFER)
        mv = memoryview(self._msg)
        self._mv = mv
        self._nonce = mv[:8]  # an INIT message's nonce
        # _send_message's views, each exactly a report's data field: the
        # first reports where they lie; the later ones at the head of the
        # buffer, once the rest has moved up (by _FIRST_END, then by
        # _LATER_END: each move takes a view of everything from there on and
        # one of as much at the head).
        first = [mv[:_INIT_DATA]]
        for i in range(_FIRST_CONT):
            at = _INIT_DATA + i * _CONT_DATA
            first.append(mv[at : at + _CONT_DATA])
        self._first = tuple(first)
        self._later = tuple(mv[i * _CONT_DATA : (i + 1) * _CONT_DATA] for i in range(_LATER_CONT))
        self._shift_first = (mv[: _MSG_BUFFER - _FIRST_END], mv[_FIRST_END:])
        self._shift_later = (mv[: _MSG_BUFFER - _LATER_END], mv[_LATER_END:])
        # _send_batch's views, for a board that sends several reports at once:
        # where each of the first reports' data field goes when the answer is
        # framed in place (report k at 64 * k), and the first k reports.
        self._write_reports = getattr(board, "write_reports", None)
        if self._write_reports is not None:
            placed = [mv[7:REPORT_SIZE]]
            for k in range(1, _FIRST_CONT + 1):
                placed.append(mv[k * REPORT_SIZE + 5 : (k + 1) * REPORT_SIZE])
            self._placed = tuple(placed)
            self._batches = tuple(mv[: k * REPORT_SIZE] for k in range(1, _FIRST_CONT + 2))
        self._last_cid = 0  # channels 1.._last_cid are allocated
        self._state = _IDLE
        self._cid = 0
        self._cmd = 0
        self._bcnt = 0
        self._have = 0
        self._seq = 0
        self._last_rx = 0
        self._lock_cid = 0
        self._lock_since = 0
        self._lock_ms = 0
        # per-transaction state while the application works
        self._cancelled = False
        self._resync = False  # an INIT came on the busy channel: its nonce is in _resync_nonce
        self._resync_nonce = bytearray(8)
        self._ka_last = 0
        self._ka_status = 0

    # -- entry points for the main loop ----------------------------------

    def poll(self):
        """Read and process every report the board has; True if any came."""
        got = False
        while self._board.read_report(self._rx):
            got = True
            self.process_report(self._rx)
        self.check_timeout()
        self._expire_lock()  # looked at on every turn: see firmware/ticks.py
        return got

    def check_timeout(self):
        """Fail a message whose next packet has not come in time."""
        if self._state == _ASSEMBLING:
            if elapsed_ms(self._board, self._last_rx) > MSG_TIMEOUT_MS:
                cid = self._cid
                self._state = _IDLE
                self._send_error(cid, ERR_MSG_TIMEOUT)

    def abort(self):
        """Forget a half-assembled message (after an internal error)."""
        if self._state != _IDLE:
            cid = self._cid
            self._state = _IDLE
            self._send_error(cid, ERR_OTHER)

    def process_report(self, pkt):
        """Feed one 64-byte output report from the host."""
        if len(pkt) != REPORT_SIZE:
            return  # not a report of this interface; nothing to answer on
        if pkt is not self._rx:
            self._rx[:] = pkt  # same length: copied in place
            pkt = self._rx
        cid = _read_cid(pkt)
        b4 = pkt[4]
        is_init = b4 & _TYPE_INIT
        self._expire_lock()
        if self._state == _ASSEMBLING:
            self.check_timeout()
        if self._state == _ASSEMBLING:
            self._continue(cid, pkt, is_init)
            return
        if not is_init:
            return  # §11.2.4: spurious continuation packets are ignored
        cmd = b4 & 0x7F
        if self._lock_cid and cid != self._lock_cid and cmd != CTAPHID_INIT:
            self._refuse(ERR_LOCK_REQUIRED)
            return
        if cid == _CID_RESERVED or (cid == _BROADCAST and cmd != CTAPHID_INIT):
            self._refuse(ERR_INVALID_CHANNEL)
            return
        if cid != _BROADCAST and not (0 < cid <= self._last_cid):
            self._refuse(ERR_INVALID_CHANNEL)
            return
        bcnt = (pkt[5] << 8) | pkt[6]
        if bcnt > MAX_MESSAGE_SIZE:
            # Checked before anything is copied (OpenSK hid/receive.rs).
            self._refuse(ERR_INVALID_LEN)
            return
        self._state = _ASSEMBLING
        self._cid = cid
        self._cmd = cmd
        self._bcnt = bcnt
        self._seq = 0
        self._last_rx = self._board.ticks_ms()
        n = bcnt if bcnt < _INIT_DATA else _INIT_DATA
        # The whole data field, also past the end of the message: the buffer
        # has room for it, and the handler sees only the message's bcnt bytes.
        _pack_into(_FMT_INIT_DATA, self._msg, 0, self._rx_init_data)
        self._have = n
        if n == bcnt:
            self._dispatch()

    # -- used by the application while a command is in progress ----------

    def keepalive(self, status):
        """Keep the host waiting; True once the transaction is cancelled.

        Sends CTAPHID_KEEPALIVE(status) when the last one is KEEPALIVE_INTERVAL_MS
        old (and at once when the status turns to UPNEEDED), then reads what
        the host sent meanwhile: CANCEL or INIT on the busy channel cancel the
        transaction; other channels are told ERR_CHANNEL_BUSY.
        """
        if self._state == _BUSY and not self._cancelled:
            now = self._board.ticks_ms()
            if (status == STATUS_UPNEEDED and self._ka_status != STATUS_UPNEEDED) or (
                self._board.ticks_diff(now, self._ka_last) >= KEEPALIVE_INTERVAL_MS
            ):
                self._ka_last = now
                self._ka_status = status
                self._send(self._cid, CTAPHID_KEEPALIVE, _KEEPALIVE_DATA[status])
        while self._board.read_report(self._rx):
            self._process_while_busy(self._rx)
        return self._cancelled

    @property
    def cancelled(self):
        return self._cancelled

    # -- internals --------------------------------------------------------

    def _continue(self, cid, pkt, is_init):
        if cid != self._cid:
            if is_init:
                # §11.2.5.1: one transaction at a time across channels.
                self._refuse(ERR_CHANNEL_BUSY)
            return  # a stray continuation of another channel: ignored
        if is_init:
            self._state = _IDLE
            if (pkt[4] & 0x7F) == CTAPHID_INIT:
                # INIT on the channel resynchronises it: drop the message.
                self.process_report(pkt)
            else:
                self._refuse(ERR_INVALID_SEQ)
            return
        if pkt[4] != self._seq:
            self._state = _IDLE
            self._refuse(ERR_INVALID_SEQ)
            return
        self._seq += 1
        self._last_rx = self._board.ticks_ms()
        n = self._bcnt - self._have
        if n > _CONT_DATA:
            n = _CONT_DATA
        _pack_into(_FMT_CONT_DATA, self._msg, self._have, self._rx_cont_data)  # whole, as above
        self._have += n
        if self._have == self._bcnt:
            self._dispatch()

    def _dispatch(self):
        cid = self._cid
        cmd = self._cmd
        n = self._bcnt
        self._state = _BUSY
        try:
            if cmd == CTAPHID_INIT:
                self._init(cid, n)
            elif cmd == CTAPHID_PING:
                self._send_message(cid, CTAPHID_PING, n)  # the request is the answer
            elif cmd == CTAPHID_WINK:
                if n:
                    self._send_error(cid, ERR_INVALID_LEN)
                else:
                    self._board.led("wink")
                    self._send(cid, CTAPHID_WINK, b"")
            elif cmd == CTAPHID_LOCK:
                self._lock(cid, n)
            elif cmd == CTAPHID_CANCEL:
                pass  # nothing in progress to cancel; CANCEL is never answered
            elif cmd == CTAPHID_CBOR or (
                cmd == CTAPHID_MSG and not (self.app.capabilities & CAPABILITY_NMSG)
            ):
                if n:
                    self._run_app(cid, cmd, n)
                else:
                    # No message to hand up: a length error of this layer.
                    # §11.2.9.1.2 gives CTAPHID_CBOR's BCNT as 1..(n + 1)
                    # (the CTAP command byte, then n bytes of CBOR); a
                    # CTAPHID_MSG carries a U2F request message (§11.2.9.1.1),
                    # never empty. A short but non-empty APDU is the U2F
                    # layer's to answer (SW_WRONG_LENGTH, firmware/ctap1.py).
                    self._send_error(cid, ERR_INVALID_LEN)
            else:
                self._send_error(cid, ERR_INVALID_CMD)
        finally:
            self._state = _IDLE

    def _run_app(self, cid, cmd, n):
        self._cancelled = False
        self._resync = False
        self._ka_last = self._board.ticks_ms()
        self._ka_status = 0
        try:
            response = self.app.handle(cmd, self._mv[:n], self)
        except Exception as e:  # the main loop must never die: answer and go on
            self._log(e)
            response = None
        if self._resync:
            # The host re-initialised the channel mid-transaction: the
            # transaction's answer is dropped and the INIT answered instead.
            self._resync = False
            self._send_init(cid, self._resync_nonce, cid)
        elif response is None:
            self._send_error(cid, ERR_OTHER)
        elif len(response) > MAX_MESSAGE_SIZE:
            self._send_error(cid, ERR_OTHER)
        else:
            # The request is spent: its buffer carries the answer, zero-filled
            # past it to the end of the reports that carry it (or of the buffer).
            n = len(response)
            _pack_into(_FMT_ANSWER_FIRST if n <= _FIRST_END else _FMT_ANSWER, self._msg, 0, response)
            self._send_message(cid, cmd, n)

    def _process_while_busy(self, pkt):
        cid = _read_cid(pkt)
        b4 = pkt[4]
        if not b4 & _TYPE_INIT:
            return
        cmd = b4 & 0x7F
        if cid == self._cid:
            if cmd == CTAPHID_CANCEL:
                self._cancelled = True
            elif cmd == CTAPHID_INIT and ((pkt[5] << 8) | pkt[6]) == 8:
                self._cancelled = True
                self._resync = True
                self._resync_nonce[:] = self._rx_nonce
            else:
                self._refuse(ERR_CHANNEL_BUSY)
        elif self._lock_cid and cid != self._lock_cid and cmd != CTAPHID_INIT:
            self._refuse(ERR_LOCK_REQUIRED)
        else:
            self._refuse(ERR_CHANNEL_BUSY)

    def _init(self, cid, n):
        # §11.2.9.1.3: an 8-byte nonce; on the broadcast channel a new
        # channel is allocated, on an allocated one that channel is resynced.
        if n != 8:
            self._send_error(cid, ERR_INVALID_LEN)
            return
        if cid == _BROADCAST:
            if self._last_cid >= _LAST_CID:
                self._last_cid = 0  # a billion channels later: start over
            self._last_cid += 1
            new_cid = self._last_cid
        else:
            new_cid = cid
        self._send_init(cid, self._nonce, new_cid)

    def _send_init(self, cid, nonce, new_cid):
        """The INIT answer (§11.2.9.1.3), framed in place."""
        v = self._version
        tx = self._next_tx()
        struct.pack_into(">iBH", tx, 0, cid, _TYPE_INIT | CTAPHID_INIT, _INIT_RESPONSE_SIZE)
        tx[7:15] = nonce
        struct.pack_into(
            ">IBBBBB", tx, 15, new_cid, CTAPHID_PROTOCOL_VERSION, v[0], v[1], v[2], self.app.capabilities)
        self._board.write_report(tx)

    def _lock(self, cid, n):
        # §11.2.9.2.2: lock the device to this channel for 1..10 s; 0 unlocks.
        if n != 1:
            self._send_error(cid, ERR_INVALID_LEN)
            return
        seconds = self._msg[0]
        if seconds > LOCK_MAX_SECONDS:
            self._send_error(cid, ERR_INVALID_PAR)
            return
        if seconds == 0:
            self._lock_cid = 0
        else:
            self._lock_cid = cid
            self._lock_since = self._board.ticks_ms()
            self._lock_ms = 1000 * seconds
        self._send(cid, CTAPHID_LOCK, b"")

    def _expire_lock(self):
        if self._lock_cid:
            if elapsed_ms(self._board, self._lock_since) >= self._lock_ms:
                self._lock_cid = 0

    def _send_error(self, cid, code):
        """CTAPHID_ERROR(code) on channel cid, framed in place."""
        tx = self._next_tx()
        struct.pack_into(">iBHB", tx, 0, cid, _TYPE_INIT | CTAPHID_ERROR, 1, code)
        self._board.write_report(tx)

    def _refuse(self, code):
        """CTAPHID_ERROR(code) for the report in _rx, on that report's own CID bytes."""
        tx = self._next_tx()
        tx[:4] = self._rx_cid
        struct.pack_into(">BHB", tx, 4, _TYPE_INIT | CTAPHID_ERROR, 1, code)
        self._board.write_report(tx)

    def _send_message(self, cid, cmd, n):
        """Frame the message buffer's first n bytes into reports, allocating nothing.

        The first reports take their data from where it lies (the views in
        _first); past _FIRST_END bytes the rest moves up to the head of the
        buffer and the next reports take it from there (_later), moving up
        again after each _LATER_CONT reports. The buffer is spent.
        """
        _pack_into(_FMT_CONT_DATA, self._msg, n, b"")  # the last report's padding: zeros
        if self._write_reports is not None and _INIT_DATA < n <= _FIRST_END:
            self._send_batch(cid, cmd, n)
            return
        views = self._first
        tx = self._next_tx()
        struct.pack_into(">iBH", tx, 0, cid, _TYPE_INIT | cmd, n)
        tx[7:] = views[0]
        self._board.write_report(tx)
        sent = _INIT_DATA
        seq = 0
        i = 1
        last = _FIRST_CONT
        while sent < n:
            if i > last:
                # Every view used: the rest moves up to the head (memmove).
                dst, src = self._shift_first if views is self._first else self._shift_later
                dst[:] = src
                views = self._later
                i = 0
                last = _LATER_CONT - 1
            tx = self._next_tx()
            struct.pack_into(">iB", tx, 0, cid, seq)
            tx[5:] = views[i]
            self._board.write_report(tx)
            sent += _CONT_DATA
            seq += 1
            i += 1

    def _send_batch(self, cid, cmd, n):
        """Frame the message buffer's first n bytes (57 < n <= _FIRST_END) in place; one write_reports().

        Report k goes to 64 * k: the data fields move up, the last first (each
        lands above where the ones below it still lie), then the headers are
        written between them. The buffer is spent, and in the stack's hands
        until write_reports() returns.
        """
        reports = 1 + (n - _INIT_DATA + _CONT_DATA - 1) // _CONT_DATA
        placed = self._placed
        first = self._first
        k = reports - 1
        while k >= 0:
            placed[k][:] = first[k]  # memmove: the two may overlap
            k -= 1
        msg = self._msg
        struct.pack_into(">iBH", msg, 0, cid, _TYPE_INIT | cmd, n)
        k = 1
        while k < reports:
            struct.pack_into(">iB", msg, k * REPORT_SIZE, cid, k - 1)
            k += 1
        self._write_reports(self._batches[reports - 1])

    def _send(self, cid, cmd, data):
        """A message of one report (KEEPALIVE, WINK, LOCK: at most 57 bytes), framed in place."""
        n = len(data)
        tx = self._next_tx()
        struct.pack_into(">iBH", tx, 0, cid, _TYPE_INIT | cmd, n)
        tx[7 : 7 + n] = data
        self._board.write_report(tx)

    def _next_tx(self):
        """The other transmit buffer, zeroed: a report's padding is zeros."""
        self._tx_i ^= 1
        tx = self._tx[self._tx_i]
        tx[:] = _ZEROS  # same length: copied in place, nothing allocated
        return tx

    def _log(self, e):
        # Called as a method (getattr would make a bound method: an
        # allocation), and never raising: logging may need the heap the
        # error ran out of (a MemoryError's traceback), or the board may
        # have no log; the host gets its answer either way.
        try:
            self._board.log_exception(e)
        except Exception:
            pass
