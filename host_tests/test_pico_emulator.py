"""The firmware-in-the-loop tool itself (issue 12), on what CI has: no MicroPython image, no real boot ROM.

`make firmware-e2e` boots a real MicroPython image on the real RP2040 boot
ROM; neither may be in the repository, so the tool's parts are tested here
on images built from tools/node/pico/test/fixtures/ (`make pico-test-images`):

* the Node unit tests, tools/node/pico/test/*.test.mjs (node --test): UF2
  parsing, the flash chip (NOR semantics, backing file, busy times), the
  boot ROM traps on a real rp2040js core with a synthetic ROM, the USB host
  against a device that drives rp2040js's USB controller through its
  registers, CTAPHID timing;
* the emulated Pico as a user runs it: tools/pico_emulator.EmulatedPico
  starting fil.mjs with a bare-metal image (fixtures/blink.c) that counts
  its boots in flash through the ROM routines, lights the LED, reads BOOTSEL
  and resets itself through the watchdog;
* tools/firmware_heap.py on ELF files whose mp_state_ctx is nested as in
  MicroPython's py/mpstate.h (fixtures/mp_state.c).

A missing Node.js or cross compiler fails these tests; nothing skips.
"""

import glob
import os
import re
import shutil
import struct
import subprocess
import sys
import time

import pytest

from p256_support import REPO, make

sys.path.insert(0, os.path.join(REPO, "tools"))

import firmware_heap  # noqa: E402
from pico_emulator import EmulatedPico, EmulatorError  # noqa: E402

IMAGES = os.path.join(REPO, "build", "pico-test")
NODE_TESTS = os.path.join(REPO, "tools", "node", "pico", "test")
FIL = os.path.join(REPO, "tools", "node", "pico", "fil.mjs")

RP2040_FAMILY = 0xE48BFF56
MAILBOX = 0x20040000
MAILBOX_FIELDS = ("magic", "boots", "counter_ok", "formatted", "erase_us", "program_us",
                  "bootsel_at_boot", "presses", "ticks", "reset_kind", "gpio_presses", "gpio_level")
BLINK_MAGIC = 0x4B4E4C42  # "BLNK"
HOLD_MS = 300  # blink.c HOLD_US: held longer, it resets while BOOTSEL is down


@pytest.fixture(scope="module")
def images():
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the emulator and its tests run on Node.js (make node-deps)")
    if not os.path.isdir(os.path.join(REPO, "tools", "node", "node_modules", "rp2040js")):
        make("node-deps")
    make("pico-test-images")
    return IMAGES


# -- the Node unit tests ---------------------------------------------------------------

NODE_TEST_FILES = ("ctaphid_watch", "flash", "rom", "rosc", "uf2", "usb_host")


def test_every_node_test_file_is_run_here():
    found = sorted(os.path.basename(p)[: -len(".test.mjs")] for p in glob.glob(os.path.join(NODE_TESTS, "*.test.mjs")))
    assert found == sorted(NODE_TEST_FILES)


@pytest.mark.parametrize("name", NODE_TEST_FILES)
def test_node(images, name):
    script = os.path.join(NODE_TESTS, name + ".test.mjs")
    env = dict(os.environ, PICO_TEST_IMAGES=images)
    r = subprocess.run(["node", "--test", "--test-reporter=tap", script], capture_output=True, text=True,
                       timeout=300, cwd=REPO, env=env)
    out = r.stdout + r.stderr
    failed = re.search(r"^# fail (\d+)", out, re.M)
    passed = re.search(r"^# pass (\d+)", out, re.M)
    assert r.returncode == 0 and failed and failed.group(1) == "0", out[-6000:]
    assert passed and int(passed.group(1)) >= 4, out[-3000:]


# -- the emulated Pico with a bare-metal image ---------------------------------------------


