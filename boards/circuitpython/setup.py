"""What /boot.py does on CircuitPython: choose the USB devices before USB starts.

CircuitPython fixes its USB configuration when boot.py ends, so everything
the host will see is decided here:

  FIDO HID device  usb_hid.Device with the FIDO report descriptor (usage page
                   0xF1D0, usage 0x01, 64-byte reports, no report IDs) and
                   nothing else on HID (no keyboard, mouse, consumer control)
  CIRCUITPY drive  off, always: the key's records must not be readable or
                   writable by the host; and only then may the key itself
                   write its filesystem (storage.remount)
  serial console   off unless settings "repl" or maintenance mode
  MIDI             off (not needed)
  ids and strings  supervisor.set_usb_identification(); the serial number is
                   the chip's id, which CircuitPython does not let us change
  CPU clock        settings "cpu_mhz" (0: CircuitPython's own clock), set
                   first, so that everything after it runs at that speed
"""

import storage
import supervisor
import usb_cdc
import usb_hid

from boards.common import settings as st
from boards.common.fido_hid import FIDO_USAGE_CTAPHID, FIDO_USAGE_PAGE, REPORT_DESCRIPTOR, REPORT_SIZE


def fido_device():
    return usb_hid.Device(
        report_descriptor=REPORT_DESCRIPTOR,
        usage_page=FIDO_USAGE_PAGE,
        usage=FIDO_USAGE_CTAPHID,
        report_ids=(0,),  # the descriptor has no report IDs
        in_report_lengths=(REPORT_SIZE,),
        out_report_lengths=(REPORT_SIZE,),
    )


def chip_config():
    import sys

    if sys.platform == "RP2040":
        from boards.rp2040 import config
    elif sys.platform == "Espressif":
        from boards.esp32s3 import config
    else:
        raise OSError("pyfido: no board adapter for platform %r" % sys.platform)
    return config


def chip_defaults(config, machine_name=None):
    """The chip's CircuitPython settings; a board named in its KEEP_CLOCK keeps its clock (cpu_mhz 0)."""
    import sys

    defaults = dict(config.CIRCUITPYTHON)
    if machine_name is None:
        machine_name = getattr(sys.implementation, "_machine", "")
    if st.keeps_clock(config, machine_name):
        defaults["cpu_mhz"] = 0
    return defaults


def load_settings(config):
    return st.load(chip_defaults(config))


def set_cpu_clock(mhz):
    """microcontroller.cpu.frequency = mhz MHz (0: leave it).

    CircuitPython's RP2040 port raises the core voltage itself above 133 MHz
    (1.20 V; common-hal/microcontroller/Processor.c); a port whose clock is
    not settable keeps its own, and says so on the console.
    """
    if not mhz:
        return
    import microcontroller

    hz = mhz * 1000000
    if microcontroller.cpu.frequency == hz:
        return
    try:
        microcontroller.cpu.frequency = hz
    except (AttributeError, NotImplementedError, ValueError) as e:
        print("pyfido: the CPU clock stays at %d MHz (%s)" % (microcontroller.cpu.frequency // 1000000, e))


def boot(config=None):
    config = config or chip_config()
    settings = load_settings(config)
    set_cpu_clock(settings["cpu_mhz"])
    storage.disable_usb_drive()
    storage.remount("/", readonly=False)
    maintenance = st.maintenance_requested()
    if not (settings["repl"] or maintenance):
        usb_cdc.disable()
    try:
        import usb_midi

        usb_midi.disable()
    except ImportError:
        pass
    if maintenance:
        usb_hid.disable()
    else:
        usb_hid.enable((fido_device(),), boot_device=0)
    supervisor.set_usb_identification(
        manufacturer=settings["manufacturer"],
        product=settings["product"],
        vid=settings["vid"],
        pid=settings["pid"],
    )
    return settings
