import { Buffer } from "node:buffer";

/**
 * What the tier stores under each key: a small binary header, then the value's bytes.
 *
 *   offset 0  "ZCK" + format version (4 bytes)
 *   offset 4  two zero bytes (keep the header a multiple of 3 bytes, see below)
 *   offset 6  expiresAt, float64 LE, ms since the epoch; 0 = no expiry
 *   offset 14 value length, uint32 LE
 *   offset 18 the value
 *
 * The same bytes travel either as a Buffer (when the Keyv serializer keeps Buffers intact) or as
 * base64 text. Because 18 is a multiple of 3, base64(header) + base64(value) is exactly
 * base64(header + value), so the text form never copies the value into a joined buffer first.
 */
export const HEADER_BYTES = 18;
const MAGIC = [0x5a, 0x43, 0x4b, 0x01] as const;
const EXPIRES_AT = 6;
const LENGTH = 14;
const MAX_LENGTH = 0xffff_ffff;

export interface DecodedEntry {
  value: Uint8Array;
  expiresAt: number | undefined;
}

function header(byteLength: number, expiresAt: number | undefined): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.set(MAGIC, 0);
  out.writeDoubleLE(expiresAt ?? 0, EXPIRES_AT);
  out.writeUInt32LE(byteLength, LENGTH);
  return out;
}

/** The entry as one new Buffer (a copy: the caller may reuse `value` afterwards). */
export function encodeBinary(value: Uint8Array, expiresAt: number | undefined): Buffer {
  if (value.byteLength > MAX_LENGTH) throw new RangeError(`a value of ${value.byteLength} bytes does not fit the entry format`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + value.byteLength);
  header(value.byteLength, expiresAt).copy(out, 0);
  out.set(value, HEADER_BYTES);
  return out;
}

/** The entry as base64 text: 4 characters per 3 bytes. */
export function encodeText(value: Uint8Array, expiresAt: number | undefined): string {
  if (value.byteLength > MAX_LENGTH) throw new RangeError(`a value of ${value.byteLength} bytes does not fit the entry format`);
  const body = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return header(value.byteLength, expiresAt).toString("base64") + body.toString("base64");
}

/**
 * The entry inside `stored` (a Buffer/Uint8Array or base64 text), or undefined when it is not
 * one of ours: foreign data, a truncated or altered entry, another format version. The value is
 * a plain Uint8Array view of the decoded bytes (no copy).
 */
export function decodeEntry(stored: unknown): DecodedEntry | undefined {
  let bytes: Uint8Array;
  if (typeof stored === "string") {
    // Node's base64 decoder skips characters it does not know, so check the text's length
    // against the decoded length: any stray character or truncation shows up as a mismatch.
    if (stored.length < 24 || stored.length % 4 !== 0) return undefined;
    bytes = Buffer.from(stored, "base64");
    if (Math.ceil(bytes.byteLength / 3) * 4 !== stored.length) return undefined;
  } else if (stored instanceof Uint8Array) {
    bytes = stored;
  } else {
    return undefined;
  }
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return undefined;
  if (bytes[4] !== 0 || bytes[5] !== 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const expiresAt = view.getFloat64(EXPIRES_AT, true);
  const length = view.getUint32(LENGTH, true);
  if (length !== bytes.byteLength - HEADER_BYTES || !Number.isFinite(expiresAt) || expiresAt < 0) return undefined;
  return {
    value: new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER_BYTES, length),
    expiresAt: expiresAt === 0 ? undefined : expiresAt,
  };
}