def uf2_from_binary(image, base=0x10000000, family=RP2040_FAMILY):
    """A UF2 file as picotool writes one: 256-byte payloads, the family id flag (0x2000)."""
    chunks = [image[i:i + 256].ljust(256, b"\0") for i in range(0, len(image), 256)]
    out = bytearray()
    for n, data in enumerate(chunks):
        out += struct.pack("<8I", 0x0A324655, 0x9E5D5157, 0x2000, base + 256 * n, 256, n, len(chunks), family)
        out += data.ljust(476, b"\0") + struct.pack("<I", 0x0AB16F30)
    return bytes(out)


@pytest.fixture
def blink(images, tmp_path):
    """(uf2 path, boot ROM path, flash path) of the bare-metal test image."""
    with open(os.path.join(images, "blink.bin"), "rb") as f:
        uf2 = tmp_path / "blink.uf2"
        uf2.write_bytes(uf2_from_binary(f.read()))
    return str(uf2), os.path.join(images, "bootrom.bin"), str(tmp_path / "flash.bin")


@pytest.fixture
def picos():
    """Start EmulatedPicos; all are stopped at the end."""
    started = []

    def start(**kw):
        pico = EmulatedPico(**kw)
        started.append(pico)
        return pico.start()

    try:
        yield start
    finally:
        for p in started:
            p.stop()


def mailbox(pico):
    words = struct.unpack("<%dI" % len(MAILBOX_FIELDS), bytes.fromhex(pico.query_read(MAILBOX, 4 * len(MAILBOX_FIELDS))))
    return dict(zip(MAILBOX_FIELDS, words))


def booted(pico, since=0):
    """Wait for the image to light the LED (it has counted the boot), return its mailbox."""
    pico.wait_event("led", lambda e: e["on"], since=since, timeout=60)
    box = mailbox(pico)
    assert box["magic"] == BLINK_MAGIC, box
    return box


def wait_ticks(pico, ticks, timeout=30):
    """The mailbox once the image has polled BOOTSEL `ticks` times (1 ms each) since it booted."""
    deadline = time.monotonic() + timeout
    while True:
        box = mailbox(pico)
        if box["ticks"] >= ticks:
            return box
        assert time.monotonic() < deadline, box
        time.sleep(0.01)


def names(pico, since=0):
    """The board's events since a mark (not the sockets' "listening")."""
    return [e["event"] for e in pico.events[since:] if e["event"] != "listening"]


def test_boot_count_in_flash_survives_chip_resets_power_cycles_and_restarts(blink, picos):
    uf2, rom, flash = blink
    pico = picos(firmware=uf2, bootrom=rom, flash=flash)
    first = booted(pico)
    assert names(pico)[:4] == ["flashed", "power-on", "usb-attach", "led"], pico.events
    # first boot: the image erased its counter sector through the ROM routine
    # and found the chip busy for the sector erase (45 ms) and each page (0.4 ms)
    assert first["boots"] == 1 and first["counter_ok"] == 1 and first["formatted"] == 1, first
    assert 45000 <= first["erase_us"] < 46000, first
    assert 400 <= first["program_us"] < 600, first
    assert first["bootsel_at_boot"] == 0
    status = pico.status()
    assert status["running"] and status["led"] and not status["bootsel"]
    assert status["clk_sys"] == 125_000_000
    assert (status["power_ups"], status["resets"]) == (1, 0)
    assert (status["sectors_erased"], status["bytes_programmed"]) == (1, 512)
    assert status["t_ms"] >= 45.8
    assert (status["fido"], status["cdc"]) == (False, False)

    # a tap: the image resets itself through the watchdog after the release
    m = pico.mark()
    pico.tap(40)
    reset = pico.wait_event("chip-reset", since=m)
    assert reset["resets"] == 1 and reset["powerUps"] == 1
    at_reset = pico.events.index(reset)
    seq = [(e["event"], e.get("pressed", e.get("on"))) for e in pico.events[m:at_reset] if e["event"] in ("bootsel", "led")]
    assert seq == [("bootsel", True), ("led", False), ("bootsel", False), ("led", True)], seq
    second = booted(pico, since=at_reset)
    assert (second["boots"], second["counter_ok"], second["formatted"]) == (2, 1, 0), second
    assert pico.status()["bytes_programmed"] == 256

    # power cycle: a new chip on the same flash file
    m = pico.mark()
    pico.power_cycle(wait_ready=False)
    assert pico.wait_event("power-on", since=m)["powerUps"] == 2
    assert names(pico, m)[:2] == ["power-off", "power-on"]
    assert booted(pico, since=m)["boots"] == 3
    pico.stop()

    # the emulator restarted on its flash file, without and with the image again:
    # writing the image rewrites only its own sectors, the counter stays
    again = picos(bootrom=rom, flash=flash)
    assert "flashed" not in names(again)
    assert booted(again)["boots"] == 4
    again.stop()
    reflashed = picos(firmware=uf2, bootrom=rom, flash=flash)
    assert names(reflashed)[0] == "flashed"
    box = booted(reflashed)
    assert (box["boots"], box["counter_ok"], box["formatted"]) == (5, 1, 0), box


