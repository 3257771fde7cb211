// usb_device.mjs - a USB device for testing usb_host.mjs, written the way
// firmware drives the RP2040's USB controller: through its registers and
// DPRAM on a real rp2040js chip (no CPU code runs; this module is the
// firmware). Like tinyusb's RP2040 driver (dcd_rp2040.c) it clears
// SIE_STATUS.BUS_RESET and SETUP_REC, answers control transfers on EP0
// (DATA stage in 64-byte packets, then the status stage), STALLs EP0 by
// setting the STALL bit in both EP0 buffer controls, opens its endpoints at
// SET_CONFIGURATION and arms OUT buffers by writing AVAILABLE.
//
// The test steps simulated time with run()/runUntil(); after every alarm
// the device services the controller (zero firmware latency unless a test
// asks for a delay). `events` records what the device saw, with times.
import { RP2040, ConsoleLogger, LogLevel } from 'rp2040js';

const USB = 0x50110000;
const DPRAM = 0x50100000;
const ADDR_ENDP = 0x00;
const MAIN_CTRL = 0x40;
const SIE_CTRL = 0x4c;
const SIE_STATUS = 0x50;
const BUFF_STATUS = 0x58;
const EP_STALL_ARM = 0x68;
const MAIN_CTRL_CONTROLLER_EN = 1;
const SIE_CTRL_PULLUP_EN = 1 << 16;
const SIE_SETUP_REC = 1 << 17;
const SIE_BUS_RESET = 1 << 19;
const BUF_FULL = 1 << 15;
const BUF_DATA1 = 1 << 13;
const BUF_STALL = 1 << 11;
const BUF_AVAILABLE = 1 << 10;
const BUF_LEN = 0x3ff;
const EP_CTRL_ENABLE = 1 << 31;
const EP_CTRL_INT_PER_BUFFER = 1 << 29;
const EP0_BUF = 0x100;
const EP0_IN_CTRL = 0x80;
const EP0_OUT_CTRL = 0x84;

// -- descriptors (USB 2.0 §9.6, CDC 1.2, HID 1.11) ------------------------------

export function deviceDescriptor({ vid = 0x2e8a, pid = 0x0005, bcdDevice = 0x0100, strings = [1, 2, 3] } = {}) {
  return Uint8Array.of(18, 1, 0x00, 0x02, 0xef, 0x02, 0x01, 64, vid & 0xff, vid >> 8, pid & 0xff, pid >> 8,
    bcdDevice & 0xff, bcdDevice >> 8, strings[0], strings[1], strings[2], 1);
}

export function stringDescriptor(s) {
  const out = [2 + 2 * s.length, 3];
  for (const ch of s) out.push(ch.charCodeAt(0) & 0xff, ch.charCodeAt(0) >> 8);
  return Uint8Array.from(out);
}

const iface = (n, eps, cls, sub, proto) => [9, 4, n, 0, eps, cls, sub, proto, 0];
const endpoint = (address, type, size, interval) => [7, 5, address, type, size & 0xff, size >> 8, interval];

/** CDC ACM (IAD, comm interface with its notification endpoint, data interface with bulk endpoints). */
export function cdcFunction(comm, notifyEp, outEp, inEp) {
  return [
    8, 11, comm, 2, 2, 2, 0, 0, // IAD
    ...iface(comm, 1, 2, 2, 0),
    5, 0x24, 0x00, 0x20, 0x01, // header
    5, 0x24, 0x01, 0x00, comm + 1, // call management
    4, 0x24, 0x02, 0x02, // ACM
    5, 0x24, 0x06, comm, comm + 1, // union
    ...endpoint(notifyEp, 3, 8, 16),
    ...iface(comm + 1, 2, 10, 0, 0),
    ...endpoint(outEp, 2, 64, 0),
    ...endpoint(inEp, 2, 64, 0),
  ];
}

/** A HID interface with an interrupt IN and (optional) OUT endpoint, bInterval `interval` ms. */
export function hidFunction(n, reportLength, inEp, outEp, interval = 5) {
  return [
    ...iface(n, outEp ? 2 : 1, 3, 0, 0),
    9, 0x21, 0x11, 0x01, 0, 1, 0x22, reportLength & 0xff, reportLength >> 8,
    ...endpoint(inEp, 3, 64, interval),
    ...(outEp ? endpoint(outEp, 3, 64, interval) : []),
  ];
}

export function configuration(functions, interfaces) {
  const body = functions.flat();
  const total = 9 + body.length;
  return Uint8Array.of(9, 2, total & 0xff, total >> 8, interfaces, 1, 0, 0x80, 250, ...body);
}

