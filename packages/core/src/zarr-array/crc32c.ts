/** The reflected Castagnoli polynomial (0x1EDC6F41 bit-reversed). */
const POLYNOMIAL = 0x82f63b78;

let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * CRC-32C (Castagnoli, RFC 3720), the checksum of zarr's `crc32c` codec, as an unsigned 32-bit
 * integer. Pass a previous result as `crc` to continue over more bytes.
 * One table lookup per byte: shard indexes are small, so this is fast enough without slicing tables.
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  const t = crcTable();
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
