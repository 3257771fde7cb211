// usb_host.mjs - a small USB host for the RP2040's device-mode controller in rp2040js.
//
// rp2040js emulates the device side of the RP2040's USB controller and lets a
// test play the host through RPUSBController's hooks (sendSetupPacket,
// onEndpointWrite for IN data, onEndpointRead/endpointReadDone for OUT
// data). Its own USBCDC helper enumerates once, when the controller is
// enabled, and answers every OUT request at once with an empty packet. A
// MicroPython key needs more: machine.USBDevice drops off the bus (pull-up
// off ~50 ms) and comes back with new descriptors, and the FIDO interface has
// interrupt endpoints of its own. This host:
//   - watches SIE_CTRL.PULLUP_EN: a rising edge is an attach (bus reset, then
//     enumeration), a falling edge a detach (everything of the old device is
//     forgotten, as a PC forgets an unplugged device);
//   - enumerates like a PC: SET_ADDRESS, device and configuration
//     descriptors, strings, SET_CONFIGURATION, then per interface: HID
//     SET_IDLE and the report descriptor (the FIDO usage page 0xF1D0 marks
//     the key's interface), CDC SET_LINE_CODING and SET_CONTROL_LINE_STATE
//     (DTR, which MicroPython's REPL waits for);
//   - serves the FIDO interface's interrupt endpoints (64-byte reports) and
//     the CDC data interface's bulk endpoints, holding OUT requests until it
//     has data instead of answering them with empty packets.
// Timing: a bus reset takes 10 ms (rp2040js's alarm) and SET_ADDRESS gets
// the spec's 2 ms recovery (USB 2.0 §9.2.6.3); control stages follow each
// other as fast as the device answers. The FIDO interface's output reports
// go out no closer together than its OUT endpoint's bInterval, as a PC's host
// controller schedules an interrupt endpoint: Linux rounds it down to a power
// of two (xhci-mem.c xhci_parse_frame_interval: 5 -> 4 ms, 8 -> 8 ms). A
// device that takes reports faster than its firmware reads them depends on
// that: CircuitPython's usb_hid re-arms at once and keeps only the last report
// (bInterval 8). Not modelled: a PC's 100 ms attach debounce (USB 2.0
// §7.1.7.3), the frame an interrupt transfer waits for (the first report of
// a message goes at once), and IN polling (an input report is taken as soon
// as the device offers it).

const EP0_IN_BUFFER_CONTROL = 0x80;
const EP0_OUT_BUFFER_CONTROL = 0x84;
const SIE_CTRL_PULLUP_EN = 1 << 16;
const BUF_CTRL_STALL = 1 << 11;

const DESC_DEVICE = 1;
const DESC_CONFIGURATION = 2;
const DESC_STRING = 3;
const DESC_INTERFACE = 4;
const DESC_ENDPOINT = 5;
const DESC_HID_REPORT = 0x22;
const CLASS_HID = 3;
const CLASS_CDC_DATA = 10;
const CLASS_CDC = 2;
const EP_TYPE_BULK = 2;
const EP_TYPE_INTERRUPT = 3;
const FIDO_USAGE_PAGE = 0xf1d0;
const SET_ADDRESS_RECOVERY_NS = 2e6;
const CONTROL_TIMEOUT_NS = 500e6;
const TRANSFER_GAP_NS = 20e3; // a device that never answers a stage
export const DEVICE_ADDRESS = 1;

export function setupPacket(bmRequestType, bRequest, wValue, wIndex, wLength) {
  return Uint8Array.of(bmRequestType, bRequest, wValue & 0xff, wValue >> 8, wIndex & 0xff, wIndex >> 8,
    wLength & 0xff, wLength >> 8);
}

/** Interfaces and endpoints of a configuration descriptor. */
export function parseConfiguration(bytes) {
  const interfaces = [];
  let current = null;
  for (let i = 0; i + 1 < bytes.length;) {
    const len = bytes[i];
    const type = bytes[i + 1];
    if (len < 2 || i + len > bytes.length) throw new Error(`configuration descriptor: bad length ${len} at ${i}`);
    if (type === DESC_INTERFACE && len >= 9) {
      current = { number: bytes[i + 2], alternate: bytes[i + 3], class: bytes[i + 5], subclass: bytes[i + 6],
        protocol: bytes[i + 7], endpoints: [] };
      interfaces.push(current);
    } else if (type === DESC_ENDPOINT && len >= 7 && current) {
      current.endpoints.push({ address: bytes[i + 2], type: bytes[i + 3] & 3,
        maxPacket: bytes[i + 4] | (bytes[i + 5] << 8), interval: bytes[i + 6] });
    }
    i += len;
  }
  return interfaces;
}