// FIDO Alliance usage page 0xF1D0, usage CTAPHID (CTAP 2.1 §11.2.8.1): 64-byte reports both ways.
export const FIDO_REPORT = Uint8Array.of(0x06, 0xd0, 0xf1, 0x09, 0x01, 0xa1, 0x01, 0x09, 0x20, 0x15, 0x00, 0x26,
  0xff, 0x00, 0x75, 0x08, 0x95, 0x40, 0x81, 0x02, 0x09, 0x21, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95,
  0x40, 0x91, 0x02, 0xc0);
// A boot keyboard's report descriptor begins on the Generic Desktop page.
export const KEYBOARD_REPORT = Uint8Array.of(0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29,
  0xe7, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0xc0);

/**
 * What MicroPython presents: the REPL's CDC serial port alone (before the
 * application's runtime USB), or CDC plus the FIDO interface (and, for the
 * tests, a keyboard interface in front of it).
 */
export function replDevice() {
  return {
    device: deviceDescriptor({ pid: 0x0005 }),
    configuration: configuration([cdcFunction(0, 0x81, 0x02, 0x82)], 2),
    strings: ['MicroPython', 'Board in FS mode', 'e660c0d1c7a32f23'],
    langId: 0x0409,
    reports: {},
  };
}

/**
 * keyboard: 'before' or 'after' puts a keyboard interface (endpoint 0x84) next to the FIDO one.
 * interval: the FIDO endpoints' bInterval (5 as the MicroPython key's; CircuitPython's usb_hid has 8).
 */
export function keyDevice({ keyboard = null, interval = 5 } = {}) {
  const functions = [cdcFunction(0, 0x81, 0x02, 0x82)];
  let n = 2;
  const reports = {};
  const addKeyboard = () => {
    functions.push(hidFunction(n, KEYBOARD_REPORT.length, 0x84, 0));
    reports[n++] = KEYBOARD_REPORT;
  };
  if (keyboard === 'before') addKeyboard();
  functions.push(hidFunction(n, FIDO_REPORT.length, 0x83, 0x03, interval));
  reports[n++] = FIDO_REPORT;
  if (keyboard === 'after') addKeyboard();
  return {
    device: deviceDescriptor({ pid: 0x4004, bcdDevice: 0x0200 }),
    configuration: configuration(functions, n),
    strings: ['PyFIDO', 'PyFIDO Key', 'e660c0d1c7a32f23'],
    langId: 0x0409,
    reports,
  };
}

/** The configuration padded to exactly `total` bytes with a vendor-specific descriptor (type 0xff). */
export function padConfiguration(cfg, total) {
  const pad = total - cfg.length;
  if (pad < 2 || pad > 255) throw new Error(`cannot pad ${cfg.length} bytes to ${total}`);
  const out = new Uint8Array(total);
  out.set(cfg);
  out.set([pad, 0xff], cfg.length);
  out[2] = total & 0xff;
  out[3] = total >> 8;
  return out;
}

// -- the device ------------------------------------------------------------------

export class UsbDevice {
  constructor(descriptors, { mcu = null } = {}) {
    this.mcu = mcu || new RP2040();
    this.mcu.logger = new ConsoleLogger(LogLevel.Error, true);
    this.clock = this.mcu.clock;
    this.descriptors = descriptors;
    this.events = [];
    this.policy = () => undefined; // (setup) -> undefined | 'stall' | 'ignore' | { delayNs }
    this.statusDelayNs = 0; // how long after the IN data the device arms the status OUT
    this.onOut = () => {};
    this.ctl = null;
    this.address = 0;
    this.configuration = 0;
    this.lineCoding = null;
    this.lineState = null;
    this.nextBuffer = 0x180;
    this.bufferOf = new Map(); // endpoint address -> DPRAM offset
    this.pending = new Set(); // delayed answers, dropped at a bus reset
  }

  later(ns, fn) {
    const alarm = this.clock.createAlarm(() => {
      this.pending.delete(alarm);
      fn();
    });
    this.pending.add(alarm);
    alarm.schedule(ns);
  }

  rd(off) {
    return this.mcu.readUint32(USB + off) >>> 0;
  }

  wr(off, v) {
    this.mcu.writeUint32(USB + off, v >>> 0);
  }

  dpram(off, v) {
    this.mcu.writeUint32(DPRAM + off, v >>> 0);
  }

  record(kind, data = {}) {
    this.events.push({ kind, t: this.clock.nanos, ...data });
  }

  connect() {
    this.wr(MAIN_CTRL, MAIN_CTRL_CONTROLLER_EN);
    this.wr(SIE_CTRL, SIE_CTRL_PULLUP_EN);
  }

  disconnect() {
    this.wr(SIE_CTRL, 0);
  }

