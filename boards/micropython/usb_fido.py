"""The FIDO HID interface on MicroPython: machine.USBDevice through micropython-lib's usb-device-hid.

usb.device.hid.HIDInterface (micropython-lib) gives the HID class requests
and descriptors but only an IN endpoint, with 8-byte packets. CTAPHID wants
64-byte reports both ways on interrupt endpoints (CTAP 2.1 §11.2.8), so this
subclass declares an interrupt IN and an interrupt OUT endpoint of 64 bytes
and keeps one OUT transfer armed while the report queue has room. When the
main loop falls behind, no transfer is armed and the host is NAKed: reports
wait in the host instead of being lost.

USB callbacks only copy the report into the queue (they run between two
bytecodes of the main loop, scheduled by the USB stack); all CTAPHID work
happens in the main loop.
"""

from micropython import const
import sys

# machine and time as usb-device-hid imported them: an `import` of either is
# a filesystem search each time (they are "extensible" built-ins, which
# MicroPython looks for as files on sys.path first and never caches in
# sys.modules: py/builtinimport.c), 5 ms of boot at 125 MHz for the two.
from usb.device.hid import HIDInterface, machine, time

from boards.common.fido_hid import REPORT_DESCRIPTOR, REPORT_SIZE, ReportQueue

_EP_IN_FLAG = const(0x80)
# USB HID 1.11 §4.1-4.3: interface class HID, no boot subclass or protocol
_INTERFACE_CLASS_HID = const(0x03)
_INTERFACE_SUBCLASS_NONE = const(0x00)
_INTERFACE_PROTOCOL_NONE = const(0x00)
# bInterval (ms) of both interrupt endpoints; 5 ms is what most FIDO keys use.
_POLL_INTERVAL_MS = const(5)
# tinyusb xfer_result_t: XFER_RESULT_SUCCESS (what the xfer callback gets)
_XFER_RESULT_SUCCESS = const(0)
# How long write_report waits for the host to take the previous report.
_SEND_TIMEOUT_MS = const(100)

# What submit_xfer() can raise from the layers below (line numbers of
# micropython-lib 8380c7bb and MicroPython v1.28.0; v1.23.0 raises the same
# but "DCD error"):
#   RuntimeError  usb/device/core.py Interface.submit_xfer(): "Not open"
#                 (l. 601-602); _Device._submit_xfer(): "xfer_pending"
#                 (l. 312-313); "DCD error" (l. 603-604, usb-device >= 0.2.1)
#   ValueError    core.py _Device._submit_xfer(): "ep_addr", an endpoint the
#                 host has not (or no longer) configured (l. 310-311);
#                 extmod/machine_usb_device.c usb_device_submit_xfer(): "ep"
#                 out of range (l. 107-114)
#   OSError       machine_usb_device.c: EINVAL while the device is inactive
#                 or switching (usb_device_check_active(), l. 86-90, 98);
#                 EBUSY when TinyUSB cannot claim the endpoint (l. 116-118)
# core.py records the transfer as pending (l. 319) before the C call, so
# after an OSError or ValueError from there every retry meets "xfer_pending"
# until the stack clears it: the host's bus reset / new configuration
# (core.py _reset_cb, _open_itf_cb; on_open arms again) or the completion
# of the transfer TinyUSB still had (which calls _rx_done).
_XFER_ERRORS = (RuntimeError, OSError, ValueError)
# machine.idle() waits for an interrupt (WFE) on rp2 only (ports/rp2/modmachine.c);
# esp32's yields to FreeRTOS and returns.
_SLEEPING_IDLE = sys.platform == "rp2"


