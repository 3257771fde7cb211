"""Fake of micropython-lib's usb/device/hid.py (usb-device-hid): HIDInterface.

Same constructor, send_report(report_data, timeout_ms=100) (False when
the interface is closed or the previous report is still pending after
timeout_ms), busy(), on_set_report(), get_hid_descriptor(desc), and the
library's own desc_cfg (one 8-byte interrupt IN endpoint) for subclasses
that do not replace it.

VERSION is the usb-device-hid release imitated: what send_report() returns
on success differs (see send_report below); a test sets it.
"""

import time

import machine

from .core import Descriptor, Interface

_DESC_HID_TYPE = 0x21
_DESC_REPORT_TYPE = 0x22


# "0.1.0": micropython-lib 583bc0da, frozen in MicroPython v1.23.0 to v1.26.1;
# "0.1.1" (bdc4706c) and later: v1.27.0 on.
VERSION = "0.2.0"


class HIDInterface(Interface):
    def __init__(self, report_descriptor, extra_descriptors=[], set_report_buf=None, protocol=0, interface_str=None):
        super().__init__()
        self.report_descriptor = report_descriptor
        self.extra_descriptors = extra_descriptors
        self._set_report_buf = set_report_buf
        self.protocol = protocol
        self.interface_str = interface_str
        self._int_ep = None

    def get_report(self):
        return False

    def on_set_report(self, report_data, report_id, report_type):
        return True

    def busy(self):
        return self.is_open() and self.xfer_pending(self._int_ep)

    def send_report(self, report_data, timeout_ms=100):
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        while self.busy():
            if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                return False
            machine.idle()
        if not self.is_open():
            return False
        self.submit_xfer(self._int_ep, report_data)
        if VERSION == "0.1.0":
            # 0.1.0's send_report() ends here, without a return statement
            # (hid.py l. 123-125 at 583bc0da): success is None.
            return None
        return True  # bdc4706c "usb-device-hid: Return True after submit_xfer"

    def desc_cfg(self, desc, itf_num, ep_num, strs):
        desc.interface(itf_num, 1, 0x03, 0, self.protocol, 0)
        self.get_hid_descriptor(desc)
        self._int_ep = ep_num | 0x80
        desc.endpoint(self._int_ep, "interrupt", 8, 8)

    def num_eps(self):
        return 1

    def get_hid_descriptor(self, desc=None):
        length = 9 + 3 * len(self.extra_descriptors)
        if desc is None:
            desc = Descriptor(bytearray(length))
        desc.pack("<BBHBBBH", length, _DESC_HID_TYPE, 0x111, 0, len(self.extra_descriptors) + 1, _DESC_REPORT_TYPE, len(self.report_descriptor))
        for dt, dd in self.extra_descriptors:
            desc.pack("<BH", dt, len(dd))
        return desc.b
