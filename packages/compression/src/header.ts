// The 8-byte header in front of every stored value:
//
//   offset 0  2 bytes  magic 0xA7 0x5A
//          2  1 byte   format version (1)
//          3  1 byte   payload codec: 0 raw, 1 deflate (RFC 1951), 2 zlib (RFC 1950), 3 gzip (RFC 1952)
//          4  4 bytes  original length, unsigned little-endian
//          8  …        payload: the value itself (raw) or one standard stream of the codec
//
// Eight bytes keep a raw payload 8-byte aligned within the stored buffer, so a caller may view it
// as a Float64Array without copying.

export const HEADER_BYTES = 8;
export const FORMAT_VERSION = 1;
export const MAX_ORIGINAL_BYTES = 0xffff_ffff;

const MAGIC_0 = 0xa7;
const MAGIC_1 = 0x5a;

export type Codec = "deflate" | "zlib" | "gzip";
export type PayloadKind = "raw" | Codec;

const KIND_BY_CODE: readonly PayloadKind[] = ["raw", "deflate", "zlib", "gzip"];
const CODE_BY_KIND: Record<PayloadKind, number> = { raw: 0, deflate: 1, zlib: 2, gzip: 3 };

export interface Header {
  kind: PayloadKind;
  originalLength: number;
}

/** Writes the header into the first HEADER_BYTES of `target`. */
export function writeHeader(target: Uint8Array, kind: PayloadKind, originalLength: number): void {
  target[0] = MAGIC_0;
  target[1] = MAGIC_1;
  target[2] = FORMAT_VERSION;
  target[3] = CODE_BY_KIND[kind];
  target[4] = originalLength & 0xff;
  target[5] = (originalLength >>> 8) & 0xff;
  target[6] = (originalLength >>> 16) & 0xff;
  target[7] = (originalLength >>> 24) & 0xff;
}

/**
 * True for a well-formed raw value, the common case on a read: checked without allocating. Anything
 * else (compressed, or not readable) goes through readHeader.
 */
export function isRawValue(stored: Uint8Array): boolean {
  const length = stored.byteLength;
  return (
    length >= HEADER_BYTES &&
    stored[0] === MAGIC_0 &&
    stored[1] === MAGIC_1 &&
    stored[2] === FORMAT_VERSION &&
    stored[3] === CODE_BY_KIND.raw &&
    (stored[4]! | (stored[5]! << 8) | (stored[6]! << 16) | (stored[7]! << 24)) >>> 0 === length - HEADER_BYTES
  );
}

/** Why a stored value could not be read: the caller counts it and answers a miss. */
export class UnreadableValue extends Error {}

/** Parses and checks the header; throws UnreadableValue for anything this version cannot read. */
export function readHeader(stored: Uint8Array): Header {
  if (stored.byteLength < HEADER_BYTES || stored[0] !== MAGIC_0 || stored[1] !== MAGIC_1) {
    throw new UnreadableValue("the value does not start with the compressed-tier header");
  }
  const version = stored[2]!;
  if (version !== FORMAT_VERSION) {
    // A newer version (written by a later release sharing this tier) is unreadable here, not corrupt,
    // but the answer is the same: a miss.
    throw new UnreadableValue(`unknown header version ${version}`);
  }
  const kind = KIND_BY_CODE[stored[3]!];
  if (kind === undefined) throw new UnreadableValue(`unknown codec code ${stored[3]}`);
  const originalLength = (stored[4]! | (stored[5]! << 8) | (stored[6]! << 16) | (stored[7]! << 24)) >>> 0;
  if (kind === "raw" && stored.byteLength - HEADER_BYTES !== originalLength) {
    throw new UnreadableValue(`raw payload is ${stored.byteLength - HEADER_BYTES} bytes, the header says ${originalLength}`);
  }
  return { kind, originalLength };
}
