// run_p256_m0.mjs - run lib/p256's bare-metal Cortex-M0+ image on rp2040js.
//
//   node tools/node/run_p256_m0.mjs build/m0/p256_m0.bin < calls.json > results.json
//
// calls.json: [{"op": "sign", "args": ["hex", ...]}, ...]; lib/p256's op
//             names, or any library's own with its number: {"op", "opcode", "args"}
// results:    [{"op", "rc", "out": ["hex", ...], "cycles", "stack"}, ...]
//
// The image (lib/p256/m0/m0_harness.h with a library's m0_main.c, link.ld) is loaded into SRAM at 0x20000000 and
// started through its vector table (VTOR, reset). It stops on `bkpt 0x11`
// before each call and `bkpt 0x12` after it; we fill and read the mailbox
// there. `cycles` counts M0+ cycles between the two breakpoints with
// rp2040js's timing model (single-cycle multiplier, as on the RP2040).
// `stack` is the deepest stack use during the call, measured from the SP at
// the first breakpoint: the free stack below it is painted with a pattern
// before each call and scanned for the lowest overwritten word afterwards. Semihosting (bkpt 0xAB) handles SYS_WRITE0
// and SYS_EXIT.
import { readFileSync } from 'node:fs';
import { RP2040 } from 'rp2040js';

const SRAM = 0x20000000;
const MBOX = 0x20038000 - SRAM;            // offsets into mcu.sram
const STACK_LO = 0x20040000 - SRAM;
const STACK_HI = 0x20042000 - SRAM;
const MBOX_BUF = 128;
const IN0 = 28;                             // after op, rc, in_len[3], out_len[2]
const OUT0 = IN0 + 3 * MBOX_BUF;
const PAINT = 0xa5c3e1f7;
const OPS = { keygen: 1, public_key: 2, sign: 3, verify: 4, ecdh: 5 };
const MAX_CYCLES = 2e9;

const [binPath] = process.argv.slice(2);
if (!binPath) {
  console.error('usage: node run_p256_m0.mjs image.bin < calls.json');
  process.exit(2);
}
const calls = JSON.parse(readFileSync(0, 'utf8'));
const mcu = new RP2040();
const view = mcu.sramView;
mcu.sram.set(readFileSync(binPath), 0);
mcu.core.VTOR = SRAM;
mcu.core.reset();

const results = [];
let next = 0;
let started = 0;
let finished = false;
let exitCode = null;
let callSP = 0;

function paintStack() {
  callSP = mcu.core.SP - SRAM;
  for (let a = STACK_LO; a < callSP; a += 4) view.setUint32(a, PAINT, true);
}

function stackUsed() {
  let a = STACK_LO;
  while (a < callSP && view.getUint32(a, true) === PAINT) a += 4;
  if (a === STACK_LO) throw new Error('stack overflow: the whole painted region was used');
  return callSP - a;
}

function readCString(addr) {
  let s = '';
  for (let c; (c = mcu.core.readUint8(addr)) !== 0; addr++) s += String.fromCharCode(c);
  return s;
}

mcu.onBreak = (code) => {
  const core = mcu.core;
  if (code === 0x11) {
    if (next >= calls.length) {
      view.setUint32(MBOX, 0, true);
      return;
    }
    const call = calls[next];
    const opcode = call.opcode ?? OPS[call.op];
    if (!Number.isInteger(opcode) || opcode < 1 || call.args.length > 3) throw new Error(`bad call ${JSON.stringify(call)}`);
    view.setUint32(MBOX, opcode, true);
    for (let i = 0; i < 3; i++) {
      const bytes = Buffer.from(call.args[i] ?? '', 'hex');
      if (bytes.length > MBOX_BUF) throw new Error('argument too long');
      view.setUint32(MBOX + 8 + 4 * i, bytes.length, true);
      mcu.sram.set(bytes, MBOX + IN0 + i * MBOX_BUF);
    }
    paintStack();
    started = core.cycles;
  } else if (code === 0x12) {
    const cycles = core.cycles - started;
    const rc = view.getInt32(MBOX + 4, true);
    const out = [0, 1].map((i) => {
      const n = view.getUint32(MBOX + 20 + 4 * i, true);
      const off = MBOX + OUT0 + i * MBOX_BUF;
      return Buffer.from(mcu.sram.subarray(off, off + n)).toString('hex');
    }).filter((h) => h.length > 0);
    results.push({ op: calls[next].op, rc, out, cycles, stack: stackUsed() });
    next++;
  } else if (code === 0xab) {
    const op = core.registers[0];
    if (op === 0x04) {
      process.stderr.write(readCString(core.registers[1]));
    } else if (op === 0x18) {
      finished = true;
      exitCode = core.registers[1] === 0x20026 ? 0 : 1;
    } else {
      throw new Error(`unsupported semihosting call 0x${op.toString(16)}`);
    }
  } else {
    throw new Error(`unexpected bkpt 0x${code.toString(16)} at 0x${core.PC.toString(16)}`);
  }
};

const t0 = Date.now();
const imageEnd = SRAM + readFileSync(binPath).length;
for (let n = 0; !finished; n++) {
  mcu.core.executeInstruction();
  if ((n & 0xfff) === 0) {
    const pc = mcu.core.PC;
    if (pc < SRAM || pc >= imageEnd) throw new Error(`PC 0x${pc.toString(16)} left the image`);
    if (mcu.core.cycles > MAX_CYCLES) throw new Error('cycle limit exceeded: image hung?');
  }
}
if (exitCode !== 0 || next !== calls.length) {
  console.error(`image exited with ${exitCode} after ${next}/${calls.length} calls`);
  process.exit(1);
}
process.stdout.write(JSON.stringify({ results, wall_ms: Date.now() - t0 }) + '\n');