  /** New descriptors, as MicroPython's USBDevice.config() before it re-attaches. */
  reconfigure(descriptors) {
    this.descriptors = descriptors;
  }

  // -- servicing the controller (what the USB interrupt handler does) ----------

  service() {
    for (let guard = 0; guard < 1000; guard++) {
      const st = this.rd(SIE_STATUS);
      if (st & SIE_BUS_RESET) {
        this.address = 0;
        this.configuration = 0;
        this.ctl = null;
        for (const a of this.pending) a.cancel();
        this.pending.clear();
        this.wr(ADDR_ENDP, 0);
        this.record('bus-reset');
        this.wr(SIE_STATUS, SIE_BUS_RESET);
        continue;
      }
      if (st & SIE_SETUP_REC) {
        this.wr(SIE_STATUS, SIE_SETUP_REC);
        this._setup(this.mcu.usbDPRAM.slice(0, 8));
        continue;
      }
      const bs = this.rd(BUFF_STATUS);
      if (bs) {
        const bit = 31 - Math.clz32(bs & -bs);
        this.wr(BUFF_STATUS, 1 << bit);
        this._bufferDone(bit >> 1, !!(bit & 1));
        continue;
      }
      return;
    }
    throw new Error('the device never stopped getting events');
  }

  // -- control transfers ------------------------------------------------------------

  _setup(p) {
    const s = { bmRequestType: p[0], bRequest: p[1], wValue: p[2] | (p[3] << 8), wIndex: p[4] | (p[5] << 8),
      wLength: p[6] | (p[7] << 8) };
    this.record('setup', { setup: s });
    this.ctl = null;
    const rule = this.policy(s);
    if (rule === 'ignore') return;
    if (rule === 'stall') {
      this._stall();
      return;
    }
    const answer = () => this._answer(s);
    if (rule && rule.delayNs) this.later(rule.delayNs, answer);
    else answer();
  }

  _stall() {
    this.record('stall');
    this.wr(EP_STALL_ARM, 3);
    this.dpram(EP0_IN_CTRL, BUF_STALL);
    this.dpram(EP0_OUT_CTRL, BUF_STALL);
  }

  _answer(s) {
    const std = this._standard(s);
    if (std === null) {
      this._stall();
      return;
    }
    const ctl = { s, stage: 'data', got: [] };
    this.ctl = ctl;
    if (s.bmRequestType & 0x80) {
      ctl.data = std.slice(0, s.wLength);
      ctl.sent = 0;
      this._sendNextIn(ctl);
    } else if (s.wLength) {
      this._arm(EP0_OUT_CTRL, 64);
    } else {
      this._statusIn(ctl);
    }
  }

  /** The answer to a standard or class request (bytes; empty for no data), or null to STALL. */
  _standard(s) {
    const d = this.descriptors;
    const type = s.wValue >> 8;
    const index = s.wValue & 0xff;
    if (s.bmRequestType === 0x80 && s.bRequest === 6) {
      if (type === 1) return d.device;
      if (type === 2) return d.configuration;
      if (type === 3) {
        if (index === 0) return Uint8Array.of(4, 3, d.langId & 0xff, d.langId >> 8);
        const str = d.strings[index - 1];
        return str === undefined || s.wIndex !== d.langId ? null : stringDescriptor(str);
      }
      return null;
    }
    if (s.bmRequestType === 0x81 && s.bRequest === 6 && type === 0x22) return d.reports[s.wIndex] || null;
    if (s.bmRequestType === 0x00 && (s.bRequest === 5 || s.bRequest === 9)) return new Uint8Array(0);
    if (s.bmRequestType === 0x21 && [0x0a, 0x20, 0x22].includes(s.bRequest)) return new Uint8Array(0);
    return null;
  }

  _sendNextIn(ctl) {
    const chunk = ctl.data.subarray(ctl.sent, ctl.sent + 64);
    ctl.sent += chunk.length;
    // a full last packet shorter than wLength needs a zero-length packet after it
    ctl.lastIn = chunk.length < 64 || ctl.sent >= ctl.s.wLength;
    this.mcu.usbDPRAM.set(chunk, EP0_BUF);
    this.dpram(EP0_IN_CTRL, BUF_FULL | BUF_AVAILABLE | BUF_DATA1 | chunk.length);
  }

  _statusIn(ctl) {
    ctl.stage = 'status-in';
    this.dpram(EP0_IN_CTRL, BUF_FULL | BUF_AVAILABLE | BUF_DATA1);
  }

  _arm(ctrlOffset, len) {
    this.dpram(ctrlOffset, BUF_AVAILABLE | BUF_DATA1 | len);
  }

