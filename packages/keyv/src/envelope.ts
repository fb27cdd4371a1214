import { Buffer } from "node:buffer";
import { ALIGNED_HEADER_BYTES, type StoredEntry, decodeEntry, encodeEntry, writeEntryHeader } from "@zarrs-cache/core";

/**
 * What the tier stores under each key: core's entry codec in its "aligned" layout (an 18-byte
 * header with the absolute expiry and the length, then the value), handed to Keyv either as a
 * Buffer (when the serializer keeps Buffers intact) or as base64 text. The header being a
 * multiple of 3 bytes, base64(header) + base64(value) is base64 of the whole entry, so the text
 * form never copies the value into a joined buffer first.
 */
export const HEADER_BYTES = ALIGNED_HEADER_BYTES;

/** The entry as one new Buffer (a copy: the caller may reuse `value` afterwards). */
export function encodeBinary(value: Uint8Array, expiresAt: number | undefined): Buffer {
  return encodeEntry(value, expiresAt, "aligned", Buffer.allocUnsafe) as Buffer;
}

/** The entry as base64 text: 4 characters per 3 bytes. */
export function encodeText(value: Uint8Array, expiresAt: number | undefined): string {
  const header = Buffer.alloc(HEADER_BYTES);
  writeEntryHeader(header, "aligned", value.byteLength, expiresAt);
  return header.toString("base64") + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
}

/**
 * The entry inside `stored` (a Buffer/Uint8Array or base64 text), or undefined when it is not
 * one of ours. The value is a plain Uint8Array view of the decoded bytes (no copy).
 */
export function decodeStored(stored: unknown): StoredEntry | undefined {
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
  const entry = decodeEntry(bytes, "aligned");
  if (entry === undefined) return undefined;
  const { value } = entry;
  return { value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength), expiresAt: entry.expiresAt };
}
