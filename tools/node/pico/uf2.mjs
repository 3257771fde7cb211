// uf2.mjs - read a UF2 image (https://github.com/microsoft/uf2) into flash.
//
// Each 512-byte block: magic 0x0A324655 / 0x9E5D5157 at 0 and 4, flags at 8,
// target address at 12, payload size at 16, family id at 28 (when flag
// 0x2000 is set), payload from 32, final magic 0x0AB16F30 at 508.

export const RP2040_FAMILY_ID = 0xe48bff56;
export const FLASH_BASE = 0x10000000;

const MAGIC0 = 0x0a324655;
const MAGIC1 = 0x9e5d5157;
const MAGIC_END = 0x0ab16f30;
const FLAG_NOT_MAIN_FLASH = 0x1;
const FLAG_FAMILY_ID = 0x2000;

/** [{address, data}] of the blocks meant for an RP2040's flash; throws on anything else. */
export function parseUF2(bytes, familyId = RP2040_FAMILY_ID) {
  if (bytes.length === 0 || bytes.length % 512 !== 0) {
    throw new Error(`not a UF2 image: ${bytes.length} bytes is not a whole number of 512-byte blocks`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks = [];
  for (let off = 0; off < bytes.length; off += 512) {
    if (view.getUint32(off, true) !== MAGIC0 || view.getUint32(off + 4, true) !== MAGIC1
        || view.getUint32(off + 508, true) !== MAGIC_END) {
      throw new Error(`not a UF2 image: bad magic in block ${off / 512}`);
    }
    const flags = view.getUint32(off + 8, true);
    if (flags & FLAG_NOT_MAIN_FLASH) continue;
    if (flags & FLAG_FAMILY_ID && view.getUint32(off + 28, true) !== familyId) {
      throw new Error(`UF2 block ${off / 512} is for family 0x${view.getUint32(off + 28, true).toString(16)}, `
        + `not the RP2040 (0x${familyId.toString(16)})`);
    }
    const address = view.getUint32(off + 12, true);
    const size = view.getUint32(off + 16, true);
    if (size > 476) throw new Error(`UF2 block ${off / 512}: payload of ${size} bytes`);
    blocks.push({ address, data: bytes.subarray(off + 32, off + 32 + size) });
  }
  if (blocks.length === 0) throw new Error('UF2 image has no block for main flash');
  return blocks;
}
