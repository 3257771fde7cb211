// rom.mjs - trap the RP2040 boot ROM's flash routines so flash writes work in rp2040js.
//
// pico-sdk's flash_range_erase()/flash_range_program() (which MicroPython's
// rp2.Flash and littlefs use) look the boot ROM's routines up by their
// two-letter codes in the ROM function table and call them. rp2040js runs the
// ROM, but its SSI peripheral ignores the serial commands those routines send,
// so nothing would be written. Each routine's first instruction is replaced
// with a BKPT: rp2040js reports it through RP2040.onBreak, the trap does the
// routine's job on the emulated chip and returns to the caller (PC = LR).
//
// The ROM function table (RP2040 datasheet §2.8.3): a 16-bit pointer at 0x14,
// entries of (16-bit code, 16-bit address) ending with code 0; a code is
// ROM_TABLE_CODE(c1, c2) = c1 | c2 << 8.

const FUNC_TABLE_PTR = 0x14;
const BKPT = 0xbe00;

export function romCode(c1, c2) {
  return c1.charCodeAt(0) | (c2.charCodeAt(0) << 8);
}

/** Map code -> address (Thumb bit cleared) of the ROM's public functions. */
export function romFunctions(bootrom /* Uint32Array */) {
  const u8 = new Uint8Array(bootrom.buffer, bootrom.byteOffset, bootrom.byteLength);
  const h = (a) => u8[a] | (u8[a + 1] << 8);
  const out = new Map();
  let p = h(FUNC_TABLE_PTR);
  for (let n = 0; n < 256; n++, p += 4) {
    const code = h(p);
    if (code === 0) return out;
    out.set(code, h(p + 2) & ~1);
  }
  throw new Error('boot ROM function table has no end: is this an RP2040 boot ROM image?');
}

function patchHalfword(bootrom, address, value) {
  const word = address >> 2;
  const shift = (address & 2) * 8;
  bootrom[word] = ((bootrom[word] & ~(0xffff << shift)) | (value << shift)) >>> 0;
}

// The traps: BKPT immediates (chosen to stay clear of the 0x11/0x12/0xAB the
// project's bare-metal images use) and what each routine does.
export const TRAPS = {
  connect_internal_flash: { code: romCode('I', 'F'), imm: 0xe0 },
  flash_exit_xip: { code: romCode('E', 'X'), imm: 0xe1 },
  flash_range_erase: { code: romCode('R', 'E'), imm: 0xe2 },
  flash_range_program: { code: romCode('R', 'P'), imm: 0xe3 },
  flash_flush_cache: { code: romCode('F', 'C'), imm: 0xe4 },
  flash_enter_cmd_xip: { code: romCode('C', 'X'), imm: 0xe5 },
};

/**
 * Patch `mcu.bootrom` and chain `mcu.onBreak`. `flash` is a flash.mjs Flash;
 * `onBusy(ns)` is told how long each operation keeps the chip busy;
 * `mayWrite(name)`, when given, is asked before each erase or program and
 * returning false drops it (the power went before it: see pico.mjs).
 * Returns the trap addresses (for tests).
 */
export function installFlashTraps(mcu, flash, onBusy, mayWrite = null) {
  const funcs = romFunctions(mcu.bootrom);
  const byImm = new Map();
  const addresses = {};
  for (const [name, t] of Object.entries(TRAPS)) {
    const addr = funcs.get(t.code);
    if (addr === undefined) throw new Error(`boot ROM has no ${name}`);
    patchHalfword(mcu.bootrom, addr, BKPT | t.imm);
    byImm.set(t.imm, name);
    addresses[name] = addr;
  }
  const previous = mcu.onBreak;
  mcu.onBreak = (imm) => {
    const name = byImm.get(imm);
    if (name === undefined) {
      previous(imm);
      return;
    }
    const core = mcu.core;
    const r = core.registers;
    const writes = name === 'flash_range_erase' || name === 'flash_range_program';
    if (writes && mayWrite && !mayWrite(name)) {
      // dropped
    } else if (name === 'flash_range_erase') {
      onBusy(flash.erase(r[0] >>> 0, r[1] >>> 0, r[2] >>> 0));
    } else if (name === 'flash_range_program') {
      onBusy(flash.program(r[0] >>> 0, readBytes(mcu, r[1] >>> 0, r[2] >>> 0)));
    }
    // The other routines only move the QSPI interface between XIP and serial
    // mode, which rp2040js does not model: returning is all they need to do.
    core.PC = core.LR & ~1;
  };
  return addresses;
}

function readBytes(mcu, address, count) {
  const RAM = 0x20000000;
  if (address >= RAM && address + count <= RAM + mcu.sram.length) {
    return mcu.sram.slice(address - RAM, address - RAM + count);
  }
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = mcu.readUint8(address + i);
  return out;
}