  _bufferDone(ep, out) {
    if (ep !== 0) {
      if (out) {
        const ctrl = this.mcu.usbDPRAMView.getUint32(0x84 + 8 * ep, true);
        const off = this.bufferOf.get(ep);
        const data = this.mcu.usbDPRAM.slice(off, off + (ctrl & BUF_LEN));
        this.record('out', { ep, data });
        this.onOut(ep, data);
      } else {
        this.record('in-done', { ep });
      }
      return;
    }
    const ctl = this.ctl;
    if (!ctl) return;
    const { s } = ctl;
    if (!out) {
      if (ctl.stage === 'data' && !ctl.lastIn) {
        this._sendNextIn(ctl);
      } else if (ctl.stage === 'data') {
        ctl.stage = 'status-out';
        const arm = () => this._arm(EP0_OUT_CTRL, 0);
        if (this.statusDelayNs) this.later(this.statusDelayNs, arm);
        else arm();
      } else if (ctl.stage === 'status-in') {
        this._complete(ctl);
      }
    } else if (ctl.stage === 'data') {
      const ctrl = this.mcu.usbDPRAMView.getUint32(EP0_OUT_CTRL, true);
      const n = ctrl & BUF_LEN;
      ctl.got.push(...this.mcu.usbDPRAM.subarray(EP0_BUF, EP0_BUF + n));
      if (n < 64 || ctl.got.length >= s.wLength) this._statusIn(ctl);
      else this._arm(EP0_OUT_CTRL, 64);
    } else if (ctl.stage === 'status-out') {
      this._complete(ctl);
    }
  }

  _complete(ctl) {
    const { s } = ctl;
    this.ctl = null;
    if (s.bmRequestType === 0x00 && s.bRequest === 5) {
      this.address = s.wValue;
      this.wr(ADDR_ENDP, s.wValue);
    } else if (s.bmRequestType === 0x00 && s.bRequest === 9) {
      this.configuration = s.wValue;
      this._openEndpoints();
    } else if (s.bmRequestType === 0x21 && s.bRequest === 0x20) {
      this.lineCoding = Uint8Array.from(ctl.got);
    } else if (s.bmRequestType === 0x21 && s.bRequest === 0x22) {
      this.lineState = s.wValue;
    }
    this.record('done', { setup: s, data: Uint8Array.from(ctl.got) });
  }

  _openEndpoints() {
    const cfg = this.descriptors.configuration;
    for (let i = 0; i < cfg.length; i += cfg[i]) {
      if (cfg[i + 1] !== 5) continue;
      const address = cfg[i + 2];
      const n = address & 0xf;
      const outDir = !(address & 0x80);
      const off = this.nextBuffer;
      this.nextBuffer += 64;
      this.bufferOf.set(outDir ? n : n | 0x80, off);
      this.dpram(0x08 + 8 * (n - 1) + (outDir ? 4 : 0), EP_CTRL_ENABLE | EP_CTRL_INT_PER_BUFFER | ((cfg[i + 3] & 3) << 26) | off);
    }
  }

  // -- data endpoints -----------------------------------------------------------------

  /** Offer a packet on an IN endpoint (the host takes it 10 us later). */
  sendIn(ep, data) {
    const off = this.bufferOf.get(ep | 0x80);
    if (off === undefined) throw new Error(`endpoint 0x${(ep | 0x80).toString(16)} is not open`);
    this.mcu.usbDPRAM.set(data, off);
    this.dpram(0x80 + 8 * ep, BUF_FULL | BUF_AVAILABLE | data.length);
  }

  /** Arm an OUT endpoint for one packet of up to `len` bytes. */
  armOut(ep, len = 64) {
    if (!this.bufferOf.has(ep)) throw new Error(`endpoint 0x${ep.toString(16)} is not open`);
    this._arm(0x84 + 8 * ep, len);
  }

  setups() {
    return this.events.filter((e) => e.kind === 'setup').map((e) => e.setup);
  }

  // -- simulated time -------------------------------------------------------------------

  /** Advance simulated time by ns, alarm by alarm, servicing the controller after each. */
  run(ns) {
    const end = this.clock.nanos + ns;
    this.runUntil(() => false, end);
  }

  /** Advance until pred() holds (returns true) or simulated time reaches `end` ns (returns false). */
  runUntil(pred, end = this.clock.nanos + 2e9) {
    const clock = this.clock;
    this.service();
    if (pred()) return true;
    for (;;) {
      const next = clock.nextAlarm;
      if (!next || next.nanos > end) break;
      clock.tick(next.nanos - clock.nanos);
      this.service();
      if (pred()) return true;
    }
    if (end > clock.nanos) clock.tick(end - clock.nanos);
    this.service();
    return pred();
  }
}
