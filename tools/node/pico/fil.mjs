// fil.mjs - firmware in the loop: a built RP2040 image running in rp2040js, offered as a key.
//
//   node tools/node/pico/fil.mjs --bootrom B1.bin --flash state.bin [--firmware image.uf2]
//        [--socket /tmp/key.sock] [--cdc /tmp/key-cdc.sock] [--no-realtime] [--flash-timing none]
//        [--button bootsel|gpio:N]
//
// The emulated Pico's FIDO interface is served on --socket with the wire
// format of the host board's socket transport (boards/host/transport.py):
// bare 64-byte reports both ways, no report id, no length prefix; answers go
// to the client that last used their CTAPHID channel. So python-fido2
// (boards.host.client.open_device), libfido2 (host_tests/libfido2.py) and
// every end-to-end test reach the firmware exactly as they reach the virtual
// key. --cdc serves the USB serial port (the MicroPython REPL, when the
// firmware presents it) as a byte stream to one client at a time.
//
// --flash is the flash chip: created erased when missing, kept across runs,
// so restarting this program is a power cycle. --firmware programs a UF2
// image into it first, as dropping the file on the RPI-RP2 drive does (the
// sectors the image covers; the filesystem after it stays).
//
// --button is the key's button: BOOTSEL (the default; MicroPython's key reads
// it) or a push button from GPIO N to GND (gpio:15 for CircuitPython's key,
// boards/rp2040/config.py): pressed, the pin reads low; released, what its
// pull makes of it.
//
// Control: JSON lines on stdin, events as JSON lines on stdout.
//   {"cmd":"press"} {"cmd":"release"} {"cmd":"tap","ms":150}    the button (ms: simulated)
//   {"cmd":"power-cycle"} {"cmd":"power-off"} {"cmd":"power-on"} {"cmd":"exit"}
//   {"cmd":"power-cut","after_ms":N}  power off N simulated ms from now (0: now)
//   {"cmd":"power-cut","before_flash_op":N}  power off just before the N-th flash
//        erase/program from now (that one never happens)
//   {"cmd":"requests"}   -> {"event":"requests","requests":[...]} timed CTAPHID messages
//   {"cmd":"status"}     -> {"event":"status",...} simulated time, clock, LED, flash counters
//   {"cmd":"read","address":A,"length":N} -> {"event":"read","hex":...} SRAM contents
//   {"cmd":"profile","action":"start"|"stop"} -> {"event":"profile",...} cycles per
//        instruction address in between (tools/profile_firmware.py)
//   {"cmd":"presence","mode":"auto"|"manual"}  auto: press the button when the key asks
//        (KEEPALIVE UPNEEDED, or U2F status word 6985), as --presence auto
// Events: power-on, chip-reset, bootsel-boot, usb-attach, usb-detach,
// usb-configured, fido-ready (the first CTAPHID INIT answered after an
// enumeration: the host asks at once, as a PC's FIDO stack does), led,
// bootsel (BOOTSEL pressed or let go), button (the GPIO button), power-off, error.
import { readFileSync, existsSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { Pico, parseButton } from './pico.mjs';
import { Profile } from './profile.mjs';
import { parseUF2 } from './uf2.mjs';
import { TIMING_NONE, TIMING_TYPICAL } from './flash.mjs';
import { CtaphidWatch, cidOf } from './ctaphid_watch.mjs';

const REPORT = 64;
const BROADCAST = 0xffffffff;
const CTAPHID_INIT = 0x86;

function parseArgs(argv) {
  const o = { realtime: true, timing: 'typical', probe: true, presence: 'manual', tapMs: 150 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--bootrom') o.bootrom = val();
    else if (a === '--flash') o.flash = val();
    else if (a === '--firmware') o.firmware = val();
    else if (a === '--socket') o.socket = val();
    else if (a === '--cdc') o.cdc = val();
    else if (a === '--no-realtime') o.realtime = false;
    else if (a === '--flash-timing') o.timing = val();
    else if (a === '--no-probe') o.probe = false;
    else if (a === '--presence') o.presence = val();
    else if (a === '--log') o.log = true;
    else if (a === '--button') o.button = val();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.bootrom) throw new Error('--bootrom PATH (the RP2040 B1 boot ROM image, 16384 bytes) is required');
  if (!o.flash) throw new Error('--flash PATH (the flash chip\'s backing file) is required');
  if (!['typical', 'none'].includes(o.timing)) throw new Error('--flash-timing is typical or none');
  if (!['auto', 'manual'].includes(o.presence)) throw new Error('--presence is auto or manual');
  parseButton(o.button || 'bootsel');
  return o;
}

const KEEPALIVE = 0xbb;
const STATUS_UPNEEDED = 2;
const CTAPHID_MSG = 0x83;

function asksForTouch(report, done) {
  if (report[4] === KEEPALIVE && report[7] === STATUS_UPNEEDED) return true;
  return !!(done && done.respCmd === (CTAPHID_MSG & 0x7f) && done.respLen === 2 && done.status === 0x69 && done.sw2 === 0x85);
}

function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
}

