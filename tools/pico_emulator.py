"""A built RP2040 firmware image running in rp2040js, driven from Python: the firmware in the loop.

    pico = EmulatedPico(firmware="build/firmware/rp2040/pyfido-rp2040.uf2",
                        bootrom="rp2040-b1.bin", flash="build/fil/flash.bin").start()
    port = pico.serial_port()        # the REPL's USB serial port, as a pty (mpremote --port)
    pico.wait_event("fido-ready")    # the FIDO interface enumerated and answered INIT
    dev = pico.open_device()         # python-fido2 CtapHidDevice, as for the virtual key
    pico.tap(150)                    # press BOOTSEL for 150 simulated ms
    pico.power_cycle()               # the flash file survives: same key after power-up
    pico.stop()

The emulator is tools/node/pico/fil.mjs (rp2040js plus a small USB host, the
flash chip in a file, the boot ROM's flash routines trapped); its FIDO
interface is served on a socket in the host board's wire format, so
everything that reaches the virtual key (boards.host.client, libfido2 through
host_tests/libfido2.py, the end-to-end tests) reaches the firmware the same
way. Its USB serial port (when the firmware presents one) is bridged to a
pseudo-terminal so mpremote and tools/provision.py can use it.
"""

import json
import os
import pty
import sys
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import tty

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIL = os.path.join(REPO, "tools", "node", "pico", "fil.mjs")
BOOTROM_SIZE = 16384


class EmulatorError(RuntimeError):
    """The emulator refused, died, or an expected event did not come; carries its log."""


def check_inputs(firmware, bootrom):
    """Clear errors for what a user passes in, before starting anything."""
    if not bootrom:
        raise EmulatorError("give the RP2040 boot ROM image with BOOTROM=path (16384 bytes, revision B1: "
                            "built from github.com/raspberrypi/pico-bootrom; rp2040js's repository carries it "
                            "as demo/bootrom.ts); it is not part of this repository")
    if not os.path.isfile(bootrom) or os.path.getsize(bootrom) != BOOTROM_SIZE:
        raise EmulatorError("%s is not an RP2040 boot ROM image (%s bytes, need %d)" % (
            bootrom, os.path.getsize(bootrom) if os.path.isfile(bootrom) else "no such file", BOOTROM_SIZE))
    if firmware and not os.path.isfile(firmware):
        raise EmulatorError("no firmware image at %s (make firmware BOARD=rp2040 MICROPY_DIR=... builds one)" % firmware)


