"""The real firmware as the tests' key: a built RP2040 image on rp2040js (tools/pico_emulator.py).

    PYFIDO_FIRMWARE=build/firmware/rp2040/pyfido-rp2040.uf2 PYFIDO_BOOTROM=rp2040-b1.bin \\
        pytest host_tests/test_firmware_*.py

(or `make firmware-e2e FIRMWARE=... BOOTROM=...`). The image is MicroPython's
(`make firmware BOARD=rp2040`) or CircuitPython's (`make firmware
RUNTIME=circuitpython`): the runtime is read from the image. Once per
session it is flashed onto an erased emulated Pico and provisioned as a user
does it: tools/provision.py over the board's USB serial port (mpremote on a
pty bridged to the emulated CDC interface), after, for CircuitPython, a
first install through its CIRCUITPY drive (pico_emulator.provision_template).
The flash chip after that is the
template of every key: FirmwareKey boots a copy of it, so each test starts
with a freshly provisioned key, and a power cycle restarts the emulator on
the same flash file.

FirmwareKey stands in for boards/host/virtual_key.VirtualKey where the
physical key can: `open_device()`, `address`, `stop()`, `storage` (its flash
file: FirmwareKey(storage=old.storage) is the same key powered up again),
`board.presence` -- "auto" presses the key's button (BOOTSEL; GP15 on
CircuitPython) whenever the key asks (KEEPALIVE UPNEEDED, or U2F's status
word 6985), "manual" only when a test calls press() --, `board.led_events`,
`runtime` and `passkey_capacity`. What a real key has no way to do (refuse
a touch with a second button, jump its clock, show its internal state) is
not offered: the test modules that adopt the end-to-end scenarios name the
scenarios that need it.

`make test` does not collect test_firmware_{e2e,libfido2,board}.py
(host_tests/conftest.py): they need a firmware image built from a
MicroPython or CircuitPython tree and the RP2040 boot ROM, which CI has not; `make firmware-e2e` runs them and fails, never skips,
when either is missing. The emulator's own parts are tested in `make test`
(test_pico_emulator.py).
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

from pico_emulator import BUTTONS, EmulatedPico, EmulatorError, firmware_runtime, provision_template  # noqa: E402,F401

ENV_FIRMWARE = "PYFIDO_FIRMWARE"
ENV_BOOTROM = "PYFIDO_BOOTROM"
ENV_PROVISION_ARGS = "PYFIDO_PROVISION_ARGS"  # extra tools/provision.py options, e.g. "--cpu-mhz 125"


def configured():
    """(firmware, bootrom) from the environment, or None when either is missing."""
    firmware = os.environ.get(ENV_FIRMWARE)
    bootrom = os.environ.get(ENV_BOOTROM)
    if firmware and bootrom:
        return firmware, bootrom
    return None


class _Presence:
    """board.presence of a FirmwareKey: its button, pressed by a test or by the emulator."""

    def __init__(self, key, mode):
        self._key = key
        self._mode = mode

    @property
    def mode(self):
        return self._mode

    @mode.setter
    def mode(self, mode):
        if mode not in ("auto", "manual"):
            raise ValueError("a key with one button knows presence 'auto' or 'manual', not %r" % (mode,))
        self._mode = mode
        if self._key.pico is not None:
            self._key.pico.command("presence", mode=mode)

    def press(self, ms=150):
        """Press the key's button for ms simulated ms; returns once the press has been down
        long enough for the key to count it (its debounce, boards/common/ui.py), as a person's
        press is over before the client asks again -- or once the key was switched off (a
        test that pressed from a timer thread may be over by then)."""
        from boards.common.ui import DEBOUNCE_MS

        pico = self._key.pico
        pico.tap(ms)
        try:
            until = pico.status()["t_ms"] + min(ms, 2 * DEBOUNCE_MS)
            while pico.status()["t_ms"] < until:
                time.sleep(0.01)
        except EmulatorError:
            if self._key.pico is pico and pico.proc.poll() is None:
                raise


# A scenario the CircuitPython image does not pass or that does not apply to
# it skips with this prefix and its reason (host_tests/conftest.py allows it).
NOT_ON_CIRCUITPYTHON = "not on CircuitPython: "


def skip_on_circuitpython(firmware_template, why):
    """Skip this test when the image under test is CircuitPython's, saying why."""
    if firmware_template[3] == "circuitpython":
        pytest.skip(NOT_ON_CIRCUITPYTHON + why)


