// flash.mjs: NOR semantics, the backing file (a power cycle), image writes, busy times.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Flash, PAGE_SIZE, SECTOR_SIZE, TIMING_NONE, TIMING_TYPICAL } from '../flash.mjs';
import { pattern, tempDir } from './helpers.mjs';

const SIZE = 64 * SECTOR_SIZE * 2; // 512 KB: two 64 KB blocks and more

function attached(t, file, size = SIZE, timing = TIMING_TYPICAL) {
  const f = new Flash(new Uint8Array(size + 4096).fill(0x5a), size, timing);
  f.attach(file);
  t.after(() => f.close());
  return f;
}

test('a new backing file starts erased, exactly the flash size', (t) => {
  const file = path.join(tempDir(t), 'flash.bin');
  const f = new Flash(new Uint8Array(SIZE + 4096).fill(0x5a), SIZE);
  assert.equal(f.attach(file), true);
  f.close();
  assert.equal(statSync(file).size, SIZE);
  assert.ok(readFileSync(file).every((b) => b === 0xff));
  assert.ok(f.memory.subarray(0, SIZE).every((b) => b === 0xff));
  // beyond the chip's size the emulator's array is not the flash's business
  assert.ok(f.memory.subarray(SIZE).every((b) => b === 0x5a));
});

test('program only clears bits: new = old AND data', (t) => {
  const f = attached(t, path.join(tempDir(t), 'flash.bin'));
  f.program(0x2000, Uint8Array.of(0xf0, 0x0f, 0xaa, 0xff));
  assert.deepEqual(f.memory.subarray(0x2000, 0x2004), Uint8Array.of(0xf0, 0x0f, 0xaa, 0xff));
  f.program(0x2000, Uint8Array.of(0x3c, 0xff, 0x55, 0xff));
  assert.deepEqual(f.memory.subarray(0x2000, 0x2004), Uint8Array.of(0x30, 0x0f, 0x00, 0xff));
  assert.equal(f.memory[0x1fff], 0xff);
  assert.equal(f.memory[0x2004], 0xff);
  assert.equal(f.bytesProgrammed, 8);
});

test('erase sets whole sectors to 0xFF and nothing around them', (t) => {
  const f = attached(t, path.join(tempDir(t), 'flash.bin'));
  f.program(0, new Uint8Array(4 * SECTOR_SIZE)); // all zero
  f.erase(SECTOR_SIZE, 2 * SECTOR_SIZE);
  const m = f.memory;
  assert.ok(m.subarray(0, SECTOR_SIZE).every((b) => b === 0));
  assert.ok(m.subarray(SECTOR_SIZE, 3 * SECTOR_SIZE).every((b) => b === 0xff));
  assert.ok(m.subarray(3 * SECTOR_SIZE, 4 * SECTOR_SIZE).every((b) => b === 0));
  assert.equal(f.sectorsErased, 2);
});

test('misaligned and out-of-range operations are refused and change nothing', (t) => {
  const file = path.join(tempDir(t), 'flash.bin');
  const f = attached(t, file);
  f.program(0, new Uint8Array(2 * SECTOR_SIZE));
  assert.throws(() => f.erase(100, SECTOR_SIZE), /not sector aligned/);
  assert.throws(() => f.erase(0, 100), /not sector aligned/);
  assert.throws(() => f.erase(SIZE - SECTOR_SIZE, 2 * SECTOR_SIZE), /outside the 524288-byte flash/);
  assert.throws(() => f.erase(SIZE, SECTOR_SIZE), /outside/);
  assert.throws(() => f.program(SIZE - 2, Uint8Array.of(0, 0, 0)), /outside/);
  assert.throws(() => f.program(-1, Uint8Array.of(0)), /outside/);
  assert.ok(f.memory.subarray(0, 2 * SECTOR_SIZE).every((b) => b === 0));
  assert.equal(f.memory[SIZE - 1], 0xff);
  assert.equal(f.sectorsErased, 0);
  assert.ok(readFileSync(file).subarray(0, 2 * SECTOR_SIZE).every((b) => b === 0));
});

test('every change is in the file at once: a new Flash on it (a power cycle) sees it all', (t) => {
  const file = path.join(tempDir(t), 'flash.bin');
  const f = new Flash(new Uint8Array(SIZE), SIZE);
  f.attach(file);
  f.program(0x10000, pattern(300, 7));
  f.program(0x3000, new Uint8Array(2 * SECTOR_SIZE));
  f.erase(0x3000, SECTOR_SIZE);
  f.program(0x3010, Uint8Array.of(1, 2, 3));
  const before = Uint8Array.from(f.memory.subarray(0, SIZE));
  // no close(): a power cut right after the last operation
  const onDisk = new Uint8Array(readFileSync(file));
  assert.deepEqual(onDisk, before);
  const g = new Flash(new Uint8Array(SIZE).fill(0x11), SIZE);
  assert.equal(g.attach(file), false);
  t.after(() => { g.close(); f.close(); });
  assert.deepEqual(g.memory, before);
  assert.deepEqual(g.memory.subarray(0x10000, 0x10000 + 300), pattern(300, 7));
  assert.deepEqual(g.memory.subarray(0x3010, 0x3013), Uint8Array.of(1, 2, 3));
  assert.ok(g.memory.subarray(0x3013, 0x4000).every((b) => b === 0xff), 'the erase is in the file');
  assert.ok(g.memory.subarray(0x4000, 0x5000).every((b) => b === 0), 'and only it');
});