class EmulatedPico:
    def __init__(self, firmware=None, bootrom=None, flash=None, realtime=True, flash_timing="typical",
                 node="node", log=False, button="bootsel"):
        check_inputs(firmware, bootrom)
        self._tmp = tempfile.mkdtemp(prefix="pyfido-pico-")
        self.firmware = firmware
        self.bootrom = bootrom
        self.flash = flash or os.path.join(self._tmp, "flash.bin")
        self.socket_path = os.path.join(self._tmp, "fido.sock")
        self.cdc_path = os.path.join(self._tmp, "cdc.sock")
        self.realtime = realtime
        self.flash_timing = flash_timing
        self.node = node
        self.log = log
        self.button = button  # "bootsel", or "gpio:N": a push button from GPIO N to GND
        self.proc = None
        self.events = []  # every event, in order
        self._cond = threading.Condition()
        self._stderr = []
        self._pty = None

    # -- process -------------------------------------------------------------------

    def start(self, flash_image=True):
        cmd = [self.node, FIL, "--bootrom", self.bootrom, "--flash", self.flash, "--socket", self.socket_path,
               "--cdc", self.cdc_path, "--flash-timing", self.flash_timing]
        if self.firmware and flash_image:
            cmd += ["--firmware", self.firmware]
        if not self.realtime:
            cmd.append("--no-realtime")
        if self.log:
            cmd.append("--log")
        if self.button != "bootsel":
            cmd += ["--button", self.button]
        if shutil.which(self.node) is None:
            raise EmulatorError("Node.js (%s) is not installed: `make node-deps` installs it" % self.node)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=REPO, text=True, bufsize=1)
        threading.Thread(target=self._read_events, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.wait_event("listening", lambda e: "socket" in e)
        self.wait_event("listening", lambda e: "cdc" in e)
        return self

    def _read_events(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "garbage", "line": line}
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self.events.append({"event": "exited", "code": self.proc.wait()})
            self._cond.notify_all()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self._stderr.append(line)
            if self.log:
                print(line, end="")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.command("exit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self._pty is not None:
            self._pty.close()
            self._pty = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def command(self, cmd, **args):
        if self.proc is None or self.proc.poll() is not None:
            raise EmulatorError("the emulator is not running" + self.console())
        self.proc.stdin.write(json.dumps(dict(cmd=cmd, **args)) + "\n")
        self.proc.stdin.flush()

    def console(self):
        tail = "".join(self._stderr[-40:])
        return ("\n-- emulator stderr --\n" + tail) if tail else ""

    # -- events --------------------------------------------------------------------

    def mark(self):
        """A position in the event list: wait_event(..., since=mark) sees only later events."""
        with self._cond:
            return len(self.events)

    def wait_event(self, name, predicate=None, timeout=120, since=0):
        deadline = time.monotonic() + timeout
        with self._cond:
            i = since
            while True:
                while i < len(self.events):
                    e = self.events[i]
                    i += 1
                    if e["event"] == name and (predicate is None or predicate(e)):
                        return e
                    if e["event"] == "exited":
                        raise EmulatorError("the emulator exited (code %s) while waiting for %s%s" % (
                            e.get("code"), name, self.console()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EmulatorError("no %s event within %ss; last events: %s%s" % (
                        name, timeout, self.events[-8:], self.console()))
                self._cond.wait(left)

    def query(self, cmd):
        """Ask for a status/requests answer and return it."""
        m = self.mark()
        self.command(cmd)
        return self.wait_event(cmd, since=m, timeout=30)

    # -- the board -----------------------------------------------------------------

    def press(self):
        self.command("press")

    def release(self):
        self.command("release")

    def tap(self, ms=150):
        """Press the button (BOOTSEL, or the GPIO one) for ms simulated milliseconds."""
        self.command("tap", ms=ms)

    def power_cycle(self, wait_ready=True, timeout=120):
        m = self.mark()
        self.command("power-cycle")
        if wait_ready:
            return self.wait_event("fido-ready", since=m, timeout=timeout)
        return None

    def power_cut(self, after_ms=0, before_flash_op=None):
        """Power off after_ms simulated ms from now, or just before the before_flash_op-th flash write from now."""
        if before_flash_op is not None:
            self.command("power-cut", before_flash_op=before_flash_op)
        else:
            self.command("power-cut", after_ms=after_ms)

    def power_on(self, wait_ready=True, timeout=120):
        m = self.mark()
        self.command("power-on")
        if wait_ready:
            return self.wait_event("fido-ready", since=m, timeout=timeout)
        return None

    def requests(self):
        return self.query("requests")["requests"]

    def status(self):
        return self.query("status")

    def query_read(self, address, length):
        """Hex of `length` bytes of the chip's SRAM at `address`."""
        m = self.mark()
        self.command("read", address=address, length=length)
        return self.wait_event("read", since=m, timeout=30)["hex"]

    # -- the FIDO interface and the serial port ---------------------------------------

    @property
    def address(self):
        return self.socket_path

    def open_device(self, timeout=60):
        from boards.host.client import open_device

        return open_device(self.socket_path, timeout)

    def serial_port(self):
        """The USB serial port as a pseudo-terminal path (for mpremote); bridged until stop()."""
        if self._pty is None:
            self._pty = _PtyBridge(self.cdc_path)
        return self._pty.path


CIRCUITPYTHON_MARK = b"Adafruit CircuitPython"
# The key's button on the emulated Pico, by runtime: MicroPython's key reads
# BOOTSEL; CircuitPython's a push button from GP15 to GND (boards/rp2040/config.py).
BUTTONS = {"micropython": "bootsel", "circuitpython": "gpio:15"}


def firmware_runtime(firmware):
    """"circuitpython" or "micropython": which runtime a .uf2 image carries (its banner string)."""
    with open(firmware, "rb") as f:
        data = f.read()
    payload = b"".join(data[i + 32:i + 32 + int.from_bytes(data[i + 16:i + 20], "little")]
                       for i in range(0, len(data) - 511, 512))
    return "circuitpython" if CIRCUITPYTHON_MARK in payload else "micropython"


def _provision(pico, args, log, what="tools/provision.py"):
    port = pico.serial_port()
    cmd = [sys.executable, os.path.join(REPO, "tools", "provision.py"), "--port", port] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO)
    if log is not None:
        log.append(r.stdout + r.stderr)
    if r.returncode != 0:
        raise EmulatorError("%s failed on the emulated Pico (exit %d):\n%s%s" % (
            what, r.returncode, r.stdout + r.stderr, pico.console()))
    return r.stdout


def provision_template(firmware, bootrom, out_path, provision_args=(), log=None):
    """Flash `firmware` onto an erased emulated Pico, provision it with tools/provision.py, keep its flash.

    CircuitPython's first install goes through its CIRCUITPY drive (until
    /boot.py runs, the board cannot write its own filesystem): provision.py
    --stage-drive writes the drive's files into a folder, they are copied onto
    the drive in the flash file while the board is off (tools/circuitpy_drive.py;
    the emulator serves no USB mass storage), and provision.py runs again, over
    the serial console, as after a user copied them.
    """
    runtime = firmware_runtime(firmware)
    pico = EmulatedPico(firmware=firmware, bootrom=bootrom, flash=out_path + ".tmp", button=BUTTONS[runtime])
    if os.path.exists(pico.flash):
        os.unlink(pico.flash)
    pico.start()
    try:
        pico.wait_event("usb-configured", lambda e: e.get("cdc"), timeout=120)
        if runtime == "circuitpython":
            import circuitpy_drive

            stage = os.path.join(pico._tmp, "circuitpy-stage")
            _provision(pico, ["--stage-drive", stage] + list(provision_args), log, "provision.py --stage-drive")
            m = pico.mark()
            pico.command("power-off")
            pico.wait_event("power-off", since=m)
            circuitpy_drive.copy(pico.flash, stage)
            m = pico.mark()
            pico.command("power-on")
            pico.wait_event("usb-configured", lambda e: e.get("cdc"), since=m, timeout=120)
        _provision(pico, provision_args, log)
        pico.wait_event("fido-ready", timeout=180)
    finally:
        pico.stop()
    os.replace(out_path + ".tmp", out_path)
    return out_path


class _PtyBridge:
    """A pty whose other end is the emulator's CDC socket (reconnecting across resets)."""

    def __init__(self, cdc_path):
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave  # kept open so the pty survives mpremote closing it
        self._cdc_path = cdc_path
        self._closed = False
        self._sock = None
        self._q = queue.Queue()
        threading.Thread(target=self._from_pty, daemon=True).start()
        threading.Thread(target=self._to_pty, daemon=True).start()

    def _connect(self):
        while not self._closed:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self._cdc_path)
                return s
            except OSError:
                time.sleep(0.05)
        return None

    def _to_pty(self):
        self._sock = self._connect()
        while not self._closed and self._sock is not None:
            try:
                data = self._sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                if self._closed:
                    return
                self._sock = self._connect()
                continue
            try:
                os.write(self.master, data)
            except OSError:
                return

    def _from_pty(self):
        while not self._closed:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            while not self._closed:
                s = self._sock
                if s is not None:
                    try:
                        s.sendall(data)
                        break
                    except OSError:
                        pass
                time.sleep(0.05)

    def close(self):
        self._closed = True
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._sock is not None:
            self._sock.close()
