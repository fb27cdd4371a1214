// Checksums used to verify gzip and zlib streams decoded by fflate, which (unlike node:zlib)
// does not check the stream's own CRC-32 / Adler-32 trailer.

let crcTable: Int32Array | undefined;

function table(): Int32Array {
  if (crcTable) return crcTable;
  crcTable = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c;
  }
  return crcTable;
}

/** CRC-32 (IEEE 802.3, as in gzip), unsigned; pass the CRC of the bytes before `data` to continue it. */
export function crc32(data: Uint8Array, previous = 0): number {
  const t = table();
  let c = ~previous;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Adler-32 (as in zlib streams), unsigned; pass the Adler-32 of the bytes before `data` to continue it. */
export function adler32(data: Uint8Array, previous = 1): number {
  let a = previous & 0xffff;
  let b = previous >>> 16;
  const length = data.length;
  // 5552 is the largest block for which b cannot overflow 2^32 before the modulo.
  for (let i = 0; i < length; ) {
    const end = Math.min(i + 5552, length);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