def test_bootsel_held_at_a_reset_or_at_power_up_starts_the_usb_bootloader(blink, picos):
    uf2, rom, flash = blink
    pico = picos(firmware=uf2, bootrom=rom, flash=flash)
    booted(pico)
    m = pico.mark()
    pico.press()
    boot = pico.wait_event("bootsel-boot", since=m, timeout=60)
    assert boot["resets"] == 1
    assert "chip-reset" not in names(pico, m)
    pressed_at = pico.wait_event("bootsel", since=m)["t_ms"]
    assert boot["t_ms"] - pressed_at >= HOLD_MS
    status = pico.status()
    assert not status["running"] and status["bootsel"]

    # powered up with the button still held: the bootloader again, not the image
    m = pico.mark()
    pico.command("power-cycle")
    pico.wait_event("bootsel-boot", since=m)
    assert "led" not in names(pico, m)
    assert not pico.status()["running"]

    pico.release()
    m = pico.mark()
    pico.command("power-cycle")
    box = booted(pico, since=m)
    assert box["boots"] == 2, "neither bootloader start ran the image"
    assert box["bootsel_at_boot"] == 0


def test_a_tap_does_not_outlive_the_chip_it_was_pressed_on(blink, picos):
    uf2, rom, flash = blink
    pico = picos(firmware=uf2, bootrom=rom, flash=flash)
    booted(pico)
    m = pico.mark()
    pico.tap(5000)
    pico.command("power-cycle")  # at once: the tap is still on when the power goes
    box = booted(pico, since=m)
    assert box["boots"] == 2
    assert not pico.status()["bootsel"], "the press ended with the power"
    box = wait_ticks(pico, 20)
    assert box["presses"] == 0, box
    assert "bootsel-boot" not in names(pico, m)
    # a tap on a board that is off is refused, not left pressed
    pico.command("power-off")
    m = pico.mark()
    pico.tap(10)
    assert "not running" in pico.wait_event("error", since=m)["message"]
    assert not pico.status()["bootsel"]


def test_a_gpio_button_reads_low_while_pressed_and_its_pull_up_otherwise(blink, picos):
    """--button gpio:15: a push button from GPIO15 to GND (CircuitPython's key) instead of BOOTSEL."""
    uf2, rom, flash = blink
    pico = picos(firmware=uf2, bootrom=rom, flash=flash, button="gpio:15")
    booted(pico)
    box = wait_ticks(pico, 5)
    assert (box["gpio_level"], box["gpio_presses"]) == (1, 0), box  # released: the pull-up
    status = pico.status()
    assert status["button"] == "gpio:15" and not status["button_down"]
    m = pico.mark()
    pico.press()
    assert pico.wait_event("button", since=m)["pressed"] is True
    box = wait_ticks(pico, mailbox(pico)["ticks"] + 3)
    assert (box["gpio_level"], box["gpio_presses"]) == (0, 1), box
    assert pico.status()["button_down"] and not pico.status()["bootsel"]
    pico.release()
    box = wait_ticks(pico, mailbox(pico)["ticks"] + 3)
    assert (box["gpio_level"], box["gpio_presses"]) == (1, 1), box
    # a tap is a press of that many simulated ms; BOOTSEL is never touched
    m = pico.mark()
    pico.tap(40)
    pico.wait_event("button", lambda e: not e["pressed"], since=m)
    box = wait_ticks(pico, mailbox(pico)["ticks"] + 3)
    assert box["gpio_presses"] == 2 and box["presses"] == 0, box
    assert "bootsel" not in names(pico, m) and "chip-reset" not in names(pico, m)


