// rom.mjs: the boot ROM's flash routines, trapped, on a real rp2040js core.
//
// The ROM is the synthetic one of fixtures/rom.S (the real one is not ours
// to ship); the caller is fixtures/flash_writer.c, which looks the routines
// up and calls them as pico-sdk's flash_range_erase/flash_range_program do.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ConsoleLogger, LogLevel, RP2040 } from 'rp2040js';
import { Flash, TIMING_TYPICAL } from '../flash.mjs';
import { installFlashTraps, romCode, romFunctions, TRAPS } from '../rom.mjs';
import { image, tempDir } from './helpers.mjs';

const SRAM = 0x20000000;
const MAILBOX = 0x20040000;
const SIZE = 2 * 1024 * 1024;
const MS = 1e6;

function romWords(bytes) {
  return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function halfword(words, address) {
  const u8 = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  return u8[address] | (u8[address + 1] << 8);
}

test('romCode and the function table of the synthetic ROM', () => {
  assert.equal(romCode('R', 'E'), 0x4552);
  const rom = romWords(image('bootrom.bin'));
  const funcs = romFunctions(rom);
  // every entry, Thumb bit cleared, in the ROM's own words
  const elfTable = [['P', '3'], ['M', 'S'], ['I', 'F'], ['E', 'X'], ['R', 'E'], ['R', 'P'], ['F', 'C'], ['C', 'X'], ['U', 'B']];
  assert.deepEqual([...funcs.keys()], elfTable.map(([a, b]) => romCode(a, b)));
  for (const addr of funcs.values()) {
    assert.equal(addr & 1, 0);
    assert.equal(halfword(rom, addr) & 0xff00, 0xde00, 'each routine of rom.S starts with a UDF');
  }
  assert.equal(funcs.get(romCode('R', 'E')) & 3, 2, 'rom.S puts flash_range_erase at 2 mod 4');
});

test('a table without an end, or without a routine, is refused', () => {
  const rom = romWords(image('bootrom.bin'));
  const u8 = new Uint8Array(rom.buffer);
  const table = u8[0x14] | (u8[0x15] << 8);
  const noEnd = romWords(new Uint8Array(16384).fill(0x41));
  new Uint8Array(noEnd.buffer).set([table & 0xff, table >> 8], 0x14);
  assert.throws(() => romFunctions(noEnd), /function table has no end/);
  // blank out the RE entry's code: the trap cannot be installed
  const noErase = romWords(u8);
  const nu8 = new Uint8Array(noErase.buffer);
  for (let p = table; ; p += 4) {
    const code = nu8[p] | (nu8[p + 1] << 8);
    assert.notEqual(code, 0, 'RE is in the table');
    if (code === romCode('R', 'E')) {
      nu8[p] = 'Z'.charCodeAt(0);
      break;
    }
  }
  const mcu = new RP2040();
  mcu.loadBootrom(noErase);
  assert.throws(() => installFlashTraps(mcu, null, () => {}), /boot ROM has no flash_range_erase/);
});

/** Run flash_writer.bin on a chip with the synthetic ROM, trapped; returns what happened. */
function runFlashWriter(t, mayWrite = undefined) {
  const dir = tempDir(t);
  const file = path.join(dir, 'flash.bin');
  const mcu = new RP2040();
  mcu.logger = new ConsoleLogger(LogLevel.Error, true);
  const rom = romWords(image('bootrom.bin'));
  mcu.loadBootrom(rom);
  const flash = new Flash(mcu.flash, SIZE, TIMING_TYPICAL);
  flash.attach(file);
  t.after(() => flash.close());
  flash.program(0, new Uint8Array(0x20000)); // old contents: zeros up to 128 KB
  const programmedBefore = flash.bytesProgrammed;
  const breaks = [];
  mcu.onBreak = (code) => breaks.push(code); // the handler that was there before
  const busy = [];
  const addresses = installFlashTraps(mcu, flash, (ns) => busy.push(ns), mayWrite);
  mcu.sram.set(image('flash_writer.bin'), 0);
  mcu.core.VTOR = SRAM;
  mcu.core.reset();
  const clock = mcu.clock;
  const ns = 1e9 / 125e6;
  let n = 0;
  const busyBefore = () => busy.reduce((a, b) => a + b, 0);
  while (!breaks.includes(0x11) && n++ < 1e6) {
    clock.tick(mcu.core.executeInstruction() * ns);
  }
  assert.ok(breaks.includes(0x11), `the program did not finish (breaks: ${breaks})`);
  return { mcu, flash, file, breaks, busy, addresses, rom, busyTotal: busyBefore(), programmedBefore };
}

test('pico-sdk-style erase and program calls reach the flash, the file, and report their busy time', (t) => {
  const r = runFlashWriter(t);
  const m = r.flash.memory;
  // the calls in flash_writer.c, in order
  assert.deepEqual(r.busy, [45 * MS, 0.4 * MS, 0.4 * MS, 195 * MS, 1.2 * MS]);
  // sector 0x1000: erased, then i, then i & 0xf0
  assert.ok(m.subarray(0, 0x1000).every((b) => b === 0), 'before the erased sector');
  assert.deepEqual(m.subarray(0x1000, 0x1100), Uint8Array.from({ length: 256 }, (_, i) => i & 0xf0));
  assert.ok(m.subarray(0x1100, 0x2000).every((b) => b === 0xff));
  assert.ok(m.subarray(0x2000, 0xf000).every((b) => b === 0), 'between the two erases');
  assert.ok(m.subarray(0xf000, 0x20000).every((b) => b === 0xff), 'a sector and a 64 KB block');
  // 512 bytes read from the ROM at 0x100 (through the bus, not SRAM)
  const romBytes = new Uint8Array(r.rom.buffer).subarray(0x100, 0x300);
  assert.ok(m.subarray(0x20000, 0x20080).every((b) => b === 0xff));
  assert.deepEqual(m.subarray(0x20080, 0x20280), romBytes);
  assert.ok(m.subarray(0x20280, 0x21000).every((b) => b === 0xff));
  // the backing file holds the same
  assert.deepEqual(new Uint8Array(readFileSync(r.file)), m.subarray(0, SIZE));
  assert.equal(r.flash.sectorsErased, 1 + 1 + 16);
  assert.equal(r.flash.bytesProgrammed - r.programmedBefore, 2 * 256 + 512);
});

test('the traps return to the caller, patch only the routines, and pass other breakpoints on', (t) => {
  const r = runFlashWriter(t);
  // 0x42 is flash_writer's own breakpoint: it reached the previous handler;
  // no UDF #0x5n: no routine ran untrapped
  assert.deepEqual(r.breaks.filter((c) => c !== 0x11), [0x42]);
  const view = new DataView(r.mcu.sram.buffer, MAILBOX - SRAM);
  assert.equal(view.getUint32(28, true), 1, 'the program went on after every call');
  const lookups = Array.from({ length: 7 }, (_, i) => view.getUint32(4 * i, true));
  const names = ['connect_internal_flash', 'flash_exit_xip', 'flash_range_erase', 'flash_range_program',
    'flash_flush_cache', 'flash_enter_cmd_xip'];
  assert.deepEqual(lookups, [...names.map((n) => r.addresses[n] | 1), 0], 'rom_table_lookup finds them (Thumb bit set)');
  for (const n of names) {
    assert.equal(halfword(r.mcu.bootrom, r.addresses[n]), 0xbe00 | TRAPS[n].imm, n);
    assert.equal(halfword(r.mcu.bootrom, r.addresses[n] + 2), 0x4770, `${n}: the rest of the routine is untouched`);
  }
  const funcs = romFunctions(r.rom);
  for (const code of ['P3', 'MS', 'UB']) {
    const a = funcs.get(romCode(code[0], code[1]));
    assert.equal(halfword(r.mcu.bootrom, a), halfword(r.rom, a), `${code} is not patched`);
  }
  assert.equal(halfword(r.rom, r.addresses.flash_range_erase), 0xde52,
    'loadBootrom copied the image: the pristine one pico.mjs reloads at each start stays unpatched');
});

test('mayWrite is asked before each erase and program (only those), and a refusal drops that one', (t) => {
  const asked = [];
  const r = runFlashWriter(t, (name) => {
    asked.push(name);
    return asked.length !== 2; // the power goes before the first program
  });
  assert.deepEqual(asked, ['flash_range_erase', 'flash_range_program', 'flash_range_program', 'flash_range_erase',
    'flash_range_program']);
  assert.deepEqual(r.busy, [45 * MS, 0.4 * MS, 195 * MS, 1.2 * MS], 'a dropped operation keeps nothing busy');
  assert.ok(r.flash.memory.subarray(0x1000, 0x1100).every((b) => b === 0xf0), 'only the second program happened');
  assert.equal(r.flash.bytesProgrammed - r.programmedBefore, 256 + 512);
  assert.deepEqual(r.breaks.filter((c) => c !== 0x11), [0x42], 'the caller went on as after a return');
});
