// rosc.mjs - the RP2040's ring oscillator, as far as randomness goes.
//
// rp2040js leaves ROSC unimplemented: every read gives 0xffffffff, so the
// RANDOMBIT that pico_rand samples (pico-sdk src/rp2_common/pico_rand/rand.c,
// behind MicroPython's os.urandom) is always 1. With the simulated clock as
// its other input, every emulated Pico then draws the same "random" bytes:
// the same master secret at provisioning, the same keys. On a chip RANDOMBIT
// is the oscillator's jitter; here it is a bit from node:crypto, so each
// emulated Pico, and each power-up, draws its own.
//
// The other registers keep what the firmware writes (reset values from the
// RP2040 datasheet §2.17.8); STATUS says enabled and stable.
import { randomBytes } from 'node:crypto';

export const ROSC_BASE = 0x40060000;
const STATUS = 0x18;
const RANDOMBIT = 0x1c;
const STATUS_ENABLED_STABLE = 0x80001000;
const RESET_VALUES = new Map([[0x00, 0xaa0], [0x10, 0xaa0 /* DIV: unset */], [0x14, 0x8], [0x20, 0]]);

export class Rosc {
  /** @param {(n: number) => Uint8Array} source random bytes (node:crypto's by default) */
  constructor(source = randomBytes) {
    this.source = source;
    this.regs = new Map(RESET_VALUES);
    this.bits = 0;
    this.left = 0;
  }

  /** Install in place of rp2040js's unimplemented ROSC. */
  attach(mcu) {
    const rosc = this;
    const peripheral = mcu.findPeripheral(ROSC_BASE);
    peripheral.readUint32 = (offset) => rosc.read(offset & 0xfff);
    peripheral.writeUint32 = (offset, value) => rosc.write(offset & 0xfff, value);
    return this;
  }

  randomBit() {
    if (this.left === 0) {
      this.bits = this.source(1)[0];
      this.left = 8;
    }
    const bit = this.bits & 1;
    this.bits >>= 1;
    this.left -= 1;
    return bit;
  }

  read(offset) {
    if (offset === STATUS) return STATUS_ENABLED_STABLE;
    if (offset === RANDOMBIT) return this.randomBit();
    return this.regs.get(offset) ?? 0;
  }

  write(offset, value) {
    this.regs.set(offset, value >>> 0);
  }
}
