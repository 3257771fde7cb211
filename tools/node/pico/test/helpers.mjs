// helpers.mjs - shared by the emulator's own tests (node --test, driven by
// host_tests/test_pico_emulator.py): the test images built by
// `make pico-test-images`, temporary files, a UF2 writer.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..', '..', '..');
export const IMAGES = process.env.PICO_TEST_IMAGES || path.join(REPO, 'build', 'pico-test');

/** Bytes of a test image; a missing one fails the test with the command that builds it. */
export function image(name) {
  const p = path.join(IMAGES, name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`make pico-test-images\``);
  return new Uint8Array(readFileSync(p));
}

/** A fresh directory, removed after the test (t: node:test context). */
export function tempDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'pico-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const UF2_MAGIC0 = 0x0a324655;
export const UF2_MAGIC1 = 0x9e5d5157;
export const UF2_MAGIC_END = 0x0ab16f30;
export const UF2_FLAG_NOT_MAIN_FLASH = 0x1;
export const UF2_FLAG_FAMILY_ID = 0x2000;

/**
 * A UF2 file from blocks {address, data, flags?, family?, size?}, written
 * field by field from the UF2 specification (github.com/microsoft/uf2).
 */
export function uf2(blocks) {
  const out = new Uint8Array(512 * blocks.length);
  const view = new DataView(out.buffer);
  blocks.forEach((b, i) => {
    const off = 512 * i;
    const flags = b.flags ?? UF2_FLAG_FAMILY_ID;
    view.setUint32(off, b.magic0 ?? UF2_MAGIC0, true);
    view.setUint32(off + 4, UF2_MAGIC1, true);
    view.setUint32(off + 8, flags, true);
    view.setUint32(off + 12, b.address, true);
    view.setUint32(off + 16, b.size ?? b.data.length, true);
    view.setUint32(off + 20, i, true);
    view.setUint32(off + 24, blocks.length, true);
    view.setUint32(off + 28, b.family ?? 0xe48bff56, true);
    out.set(b.data.subarray(0, 476), off + 32);
    view.setUint32(off + 508, b.magicEnd ?? UF2_MAGIC_END, true);
  });
  return out;
}

/** Bytes 0, 1, 2, ... (mod 251, so pages differ) of length n, from `seed`. */
export function pattern(n, seed = 0) {
  return Uint8Array.from({ length: n }, (_, i) => (i + seed) % 251);
}