test('a backing file of another size is refused', (t) => {
  const file = path.join(tempDir(t), 'flash.bin');
  writeFileSync(file, new Uint8Array(SIZE - SECTOR_SIZE));
  const f = new Flash(new Uint8Array(SIZE), SIZE);
  assert.throws(() => f.attach(file), /520192 bytes, expected a 524288-byte flash image/);
  f.close();
  assert.throws(() => new Flash(new Uint8Array(SIZE), SIZE + SECTOR_SIZE), /bad flash size/);
  assert.throws(() => new Flash(new Uint8Array(SIZE), SIZE - 1), /bad flash size/);
});

test('writeImage erases each sector an image block touches, once, and keeps the rest', (t) => {
  const file = path.join(tempDir(t), 'flash.bin');
  const f = attached(t, file);
  f.program(0, new Uint8Array(4 * SECTOR_SIZE)); // old contents: zeros
  const base = 0x10000000;
  // two 256-byte blocks in sector 0 (the second must not erase the first)
  // and one straddling sectors 1 and 2
  f.writeImage([
    { address: base, data: pattern(256, 1) },
    { address: base + 0x100, data: pattern(256, 2) },
    { address: base + 2 * SECTOR_SIZE - 100, data: pattern(256, 3) },
  ], base);
  const m = f.memory;
  assert.deepEqual(m.subarray(0, 256), pattern(256, 1));
  assert.deepEqual(m.subarray(256, 512), pattern(256, 2));
  assert.ok(m.subarray(512, SECTOR_SIZE).every((b) => b === 0xff), 'rest of a written sector is erased');
  assert.ok(m.subarray(SECTOR_SIZE, 2 * SECTOR_SIZE - 100).every((b) => b === 0xff));
  assert.deepEqual(m.subarray(2 * SECTOR_SIZE - 100, 2 * SECTOR_SIZE + 156), pattern(256, 3));
  assert.ok(m.subarray(2 * SECTOR_SIZE + 156, 3 * SECTOR_SIZE).every((b) => b === 0xff));
  assert.ok(m.subarray(3 * SECTOR_SIZE, 4 * SECTOR_SIZE).every((b) => b === 0), 'a sector the image does not touch stays');
  assert.deepEqual(new Uint8Array(readFileSync(file)).subarray(0, 4 * SECTOR_SIZE), m.subarray(0, 4 * SECTOR_SIZE));
  assert.equal(f.sectorsErased, 0, 'an image write is not counted as the firmware erasing');
});

test('writeImage refuses blocks outside the flash', (t) => {
  const f = attached(t, path.join(tempDir(t), 'flash.bin'));
  assert.throws(() => f.writeImage([{ address: 0x0fffff00, data: pattern(256) }], 0x10000000), /outside the 524288-byte flash/);
  assert.throws(() => f.writeImage([{ address: 0x10000000 + SIZE - 16, data: pattern(256) }], 0x10000000), /outside/);
});

test('busy time: W25Q16JV typical figures per page, sector and 64 KB block', (t) => {
  const f = attached(t, path.join(tempDir(t), 'flash.bin'));
  const MS = 1e6;
  assert.equal(f.program(0, new Uint8Array(PAGE_SIZE).fill(0xff)), 0.4 * MS);
  assert.equal(f.program(0x1000, new Uint8Array(1).fill(0xff)), 0.4 * MS);
  assert.equal(f.program(0x10f0, new Uint8Array(32).fill(0xff)), 0.8 * MS, 'two pages touched');
  assert.equal(f.program(0x2000, new Uint8Array(4 * PAGE_SIZE).fill(0xff)), 1.6 * MS);
  assert.equal(f.program(0x2000, new Uint8Array(0)), 0);
  assert.equal(f.erase(0x1000, SECTOR_SIZE), 45 * MS);
  // pico-sdk passes a 64 KB block size: aligned whole blocks take the block erase
  assert.equal(f.erase(0x10000, 0x10000, 0x10000), 150 * MS);
  assert.equal(f.erase(0x10000, 0x20000, 0x10000), 300 * MS);
  assert.equal(f.erase(0xf000, 0x11000, 0x10000), 195 * MS, 'one sector, then a block');
  assert.equal(f.erase(0x11000, 0x10000, 0x10000), 16 * 45 * MS, 'not block aligned: sectors');
  assert.equal(f.erase(0x10000, 0x10000), 16 * 45 * MS, 'no block size given: sectors');
  const none = attached(t, path.join(tempDir(t), 'flash2.bin'), SIZE, TIMING_NONE);
  assert.equal(none.erase(0, 0x10000, 0x10000), 0);
  assert.equal(none.program(0, new Uint8Array(PAGE_SIZE)), 0);
});
