// pico.mjs - a Raspberry Pi Pico in rp2040js: power, the run loop, BOOTSEL, LED, resets.
//
//   const pico = new Pico({ bootrom, flashPath, hooks });
//   pico.flashImage(parseUF2(bytes));  // as dropping the .uf2 on RPI-RP2 would
//   pico.powerOn();                     // runs until powerOff() / powerCut()
//
// Time is rp2040js's simulated clock: each instruction advances it by its M0+
// cycles at the system clock the firmware set (rp2040js follows the PLL and
// CLOCKS registers: 125 MHz after MicroPython's start-up, or what
// machine.freq() chose). While the CPU sleeps (WFI/WFE) the clock jumps to the
// next alarm, but in `realtime` mode never ahead of the wall clock since
// power-up: a client on the other side of a socket lives in real time, and a
// device whose idle time raced ahead would see gaps of seconds between two
// packets that a client sent a millisecond apart. While the CPU computes, the
// simulated clock runs slower than the wall clock (rp2040js executes some
// millions of instructions a second), so measured durations are the chip's,
// not the emulator's.
//
// Resets: MicroPython's machine.reset() and the watchdog go through the
// watchdog peripheral; the chip restarts from its flash as after power-up,
// except that the real boot ROM starts the USB (UF2) bootloader instead of
// the flash image while BOOTSEL is held, at a reset as at power-up --
// reported as the event 'bootsel-boot', after which the chip stays off the
// bus until the next power-up, as a real Pico does (its RPI-RP2 drive is not
// emulated).
import { RP2040, GPIOPinState, ConsoleLogger, LogLevel } from 'rp2040js';
import { Flash, TIMING_TYPICAL } from './flash.mjs';
import { installFlashTraps } from './rom.mjs';
import { Rosc } from './rosc.mjs';
import { UsbHost } from './usb_host.mjs';
import { hookExceptions } from './profile.mjs';
import { FLASH_BASE } from './uf2.mjs';

export const PICO_FLASH_SIZE = 2 * 1024 * 1024;
const LED_PIN = 25;
const QSPI_SS = 1; // BOOTSEL pulls the flash chip-select low
const WATCHDOG_BASE = 0x40058;
const BATCH_INSTRUCTIONS = 50000;
const BATCH_REAL_MS = 15;

/** null for BOOTSEL, the GPIO number for 'gpio:N'; throws on anything else. */
export function parseButton(spec) {
  if (spec === 'bootsel') return null;
  const m = /^gpio:(\d+)$/.exec(spec);
  if (!m || Number(m[1]) > 29) throw new Error(`button is bootsel or gpio:N (N = 0..29), not ${spec}`);
  return Number(m[1]);
}

export class Pico {
  /**
   * @param {object} o bootrom (bytes of the 16 KB RP2040 boot ROM), flashPath (backing
   *   file of the flash chip), flashSize, timing (flash.mjs), realtime (bool), hooks:
   *   event(name, data), log(msg), hidReport(report), cdcData(bytes), configured(device)
   */
  constructor(o) {
    this.bootrom = new Uint32Array(o.bootrom.buffer.slice(o.bootrom.byteOffset, o.bootrom.byteOffset + o.bootrom.byteLength));
    if (this.bootrom.length !== 4096) throw new Error(`the RP2040 boot ROM is 16384 bytes, not ${o.bootrom.byteLength}`);
    this.flashPath = o.flashPath;
    this.flashSize = o.flashSize || PICO_FLASH_SIZE;
    this.timing = o.timing || TIMING_TYPICAL;
    this.realtime = o.realtime !== false;
    this.hooks = o.hooks || {};
    this.bootsel = false;
    // The key's button: BOOTSEL (MicroPython's rp2.bootsel_button()) or a push
    // button from a GPIO to GND (CircuitPython's default, GP15): o.button is
    // 'bootsel' or 'gpio:N'.
    this.buttonGpio = parseButton(o.button || 'bootsel');
    this.gpioPressed = false;
    this.mcu = null;
    this.generation = 0;
    this.running = false;
    this.halted = false;
    this.busyNs = 0;
    this.profile = null; // a profile.mjs Profile while one is being taken
    this.powerUps = 0;
    this.resets = 0;
    this.led = false;
    this.usb = new UsbHost({
      log: (m) => this.log(`usb: ${m}`),
      connected: () => this.event('usb-attach', {}),
      disconnected: (wasConfigured) => this.event('usb-detach', { configured: wasConfigured }),
      configured: (d) => {
        this.event('usb-configured', {
          vid: d.vid, pid: d.pid, product: d.product, manufacturer: d.manufacturer, serial: d.serial,
          bcdDevice: d.bcdDevice, fido: !!d.fido, cdc: !!d.cdc,
        });
        if (this.hooks.configured) this.hooks.configured(d);
      },
      hidReport: (r) => this.hooks.hidReport && this.hooks.hidReport(r),
      hidTaken: (r) => this.hooks.hidTaken && this.hooks.hidTaken(r),
      cdcData: (b) => this.hooks.cdcData && this.hooks.cdcData(b),
    });
  }

