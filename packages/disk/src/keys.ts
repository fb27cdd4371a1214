/**
 * Keys are stored as BLOBs of their UTF-16LE code units, never as file names. UTF-16LE keeps
 * every JS string exact (a lone surrogate would be replaced by U+FFFD in UTF-8 text, so two
 * different keys could collide), and because every code unit is two bytes, "string starts with
 * prefix" is the same as "bytes start with prefix bytes": a prefix is a byte range in the index.
 */
export function encodeKey(key: string): Buffer {
  return Buffer.from(key, "utf16le");
}

export function decodeKey(blob: Uint8Array): string {
  return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).toString("utf16le");
}

/**
 * The byte range [from, to) holding every key that starts with `prefix`. `to` is undefined when
 * there is no upper bound (an empty prefix, or one made only of 0xFF bytes).
 */
export function prefixRange(prefix: string): { from: Buffer; to: Buffer | undefined } {
  const from = encodeKey(prefix);
  const to = Buffer.from(from);
  let end = to.length;
  while (end > 0 && to[end - 1] === 0xff) end--;
  if (end === 0) return { from, to: undefined };
  to[end - 1]!++;
  return { from, to: to.subarray(0, end) };
}
