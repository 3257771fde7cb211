"""Raspberry Pi Pico (RP2040): pins and limits for both runtimes.

MicroPython reads the BOOTSEL button (rp2.bootsel_button(): it briefly turns
the flash chip-select pin into an input, so no GPIO is needed). CircuitPython
has no such call: wire a push button from GP15 to GND (or set "button").
The Pico's green LED is "LED" in both runtimes (on the Pico W too).
"""

# Discoverable credentials (passkeys) the key keeps under MicroPython, by the
# size of its littlefs filesystem in 4096-byte blocks (os.statvfs): a board
# takes the row of the largest filesystem it is not smaller than. Each row is
# proven on that filesystem emulated with MicroPython's littlefs parameters
# (progsize 256: files up to 512 bytes live in the directory, larger ones take
# whole blocks): a stock-firmware install (core as .mpy, p256.mpy,
# usb-device-hid), every other record at its largest, every passkey record at
# the largest the store keeps (store.RK_MAX_RECORD: one block each), and the
# store still able to rewrite any record (host_tests/test_lfs_capacity.py;
# tools/lfs_capacity.py measures the figures in the comments).
RESIDENT_CAPACITY = (
    (352, 256),  # RPI_PICO, 1408 KiB: 262 fit, 259 with room to rewrite
    (212, 120),  # RPI_PICO_W, 848 KiB: 130 fit, 127 with room to rewrite
)

MICROPYTHON = {
    "button": "BOOTSEL",
    "button_active_low": False,  # bootsel_button() is 1 while pressed
    "led": "LED",
    # Only when the filesystem's size is unknown; see RESIDENT_CAPACITY.
    "max_resident_credentials": 120,
    "watchdog_ms": 8000,  # hardware limit 8388 ms
    # 200 MHz, pico-sdk's fastest supported RP2040 clock (at 1.15 V, which
    # boards/micropython/app.set_cpu_clock sets first): P-256 and the
    # interpreter take 0.625 of their 125 MHz time (tools/bench_firmware.py).
    "cpu_mhz": 200,
}

CIRCUITPYTHON = {
    "button": "GP15",
    "button_active_low": True,
    "led": "LED",
    "max_resident_credentials": 64,
    "watchdog_ms": 8000,
    # As under MicroPython; CircuitPython boots at 125 MHz and raises the core
    # voltage (to 1.20 V) itself when boot.py sets a faster clock.
    "cpu_mhz": 200,
}

# Boards that keep the clock their firmware starts with. The Pico W talks to
# its wireless chip -- which drives its LED -- over a PIO SPI at clk_sys / 4
# (pico-sdk's CYW43_PIO_CLOCK_DIV_INT 2): 50 MHz at 200 MHz, the CYW43439's
# limit. Stock MicroPython runs it at 125 MHz; `make firmware BOARD=rp2040w`
# runs 200 MHz with the divider at 3 (tools/firmware_board.py).
KEEP_CLOCK = ("Pico W",)

# Above 133 MHz the RP2040's core needs 1.15 V (VREG VSEL 0b1100), which
# pico-sdk sets for its 200 MHz clock; boards/micropython/app.set_cpu_clock
# raises it before changing the clock.
FAST_CLOCK_VSEL = (133, 0b1100)

# Oldest runtime each adapter is written for: machine.USBDevice arrived in
# MicroPython 1.23; usb_hid.Device with custom descriptors and
# get_last_received_report in CircuitPython 7 (9 for supervisor.ticks_ms
# as used here, and the .mpy-free install).
MIN_MICROPYTHON = (1, 23, 0)
MIN_CIRCUITPYTHON = (9, 0, 0)
# What the runtimes call this chip: sys.platform / sys.implementation._machine
MICROPYTHON_PLATFORM = "rp2"
CIRCUITPYTHON_PLATFORM = "RP2040"
MACHINE_HINT = "RP2040"
# mpy-cross -march for the P-256 native module (.mpy) on this chip
NATMOD_ARCH = "armv6m"
