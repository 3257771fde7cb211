// usb_host.mjs against a device that drives a real rp2040js USB controller
// through its registers (usb_device.mjs): enumeration, control transfers,
// STALLs, timeouts, detach and re-attach with new descriptors, HID and CDC data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsbHost, parseConfiguration, reportUsagePage, DEVICE_ADDRESS } from '../usb_host.mjs';
import { FIDO_REPORT, KEYBOARD_REPORT, UsbDevice, keyDevice, padConfiguration, replDevice } from './usb_device.mjs';

const MS = 1e6;
const US = 1e3;

function rig(descriptors) {
  const dev = new UsbDevice(descriptors);
  const seen = { log: [], configured: [], disconnected: [], connected: 0, hid: [], cdc: [], cdcCalls: 0, taken: [] };
  const host = new UsbHost({
    log: (m) => seen.log.push({ t: dev.clock.nanos, m }),
    connected: () => seen.connected++,
    disconnected: (was) => seen.disconnected.push(was),
    configured: (d) => seen.configured.push({ t: dev.clock.nanos, d }),
    hidReport: (r) => seen.hid.push(Uint8Array.from(r)),
    cdcData: (b) => {
      seen.cdcCalls++;
      seen.cdc.push(...b);
    },
    hidTaken: (r) => seen.taken.push(Uint8Array.from(r)),
  });
  host.attach(dev.mcu);
  return { dev, host, seen };
}

function enumerated(descriptors = keyDevice()) {
  const r = rig(descriptors);
  r.dev.connect();
  assert.ok(r.dev.runUntil(() => r.seen.configured.length === 1, 1000 * MS), 'configured within 1 s');
  r.dev.run(1 * MS); // the device takes the last status packet 10 us after the host sent it
  return r;
}

const req = (s) => [s.bmRequestType, s.bRequest, s.wValue, s.wIndex, s.wLength];

function report(first, fill = 0) {
  const r = new Uint8Array(64).fill(fill);
  r[0] = first;
  return r;
}

test('parseConfiguration and reportUsagePage read what the host needs', () => {
  const itfs = parseConfiguration(keyDevice({ keyboard: 'before' }).configuration);
  assert.deepEqual(itfs.map((i) => [i.number, i.class]), [[0, 2], [1, 10], [2, 3], [3, 3]]);
  assert.deepEqual(itfs[1].endpoints.map((e) => [e.address, e.type, e.maxPacket]), [[0x02, 2, 64], [0x82, 2, 64]]);
  assert.deepEqual(itfs[3].endpoints.map((e) => [e.address, e.type, e.interval]), [[0x83, 3, 5], [0x03, 3, 5]]);
  assert.throws(() => parseConfiguration(Uint8Array.of(9, 2, 0, 0, 1, 1, 0, 0x80, 50, 9, 4, 0)), /bad length 9 at 9/);
  assert.equal(reportUsagePage(FIDO_REPORT), 0xf1d0);
  assert.equal(reportUsagePage(KEYBOARD_REPORT), 0x01);
  assert.equal(reportUsagePage(Uint8Array.of(0x09, 0x01, 0xa1, 0x01, 0xc0)), null);
});

