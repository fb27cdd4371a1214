import { Buffer } from "node:buffer";
import type { Keyv } from "keyv";
import { encodeBinary, encodeText } from "./envelope.js";

/**
 * How entries are handed to Keyv: "binary" passes a Buffer, "base64" passes base64 text.
 * Keyv 5's default serializer turns a Buffer into base64 JSON text itself (and a plain
 * Uint8Array into a JSON object ~10x larger), so the choice only pays off for raw stores
 * (`serialize: undefined`, e.g. an in-memory Map: 1 byte per byte) or custom serializers.
 */
export type Transport = "binary" | "base64";
export type Encoding = "auto" | "base64" | "binary";

/** Keyv's own view of what a store holds for one entry. */
interface StoredData {
  value?: unknown;
  expires?: number | null;
}

/** What Keyv.get would hand back for `stored`, mirroring its (de)serialization rules. */
export async function readBack(keyv: Keyv, stored: unknown): Promise<StoredData | undefined> {
  const data = typeof stored === "string" || keyv.compression ? await keyv.deserializeData(stored as string) : stored;
  return typeof data === "object" && data !== null ? (data as StoredData) : undefined;
}

function sameBytes(a: unknown, b: Uint8Array): boolean {
  return a instanceof Uint8Array && Buffer.compare(a, b) === 0;
}

function storedSize(serialized: unknown): number {
  return typeof serialized === "string" ? Buffer.byteLength(serialized, "utf8") : Number.POSITIVE_INFINITY;
}

/**
 * Picks the transport for `encoding`. "auto" runs a sample entry through this Keyv instance's
 * serializer (and compression, if any) without touching the store: binary wins when the
 * serializer keeps a Buffer intact and stores fewer UTF-8 bytes than base64 text, or keeps
 * objects as they are (a raw store); otherwise text. Throws when neither form survives.
 */
export async function chooseTransport(keyv: Keyv, encoding: Encoding): Promise<Transport> {
  if (encoding === "binary") return "binary";
  const sample = Uint8Array.from({ length: 3 * 256 }, (_, i) => (i * 31 + 7) & 0xff);
  const asText = encodeText(sample, undefined);
  const textSerialized = await keyv.serializeData({ value: asText, expires: undefined });
  const textBack = await readBack(keyv, textSerialized);
  if (textBack?.value !== asText) {
    throw new Error("this Keyv instance's serializer does not round-trip a string value");
  }
  if (encoding === "base64") return "base64";

  const asBinary = encodeBinary(sample, undefined);
  let binarySerialized: unknown;
  try {
    binarySerialized = await keyv.serializeData({ value: asBinary, expires: undefined });
    const binaryBack = await readBack(keyv, binarySerialized);
    if (!sameBytes(binaryBack?.value, asBinary)) return "base64";
  } catch {
    return "base64";
  }
  // A raw store (no serializer) keeps the object itself: no text, no expansion.
  if (typeof binarySerialized !== "string") return "binary";
  return storedSize(binarySerialized) < storedSize(textSerialized) ? "binary" : "base64";
}