function listen(address, onConnection) {
  const m = /^([^/]*):(\d+)$/.exec(address);
  const server = net.createServer(onConnection);
  if (m) {
    server.listen(Number(m[2]), m[1] || '127.0.0.1');
  } else {
    if (existsSync(address)) unlinkSync(address);
    server.listen(address);
  }
  return server;
}

function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fil: ${e.message}\n`);
    process.exit(2);
  }
  const bootrom = readFileSync(o.bootrom);
  const clients = new Set();
  const route = new Map(); // cid -> socket
  let cdcClient = null;
  let probeNonce = null;
  let tapLater = null; // an auto press waiting for the finger's gap
  let releasedAt = -Infinity; // simulated ms of the last release (this power-up)
  let pico = null;
  const watch = new CtaphidWatch(() => pico.nowMs());

  pico = new Pico({
    bootrom,
    flashPath: o.flash,
    timing: o.timing === 'none' ? TIMING_NONE : TIMING_TYPICAL,
    realtime: o.realtime,
    button: o.button,
    hooks: {
      event: (name, data) => {
        if (name === 'power-on' || name === 'chip-reset' || name === 'usb-detach') {
          watch.reset();
          route.clear();
        }
        if (name === 'power-on' || name === 'chip-reset') {
          releasedAt = -Infinity; // simulated time starts again at 0
          tapLater = null; // its alarm was on the old chip's clock
        }
        emit(name, data);
        // A tap's release is an alarm on the chip's clock, which stops with
        // the chip: end the press with it, or BOOTSEL stays down for good.
        if ((name === 'power-off' || name === 'bootsel-boot') && tapRelease) commands.release();
        // A timed power cut is such an alarm too: a chip reset moves what is
        // left of it to the new chip (the supply does not care about resets);
        // with a power-off or the bootloader it ends, as its clock does.
        if (cut && name === 'chip-reset') cutAfter(Math.max(0, cut.alarm.nanos - cut.clock.nanos));
        else if (name === 'power-off' || name === 'bootsel-boot') cut = null;
      },
      log: (msg) => { if (o.log) process.stderr.write(`fil: ${msg}\n`); },
      configured: (device) => {
        if (device.fido && o.probe) {
          probeNonce = Uint8Array.from({ length: 8 }, (_, i) => (0xa0 + i + pico.resets) & 0xff);
          const r = new Uint8Array(REPORT);
          r.set([0xff, 0xff, 0xff, 0xff, CTAPHID_INIT, 0, 8]);
          r.set(probeNonce, 7);
          pico.usb.sendHidReport(r);
        }
      },
      hidTaken: (report) => watch.taken(report),
      hidReport: (report) => {
        const done = watch.sent(report);
        if (o.presence === 'auto' && asksForTouch(report, done)) autoTap();
        const cid = cidOf(report);
        if (probeNonce && cid === BROADCAST && report[4] === (0x80 | CTAPHID_INIT)
            && report.subarray(7, 15).every((b, i) => b === probeNonce[i])) {
          probeNonce = null;
          emit('fido-ready', { t_ms: done ? done.tLastOut : pico.nowMs(), request_ms: done ? done.tLastOut - done.tFirstIn : null });
          return;
        }
        const target = route.get(cid);
        const buf = Buffer.from(report);
        for (const c of target ? [target] : clients) c.write(buf);
      },
      cdcData: (bytes) => { if (cdcClient) cdcClient.write(Buffer.from(bytes)); },
    },
  });

  if (o.firmware) {
    pico.flashImage(parseUF2(new Uint8Array(readFileSync(o.firmware))));
    emit('flashed', { firmware: o.firmware });
  }

  if (o.socket) {
    listen(o.socket, (sock) => {
      clients.add(sock);
      let pending = Buffer.alloc(0);
      sock.on('data', (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= REPORT) {
          const report = new Uint8Array(pending.subarray(0, REPORT));
          pending = pending.subarray(REPORT);
          route.set(cidOf(report), sock);
          pico.usb.sendHidReport(report);
        }
      });
      const drop = () => {
        clients.delete(sock);
        for (const [cid, s] of route) if (s === sock) route.delete(cid);
      };
      sock.on('close', drop);
      sock.on('error', drop);
    }).on('listening', () => emit('listening', { socket: o.socket }));
  }

  if (o.cdc) {
    listen(o.cdc, (sock) => {
      if (cdcClient) cdcClient.destroy();
      cdcClient = sock;
      sock.on('data', (chunk) => pico.usb.sendCdc(new Uint8Array(chunk)));
      const drop = () => { if (cdcClient === sock) cdcClient = null; };
      sock.on('close', drop);
      sock.on('error', drop);
    }).on('listening', () => emit('listening', { cdc: o.cdc }));
  }

  let cut = null; // a timed power cut: its alarm and the clock of the chip it is on
  const cutAfter = (ns) => {
    const clock = pico.mcu.clock;
    const alarm = clock.createAlarm(() => {
      cut = null;
      pico.powerOff();
      emit('power-cut', {});
    });
    alarm.schedule(ns);
    cut = { alarm, clock };
  };
  let tapRelease = null;
  const release = () => {
    pico.setButton(false);
    releasedAt = pico.nowMs();
  };
  // presence "auto": a person who presses BOOTSEL whenever the key asks --
  // a CTAP2 KEEPALIVE with status UPNEEDED, or a U2F answer with status
  // word 6985 (conditions not satisfied: "touch me and ask again"). A
  // person's finger stays off the button for a while between two presses:
  // the next press comes REPRESS_GAP_MS after the last release at the
  // soonest. (Pressing again at the next UPNEEDED, which comes every 80 ms,
  // gave gaps of ~10 ms: contact bounce to a key that debounces for 20 ms,
  // boards/common/ui.py, so a key asked while a tap was still held never
  // saw a new press -- the request ran into its 30 s timeout at 200 MHz and
  // took seconds at 125.)
  const REPRESS_GAP_MS = 60;
  const autoTap = () => {
    if (tapRelease || tapLater || pico.buttonDown) return;
    const wait = releasedAt + REPRESS_GAP_MS - pico.nowMs();
    if (wait <= 0) {
      commands.tap({ ms: o.tapMs });
      return;
    }
    const gen = pico.generation;
    tapLater = pico.mcu.clock.createAlarm(() => {
      tapLater = null;
      if (pico.generation === gen && !tapRelease && !pico.buttonDown) commands.tap({ ms: o.tapMs });
    });
    tapLater.schedule(wait * 1e6);
  };
  const commands = {
    press: () => {
      if (tapRelease) tapRelease.cancel();
      tapRelease = null;
      pico.setButton(true);
    },
    release: () => {
      if (tapRelease) tapRelease.cancel();
      tapRelease = null;
      release();
    },
    tap: (c) => {
      // One press of c.ms simulated milliseconds; a tap during a tap extends it.
      if (!pico.running) throw new Error('tap: the board is not running');
      if (tapRelease) tapRelease.cancel();
      pico.setButton(true);
      const gen = pico.generation;
      tapRelease = pico.mcu.clock.createAlarm(() => {
        tapRelease = null;
        if (pico.generation === gen) release();
      });
      tapRelease.schedule((c.ms ?? 150) * 1e6);
    },
    'power-on': () => pico.powerOn(),
    'power-off': () => pico.powerOff(),
    'power-cycle': () => pico.powerCycle(),
    'power-cut': (c) => {
      if (c.before_flash_op != null) {
        pico.cutBeforeFlashOp(c.before_flash_op);
        return;
      }
      const ms = c.after_ms ?? 0;
      if (ms <= 0) {
        pico.powerOff();
        return;
      }
      if (!pico.running) throw new Error('power-cut: the board is not running');
      if (cut) cut.alarm.cancel();
      cutAfter(ms * 1e6);
    },
    requests: () => {
      emit('requests', { requests: watch.done });
      watch.done = [];
    },
    presence: (c) => {
      if (!['auto', 'manual'].includes(c.mode)) throw new Error('presence mode is auto or manual');
      o.presence = c.mode;
    },
    read: (c) => {
      const RAM = 0x20000000;
      const a = c.address - RAM;
      if (!pico.mcu || a < 0 || a + c.length > pico.mcu.sram.length) throw new Error('read: not in SRAM');
      emit('read', { address: c.address, hex: Buffer.from(pico.mcu.sram.subarray(a, a + c.length)).toString('hex') });
    },
    profile: (c) => {
      // {"cmd":"profile","action":"start","fun_bc_call":ADDR}: profile from
      // now (profile.mjs); "stop": emit it, {"event":"profile",...}.
      if (c.action === 'start') {
        if (!pico.mcu) throw new Error('profile: the chip is off');
        pico.profile = new Profile(pico.mcu, { funBcCall: c.fun_bc_call || 0, watch: c.watch || [] });
      } else if (c.action === 'stop') {
        const p = pico.profile;
        pico.profile = null;
        if (!p) throw new Error('profile: none was started');
        emit('profile', p.report(pico.mcu ? pico.mcu.clkSys : null));
      } else {
        throw new Error('profile action is start or stop');
      }
    },
    status: () => emit('status', {
      t_ms: pico.nowMs(), running: pico.running, clk_sys: pico.mcu ? pico.mcu.clkSys : null, led: pico.led,
      bootsel: pico.bootsel, button: pico.buttonGpio === null ? 'bootsel' : `gpio:${pico.buttonGpio}`,
      button_down: pico.buttonDown, power_ups: pico.powerUps, resets: pico.resets,
      sectors_erased: pico.flash ? pico.flash.sectorsErased : null,
      bytes_programmed: pico.flash ? pico.flash.bytesProgrammed : null,
      flash_ops: pico.flashOps || 0,
      fido: !!(pico.usb.device && pico.usb.device.fido), cdc: !!(pico.usb.device && pico.usb.device.cdc),
    }),
    exit: () => {
      if (pico.running) pico.powerOff();
      process.exit(0);
    },
  };
  let line = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    line += chunk;
    let nl;
    while ((nl = line.indexOf('\n')) >= 0) {
      const text = line.slice(0, nl).trim();
      line = line.slice(nl + 1);
      if (!text) continue;
      let c;
      try {
        c = JSON.parse(text);
        const f = commands[c.cmd];
        if (!f) throw new Error(`unknown command ${c.cmd}`);
        f(c);
      } catch (e) {
        emit('error', { message: e.message, command: text });
      }
    }
  });
  process.stdin.on('end', () => commands.exit());
  pico.powerOn();
}

main();