def test_a_gpio_button_held_through_a_power_cycle_reads_pressed_at_boot(blink, picos):
    uf2, rom, flash = blink
    pico = picos(firmware=uf2, bootrom=rom, flash=flash, button="gpio:15")
    booted(pico)
    pico.press()
    m = pico.mark()
    pico.power_cycle(wait_ready=False)
    booted(pico, since=m)  # not the USB bootloader: that is BOOTSEL's
    box = wait_ticks(pico, 3)
    assert box["gpio_level"] == 0 and box["gpio_presses"] == 1, box  # low from its first read
    pico.release()
    # the command takes effect when the emulator reads it, some real
    # milliseconds later on a busy machine: wait for the level, then 3 ticks more
    deadline = time.monotonic() + 10
    while box["gpio_level"] == 0 and time.monotonic() < deadline:
        box = wait_ticks(pico, box["ticks"] + 1)
    box = wait_ticks(pico, box["ticks"] + 3)
    assert (box["gpio_level"], box["gpio_presses"]) == (1, 1), box  # released, and no second press


def test_power_cut_now_and_after_simulated_time(blink, picos):
    uf2, rom, flash = blink
    pico = picos(firmware=uf2, bootrom=rom, flash=flash)
    booted(pico)
    now = pico.status()["t_ms"]
    m = pico.mark()
    pico.power_cut(after_ms=30)
    off = pico.wait_event("power-off", since=m)
    pico.wait_event("power-cut", since=m)
    assert names(pico, m)[-2:] == ["power-off", "power-cut"]
    # the command arrives some (real, so simulated) time after `now`, or in the
    # same simulated instant: a lower bound (less float rounding of ns -> ms)
    assert off["t_ms"] - now >= 30 - 1e-6, (now, off)
    assert not pico.status()["running"]
    m = pico.mark()
    pico.command("power-on")
    assert booted(pico, since=m)["boots"] == 2
    m = pico.mark()
    pico.power_cut()
    pico.wait_event("power-off", since=m)
    assert not pico.status()["running"]


def test_a_timed_power_cut_outlives_a_chip_reset(blink, picos):
    """The supply goes N simulated ms after the command, whether or not the chip reset itself meanwhile."""
    uf2, rom, flash = blink
    pico = picos(firmware=uf2, bootrom=rom, flash=flash)
    booted(pico)
    m = pico.mark()
    pico.power_cut(after_ms=100)
    pico.tap(10)  # the image resets itself ~11 ms later
    reset = pico.wait_event("chip-reset", since=m)
    off = pico.wait_event("power-off", since=pico.events.index(reset), timeout=30)
    pico.wait_event("power-cut", since=m)
    assert off["t_ms"] <= 100, "the time before the reset counted too"
    assert not pico.status()["running"]
    # a new cut replaces a pending one; a power-off ends it
    m = pico.mark()
    pico.command("power-on")
    boots = booted(pico, since=m)["boots"]
    pico.power_cut(after_ms=30)
    pico.power_cut(after_ms=200)
    assert wait_ticks(pico, 100)["boots"] == boots, "the first cut is off: still the same power-up"
    assert pico.wait_event("power-cut", since=m)
    m = pico.mark()
    pico.command("power-on")
    booted(pico, since=m)
    pico.power_cut(after_ms=50)
    pico.command("power-off")
    pico.wait_event("power-off", since=m)
    m = pico.mark()
    pico.command("power-on")
    booted(pico, since=m)
    pico.tap(10)  # and a chip reset on the next power-up does not bring it back
    reset = pico.wait_event("chip-reset", since=m)
    booted(pico, since=pico.events.index(reset))
    wait_ticks(pico, 150)
    assert pico.status()["running"], "the cut asked for before the power-off did not carry over"
    assert names(pico, m).count("power-cut") == 0
    m = pico.mark()
    pico.power_cut(after_ms=5)
    pico.command("power-off")
    pico.power_cut(after_ms=5)
    assert "not running" in pico.wait_event("error", since=m)["message"]