# How long a look at the LED takes: a pattern shows only over time (a wink's
# first edge comes 60 ms after it starts, a touch blink's 250 ms).
LED_LOOK_MS = 600


def led_patterns(events):
    """The LED patterns (boards/common/ui.py) a run of GPIO25 edges shows: "idle", "touch", "wink", "off".

    The emulator sees the pin, not the pattern names the virtual key records:
    a pattern is read off the time between edges -- steady on is "idle",
    250 ms on / 250 ms off "touch", 60 / 60 "wink", steady off "off".
    Repeats are collapsed; the last state counts as steady.
    """
    from boards.common.ui import _PATTERNS

    touch = _PATTERNS["touch"][0]
    wink = _PATTERNS["wink"][0]
    edges = [(e["t_ms"], e["on"]) for e in events if e["event"] == "led"]
    out = []

    def add(name):
        if not out or out[-1] != name:
            out.append(name)

    for i, (t, on) in enumerate(edges):
        if i + 1 < len(edges):
            gap = edges[i + 1][0] - t
            if abs(gap - wink) < wink / 2:
                add("wink")
                continue
            if abs(gap - touch) < touch / 5:
                add("touch")
                continue
        add("idle" if on else "off")
    return out


def key_led_events(events):
    """The LED edges a CircuitPython key made: not those of CircuitPython starting up.

    From a power-up or chip reset to USB coming up CircuitPython has the pin:
    it blinks its status LED (the Pico's GPIO25) through its one-second
    safe-mode window (supervisor/shared/safe_mode.c) before it runs boot.py,
    and the key turns the LED on once code.py runs, after USB is up.
    (MicroPython never drives the LED itself.)
    """
    out = []
    starting = False
    for e in events:
        if e["event"] in ("power-on", "chip-reset"):
            starting = True
        elif e["event"] == "usb-attach":
            starting = False
        elif e["event"] == "led" and not starting:
            out.append(e)
    return out


class _Board:
    def __init__(self, key, mode):
        self.presence = _Presence(key, mode)
        self._key = key

    @property
    def led_events(self):
        """The patterns the LED showed so far, after watching it for LED_LOOK_MS more (simulated)."""
        pico = self._key.pico
        until = pico.status()["t_ms"] + LED_LOOK_MS
        while pico.status()["t_ms"] < until:
            time.sleep(0.05)
        events = pico.events
        if self._key.runtime == "circuitpython":
            events = key_led_events(events)
        return led_patterns(events)


class _Authenticator:
    """What the tests may know of the firmware inside without looking into it: the source it was built from."""

    @property
    def firmware_version(self):
        from firmware.authenticator import FIRMWARE_VERSION

        return FIRMWARE_VERSION


def passkey_capacity(runtime):
    """The passkeys (discoverable credentials) the emulated Pico's key promises, by runtime.

    MicroPython: the row of boards/rp2040/config.RESIDENT_CAPACITY for the
    Pico's 1408 KiB littlefs; CircuitPython: the fixed number of its settings
    (its FAT capacity was not measured).
    """
    from boards.rp2040 import config

    if runtime == "circuitpython":
        return config.CIRCUITPYTHON["max_resident_credentials"]
    return dict((blocks, n) for blocks, n in config.RESIDENT_CAPACITY)[352]


class FirmwareKey:
    """One power-up of the emulated firmware; storage is its flash file."""

    current = None  # the key started last (PollingCtap1 asks it how presence works)

    def __init__(self, template, bootrom, workdir, storage=None, presence="auto", runtime="micropython"):
        mode = getattr(presence, "mode", presence) or "auto"
        if storage is None:
            fd, storage = tempfile.mkstemp(prefix="flash-", suffix=".bin", dir=workdir)
            os.close(fd)
            shutil.copyfile(template, storage)
        self.storage = storage
        self._bootrom = bootrom
        self.runtime = runtime  # "micropython" or "circuitpython": the image's (firmware_runtime)
        self._button = BUTTONS[runtime]  # BOOTSEL (MicroPython's key) or "gpio:15" (CircuitPython's)
        self.passkey_capacity = passkey_capacity(runtime)
        self.board = _Board(self, mode)
        self.authenticator = _Authenticator()
        self.pico = None
        self.ready = None

    def start(self):
        self.pico = EmulatedPico(bootrom=self._bootrom, flash=self.storage, button=self._button).start()
        self.pico.command("presence", mode=self.board.presence.mode)
        self.ready = self.pico.wait_event("fido-ready", timeout=180)
        FirmwareKey.current = self
        return self

    @property
    def address(self):
        return self.pico.address

    def open_device(self, timeout=60):
        return self.pico.open_device(timeout)

    def stop(self):
        if self.pico is not None:
            self.pico.stop()
            self.pico = None
        return self.storage