test('enumerates like a PC: the requests in order, then configured with what it learnt', () => {
  const { dev, host, seen } = enumerated();
  const total = keyDevice().configuration.length;
  assert.deepEqual(dev.setups().map(req), [
    [0x00, 5, DEVICE_ADDRESS, 0, 0], // SET_ADDRESS
    [0x80, 6, 0x0100, 0, 18], // device descriptor
    [0x80, 6, 0x0200, 0, 9], // configuration: header,
    [0x80, 6, 0x0200, 0, total], // then all of it
    [0x80, 6, 0x0300, 0, 255], // language ids
    [0x80, 6, 0x0301, 0x0409, 255], // manufacturer, product, serial
    [0x80, 6, 0x0302, 0x0409, 255],
    [0x80, 6, 0x0303, 0x0409, 255],
    [0x00, 9, 1, 0, 0], // SET_CONFIGURATION 1
    [0x21, 0x20, 0, 0, 7], // CDC comm interface: SET_LINE_CODING
    [0x21, 0x22, 3, 0, 0], // SET_CONTROL_LINE_STATE: DTR | RTS
    [0x21, 0x0a, 0, 2, 0], // HID interface 2: SET_IDLE 0
    [0x81, 6, 0x2200, 2, 255], // its report descriptor
  ]);
  // every transfer went through its status stage before the next SETUP
  const kinds = dev.events.filter((e) => e.kind === 'setup' || e.kind === 'done').map((e) => e.kind);
  assert.deepEqual(kinds, Array(13).fill(['setup', 'done']).flat());
  assert.equal(dev.address, DEVICE_ADDRESS);
  assert.equal(dev.configuration, 1);
  assert.deepEqual(dev.lineCoding, Uint8Array.of(0x00, 0xc2, 0x01, 0x00, 0, 0, 8), '115200 8N1');
  assert.equal(dev.lineState, 3);
  const [{ d }] = seen.configured;
  assert.equal(d.vid, 0x2e8a);
  assert.equal(d.pid, 0x4004);
  assert.equal(d.bcdDevice, 0x0200);
  assert.equal(d.maxPacket0, 64);
  assert.equal(d.manufacturer, 'PyFIDO');
  assert.equal(d.product, 'PyFIDO Key');
  assert.equal(d.serial, 'e660c0d1c7a32f23');
  assert.deepEqual(d.fido, { interface: 2, in: 3, out: 3 });
  assert.equal(d.cdc, true);
  assert.equal(d.interfaces.length, 3);
  assert.equal(seen.connected, 1);
  assert.equal(host.configured, true);
  assert.equal(host.enumerations, 1);
  assert.deepEqual(seen.log.filter((l) => /fail/.test(l.m)), []);
});

test('timing: a 10 ms bus reset, then 2 ms of SET_ADDRESS recovery', () => {
  const { dev } = rig(keyDevice());
  const t0 = dev.clock.nanos;
  dev.connect();
  dev.runUntil(() => dev.configuration === 1, 1000 * MS);
  const ev = dev.events;
  const reset = ev.find((e) => e.kind === 'bus-reset');
  assert.equal(reset.t - t0, 10 * MS);
  const setups = ev.filter((e) => e.kind === 'setup');
  assert.equal(setups[0].t, reset.t, 'the first SETUP right after the reset');
  const addressDone = ev.find((e) => e.kind === 'done' && e.setup.bRequest === 5);
  assert.ok(setups[1].t - addressDone.t >= 2 * MS, `${(setups[1].t - addressDone.t) / MS} ms after SET_ADDRESS`);
  assert.ok(setups[1].t - addressDone.t < 2.1 * MS);
});

test('control IN longer than a packet: a 3-packet configuration, a 64-byte string ended by a zero-length packet', () => {
  const d = keyDevice({ keyboard: 'before' });
  assert.ok(d.configuration.length > 128, `${d.configuration.length} bytes`);
  d.strings[1] = 'A product name of 31 characters'; // 2 + 62 = 64 bytes: one full packet, then a ZLP
  assert.equal(d.strings[1].length, 31);
  const { seen } = enumerated(d);
  const dev = seen.configured[0].d;
  assert.equal(dev.product, 'A product name of 31 characters');
  assert.deepEqual(dev.interfaces.map((i) => i.number), [0, 1, 2, 3]);
  assert.deepEqual(dev.fido, { interface: 3, in: 3, out: 3 }, 'the FIDO interface, not the keyboard');
  assert.equal(dev.interfaces[2].usagePage, 0x01);
  assert.equal(dev.interfaces[3].usagePage, 0xf1d0);
});

test('a configuration of exactly 128 bytes: two full packets and no zero-length packet, as wLength says', () => {
  const d = keyDevice();
  d.configuration = padConfiguration(d.configuration, 128);
  const { dev, seen } = enumerated(d);
  assert.equal(dev.setups()[3].wLength, 128);
  assert.deepEqual(seen.configured[0].d.fido, { interface: 2, in: 3, out: 3 });
});

test('strings are asked for in the language the device lists first', () => {
  const d = keyDevice();
  d.langId = 0x0407;
  const { dev, seen } = enumerated(d);
  const strings = dev.setups().filter((s) => s.wValue >> 8 === 3 && s.wValue & 0xff);
  assert.equal(strings.length, 3);
  assert.ok(strings.every((s) => s.wIndex === 0x0407));
  assert.equal(seen.configured[0].d.manufacturer, 'PyFIDO');
});