  log(msg) {
    if (this.hooks.log) this.hooks.log(msg);
  }

  event(name, data) {
    if (this.hooks.event) this.hooks.event(name, { ...data, t_ms: this.nowMs() });
  }

  /** Simulated milliseconds since this power-up (or chip reset). */
  nowMs() {
    return this.mcu ? this.mcu.clock.nanos / 1e6 : 0;
  }

  /** Program a UF2 image into the flash file, as the boot ROM's UF2 drive would. */
  flashImage(blocks) {
    const flash = new Flash(new Uint8Array(this.flashSize), this.flashSize, this.timing);
    flash.attach(this.flashPath);
    flash.writeImage(blocks, FLASH_BASE);
    flash.close();
  }

  powerOn() {
    if (this.running) throw new Error('already powered');
    this.powerUps++;
    // The boot ROM reads BOOTSEL at every boot, power-up as well as reset.
    if (this.bootsel) this._bootselBoot();
    else this._start('power-on');
  }

  _start(why) {
    const gen = ++this.generation;
    const mcu = new RP2040();
    mcu.logger = new ConsoleLogger(LogLevel.Error, true);
    mcu.loadBootrom(this.bootrom);
    new Rosc().attach(mcu); // RANDOMBIT: each Pico, each power-up, its own randomness
    const flash = new Flash(mcu.flash, this.flashSize, this.timing);
    flash.attach(this.flashPath);
    installFlashTraps(mcu, flash, (ns) => { this.busyNs += ns; }, (name) => this._mayWrite(name));
    hookExceptions(mcu.core, () => this.profile);
    this.profile = null;
    if (this.flash) this.flash.close();
    this.flash = flash;
    this.mcu = mcu;
    this.halted = false;
    this.usb.attach(mcu);
    // rp2040js resets every pad with input disabled; the QSPI pads come out
    // of reset with their input buffers on (RP2040 datasheet §2.19.6.4,
    // PADS_QSPI reset values), which BOOTSEL's read of QSPI_SS relies on.
    for (const [i, v] of [0x56, 0x5a, 0x52, 0x52, 0x52, 0x52].entries()) mcu.qspi[i].padValue = v;
    mcu.qspi[QSPI_SS].setInputValue(!this.bootsel);
    if (this.buttonGpio !== null) {
      // A button to GND: pressed, the pin reads low; released, it reads what
      // its pull makes of it (high with the pull-up the firmware enables) --
      // followed as the firmware changes the pad.
      mcu.gpio[this.buttonGpio].addListener(() => { if (gen === this.generation) this._driveButtonPin(); });
      this._driveButtonPin();
    }
    this.led = false;
    mcu.gpio[LED_PIN].addListener((state) => {
      const on = state === GPIOPinState.High;
      if (on !== this.led && gen === this.generation) {
        this.led = on;
        this.event('led', { on });
      }
    });
    mcu.peripherals[WATCHDOG_BASE].onWatchdogTrigger = () => {
      if (gen === this.generation) this._resetRequested = true;
    };
    this._resetRequested = false;
    mcu.core.PC = FLASH_BASE; // boot2, then the image's vector table (as rp2040js's own demo starts)
    this.realStartMs = performance.now();
    this.running = true;
    this.event(why, { powerUps: this.powerUps, resets: this.resets });
    setImmediate(() => this._loop(gen));
  }

  /** Power off cleanly: the flash file is complete (every operation is written through). */
  powerOff() {
    this.running = false;
    this.generation++;
    if (this.flash) this.flash.close();
    this.flash = null;
    this.usb.attach(new RP2040()); // forget the old chip's endpoints
    this.event('power-off', {});
  }

  powerCycle() {
    if (this.running) this.powerOff();
    this.powerOn();
  }

  /**
   * Cut the power just before the n-th flash erase or program from now
   * (n = 1: the next one): that operation and everything after it never
   * happen, as when the supply goes while the firmware is about to write.
   */
  cutBeforeFlashOp(n) {
    this._cutCountdown = n;
  }

