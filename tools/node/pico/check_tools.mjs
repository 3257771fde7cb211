// check_tools.mjs - the emulator's own parts on a bare rp2040js RP2040 (no firmware, no boot
// ROM): what host_tests/test_fil_tools.py checks. Prints one JSON line per case.
//   usb-in-order   a double-buffered IN transfer of two packets through usb_host.mjs:
//                  the packets the host hands on, in order
//   profile        profile.mjs over a few Thumb instructions that call and return:
//                  its flat counts and the inclusive time and calls of each function
import { RP2040, ConsoleLogger, LogLevel } from 'rp2040js';
import { UsbHost } from './usb_host.mjs';
import { Profile } from './profile.mjs';

function chip() {
  const mcu = new RP2040();
  mcu.logger = new ConsoleLogger(LogLevel.Error, true);
  return mcu;
}

const EP1_IN_CONTROL = 0x08;
const EP1_IN_BUFFER_CONTROL = 0x88;
const ENABLE = 1 << 31;
const DOUBLE_BUF = 1 << 30;
const AVAILABLE = 1 << 10;
const FULL = 1 << 15;
const BUFFER = 0x180; // 64-byte aligned, past the control registers and EP0's buffers

function usbInOrder(doubleBuffered) {
  const mcu = chip();
  const got = [];
  const host = new UsbHost({ hidReport: (r) => got.push(r[0]) });
  host.attach(mcu);
  host.hidIn = 1; // as enumeration finds the FIDO interface's IN endpoint
  const view = mcu.usbDPRAMView;
  view.setUint32(EP1_IN_CONTROL, (ENABLE | (doubleBuffered ? DOUBLE_BUF : 0) | BUFFER) >>> 0, true);
  // TinyUSB's rp2040 DCD: the first packet in buffer 0, the next in buffer 1
  // (64 bytes on), both made available in one write of the buffer control.
  mcu.usbDPRAM.fill(1, BUFFER, BUFFER + 64);
  mcu.usbDPRAM.fill(2, BUFFER + 64, BUFFER + 128);
  const half = FULL | AVAILABLE | 64;
  const control = doubleBuffered ? ((half << 16) | half) >>> 0 : half;
  view.setUint32(EP1_IN_BUFFER_CONTROL, control, true);
  mcu.usbCtrl.DPRAMUpdated(EP1_IN_BUFFER_CONTROL, control);
  mcu.clock.tick(1e6); // past the controller's write delay (10 us)
  return got;
}

// main: BL f; B .      f: PUSH {LR}; BL g; POP {PC}      g: NOP; NOP; BX LR
const SRAM = 0x20000000;
const PROGRAM = [
  [0x00, [0xf000, 0xf806]], [0x04, [0xe7fe]],
  [0x10, [0xb500, 0xf000, 0xf805, 0xbd00]],
  [0x20, [0xbf00, 0xbf00, 0x4770]],
];

function profile() {
  const mcu = chip();
  for (const [at, halfwords] of PROGRAM) {
    halfwords.forEach((h, i) => { mcu.sram[at + 2 * i] = h & 0xff; mcu.sram[at + 2 * i + 1] = h >> 8; });
  }
  mcu.core.PC = SRAM;
  mcu.core.SP = SRAM + 0x1000;
  const p = new Profile(mcu);
  for (let i = 0; i < 12; i++) {
    const pc = mcu.core.PC;
    const cycles = mcu.core.executeInstruction();
    mcu.clock.tick(cycles * 8); // 125 MHz
    p.step(pc, cycles);
  }
  const open = p.stack.length;
  const r = p.report(125e6);
  return { open, pcs: r.pcs, inclusive: r.inclusive };
}

console.log(JSON.stringify({ case: 'usb-in-order', double: usbInOrder(true), single: usbInOrder(false) }));
console.log(JSON.stringify({ case: 'profile', ...profile() }));