test('status stage: a device that arms its status OUT late, or answers late, is waited for', () => {
  const { dev, seen } = rig(keyDevice());
  dev.statusDelayNs = 300 * US;
  dev.policy = (s) => (s.bRequest === 9 ? { delayNs: 3 * MS } : undefined);
  dev.connect();
  assert.ok(dev.runUntil(() => seen.configured.length === 1, 1000 * MS));
  dev.run(1 * MS);
  const ev = dev.events.filter((e) => e.kind === 'setup' || e.kind === 'done');
  assert.deepEqual(ev.map((e) => e.kind), Array(13).fill(['setup', 'done']).flat());
  const setConfig = ev.findIndex((e) => e.kind === 'setup' && e.setup.bRequest === 9);
  assert.ok(ev[setConfig + 1].t - ev[setConfig].t >= 3 * MS);
  assert.ok(ev[setConfig + 2].t >= ev[setConfig + 1].t, 'the next SETUP after the late status');
  const getDevice = ev.findIndex((e) => e.kind === 'setup' && e.setup.wValue === 0x0100);
  assert.ok(ev[getDevice + 1].t - ev[getDevice].t >= 300 * US);
});

test('a STALL where the host allows one (SET_IDLE, SET_LINE_CODING, language ids) still configures', () => {
  const { dev, seen } = rig(keyDevice());
  dev.policy = (s) => ([0x0a, 0x20].includes(s.bRequest) || (s.bRequest === 6 && s.wValue === 0x0300) ? 'stall' : undefined);
  dev.connect();
  assert.ok(dev.runUntil(() => seen.configured.length === 1, 1000 * MS));
  assert.equal(dev.events.filter((e) => e.kind === 'stall').length, 3);
  const d = seen.configured[0].d;
  assert.ok(d.fido);
  assert.equal(d.product, 'PyFIDO Key');
  // without language ids the strings are asked for in US English
  assert.ok(dev.setups().filter((s) => s.wValue >> 8 === 3 && s.wValue & 0xff).every((s) => s.wIndex === 0x0409));
});

for (const [what, match] of [
  ['the report descriptor', (s) => s.bmRequestType === 0x81],
  ['the device descriptor', (s) => s.wValue === 0x0100],
  ['SET_CONFIGURATION', (s) => s.bRequest === 9],
]) {
  test(`a STALL of ${what} ends the enumeration: not configured, nothing more asked`, () => {
    const { dev, host, seen } = rig(keyDevice());
    dev.policy = (s) => (match(s) ? 'stall' : undefined);
    dev.connect();
    dev.run(1000 * MS);
    assert.equal(seen.configured.length, 0);
    assert.equal(host.configured, false);
    const setups = dev.setups();
    assert.ok(match(setups[setups.length - 1]), 'the stalled request was the last');
    assert.equal(setups.filter(match).length, 1);
    assert.ok(seen.log.some((l) => /enumeration failed: device stalled control request/.test(l.m)));
    assert.equal(host.sendHidReport(report(1)), false);
  });
}

test('a device that never answers: the request times out after 500 ms and enumeration stops', () => {
  const { dev, host, seen } = rig(keyDevice());
  dev.policy = (s) => (s.wValue === 0x0200 && s.wLength === 9 ? 'ignore' : undefined);
  dev.connect();
  dev.run(2000 * MS);
  const asked = dev.events.find((e) => e.kind === 'setup' && e.setup.wLength === 9);
  const failed = seen.log.find((l) => /enumeration failed: control request timed out in phase data-in/.test(l.m));
  assert.ok(failed, JSON.stringify(seen.log));
  assert.equal(failed.t - asked.t, 500 * MS);
  assert.equal(dev.setups().length, 3);
  assert.equal(host.configured, false);
  assert.equal(seen.configured.length, 0);
});

test('HID output reports wait for the device to arm its OUT endpoint, one per arming, in order, never empty', () => {
  const { dev, host, seen } = enumerated();
  for (let i = 1; i <= 3; i++) assert.equal(host.sendHidReport(report(i, i)), true);
  dev.run(20 * MS);
  assert.deepEqual(dev.events.filter((e) => e.kind === 'out'), [], 'nothing without an armed endpoint');
  const got = [];
  dev.onOut = (ep, data) => got.push([ep, data]);
  for (let i = 1; i <= 3; i++) {
    dev.armOut(3);
    dev.run(4 * MS); // the endpoint's bInterval 5, as Linux serves it
    assert.equal(got.length, i);
    assert.equal(got[i - 1][0], 3);
    assert.deepEqual(got[i - 1][1], report(i, i));
  }
  dev.armOut(3);
  dev.run(50 * MS);
  assert.equal(got.length, 3, 'an armed endpoint with nothing to send gets nothing (no empty packets)');
  assert.deepEqual(seen.taken, [1, 2, 3].map((i) => report(i, i)));
  // armed first, then a report: it goes at once (rp2040js's 10 us)
  const t = dev.clock.nanos;
  host.sendHidReport(report(4));
  dev.runUntil(() => got.length === 4, t + MS);
  assert.equal(dev.events.at(-1).t - t, 10 * US);
  // one arming, one report: the next waits for the next arming
  host.sendHidReport(report(5));
  dev.run(20 * MS);
  assert.equal(got.length, 4);
  dev.armOut(3);
  dev.run(1 * MS);
  assert.deepEqual(got.at(-1)[1], report(5));
});