/** The usage page of a HID report descriptor's first Usage Page item (or null). */
export function reportUsagePage(bytes) {
  for (let i = 0; i < bytes.length;) {
    const prefix = bytes[i];
    if (prefix === 0xfe) return null; // long items: not in these descriptors
    const size = [0, 1, 2, 4][prefix & 3];
    if ((prefix & 0xfc) === 0x04) { // global item: Usage Page
      let v = 0;
      for (let k = 0; k < size; k++) v |= bytes[i + 1 + k] << (8 * k);
      return v;
    }
    i += 1 + size;
  }
  return null;
}

function decodeString(bytes) {
  let s = '';
  for (let i = 2; i + 1 < bytes.length; i += 2) s += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
  return s;
}

/** A full-speed interrupt endpoint's bInterval (ms) as Linux's host controllers serve it: a power of two, 1..128 ms. */
export function hostIntervalMs(bInterval) {
  let ms = 1;
  while (ms * 2 <= Math.min(Math.max(bInterval, 1), 128)) ms *= 2;
  return ms;
}

export class UsbHost {
  /**
   * @param {object} hooks optional callbacks: log(msg), connected(), disconnected(),
   *   configured(device), hidReport(report Uint8Array), cdcData(bytes), hidTaken()
   */
  constructor(hooks = {}) {
    this.hooks = hooks;
    this.mcu = null;
    this._forget();
    this.hidOutQueue = [];
    this.cdcOutQueue = [];
    this.enumerations = 0;
  }

  _forget() {
    this.pullup = false;
    this.device = null; // what enumeration learnt
    this.configured = false;
    this.transfers = [];
    this.current = null;
    this.gap = false;
    this.ep0OutArmed = false;
    this.hidIn = -1;
    this.hidOut = -1;
    this.hidOutPeriodNs = 0; // the OUT endpoint's service interval, as the host schedules it
    this.hidOutLastNs = -Infinity; // when the last output report went out
    this.cdcIn = -1;
    this.cdcOut = -1;
    this.armed = new Map(); // OUT endpoint -> size the device asked for
  }

  /** Connect to a (new) chip; called at every power-up and chip reset. */
  attach(mcu) {
    this.mcu = mcu;
    this._forget();
    // What the old chip never took is gone with it (as at a detach): a
    // line typed to the REPL before a reset must not reach the new boot.
    this.hidOutQueue = [];
    this.cdcOutQueue = [];
    const usb = mcu.usbCtrl;
    this.usb = usb;
    const origSie = usb.handleSieCtrlWrite.bind(usb);
    usb.handleSieCtrlWrite = (value) => {
      origSie(value);
      const on = !!(value & SIE_CTRL_PULLUP_EN);
      if (on !== this.pullup) {
        this.pullup = on;
        if (on) this._attached();
        else this._detached();
      }
    };
    const origDpram = usb.DPRAMUpdated.bind(usb);
    usb.DPRAMUpdated = (offset, value) => {
      if ((offset === EP0_IN_BUFFER_CONTROL || offset === EP0_OUT_BUFFER_CONTROL) && value & BUF_CTRL_STALL) {
        this._stalled();
      }
      // An IN transfer of more than one packet on a double-buffered endpoint
      // (TinyUSB's rp2040 DCD fills buffer 0 with the first packet and
      // buffer 1 with the next, and sets both AVAILABLE in one write):
      // rp2040js queues buffer 1 before buffer 0, so the host would see the
      // packets swapped. The controller sends buffer 0 first: put it first.
      const inEp = offset >= EP0_IN_BUFFER_CONTROL && offset < EP0_IN_BUFFER_CONTROL + 0x80 && !(offset & 4)
        ? (offset - EP0_IN_BUFFER_CONTROL) >> 3 : -1;
      const queue = inEp > 0 && usb.endpointWriteAlarms ? usb.endpointWriteAlarms[inEp].buffers : null;
      const before = queue ? queue.length : 0;
      origDpram(offset, value);
      if (queue && usb.endpointWriteAlarms[inEp].buffers === queue && queue.length === before + 2) {
        const n = queue.length;
        [queue[n - 2], queue[n - 1]] = [queue[n - 1], queue[n - 2]];
      }
    };
    usb.onUSBEnabled = () => {};
    usb.onResetReceived = () => this._busReset();
    usb.onEndpointWrite = (ep, data) => this._in(ep, data);
    usb.onEndpointRead = (ep, size) => this._outRequested(ep, size);
    const clock = mcu.clock;
    this.clock = clock;
    this.timeout = clock.createAlarm(() => this._timedOut());
    this.delay = clock.createAlarm(() => {
      this.gap = false;
      this._next();
    });
    this.hidPace = clock.createAlarm(() => this._feedHid());
  }