  _mayWrite(name) {
    this.flashOps = (this.flashOps || 0) + 1;
    if (this._cutCountdown == null) return true;
    this._cutCountdown -= 1;
    if (this._cutCountdown > 0) return true;
    this._cutCountdown = null;
    this._cutRequested = name;
    return false;
  }

  /** The key's button held down (BOOTSEL or the GPIO button). */
  get buttonDown() {
    return this.buttonGpio === null ? this.bootsel : this.gpioPressed;
  }

  /** Press or release the key's button: BOOTSEL, or the GPIO button (event 'button'). */
  setButton(pressed) {
    if (this.buttonGpio === null) {
      this.setBootsel(pressed);
      return;
    }
    this.gpioPressed = !!pressed;
    if (this.mcu) this._driveButtonPin();
    this.event('button', { pressed: this.gpioPressed, gpio: this.buttonGpio });
  }

  _driveButtonPin() {
    const pin = this.mcu.gpio[this.buttonGpio];
    const level = this.gpioPressed ? false : !(pin.pulldownEnabled && !pin.pullupEnabled);
    if (pin.rawInputValue !== level) pin.setInputValue(level);
  }

  setBootsel(pressed) {
    this.bootsel = !!pressed;
    if (this.mcu) this.mcu.qspi[QSPI_SS].setInputValue(!this.bootsel);
    this.event('bootsel', { pressed: this.bootsel });
  }

  _chipReset() {
    this.resets++;
    if (this.bootsel) this._bootselBoot();
    else this._start('chip-reset');
  }

  // RP2040 datasheet §2.8.1: with QSPI_SS low when it boots, the boot ROM
  // enters the USB bootloader instead of booting from flash.
  _bootselBoot() {
    this.running = false;
    this.generation++;
    this.usb.attach(new RP2040());
    this.event('bootsel-boot', { powerUps: this.powerUps, resets: this.resets });
  }

  _loop(gen) {
    if (!this.running || gen !== this.generation) return;
    const mcu = this.mcu;
    const core = mcu.core;
    const clock = mcu.clock;
    const started = performance.now();
    for (let batch = 0; batch < 1000; batch++) {
      const nsPerCycle = 1e9 / mcu.clkSys;
      for (let i = 0; i < BATCH_INSTRUCTIONS; i++) {
        if (core.waiting) {
          const dt = clock.nanosToNextAlarm;
          if (dt <= 0) {
            // Asleep with nothing scheduled: only the host can wake it. Time
            // still passes, as it does for the host -- but first let the
            // host's pending callbacks run (they may wake the chip now).
            if (this._sleptEmpty) {
              const behindNs = (performance.now() - this.realStartMs) * 1e6 - clock.nanos;
              if (behindNs > 0) {
                clock.tick(behindNs);
                if (this.profile) this.profile.sleptNs += behindNs;
              }
              this._sleptEmpty = false;
              setTimeout(() => this._loop(gen), 1);
            } else {
              this._sleptEmpty = true;
              setImmediate(() => this._loop(gen));
            }
            return;
          }
          this._sleptEmpty = false;
          if (this.realtime) {
            const aheadMs = (clock.nanos + dt) / 1e6 - (performance.now() - this.realStartMs);
            if (aheadMs > 0) {
              setTimeout(() => this._loop(gen), Math.min(Math.ceil(aheadMs), 5));
              return;
            }
          }
          clock.tick(dt);
          if (this.profile) this.profile.sleptNs += dt;
        } else {
          if (this.profile) {
            const pc = core.PC;
            const cycles = core.executeInstruction();
            this.profile.step(pc, cycles);
            clock.tick(cycles * nsPerCycle);
          } else {
            clock.tick(core.executeInstruction() * nsPerCycle);
          }
          if (this.busyNs) {
            const ns = this.busyNs;
            this.busyNs = 0;
            clock.tick(ns);
          }
        }
        if (this._resetRequested || this._cutRequested || gen !== this.generation) break;
      }
      if (this._cutRequested && gen === this.generation) {
        const op = this._cutRequested;
        this._cutRequested = null;
        this.powerOff();
        this.event('power-cut', { before: op });
        return;
      }
      if (this._resetRequested && gen === this.generation) {
        this._chipReset();
        return;
      }
      if (gen !== this.generation || !this.running) return;
      if (performance.now() - started > BATCH_REAL_MS) break;
    }
    setImmediate(() => this._loop(gen));
  }
}

