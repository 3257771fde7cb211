// uf2.mjs: which blocks of a UF2 file go into an RP2040's flash.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseUF2, RP2040_FAMILY_ID } from '../uf2.mjs';
import { pattern, uf2, UF2_FLAG_FAMILY_ID, UF2_FLAG_NOT_MAIN_FLASH } from './helpers.mjs';

test('main-flash blocks come out with their address and exactly their payload', () => {
  const a = pattern(256, 1);
  const b = pattern(256, 2);
  const blocks = parseUF2(uf2([{ address: 0x10000000, data: a }, { address: 0x10000100, data: b }]));
  assert.equal(blocks.length, 2);
  assert.deepEqual(blocks.map((x) => x.address), [0x10000000, 0x10000100]);
  assert.deepEqual(blocks[0].data, a);
  assert.deepEqual(blocks[1].data, b);
});

test('the payload size is taken from the block, not the 476 bytes the block could carry', () => {
  const data = pattern(476, 3);
  const [short] = parseUF2(uf2([{ address: 0x10001000, data, size: 100 }]));
  assert.equal(short.data.length, 100);
  assert.deepEqual(short.data, data.subarray(0, 100));
  const [full] = parseUF2(uf2([{ address: 0x10001000, data, size: 476 }]));
  assert.equal(full.data.length, 476);
});

test('blocks without a family id are taken; blocks marked not-main-flash are skipped', () => {
  const blocks = parseUF2(uf2([
    { address: 0x10000000, data: pattern(256), flags: 0 },
    { address: 0x20000000, data: pattern(256), flags: UF2_FLAG_NOT_MAIN_FLASH | UF2_FLAG_FAMILY_ID },
    { address: 0x10000100, data: pattern(256), flags: UF2_FLAG_FAMILY_ID },
  ]));
  assert.deepEqual(blocks.map((x) => x.address), [0x10000000, 0x10000100]);
});

test('a block for another chip family is refused and named', () => {
  const rp2350 = 0xe48bff59;
  assert.throws(() => parseUF2(uf2([{ address: 0x10000000, data: pattern(256), family: rp2350 }])),
    /family 0xe48bff59, not the RP2040 \(0xe48bff56\)/);
  // the family of a block is only read when its flag says there is one
  const [b] = parseUF2(uf2([{ address: 0x10000000, data: pattern(256), family: rp2350, flags: 0 }]));
  assert.equal(b.address, 0x10000000);
  assert.equal(RP2040_FAMILY_ID, 0xe48bff56);
});

test('files that are not UF2 are refused', () => {
  assert.throws(() => parseUF2(new Uint8Array(0)), /not a UF2 image/);
  assert.throws(() => parseUF2(new Uint8Array(511)), /not a whole number of 512-byte blocks/);
  const good = { address: 0x10000000, data: pattern(256) };
  assert.throws(() => parseUF2(uf2([good, { ...good, magic0: 0x12345678 }])), /bad magic in block 1/);
  assert.throws(() => parseUF2(uf2([{ ...good, magicEnd: 0 }])), /bad magic in block 0/);
  const bad = uf2([good]);
  bad[4] ^= 1; // second start magic
  assert.throws(() => parseUF2(bad), /bad magic in block 0/);
  assert.throws(() => parseUF2(uf2([{ ...good, size: 477 }])), /payload of 477 bytes/);
});

test('a file with no block for main flash is refused', () => {
  assert.throws(() => parseUF2(uf2([{ address: 0x20000000, data: pattern(256), flags: UF2_FLAG_NOT_MAIN_FLASH }])),
    /no block for main flash/);
});

test('a view into a larger buffer is read at its own offset', () => {
  const file = uf2([{ address: 0x10000000, data: pattern(256, 9) }]);
  const big = new Uint8Array(file.length + 7);
  big.set(file, 7);
  const [b] = parseUF2(big.subarray(7));
  assert.deepEqual(b.data, pattern(256, 9));
});