  log(msg) {
    if (this.hooks.log) this.hooks.log(msg);
  }

  // -- attach, reset, detach -------------------------------------------------

  _attached() {
    this.log('device attached (pull-up on)');
    if (this.hooks.connected) this.hooks.connected();
    this.usb.resetDevice(); // SIE_STATUS.BUS_RESET after 10 ms
  }

  _detached() {
    const had = this.configured;
    this.log('device detached (pull-up off)');
    this.timeout.cancel();
    this.delay.cancel();
    this.hidPace.cancel();
    const queued = this.hidOutQueue.length;
    this._forget();
    this.hidOutQueue = [];
    this.cdcOutQueue = [];
    if (queued) this.log(`dropped ${queued} report(s) the detached device never took`);
    if (this.hooks.disconnected) this.hooks.disconnected(had);
  }

  _busReset() {
    this.log('bus reset done; enumerating');
    this.transfers = [];
    this.current = null;
    this.configured = false;
    this._enumerate();
  }

  // -- control transfers --------------------------------------------------------

  /** Queue a control transfer; cb(data|null, error) runs in the same simulated instant it ends. */
  control(setup, dataOut, opts, cb) {
    const o = opts || {};
    this.transfers.push({ setup, dataOut, stallOk: !!o.stallOk, after: o.after || 0, cb, got: [], sent: 0, phase: 'setup' });
    if (!this.current && !this.gap) this._next();
  }

  _next() {
    if (this.current || !this.transfers.length || !this.pullup) return;
    const t = this.transfers.shift();
    this.current = t;
    const wLength = t.setup[6] | (t.setup[7] << 8);
    t.wLength = wLength;
    t.in = !!(t.setup[0] & 0x80);
    t.phase = t.in ? 'data-in' : (wLength ? 'data-out' : 'status-in');
    if (t.in && wLength === 0) t.phase = 'status-out';
    this.timeout.schedule(CONTROL_TIMEOUT_NS);
    this.usb.sendSetupPacket(t.setup);
  }

  _finish(t, result, error) {
    this.timeout.cancel();
    this.current = null;
    // The next SETUP goes out once the device has taken this transfer's last
    // packet (rp2040js delivers it 10 us after the host hands it over).
    this.gap = true;
    this.delay.schedule(t.after || TRANSFER_GAP_NS);
    t.cb(result, error);
  }

  _stalled() {
    const t = this.current;
    if (!t) return;
    if (t.stallOk) this._finish(t, null);
    else this._finish(t, null, new Error(`device stalled control request ${Array.from(t.setup).map((b) => b.toString(16)).join(' ')}`));
  }

  _timedOut() {
    const t = this.current;
    if (t) this._finish(t, null, new Error(`control request timed out in phase ${t.phase}`));
  }

  _in(ep, data) {
    if (ep === 0) {
      const t = this.current;
      if (!t) return;
      if (t.phase === 'data-in') {
        t.got.push(...data);
        if (data.length < 64 || t.got.length >= t.wLength) {
          t.phase = 'status-out';
          if (this.ep0OutArmed) this._outRequested(0, 0);
        }
      } else if (t.phase === 'status-in') {
        this._finish(t, Uint8Array.from(t.got));
      }
      return;
    }
    if (ep === this.hidIn) {
      if (this.hooks.hidReport) this.hooks.hidReport(data);
    } else if (ep === this.cdcIn) {
      if (this.hooks.cdcData && data.length) this.hooks.cdcData(data);
    } else {
      this.log(`IN data on unexpected endpoint ${ep} (${data.length} bytes)`);
    }
  }