def test_power_cut_before_the_nth_flash_write_from_now(blink, picos):
    """The countdown spans chip resets; the write it stops never reaches the flash file."""
    uf2, rom, flash = blink
    pico = picos(firmware=uf2, bootrom=rom, flash=flash)
    booted(pico)
    assert pico.status()["flash_ops"] == 3  # first boot: erase, magic, its counter word
    pico.power_cut(before_flash_op=2)
    m = pico.mark()
    pico.tap(40)  # the image resets itself: its next boot programs one word (op 1)
    reset = pico.wait_event("chip-reset", since=m)
    box = booted(pico, since=pico.events.index(reset))
    assert box["boots"] == 2
    m = pico.mark()
    pico.tap(40)  # and the boot after that is cut just before its word (op 2)
    cut = pico.wait_event("power-cut", since=m)
    assert cut["before"] == "flash_range_program"
    after = names(pico, m)
    # cut while counting the boot: before the pull-up and the LED
    assert after[after.index("chip-reset"):] == ["chip-reset", "power-off", "power-cut"], after
    status = pico.status()
    assert not status["running"] and status["flash_ops"] == 5
    m = pico.mark()
    pico.power_on(wait_ready=False)
    box = booted(pico, since=m)
    assert box["boots"] == 3 and box["counter_ok"] == 1, "the cut boot left no word in flash"


def test_control_errors_and_sram_reads(blink, picos):
    uf2, rom, flash = blink
    pico = picos(firmware=uf2, bootrom=rom, flash=flash)
    booted(pico)
    # the mailbox's first word through `read`, as bytes of SRAM (little-endian)
    assert pico.query_read(MAILBOX, 4) == struct.pack("<I", BLINK_MAGIC).hex()
    for cmd in ({"cmd": "read", "address": 0x10000000, "length": 4},
                {"cmd": "read", "address": 0x20041FFE, "length": 4},
                {"cmd": "fly"},
                {"cmd": "presence", "mode": "sometimes"}):
        m = pico.mark()
        pico.command(**cmd)
        err = pico.wait_event("error", since=m)
        assert err["command"] and err["message"], err
    assert pico.status()["running"], "a bad command leaves the board running"


