// Test data: realistic float32 chunks (compressible) and random bytes (not).

/** Deterministic pseudo-random bytes (the conformance suite's generator). */
import { testBytes as randomBytes } from "@zarrs-cache/core/testing";

export { randomBytes };

/** A smooth 2-D float32 field with a little noise, as little-endian bytes (saves ~20% with deflate). */
export function floatField(bytes: number, seed = 1): Uint8Array {
  const n = bytes >> 2;
  const side = Math.max(1, Math.round(Math.sqrt(n)));
  const noise = randomBytes(n, seed);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = Math.floor(i / side);
    const col = i % side;
    values[i] = 280 + 15 * Math.sin(row / 40 + seed) * Math.cos(col / 55) + (noise[i]! - 128) / 640;
  }
  return new Uint8Array(values.buffer);
}

/** Byte shuffle (as blosc/zarr's shuffle filter): all first bytes, then all second bytes… (saves ~45%). */
export function shuffled(bytes: Uint8Array, itemSize = 4): Uint8Array {
  const n = Math.floor(bytes.byteLength / itemSize);
  const out = new Uint8Array(bytes.byteLength);
  for (let i = 0; i < n; i++) for (let b = 0; b < itemSize; b++) out[b * n + i] = bytes[i * itemSize + b]!;
  return out;
}

/** Random looking byte-wise, yet deflate shrinks it ~50×: one random 4 KiB block repeated. */
export function repeatedRandom(bytes: number): Uint8Array {
  const block = randomBytes(4096, 42);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += block.byteLength) out.set(block.subarray(0, Math.min(block.byteLength, bytes - i)), i);
  return out;
}

export const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.compare(a, b) === 0;

export const MiB = 1024 * 1024;