class FidoInterface(HIDInterface):
    """CTAPHID's HID interface: 64-byte input and output reports, no report IDs."""

    def __init__(self, interface_str=None):
        # set_report_buf: hosts may also send output reports as SET_REPORT on
        # the control pipe (HID 1.11 §7.2.2); they land in the same queue.
        super().__init__(
            REPORT_DESCRIPTOR,
            set_report_buf=bytearray(REPORT_SIZE),
            protocol=_INTERFACE_PROTOCOL_NONE,
            interface_str=interface_str,
        )
        self.queue = ReportQueue()
        self._rx = bytearray(REPORT_SIZE)
        self._out_ep = None
        self._rx_armed = False
        self._tx_busy = False  # an IN transfer (a report) not completed yet
        self._tx_failing = False
        self.tx_dropped = 0  # reports the host did not take in time
        if not _SLEEPING_IDLE:
            self.pause = None  # the board's idle() sleeps instead

    # -- descriptors (USB 2.0 §9.6.5-9.6.6, HID 1.11 §7.1) -------------------

    def desc_cfg(self, desc, itf_num, ep_num, strs):
        desc.interface(
            itf_num,
            2,  # bNumEndpoints: interrupt IN + interrupt OUT
            _INTERFACE_CLASS_HID,
            _INTERFACE_SUBCLASS_NONE,
            _INTERFACE_PROTOCOL_NONE,
            len(strs) if self.interface_str else 0,
        )
        if self.interface_str:
            strs.append(self.interface_str)
        # The HID descriptor sits between the interface and its endpoints.
        self.get_hid_descriptor(desc)
        self._int_ep = ep_num | _EP_IN_FLAG
        self._out_ep = ep_num
        desc.endpoint(self._int_ep, "interrupt", REPORT_SIZE, _POLL_INTERVAL_MS)
        desc.endpoint(self._out_ep, "interrupt", REPORT_SIZE, _POLL_INTERVAL_MS)
        # HID class state the base class answers GET_IDLE/GET_PROTOCOL from
        # (report protocol; HID 1.11 Appendix F.5).
        self.idle_rate = 0
        self.protocol = 1

    def num_eps(self):
        return 1  # one endpoint number, used IN and OUT

    # -- USB callbacks: copy and return ------------------------------------

    def on_open(self):
        super().on_open()
        self._rx_armed = False
        self._tx_busy = False
        self._tx_failing = False
        self._arm_rx()

    def on_reset(self):
        super().on_reset()
        self._rx_armed = False  # the stack dropped the pending transfers
        self._tx_busy = False

    def _arm_rx(self):
        if self._rx_armed or self._out_ep is None or not self.is_open():
            return
        if self.queue.free() == 0:
            return  # the host waits (NAK) until the main loop has read one
        self._rx_armed = True
        try:
            self.submit_xfer(self._out_ep, self._rx, self._rx_done)
        except _XFER_ERRORS:
            # Closed, switching or busy meanwhile: the host is NAKed, and the
            # next main-loop turn (service(), read_report()), a completion
            # or on_open() tries again. Never raised: this also runs inside
            # USB callbacks, where an exception would surface in whatever
            # the main loop was doing. But when the stack has a transfer
            # pending there, it is armed: a USB callback (on_open, or a
            # completion) ran between two bytecodes of this very call and
            # armed it first -- left at False, every later turn would try
            # again, raise "xfer_pending" and make an exception object (at
            # 200 MHz, 25 KB of garbage every 150 ms while idle). A mark the
            # stack left after a failed submit (see _XFER_ERRORS) counts too:
            # retrying would only meet "xfer_pending" until the bus reset.
            self._rx_armed = self._stack_pending(self._out_ep)

    def _stack_pending(self, ep):
        """Whether usb-device's own bookkeeping has a transfer pending on ep."""
        try:
            return bool(self.xfer_pending(ep))
        except KeyError:  # an endpoint the stack has not (or no longer) configured
            return False

    def _rx_done(self, ep, result, xferred_bytes):
        self._rx_armed = False
        if result == _XFER_RESULT_SUCCESS and xferred_bytes == REPORT_SIZE:
            self.queue.put(self._rx)
        self._arm_rx()

    def on_set_report(self, report_data, report_id, report_type):
        # Output report over the control pipe; only report ID 0 exists.
        if report_id == 0 and len(report_data) == REPORT_SIZE:
            self.queue.put(report_data)
        return True

    def _tx_done(self, ep, result, xferred_bytes):
        self._tx_busy = False

    # -- what the board calls ------------------------------------------------

    def read_report(self, buf):
        got = self.queue.get_into(buf)
        if not self._rx_armed:
            self._arm_rx()
        return got

    def write_report(self, buf):
        """Queue one report for the host; False when it was dropped.

        Submitted here (Interface.submit_xfer, the public API under
        HIDInterface.send_report) with our own completion flag: send_report
        asks busy(), is_open() and xfer_pending() for every report, a dozen
        Python calls that made up half of a report's 0.4 ms at 125 MHz. The
        rules are send_report's: wait up to _SEND_TIMEOUT_MS for the previous
        report to be taken; closed, or still not taken, is a dropped report.
        When the stack refuses the submit, send_report decides; only its
        False is a failure: usb-device-hid 0.1.0 (micropython-lib 583bc0da,
        frozen in MicroPython v1.23.0 to v1.26.1) ends send_report() with
        `self.submit_xfer(self._int_ep, report_data)` and no return
        statement (hid.py l. 112-125): success is None; 0.1.1 (bdc4706c
        "Return True after submit_xfer", v1.27.0 on) and 0.2.0 return True.
        """
        # After a report timed out (the host stopped reading, e.g. the client
        # closed the device mid-answer) the rest of that message is dropped
        # at once; the next message (an initialization packet, bit 7 of byte
        # 4) gets the full timeout again.
        if self._tx_failing and not buf[4] & 0x80:
            self.tx_dropped += 1
            return False
        if self._tx_busy:
            # The previous report's completion callback has not run yet: wait
            # for it -- as long as the stack says it is pending (busy()), so
            # a flag that missed a reset never holds a report back.
            deadline = time.ticks_add(time.ticks_ms(), _SEND_TIMEOUT_MS)
            while self._tx_busy and self.busy():
                if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                    return self._dropped()
                machine.idle()  # the completion comes from a USB interrupt
        self._tx_busy = True
        try:
            self.submit_xfer(self._int_ep, buf, self._tx_done)
        except _XFER_ERRORS:
            # Closed (the host reset or closed the interface), or pending in
            # the stack although not for our flag (a USB callback between two
            # bytecodes): send_report waits on the stack's own state and
            # tells which (it submits without a callback: the next report
            # finds the stack busy and comes here again).
            self._tx_busy = False
            try:
                sent = self.send_report(buf, _SEND_TIMEOUT_MS)
            except _XFER_ERRORS:
                sent = False  # the host reset or closed the interface meanwhile
            if sent is False:
                return self._dropped()
        self._tx_failing = False
        return True

    def write_reports(self, buf):
        """Several reports, back to back in buf, in one IN transfer; returns once the host has them.

        The stack sends a transfer of n * 64 bytes as n packets of the
        endpoint's 64 bytes, each one report to the host (USB 2.0 §5.7.3: a
        transfer of whole max-size packets); one submit and one completion
        instead of n of each. Returns only when the transfer is done: the
        caller reuses the buffer (CTAPHID frames answers in its message
        buffer). Up to _SEND_TIMEOUT_MS per report; then, as for one report,
        a dropped answer.
        """
        if not self.write_report(buf):
            return False
        deadline = time.ticks_add(time.ticks_ms(), _SEND_TIMEOUT_MS * (len(buf) // REPORT_SIZE))
        while self.busy():  # the stack's own state: also after send_report submitted it
            if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                return self._dropped()
            machine.idle()
        return True

    def _dropped(self):
        self._tx_failing = True
        self.tx_dropped += 1
        return False

    def service(self):
        if not self._rx_armed:
            self._arm_rx()

    def pause(self):
        """Sleep until the next interrupt (a USB transfer done, say), then say whether a report is waiting.

        The board's idle() calls this until a report is waiting or 1 ms has
        passed, so a report that arrives meanwhile is picked up at once, not
        after the rest of a fixed time.sleep_ms(1) (which sleeps on through
        interrupts until the ms tick has moved). rp2: machine.idle() is a WFE
        with a 1 ms alarm; its first call after others returns at once
        (pico-sdk 2.x best_effort_wfe_or_timeout: arming the alarm is a SEV),
        the next one sleeps. Other ports' machine.idle() does not sleep:
        there the interface has no pause() (see __init__) and the board
        sleeps 1 ms.
        """
        if len(self.queue):
            return True
        machine.idle()
        return len(self.queue) > 0