def test_emulator_refuses_what_it_cannot_run(images, tmp_path, blink):
    uf2, rom, flash = blink
    with pytest.raises(EmulatorError, match="BOOTROM=path"):
        EmulatedPico(firmware=uf2, bootrom=None)
    short = tmp_path / "short.bin"
    short.write_bytes(b"\0" * 8192)
    with pytest.raises(EmulatorError, match="8192 bytes, need 16384"):
        EmulatedPico(firmware=uf2, bootrom=str(short))
    with pytest.raises(EmulatorError, match="no firmware image"):
        EmulatedPico(firmware=str(tmp_path / "none.uf2"), bootrom=rom)
    r = subprocess.run(["node", FIL, "--flash", flash], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--bootrom PATH" in r.stderr
    # an image for another chip (RP2350 ARM) is refused before anything runs
    with open(os.path.join(images, "blink.bin"), "rb") as f:
        other = tmp_path / "rp2350.uf2"
        other.write_bytes(uf2_from_binary(f.read(), family=0xE48BFF59))
    pico = EmulatedPico(firmware=str(other), bootrom=rom, flash=str(tmp_path / "f2.bin"))
    try:
        with pytest.raises(EmulatorError, match="exited"):
            pico.start()
        assert "not the RP2040" in pico.console()
    finally:
        pico.stop()


# -- tools/firmware_heap.py ---------------------------------------------------------------


def _elf_words(path, symbol, count):
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        sym = elf.get_section_by_name(".symtab").get_symbol_by_name(symbol)[0]
        for sec in elf.iter_sections():
            start = sec["sh_addr"]
            if sec["sh_type"] == "SHT_PROGBITS" and start <= sym["st_value"] < start + sec["sh_size"]:
                off = sym["st_value"] - start
                return struct.unpack("<%dI" % count, sec.data()[off:off + 4 * count]), sym["st_value"]
    raise AssertionError("no %s" % symbol)


@pytest.mark.parametrize("variant", ["min", "full", "dwarf2"])
def test_heap_layout_finds_mem_area_from_dwarf(images, variant):
    """mp_state_ctx.mem.area's pointers where the compiler put them (offsetof), in each layout."""
    elf = os.path.join(images, "mp_state_%s.elf" % variant)
    (atb, pool_start, pool_end), _ = _elf_words(elf, "heap_offsets", 3)
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        state = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("mp_state_ctx")[0]["st_value"]
    layout = firmware_heap.heap_layout(elf)
    assert layout == {"state": state, "atb_start": state + atb, "pool_start": state + pool_start,
                      "pool_end": state + pool_end}


def test_heap_layouts_differ_between_configurations(images):
    """The two layouts really move the members (else the test above could not tell)."""
    a = firmware_heap.heap_layout(os.path.join(images, "mp_state_min.elf"))
    b = firmware_heap.heap_layout(os.path.join(images, "mp_state_full.elf"))
    assert a["atb_start"] - a["state"] != b["atb_start"] - b["state"]
    assert a["pool_start"] - a["atb_start"] != b["pool_start"] - b["atb_start"]


def test_heap_layout_refuses_an_elf_without_micropython(images):
    with pytest.raises(ValueError, match="no mp_state_ctx symbol"):
        firmware_heap.heap_layout(os.path.join(images, "blink.elf"))


def test_free_bytes_counts_free_blocks_of_the_allocation_table(images):
    """py/gc.c: 2 bits per 16-byte block, 4 blocks per table byte, block 0 in the low bits; free = kind 0."""
    layout = firmware_heap.heap_layout(os.path.join(images, "mp_state_full.elf"))
    atb, pool, blocks = 0x20010000, 0x20010400, 1000
    # head, tails, free runs, a mark: every kind, at every position within a byte
    kinds = ([1, 2, 2, 0, 0, 3, 1, 0] * 125)[:blocks]
    table = bytearray((blocks + 3) // 4)
    for i, k in enumerate(kinds):
        table[i // 4] |= k << (2 * (i % 4))
    mem = {layout["atb_start"]: struct.pack("<I", atb), layout["pool_start"]: struct.pack("<I", pool),
           layout["pool_end"]: struct.pack("<I", pool + 16 * blocks), atb: bytes(table)}
    reads = []

    def read(address, length):
        reads.append((address, length))
        assert address in mem, hex(address)
        assert len(mem[address]) >= length
        return mem[address][:length]

    free, total = firmware_heap.free_bytes(layout, read)
    assert total == 16 * blocks
    assert free == 16 * kinds.count(0) == 16 * 375
    assert (atb, 250) in reads, "the table is read in one piece, 1000 blocks / 4"
    # all free / all used
    mem[atb] = bytes(250)
    assert firmware_heap.free_bytes(layout, read) == (16000, 16000)
    mem[atb] = bytes([0x55]) * 250
    assert firmware_heap.free_bytes(layout, read) == (0, 16000)