for (const keyboard of ['before', 'after']) {
  test(`HID input reports of the FIDO interface reach the host, a keyboard's ${keyboard} it do not`, () => {
    const { dev, seen } = enumerated(keyDevice({ keyboard }));
    assert.deepEqual(seen.configured[0].d.fido, { interface: keyboard === 'before' ? 3 : 2, in: 3, out: 3 });
    dev.sendIn(3, report(0xaa, 7));
    dev.run(1 * MS);
    assert.deepEqual(seen.hid, [report(0xaa, 7)]);
    dev.sendIn(4, Uint8Array.of(0, 0, 4, 0, 0, 0, 0, 0)); // the keyboard's endpoint
    dev.run(1 * MS);
    assert.equal(seen.hid.length, 1);
    assert.ok(seen.log.some((l) => /unexpected endpoint 4/.test(l.m)));
  });
}

for (const [bInterval, period] of [[5, 4], [8, 8], [1, 1]]) {
  test(`output reports go no closer together than the OUT endpoint's bInterval as Linux serves it: ${bInterval} -> ${period} ms`, () => {
    // CircuitPython's usb_hid re-arms its OUT endpoint at once and keeps only the
    // last report: sent back to back, the reports of one message overwrote each other.
    const { dev, host } = enumerated(keyDevice({ interval: bInterval }));
    const at = [];
    dev.onOut = () => {
      at.push(dev.clock.nanos);
      dev.armOut(3); // at once
    };
    dev.armOut(3);
    for (let i = 1; i <= 4; i++) host.sendHidReport(report(i));
    dev.run(40 * MS);
    assert.equal(at.length, 4);
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    assert.ok(gaps.every((g) => g >= period * MS && g < period * MS + 50 * US), JSON.stringify(gaps));
    // one report alone, long after the last: at once (rp2040js's 10 us)
    const t = dev.clock.nanos;
    host.sendHidReport(report(5));
    dev.run(1 * MS);
    assert.equal(at.length, 5);
    assert.ok(at[4] - t <= 20 * US);
  });
}

test('a Ctrl-C ends a serial transfer: mpremote\'s interrupt and its raw-REPL request go apart', () => {
  // The pty and the socket in between lose the boundaries of mpremote's writes;
  // CircuitPython empties its receive FIFO at a transfer that holds Ctrl-C, so the
  // Ctrl-A sent with it was lost and the raw REPL never came.
  const { dev, host } = enumerated();
  const got = [];
  dev.onOut = (ep, data) => got.push(Array.from(data));
  host.sendCdc(Uint8Array.of(0x0d, 0x03, 0x0d, 0x01, 0x61, 0x03, 0x62));
  for (let i = 0; i < 4; i++) {
    dev.armOut(2, 64);
    dev.run(1 * MS);
  }
  assert.deepEqual(got, [[0x0d, 0x03], [0x0d, 0x01, 0x61, 0x03], [0x62]]);
});

test('CDC both ways: bulk IN to the host, host bytes in packets of what the device armed', () => {
  const { dev, host, seen } = enumerated();
  dev.sendIn(2, new TextEncoder().encode('>>> '));
  dev.run(1 * MS);
  dev.sendIn(2, new Uint8Array(0)); // a zero-length packet (ends a bulk transfer of 64 n bytes)
  dev.run(1 * MS);
  assert.equal(String.fromCharCode(...seen.cdc), '>>> ');
  assert.equal(seen.cdcCalls, 1, 'no empty data for the CDC client');
  const bytes = Uint8Array.from({ length: 100 }, (_, i) => 0x20 + i); // no Ctrl-C among them (see above)
  assert.equal(host.sendCdc(bytes), true);
  const got = [];
  dev.onOut = (ep, data) => got.push([ep, data]);
  dev.run(5 * MS);
  assert.equal(got.length, 0);
  dev.armOut(2, 64);
  dev.run(1 * MS);
  dev.armOut(2, 16);
  dev.run(1 * MS);
  dev.armOut(2, 64);
  dev.run(1 * MS);
  dev.armOut(2, 64);
  dev.run(5 * MS);
  assert.deepEqual(got.map(([ep, d]) => [ep, d.length]), [[2, 64], [2, 16], [2, 20]]);
  assert.deepEqual(Uint8Array.from(got.flatMap(([, d]) => [...d])), bytes);
});