  _outRequested(ep, size) {
    if (ep === 0) {
      this.ep0OutArmed = false;
      const t = this.current;
      if (!t) {
        this.ep0OutArmed = true;
        return;
      }
      if (t.phase === 'data-out') {
        const chunk = t.dataOut.subarray(t.sent, t.sent + Math.min(size || 64, 64));
        t.sent += chunk.length;
        if (t.sent >= t.dataOut.length) t.phase = 'status-in';
        this.usb.endpointReadDone(0, chunk);
      } else if (t.phase === 'status-out') {
        this.usb.endpointReadDone(0, new Uint8Array(0));
        this._finish(t, Uint8Array.from(t.got));
      } else {
        // Armed before the data stage is over (tinyusb may do that): the
        // status stage is sent once the IN data is complete.
        this.ep0OutArmed = true;
      }
      return;
    }
    this.armed.set(ep, size || 64);
    if (ep === this.hidOut) this._feedHid();
    else if (ep === this.cdcOut) this._feedCdc();
  }

  // -- enumeration -------------------------------------------------------------

  // Enumeration is a chain of callbacks, not async/await: each request is
  // sent in the simulated instant the previous one completed (a promise
  // would resume only after the emulator's current batch of instructions).
  _enumerate() {
    const gen = ++this.enumerations;
    const device = {};
    const steps = [];
    const live = () => gen === this.enumerations && this.pullup;
    const run = () => {
      if (!live()) return;
      const step = steps.shift();
      if (step) step();
    };
    // setup may be a function: evaluated when the step runs
    const req = (setup, dataOut, opts, use) => steps.push(() => this.control(
      typeof setup === 'function' ? setup() : setup, dataOut, opts, (data, err) => {
      if (!live()) return;
      if (err) {
        this.log(`enumeration failed: ${err.message}`);
        return;
      }
      if (use) use(data);
      run();
    }));
    req(setupPacket(0x00, 5, DEVICE_ADDRESS, 0, 0), null, { after: SET_ADDRESS_RECOVERY_NS });
    req(setupPacket(0x80, 6, DESC_DEVICE << 8, 0, 18), null, null, (dev) => Object.assign(device, {
      usbVersion: dev[2] | (dev[3] << 8), maxPacket0: dev[7], vid: dev[8] | (dev[9] << 8), pid: dev[10] | (dev[11] << 8),
      bcdDevice: dev[12] | (dev[13] << 8), iManufacturer: dev[14], iProduct: dev[15], iSerial: dev[16],
    }));
    req(setupPacket(0x80, 6, DESC_CONFIGURATION << 8, 0, 9), null, null, (head) => {
      const total = head[2] | (head[3] << 8);
      steps.unshift(() => this.control(setupPacket(0x80, 6, DESC_CONFIGURATION << 8, 0, total), null, null, (cfg, err) => {
        if (!live()) return;
        if (err) {
          this.log(`enumeration failed: ${err.message}`);
          return;
        }
        device.interfaces = parseConfiguration(cfg);
        this._configSteps(device, req, steps);
        run();
      }));
    });
    run();
    this._finishEnumeration = () => {
      if (!live()) return;
      this.device = device;
      this.configured = true;
      this.log(`configured ${device.vid.toString(16).padStart(4, '0')}:${device.pid.toString(16).padStart(4, '0')} `
        + `"${device.product}"${device.fido ? ', FIDO interface' : ''}${device.cdc ? ', CDC serial' : ''}`);
      if (this.hooks.configured) this.hooks.configured(device);
      this._feedHid();
      this._feedCdc();
    };
  }


