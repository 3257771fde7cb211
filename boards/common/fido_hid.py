"""The FIDO HID interface every board presents (CTAP 2.1 §11.2.8.1), and its report queue.

One descriptor for all boards and runtimes (MicroPython's usb-device-hid,
CircuitPython's usb_hid, the host board's Linux UHID): usage page 0xF1D0
(FIDO Alliance), usage 0x01 (CTAPHID), one 64-byte input report (usage 0x20,
Data In) and one 64-byte output report (usage 0x21, Data Out), no report IDs.

ReportQueue is the hand-over between the USB side (a callback or a poll that
copies a report in) and the main loop (which copies it out). It allocates
once; put() and get_into() do not allocate.
"""

from micropython import const

REPORT_SIZE = const(64)

# HID Usage Tables, FIDO Alliance page (0xF1D0)
FIDO_USAGE_PAGE = const(0xF1D0)
FIDO_USAGE_CTAPHID = const(0x01)
FIDO_USAGE_DATA_IN = const(0x20)
FIDO_USAGE_DATA_OUT = const(0x21)

# CTAP 2.1 §11.2.8.1 "HID report descriptor" (items per HID 1.11 §6.2.2)
REPORT_DESCRIPTOR = bytes(
    (
        0x06, 0xD0, 0xF1,  # Usage Page (FIDO Alliance 0xF1D0)
        0x09, 0x01,  # Usage (CTAPHID)
        0xA1, 0x01,  # Collection (Application)
        0x09, 0x20,  # .. Usage (Data In)
        0x15, 0x00,  # .. Logical Minimum (0)
        0x26, 0xFF, 0x00,  # .. Logical Maximum (255)
        0x75, 0x08,  # .. Report Size (8 bits)
        0x95, 0x40,  # .. Report Count (64)
        0x81, 0x02,  # .. Input (Data, Variable, Absolute)
        0x09, 0x21,  # .. Usage (Data Out)
        0x15, 0x00,  # .. Logical Minimum (0)
        0x26, 0xFF, 0x00,  # .. Logical Maximum (255)
        0x75, 0x08,  # .. Report Size (8 bits)
        0x95, 0x40,  # .. Report Count (64)
        0x91, 0x02,  # .. Output (Data, Variable, Absolute)
        0xC0,  # End Collection
    )
)

# How many output reports may wait for the main loop. MicroPython's adapter
# stops accepting OUT transfers while the queue is full (the host is NAKed,
# nothing is lost); CircuitPython keeps only the last report itself, so its
# adapter drains into this queue as often as it can.
QUEUE_SLOTS = const(8)


class ReportQueue:
    """A single-producer, single-consumer ring of 64-byte reports.

    The producer only moves `_tail`, the consumer only `_head`, so a producer
    running in a USB callback between two bytecodes of the consumer cannot
    tear the queue.
    """

    def __init__(self, slots=QUEUE_SLOTS):
        self._slots = [bytearray(REPORT_SIZE) for _ in range(slots)]
        self._n = slots
        self._head = 0  # next slot to read (consumer)
        self._tail = 0  # next slot to write (producer)
        self.dropped = 0  # reports refused because the queue was full

    def __len__(self):
        return (self._tail - self._head) % (2 * self._n)

    def free(self):
        return self._n - len(self)

    def put(self, report):
        """Copy one report in; False (and counted) when full or not 64 bytes."""
        if len(report) != REPORT_SIZE or len(self) >= self._n:
            self.dropped += 1
            return False
        self._slots[self._tail % self._n][:] = report
        self._tail = (self._tail + 1) % (2 * self._n)
        return True

    def get_into(self, buf):
        """Copy the oldest report into buf (64 bytes); False when empty."""
        if self._head == self._tail:
            return False
        buf[:] = self._slots[self._head % self._n]
        self._head = (self._head + 1) % (2 * self._n)
        return True

    def clear(self):
        self._head = self._tail
