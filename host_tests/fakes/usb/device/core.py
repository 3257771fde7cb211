"""Fake of micropython-lib's usb/device/core.py, as far as the FIDO interface uses it.

Follows the library's documented behaviour: get() returns the singleton
device; init(*itfs, **kw) = active(False), config(...), active(True);
config() builds the configuration descriptor by calling each interface's
desc_cfg() twice (a dry run with a buffer-less Descriptor to size it, then
for real), numbering interfaces and endpoints after the built-in driver's;
submit_xfer() raises RuntimeError when the interface is not open or a
transfer is already pending on that endpoint; the completion callback gets
(ep_addr, result, xferred_bytes) with result 0 for success (tinyusb's
XFER_RESULT_SUCCESS).

Instead of a USB controller, a simulated host (fakehw.HOST) takes every IN
transfer as soon as it is submitted and fills an armed OUT transfer when
pump() runs (once per main-loop turn: the host sends one report per poll).

Faults of the layers below, for tests: the device's out_faults list gives,
per OUT submission, None (accepted) or the exception MicroPython's
machine.USBDevice.submit_xfer raises (OSError EINVAL/EBUSY, ValueError "ep";
extmod/machine_usb_device.c). As in core.py, the transfer is already
recorded as pending when it raises, so later submissions get "xfer_pending"
until bus_reset() (the host resets the bus and configures the device
again). takes_in = False makes the host stop reading IN reports.
"""

import struct

import fakehw

_EP_IN_FLAG = 0x80
_DESC_INTERFACE = 0x04
_DESC_ENDPOINT = 0x05
_KNOWN_CONFIG_ARGS = (
    "builtin_driver",
    "manufacturer_str",
    "product_str",
    "serial_str",
    "configuration_str",
    "id_vendor",
    "id_product",
    "bcd_device",
    "device_class",
    "device_subclass",
    "device_protocol",
    "config_str",
    "max_power_ma",
    "remote_wakeup",
)

_dev = None


def get():
    global _dev
    if _dev is None:
        _dev = _Device()
    return _dev


def _forget():
    """Test helper: a fresh device (as after a hard reset)."""
    global _dev
    _dev = None


def split_bmRequestType(bmRequestType):
    return (bmRequestType & 0x1F, (bmRequestType >> 5) & 0x03, (bmRequestType >> 7) & 0x01)