# -- pytest fixtures (test_firmware_*.py import them) --------------------------------


@pytest.fixture(scope="session")
def firmware_template(tmp_path_factory):
    """The flash of a freshly flashed and provisioned Pico: every test's key boots a copy."""
    found = configured()
    if found is None:
        pytest.fail("set %s (a built .uf2) and %s (the RP2040 boot ROM image): "
                    "make firmware-e2e FIRMWARE=... BOOTROM=..." % (ENV_FIRMWARE, ENV_BOOTROM))
    firmware, bootrom = found
    workdir = tmp_path_factory.mktemp("firmware")
    args = shlex.split(os.environ.get(ENV_PROVISION_ARGS, ""))
    template = provision_template(firmware, bootrom, str(workdir / "provisioned.bin"), args)
    return template, bootrom, str(workdir), firmware_runtime(firmware)


@pytest.fixture
def firmware_key_factory(firmware_template):
    """key_factory(storage=..., presence=...) -> a running FirmwareKey (a power-up).

    storage: None (a freshly provisioned key), a FirmwareKey's .storage (the
    same flash again: a power cycle), or a storage object a test made for the
    virtual key -- mapped to one flash file, so passing it again powers up the
    same key; one that already holds records cannot be (those go on a board
    through tools/provision.py, not from a test).
    """
    template, bootrom, workdir, runtime = firmware_template
    keys = []
    flashes = {}

    def make(storage=None, presence="auto", config=None, **kw):
        if config:
            raise ValueError("the firmware's configuration comes from provisioning, not from a test: %r" % (config,))
        if storage is not None and not isinstance(storage, str):
            # a VfsStorage names its directory: the same root is the same flash
            name = getattr(storage, "root", None) or id(storage)
            flash = flashes.get(name)
            if flash is None:
                listed = list(storage.list()) if hasattr(storage, "list") else []
                if listed:
                    raise ValueError("records prepared by the test (%s) cannot be put on the firmware's flash" % listed)
                flash = FirmwareKey(template, bootrom, workdir, runtime=runtime).storage
                flashes[name] = flash
                keys.append(storage)  # keep it alive: its id() names the flash
            storage = flash
        key = FirmwareKey(template, bootrom, workdir, storage=storage, presence=presence, runtime=runtime).start()
        keys.append(key)
        return key

    try:
        yield make
    finally:
        for key in keys:
            if isinstance(key, FirmwareKey):
                key.stop()


class PollingCtap1:
    """fido2.ctap1.Ctap1 that polls as U2F clients do (browsers, libfido2, python-fido2's Fido2Client).

    A U2F key never waits for its button: REGISTER and AUTHENTICATE with
    "enforce user presence" answer 6985 (conditions not satisfied) until a
    touch comes, and the client asks again. The virtual key's "auto"
    presence approves the first request; a real key cannot (a press made
    before a request asked for it approves nothing), so the scenarios that
    send one U2F request and expect it through get this client instead,
    which repeats it every 100 ms for up to 10 s while the key's presence is
    "auto" (the emulator presses the button at the first 6985). With "manual"
    presence each call is sent once, as the scenarios expect.
    """

    POLL_S = 0.1
    GIVE_UP_S = 10

    def __new__(cls, device):
        from fido2.ctap1 import APDU, ApduError, Ctap1

        class _Polling(Ctap1):
            def send_apdu(self, cla=0, ins=0, p1=0, p2=0, data=b""):
                needs_touch = ins == Ctap1.INS.REGISTER or (ins == Ctap1.INS.AUTHENTICATE and p1 == 0x03)
                key = FirmwareKey.current
                deadline = time.monotonic() + cls.GIVE_UP_S
                while True:
                    try:
                        return Ctap1.send_apdu(self, cla, ins, p1, p2, data)
                    except ApduError as e:
                        polling = needs_touch and key is not None and key.board.presence.mode == "auto"
                        if e.code != APDU.USE_NOT_SATISFIED or not polling or time.monotonic() > deadline:
                            raise
                    time.sleep(cls.POLL_S)

        return _Polling(device)
