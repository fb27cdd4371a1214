import { ZarrsCacheError } from "../errors.js";
import { crc32c } from "./crc32c.js";
import { invalid, isIndex, show } from "./errors.js";
import type { ShardingLayout } from "./metadata.js";

/** An exact byte range, as zarrita passes it to `getRange`. */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/** A range read as zarrita's `RangeQuery` spells it: an exact range or the last `suffixLength` bytes. */
export type RangeRequest = ByteRange | { readonly suffixLength: number };

/** A shard index entry: the inner chunk's bytes in the shard, or "empty" (never written: fill value). */
export type ShardIndexEntry = ByteRange | "empty";

const ENTRY_BYTES = 16;
const CHECKSUM_BYTES = 4;
/** The high or low 32 bits of 2^64-1, the "empty" marker of both offset and length. */
const ALL_ONES = 0xffffffff;
/** Values whose high 32 bits reach 2^21 exceed Number.MAX_SAFE_INTEGER. */
const SAFE_HIGH = 2 ** 21;

/** The encoded size of a shard index: 16 bytes per inner chunk, plus 4 with `crc32c`. */
export function shardIndexByteLength(layout: ShardingLayout, chunksPerShard: number): number {
  return ENTRY_BYTES * chunksPerShard + (layout.indexChecksum ? CHECKSUM_BYTES : 0);
}

/**
 * The range that holds a shard's index: the first bytes for `index_location: "start"`, else the
 * last bytes as a suffix read (zarrita's `getRange(path, { suffixLength })`).
 */
export function shardIndexRange(layout: ShardingLayout, chunksPerShard: number): RangeRequest {
  const length = shardIndexByteLength(layout, chunksPerShard);
  return layout.indexLocation === "start" ? { offset: 0, length } : { suffixLength: length };
}

/**
 * Decodes a shard index (the bytes of `shardIndexRange`): `chunksPerShard` pairs of uint64
 * (offset, length) in C order of the inner chunks, in the layout's byte order, then the CRC-32C
 * of those pairs (little endian) when the layout has a checksum. Throws INVALID_ARGUMENT for the
 * wrong number of bytes and CORRUPT_ENTRY for a checksum mismatch or an impossible entry.
 */
export function decodeShardIndex(bytes: Uint8Array, layout: ShardingLayout, chunksPerShard: number): ShardIndex {
  if (!(bytes instanceof Uint8Array)) throw invalid(`shard index must be a Uint8Array, got ${show(bytes)}`);
  if (!isIndex(chunksPerShard)) throw invalid(`shard index: chunksPerShard must be a non-negative integer, got ${show(chunksPerShard)}`);
  const expected = shardIndexByteLength(layout, chunksPerShard);
  if (bytes.byteLength !== expected) {
    const parts = `${chunksPerShard} inner chunks${layout.indexChecksum ? " and a crc32c" : ""}`;
    throw invalid(`shard index has ${bytes.byteLength} bytes; ${parts} need ${expected}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pairsBytes = ENTRY_BYTES * chunksPerShard;
  if (layout.indexChecksum) {
    const stored = view.getUint32(pairsBytes, true);
    const actual = crc32c(bytes.subarray(0, pairsBytes));
    if (stored !== actual) {
      throw new ZarrsCacheError("CORRUPT_ENTRY", `shard index checksum mismatch: stored crc32c ${hex(stored)}, computed ${hex(actual)}`);
    }
  }
  const little = layout.indexEndian === "little";
  const offsets = new Float64Array(chunksPerShard);
  const lengths = new Float64Array(chunksPerShard);
  for (let i = 0; i < chunksPerShard; i++) {
    const at = i * ENTRY_BYTES;
    const [offsetHigh, offsetLow] = uint64Halves(view, at, little);
    const [lengthHigh, lengthLow] = uint64Halves(view, at + 8, little);
    const emptyOffset = offsetHigh === ALL_ONES && offsetLow === ALL_ONES;
    const emptyLength = lengthHigh === ALL_ONES && lengthLow === ALL_ONES;
    if (emptyOffset && emptyLength) {
      offsets[i] = -1;
      lengths[i] = -1;
      continue;
    }
    if (offsetHigh >= SAFE_HIGH || lengthHigh >= SAFE_HIGH) {
      throw new ZarrsCacheError("CORRUPT_ENTRY", `shard index entry ${i} has an offset or length beyond 2^53, not the empty marker`);
    }
    offsets[i] = offsetHigh * 2 ** 32 + offsetLow;
    lengths[i] = lengthHigh * 2 ** 32 + lengthLow;
  }
  return new ShardIndex(offsets, lengths);
}

function uint64Halves(view: DataView, at: number, little: boolean): [high: number, low: number] {
  return little ? [view.getUint32(at + 4, true), view.getUint32(at, true)] : [view.getUint32(at, false), view.getUint32(at + 4, false)];
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

/** A decoded shard index: where each inner chunk (by its C-order position in the shard) lies. */
export class ShardIndex {
  /** @internal Built by `decodeShardIndex`; -1 marks an empty entry. */
  constructor(
    private readonly offsets: Float64Array,
    private readonly lengths: Float64Array,
  ) {}

  /** Inner chunks per shard (written or not). */
  get count(): number {
    return this.offsets.length;
  }

  /** The inner chunk's byte range in the shard, or "empty". */
  get(inner: number): ShardIndexEntry {
    if (!isIndex(inner) || inner >= this.count) throw invalid(`shard index: inner chunk ${show(inner)} is outside 0…${this.count - 1}`);
    const offset = this.offsets[inner]!;
    return offset === -1 ? "empty" : { offset, length: this.lengths[inner]! };
  }

  /** The written inner chunks: [position in shard, byte range], in index order. */
  *entries(): Generator<[number, ByteRange]> {
    for (let i = 0; i < this.count; i++) {
      const offset = this.offsets[i]!;
      if (offset !== -1) yield [i, { offset, length: this.lengths[i]! }];
    }
  }

  /** The inner chunk stored at exactly `range`, or undefined (to place a range read seen in a key). */
  find(range: ByteRange): number | undefined {
    for (let i = 0; i < this.count; i++) {
      if (this.offsets[i] === range.offset && this.lengths[i] === range.length) return i;
    }
    return undefined;
  }

  /** Bytes of all written inner chunks together. */
  get storedBytes(): number {
    let total = 0;
    for (let i = 0; i < this.count; i++) if (this.offsets[i] !== -1) total += this.lengths[i]!;
    return total;
  }
}
