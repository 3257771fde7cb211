"""Fake of CircuitPython's `usb_hid`: Device, enable(), disable(), devices.

Device checks its arguments as CircuitPython's does (keyword-only, equal
lengths, usage page/usage 1..0xFFFF, report id 0 only alone). Like
CircuitPython, a device keeps only the last output report the host sent:
get_last_received_report() returns it once, then None until the next one.
The simulated host (fakehw.HOST) sends at most one report per
HOST_INTERVAL_MS (the interrupt endpoint's polling interval), and takes
every input report at once.
"""

import time

import fakehw

HOST_INTERVAL_MS = 8
devices = ()
_enabled = None  # what boot.py asked for; becomes `devices` when code.py starts


class Device:
    def __init__(self, *, report_descriptor, usage_page, usage, report_ids, in_report_lengths, out_report_lengths):
        if not 1 <= usage_page <= 0xFFFF or not 1 <= usage <= 0xFFFF:
            raise ValueError("usage_page/usage out of range")
        if not (len(report_ids) == len(in_report_lengths) == len(out_report_lengths)) or not report_ids:
            raise ValueError("report_ids, in_report_lengths, and out_report_lengths must all be the same length")
        if report_ids[0] == 0 and len(report_ids) > 1:
            raise ValueError("report_id_space_0 length must be 1")
        self.report_descriptor = bytes(report_descriptor)
        self.usage_page = usage_page
        self.usage = usage
        self.report_ids = tuple(report_ids)
        self.in_report_lengths = tuple(in_report_lengths)
        self.out_report_lengths = tuple(out_report_lengths)
        self._last = None
        self._last_delivery = None
        self.overwritten = 0  # reports the host sent that were never read

    def _report_id(self, report_id):
        if report_id is None:
            if len(self.report_ids) > 1:
                raise ValueError("report_id required")
            return 0
        if report_id not in self.report_ids:
            raise ValueError("report_id")
        return self.report_ids.index(report_id)

    def send_report(self, report, report_id=None):
        i = self._report_id(report_id)
        if len(report) != self.in_report_lengths[i]:
            raise ValueError("report length must be %d" % self.in_report_lengths[i])
        data = bytes(report)
        fakehw.log("send_report", len(data))
        host = fakehw.HOST
        if host is not None:
            host.on_report(data)

    def get_last_received_report(self, report_id=None):
        self._report_id(report_id)
        self._host_turn()
        r = self._last
        self._last = None
        return r

    def _host_turn(self):
        host = fakehw.HOST
        if host is None:
            return
        now = time.ticks_ms()
        if self._last_delivery is not None and time.ticks_diff(now, self._last_delivery) < HOST_INTERVAL_MS:
            return
        report = host.next_report()
        if report is None:
            return
        if self._last is not None:
            self.overwritten += 1
        self._last = bytes(report)
        self._last_delivery = now


def enable(devices, boot_device=0):
    global _enabled
    for d in devices:
        if not isinstance(d, Device):
            raise TypeError("expected a Device")
    if boot_device not in (0, 1, 2):
        raise ValueError("boot_device")
    _enabled = tuple(devices)
    fakehw.log("usb_hid.enable", _enabled, boot_device)


def disable():
    global _enabled
    _enabled = ()
    fakehw.log("usb_hid.disable")


def _start_code_py():
    """Test helper: what CircuitPython does between boot.py and code.py."""
    global devices
    devices = _enabled if _enabled is not None else ()
