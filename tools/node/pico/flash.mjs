// flash.mjs - the Pico's QSPI flash for rp2040js: erase and program that work,
// and a backing file that survives the emulator (a power cycle).
//
// rp2040js reads flash through XIP but ignores the commands that erase and
// program it; rom.mjs traps the boot ROM's flash_range_erase and
// flash_range_program and calls erase() and program() here. NOR semantics:
// an erase sets whole 4 KB sectors to 0xFF, a program can only clear bits
// (new = old & data). Every change is written through to the backing file at
// once (positioned writes, no buffering), so killing the emulator at any
// instant -- a power cut -- keeps every operation that completed.
//
// Time: a real chip is busy while it erases or programs. busyNanos() gives
// the W25Q16JV datasheet's typical figures (the Pico's flash chip):
// tPP 0.4 ms per 256-byte page program, tSE 45 ms per 4 KB sector erase,
// tBE1 150 ms per 64 KB block erase. The caller advances the simulated clock
// by that much while the CPU waits, as the chip's XIP is unavailable then.
import { closeSync, existsSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

export const SECTOR_SIZE = 4096;
export const PAGE_SIZE = 256;
const BLOCK_64K = 65536;
const NS_PER_MS = 1e6;
export const TIMING_TYPICAL = { pageProgramNs: 0.4 * NS_PER_MS, sectorEraseNs: 45 * NS_PER_MS, block64EraseNs: 150 * NS_PER_MS };
export const TIMING_NONE = { pageProgramNs: 0, sectorEraseNs: 0, block64EraseNs: 0 };

export class Flash {
  /**
   * @param {Uint8Array} memory the emulator's flash array (rp2040js RP2040.flash)
   * @param {number} size bytes of flash the board has (2 MB on a Pico)
   */
  constructor(memory, size, timing = TIMING_TYPICAL) {
    if (size > memory.length || size % SECTOR_SIZE) throw new Error(`bad flash size ${size}`);
    this.memory = memory;
    this.size = size;
    this.timing = timing;
    this.fd = null;
    this.sectorsErased = 0;
    this.bytesProgrammed = 0;
  }

  /** Use `path` as the flash chip: load it when it exists, else start erased (0xFF). */
  attach(path) {
    const fresh = !existsSync(path);
    this.fd = openSync(path, fresh ? 'w+' : 'r+');
    if (fresh) {
      this.memory.fill(0xff, 0, this.size);
      writeSync(this.fd, this.memory, 0, this.size, 0);
    } else {
      const got = fstatSync(this.fd).size;
      if (got !== this.size) throw new Error(`${path}: ${got} bytes, expected a ${this.size}-byte flash image`);
      let off = 0;
      while (off < this.size) off += readSync(this.fd, this.memory, off, this.size - off, off);
    }
    return fresh;
  }

  close() {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Write an image (UF2 blocks: [{address, data}], addresses in XIP space) as a programmer would. */
  writeImage(blocks, base) {
    const touched = new Set();
    for (const { address, data } of blocks) {
      const off = address - base;
      if (off < 0 || off + data.length > this.size) {
        throw new Error(`image block at 0x${address.toString(16)} lies outside the ${this.size}-byte flash`);
      }
      for (let s = off - (off % SECTOR_SIZE); s < off + data.length; s += SECTOR_SIZE) {
        if (!touched.has(s)) {
          touched.add(s);
          this.memory.fill(0xff, s, s + SECTOR_SIZE);
        }
      }
      this.memory.set(data, off);
    }
    for (const s of touched) this._persist(s, SECTOR_SIZE);
  }

  /** flash_range_erase: whole sectors from `offset`; returns the nanoseconds the chip is busy. */
  erase(offset, count, blockSize = SECTOR_SIZE) {
    this._check(offset, count, 'erase');
    if (offset % SECTOR_SIZE || count % SECTOR_SIZE) {
      throw new Error(`flash erase at 0x${offset.toString(16)} of ${count} bytes is not sector aligned`);
    }
    this.memory.fill(0xff, offset, offset + count);
    this._persist(offset, count);
    this.sectorsErased += count / SECTOR_SIZE;
    let ns = 0;
    let left = count;
    let at = offset;
    while (left > 0) {
      if (blockSize >= BLOCK_64K && at % BLOCK_64K === 0 && left >= BLOCK_64K) {
        ns += this.timing.block64EraseNs;
        at += BLOCK_64K;
        left -= BLOCK_64K;
      } else {
        ns += this.timing.sectorEraseNs;
        at += SECTOR_SIZE;
        left -= SECTOR_SIZE;
      }
    }
    return ns;
  }

  /** flash_range_program: NOR programming (bits only go 1 -> 0); returns the busy nanoseconds. */
  program(offset, data) {
    this._check(offset, data.length, 'program');
    const mem = this.memory;
    for (let i = 0; i < data.length; i++) mem[offset + i] &= data[i];
    this._persist(offset, data.length);
    this.bytesProgrammed += data.length;
    const first = Math.floor(offset / PAGE_SIZE);
    const last = Math.floor((offset + data.length - 1) / PAGE_SIZE);
    return data.length ? (last - first + 1) * this.timing.pageProgramNs : 0;
  }

  _check(offset, count, what) {
    if (offset < 0 || count < 0 || offset + count > this.size) {
      throw new Error(`flash ${what} at 0x${offset.toString(16)} of ${count} bytes is outside the ${this.size}-byte flash`);
    }
  }

  _persist(offset, count) {
    if (this.fd !== null && count > 0) writeSync(this.fd, this.memory, offset, count, offset);
  }
}