class _Device:
    def __init__(self):
        self._itfs = {}
        self._eps = {}
        self._ep_cbs = {}
        self._xfers = {}  # ep -> buffer of the pending transfer
        self._active = False
        self.config_args = None
        self.desc_cfg = None
        self.out_faults = []
        self.takes_in = True

    def init(self, *itfs, **kwargs):
        self.active(False)
        self.config(*itfs, **kwargs)
        self.active(True)

    def config(self, *itfs, **kwargs):
        if self._active:
            raise OSError(22)  # EINVAL: must be inactive
        for k in kwargs:
            if k not in _KNOWN_CONFIG_ARGS:
                raise TypeError("unexpected keyword argument '%s'" % k)
        builtin = kwargs.get("builtin_driver", False)
        # The built-in CDC serial port takes interfaces 0-1 and endpoints 1-2.
        itf_num = 2 if builtin else 0
        ep_num = 3 if builtin else 1
        strs = [None, kwargs.get("manufacturer_str"), kwargs.get("product_str"), kwargs.get("serial_str")]
        dry = Descriptor(None)
        dry.extend(bytes(9))
        for itf in itfs:
            itf.desc_cfg(dry, 0, 0, [])
        desc = Descriptor(bytearray(dry.o))
        desc.extend(bytes(9))
        self._itfs = {}
        for itf in itfs:
            itf.desc_cfg(desc, itf_num, ep_num, strs)
            for _ in range(itf.num_itfs()):
                self._itfs[itf_num] = itf
                itf_num += 1
            ep_num += itf.num_eps()
        struct.pack_into("<BBHBBBBB", desc.b, 0, 9, 0x02, len(desc.b), itf_num, 1, 0, 0x80, 50)
        self.config_args = dict(kwargs)
        self.desc_cfg = bytes(desc.b)
        self.strings = strs
        fakehw.log("usb.config", dict(kwargs))

    def active(self, *value):
        if not value:
            return self._active
        self._active = bool(value[0])
        fakehw.log("usb.active", self._active)
        if self._active:
            if fakehw.USB_INIT_HOOK is not None:
                fakehw.USB_INIT_HOOK()
            self._enumerate()
        else:
            for itf in set(self._itfs.values()):
                itf.on_reset()
            self._eps = {}
            self._ep_cbs = {}
            self._xfers = {}
        return self._active

    def _enumerate(self):
        # The host reads the descriptors and sets the configuration: every
        # endpoint named in an interface's descriptors becomes that interface's.
        d = self.desc_cfg
        i = 9
        itf = None
        while i < len(d):
            length, kind = d[i], d[i + 1]
            if kind == _DESC_INTERFACE:
                itf = self._itfs[d[i + 2]]
            elif kind == _DESC_ENDPOINT:
                self._eps[d[i + 2]] = itf
                self._ep_cbs[d[i + 2]] = None
            i += length
        for itf in set(self._itfs.values()):
            itf.on_open()

    def _submit_xfer(self, ep_addr, data, done_cb=None):
        if ep_addr not in self._eps:
            raise ValueError("ep_addr")
        if self._ep_cbs[ep_addr]:
            raise RuntimeError("xfer_pending")
        self._ep_cbs[ep_addr] = done_cb or True
        if not ep_addr & _EP_IN_FLAG and self.out_faults:
            fault = self.out_faults.pop(0)
            if fault is not None:
                fakehw.log("usb.fault", ep_addr, repr(fault))
                raise fault
        self._xfers[ep_addr] = data
        if ep_addr & _EP_IN_FLAG and self.takes_in:
            # The host polls IN all the time: it takes the report now.
            self._take_in(ep_addr)
        return True

    def _take_in(self, ep_addr):
        # A transfer longer than the endpoint's packets (64 bytes on the FIDO
        # interface) reaches the host as one packet after the other.
        data = bytes(self._xfers[ep_addr])
        self._complete(ep_addr, len(data))
        fakehw.log("usb.in", ep_addr, len(data))
        host = fakehw.HOST
        if host is not None:
            for i in range(0, len(data), 64):
                host.on_report(data[i : i + 64])

    def resume_in(self):
        """The host reads IN reports again, starting with the ones waiting."""
        self.takes_in = True
        for ep in list(self._xfers):
            if ep & _EP_IN_FLAG:
                self._take_in(ep)

    def _complete(self, ep_addr, n):
        cb = self._ep_cbs.get(ep_addr)
        self._ep_cbs[ep_addr] = None
        self._xfers.pop(ep_addr, None)
        if callable(cb):
            cb(ep_addr, 0, n)

    def bus_reset(self):
        """The host resets the bus and configures the device again (core.py _reset_cb, _open_itf_cb)."""
        fakehw.log("usb.bus_reset")
        for itf in set(self._itfs.values()):
            itf.on_reset()
        self._eps = {}
        self._ep_cbs = {}
        self._xfers = {}
        self._enumerate()

    def pump(self):
        """The host's next OUT report goes into the armed OUT transfer, if any."""
        host = fakehw.HOST
        if host is None:
            return False
        for ep in self._eps:
            if not ep & _EP_IN_FLAG and ep in self._xfers:
                report = host.next_report()
                if report is None:
                    return False
                buf = self._xfers[ep]
                buf[: len(report)] = report
                self._complete(ep, len(report))
                return True
        return False  # nothing armed: the host is NAKed and keeps its report


class Interface:
    def __init__(self):
        self._open = False

    def desc_cfg(self, desc, itf_num, ep_num, strs):
        raise NotImplementedError

    def num_itfs(self):
        return 1

    def num_eps(self):
        return 0

    def on_open(self):
        self._open = True

    def on_reset(self):
        self._open = False

    def is_open(self):
        return self._open

    def xfer_pending(self, ep_addr):
        return _dev is not None and bool(_dev._ep_cbs.get(ep_addr))

    def submit_xfer(self, ep_addr, data, done_cb=None):
        if not self._open:
            raise RuntimeError("Not open")
        _dev._submit_xfer(ep_addr, data, done_cb)


class Descriptor:
    """Writes descriptor fields at offset o; with b=None only counts bytes."""

    def __init__(self, b):
        self.b = b
        self.o = 0

    def pack(self, fmt, *args):
        self.pack_into(fmt, self.o, *args)

    def pack_into(self, fmt, offs, *args):
        end = offs + struct.calcsize(fmt)
        if self.b:
            struct.pack_into(fmt, self.b, offs, *args)
        self.o = max(self.o, end)

    def extend(self, a):
        if self.b:
            self.b[self.o : self.o + len(a)] = a
        self.o += len(a)

    def interface(self, bInterfaceNumber, bNumEndpoints, bInterfaceClass=0xFF, bInterfaceSubClass=0, bInterfaceProtocol=0, iInterface=0):
        self.pack("BBBBBBBBB", 9, _DESC_INTERFACE, bInterfaceNumber, 0, bNumEndpoints, bInterfaceClass, bInterfaceSubClass, bInterfaceProtocol, iInterface)

    def endpoint(self, bEndpointAddress, bmAttributes, wMaxPacketSize, bInterval=1):
        kinds = {"control": 0, "bulk": 2, "interrupt": 3}
        if bmAttributes in kinds:
            bmAttributes = kinds[bmAttributes]
        self.pack("<BBBBHB", 7, _DESC_ENDPOINT, bEndpointAddress, bmAttributes, wMaxPacketSize, bInterval)