test('detach (pull-up off) forgets the device and drops what it had not taken', () => {
  const { dev, host, seen } = enumerated();
  host.sendHidReport(report(9));
  host.sendCdc(Uint8Array.of(1, 2, 3));
  dev.disconnect();
  assert.deepEqual(seen.disconnected, [true]);
  assert.equal(host.configured, false);
  assert.equal(host.device, null);
  assert.equal(host.sendHidReport(report(10)), false);
  assert.equal(host.sendCdc(Uint8Array.of(4)), false);
  assert.ok(seen.log.some((l) => /dropped 1 report/.test(l.m)));
  dev.run(50 * MS);
  dev.connect();
  assert.ok(dev.runUntil(() => seen.configured.length === 2, dev.clock.nanos + 1000 * MS));
  assert.equal(seen.connected, 2);
  const got = [];
  dev.onOut = (ep, data) => got.push([ep, data]);
  dev.armOut(3);
  dev.armOut(2);
  dev.run(50 * MS);
  assert.deepEqual(got, [], 'nothing of the old connection reaches the new one');
});

test('re-attach with new descriptors (MicroPython\'s runtime USB) re-enumerates and uses the new ones', () => {
  const { dev, host, seen } = enumerated(replDevice());
  const first = seen.configured[0].d;
  assert.equal(first.pid, 0x0005);
  assert.equal(first.fido, undefined);
  assert.equal(first.cdc, true);
  assert.equal(host.sendHidReport(report(1)), false, 'no FIDO interface on the REPL-only device');
  const before = dev.setups().length;
  dev.disconnect();
  dev.run(50 * MS);
  dev.reconfigure(keyDevice());
  dev.connect();
  assert.ok(dev.runUntil(() => seen.configured.length === 2, dev.clock.nanos + 1000 * MS));
  const second = seen.configured[1].d;
  assert.equal(second.pid, 0x4004);
  assert.equal(second.product, 'PyFIDO Key');
  assert.deepEqual(second.fido, { interface: 2, in: 3, out: 3 });
  assert.equal(host.enumerations, 2);
  assert.equal(req(dev.setups()[before])[1], 5, 'the new enumeration starts over with SET_ADDRESS');
  assert.equal(dev.setups().length - before, 13);
  dev.sendIn(3, report(0x55));
  dev.run(1 * MS);
  assert.deepEqual(seen.hid, [report(0x55)]);
});

test('a detach in the middle of an enumeration: the old one never completes, the new one does, once', () => {
  const { dev, seen } = rig(keyDevice());
  dev.policy = (s) => (s.wValue === 0x0200 && s.wLength > 9 ? { delayNs: 5 * MS } : undefined);
  dev.connect();
  dev.runUntil(() => dev.setups().some((s) => s.wValue === 0x0200 && s.wLength > 9), 1000 * MS);
  dev.run(1 * MS);
  dev.disconnect();
  dev.run(1 * MS);
  dev.connect();
  dev.run(1000 * MS);
  assert.equal(seen.configured.length, 1);
  assert.deepEqual(seen.disconnected, [false]);
  assert.equal(dev.configuration, 1);
});

test('a chip reset (attach to a new chip) forgets what the old one had not taken, CDC as well as HID', () => {
  const { dev, host } = enumerated();
  host.sendHidReport(report(1));
  host.sendCdc(new TextEncoder().encode('import machine; machine.reset()\r'));
  // the chip restarts: a new rp2040js instance, as pico.mjs makes at a watchdog reset
  const dev2 = new UsbDevice(keyDevice());
  host.attach(dev2.mcu);
  dev2.connect();
  assert.ok(dev2.runUntil(() => host.configured, 1000 * MS));
  const got = [];
  dev2.onOut = (ep, data) => got.push([ep, data]);
  dev2.armOut(3);
  dev2.armOut(2);
  dev2.run(50 * MS);
  assert.deepEqual(got, []);
  void dev;
});
