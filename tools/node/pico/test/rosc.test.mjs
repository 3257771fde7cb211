// rosc.mjs: RANDOMBIT is random and each Pico's own; STATUS as pico_rand checks it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RP2040 } from 'rp2040js';
import { Rosc, ROSC_BASE } from '../rosc.mjs';

const RANDOMBIT = ROSC_BASE + 0x1c;
const STATUS = ROSC_BASE + 0x18;

function bits(mcu, n) {
  let out = '';
  for (let i = 0; i < n; i++) out += String(mcu.readUint32(RANDOMBIT) & 1); // pico_rand keeps bit 0
  return out;
}

test("rp2040js's own ROSC gives a constant RANDOMBIT (why the model exists)", () => {
  const mcu = new RP2040();
  mcu.logger = { warn() {}, debug() {}, info() {}, error() {} };
  assert.equal(mcu.readUint32(RANDOMBIT), 0xffffffff);
  assert.equal(bits(mcu, 64), '1'.repeat(64));
});

test('RANDOMBIT gives both values, a different sequence on each Pico', () => {
  const a = new RP2040();
  const b = new RP2040();
  new Rosc().attach(a);
  new Rosc().attach(b);
  const sa = bits(a, 256);
  const sb = bits(b, 256);
  assert.match(sa, /^[01]+$/);
  assert.ok(sa.includes('0') && sa.includes('1'));
  assert.notEqual(sa, sb);
});

test('RANDOMBIT is the low bit of the source, bit by bit', () => {
  const mcu = new RP2040();
  new Rosc(() => Uint8Array.of(0b10110010)).attach(mcu);
  assert.equal(bits(mcu, 8), '01001101');
});

test('STATUS says enabled and stable; other registers keep what was written', () => {
  const mcu = new RP2040();
  new Rosc().attach(mcu);
  const status = mcu.readUint32(STATUS);
  assert.equal(status & 0x1000, 0x1000); // ENABLED (pico_rand's hard_assert)
  assert.equal(status >>> 31, 1); // STABLE
  assert.equal(mcu.readUint32(ROSC_BASE), 0xaa0); // CTRL's reset value
  mcu.writeUint32(ROSC_BASE + 0x10, 0xaa4);
  assert.equal(mcu.readUint32(ROSC_BASE + 0x10), 0xaa4);
});