  /** The requests after the configuration descriptor: strings, SET_CONFIGURATION, per-interface set-up. */
  _configSteps(device, req, steps) {
    for (const itf of device.interfaces) {
      if (itf.class !== CLASS_CDC_DATA) continue;
      for (const ep of itf.endpoints) {
        if (ep.type !== EP_TYPE_BULK) continue;
        if (ep.address & 0x80) this.cdcIn = ep.address & 0xf;
        else this.cdcOut = ep.address & 0xf;
      }
    }
    let lang = 0x0409;
    req(setupPacket(0x80, 6, DESC_STRING << 8, 0, 255), null, { stallOk: true }, (langs) => {
      if (langs && langs.length >= 4) lang = langs[2] | (langs[3] << 8);
    });
    for (const [key, field] of [['manufacturer', 'iManufacturer'], ['product', 'iProduct'], ['serial', 'iSerial']]) {
      if (!device[field]) continue;
      // wIndex is the language the previous request returned
      req(() => setupPacket(0x80, 6, (DESC_STRING << 8) | device[field], lang, 255), null, { stallOk: true },
        (s) => { device[key] = s ? decodeString(s) : null; });
    }
    req(setupPacket(0x00, 9, 1, 0, 0));
    for (const itf of device.interfaces) {
      if (itf.class === CLASS_HID) {
        req(setupPacket(0x21, 0x0a, 0, itf.number, 0), null, { stallOk: true }); // SET_IDLE 0
        req(setupPacket(0x81, 6, DESC_HID_REPORT << 8, itf.number, 255), null, null, (rd) => {
          itf.usagePage = reportUsagePage(rd);
          if (itf.usagePage !== FIDO_USAGE_PAGE) return;
          for (const ep of itf.endpoints) {
            if (ep.type !== EP_TYPE_INTERRUPT) continue;
            if (ep.address & 0x80) this.hidIn = ep.address & 0xf;
            else {
              this.hidOut = ep.address & 0xf;
              this.hidOutPeriodNs = hostIntervalMs(ep.interval) * 1e6;
            }
          }
          device.fido = { interface: itf.number, in: this.hidIn, out: this.hidOut };
        });
      } else if (itf.class === CLASS_CDC) {
        const lineCoding = Uint8Array.of(0x00, 0xc2, 0x01, 0x00, 0, 0, 8); // 115200 8N1
        req(setupPacket(0x21, 0x20, 0, itf.number, 7), lineCoding, { stallOk: true });
        req(setupPacket(0x21, 0x22, 3, itf.number, 0), null, { stallOk: true }, () => { device.cdc = true; }); // DTR | RTS
      }
    }
    steps.push(() => this._finishEnumeration());
  }

  // -- data endpoints ------------------------------------------------------------

  /** Queue one 64-byte output report for the FIDO interface; false when there is none. */
  sendHidReport(report) {
    if (!this.configured || this.hidOut < 0) return false;
    this.hidOutQueue.push(Uint8Array.from(report));
    this._feedHid();
    return true;
  }

  _feedHid() {
    if (this.armed.has(this.hidOut) && this.hidOutQueue.length && this.configured) {
      const wait = this.hidOutLastNs + this.hidOutPeriodNs - this.clock.nanos;
      if (wait > 0) {
        this.hidPace.schedule(wait); // (rp2040js leaves .scheduled set after an alarm ran)
        return;
      }
      this.hidOutLastNs = this.clock.nanos;
      this.armed.delete(this.hidOut);
      const report = this.hidOutQueue.shift();
      this.usb.endpointReadDone(this.hidOut, report);
      if (this.hooks.hidTaken) this.hooks.hidTaken(report);
    }
  }

  sendCdc(bytes) {
    if (!this.configured || this.cdcOut < 0) return false;
    this.cdcOutQueue.push(...bytes);
    this._feedCdc();
    return true;
  }

  // A transfer ends after a Ctrl-C (0x03). The serial bytes come through a
  // pty and a socket, which lose the boundaries of the client's writes; a
  // computer's USB serial driver sends each write as its own transfer.
  // CircuitPython empties its receive FIFO when a transfer holds Ctrl-C
  // (supervisor/shared/usb/usb.c, tud_cdc_rx_wanted_cb), so mpremote's
  // "\r\x03" then "\r\x01" (interrupt, then raw REPL) must not share one:
  // the Ctrl-A would be thrown away and the raw REPL never come.
  _feedCdc() {
    if (this.armed.has(this.cdcOut) && this.cdcOutQueue.length && this.configured) {
      const ctrlC = this.cdcOutQueue.indexOf(0x03);
      const n = Math.min(64, this.armed.get(this.cdcOut), ctrlC < 0 ? Infinity : ctrlC + 1);
      const chunk = Uint8Array.from(this.cdcOutQueue.splice(0, n));
      this.armed.delete(this.cdcOut);
      this.usb.endpointReadDone(this.cdcOut, chunk);
    }
  }
}
