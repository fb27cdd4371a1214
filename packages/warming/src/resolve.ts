import type { CacheKeys, ShardIndex, ZarrArray } from "@zarrs-cache/core";

/** Reads a key through the cache without counting it as demand. */
export type ReadAhead = (key: string, signal?: AbortSignal) => Promise<Uint8Array | undefined>;

const MAX_INDEXES = 512;

/**
 * Maps chunks to the cache keys zarrita reads for them: the chunk's key, or for a sharded array
 * the exact byte range of the inner chunk, found in its shard's index (read through the cache,
 * where zarrita will find it too). Decoded indexes are kept (a few hundred) for the next lookups.
 */
export class ChunkKeys {
  private readonly indexes = new Map<string, { index: ShardIndex; byOffset: Map<number, number> } | null>();

  constructor(private readonly read: ReadAhead) {}

  /** The key of an unsharded chunk, at once; undefined for a sharded array (use `resolve`). */
  plain(keys: CacheKeys, array: ZarrArray, chunk: readonly number[]): string | undefined {
    return array.sharded ? undefined : keys.whole(array.key(chunk));
  }

  /** The keys of `chunks`, in order, leaving out empty inner chunks and shards with no index. */
  async resolve(keys: CacheKeys, array: ZarrArray, chunks: readonly (readonly number[])[], signal?: AbortSignal): Promise<string[]> {
    if (!array.sharded) return chunks.map((chunk) => keys.whole(array.key(chunk)));
    const out: string[] = [];
    for (const chunk of chunks) {
      const shard = await this.index(keys, array, array.locate(chunk).keyCoords, signal);
      if (shard === null) continue;
      const request = array.chunkRequest(chunk, shard.index);
      if (request?.range !== undefined) out.push(keys.range(request.path, request.range as { offset: number; length: number }));
    }
    return out;
  }

  /**
   * The inner chunk a range read of a shard is for (chunk-grid coordinates), or undefined when
   * the range is not one of the shard's chunks (the index read itself, say).
   */
  async chunkOfRange(
    keys: CacheKeys,
    array: ZarrArray,
    shardCoords: readonly number[],
    range: { offset?: number; length?: number; suffixLength?: number },
  ): Promise<number[] | undefined> {
    if (range.offset === undefined || array.isIndexRange(range as never)) return undefined;
    const shard = await this.index(keys, array, shardCoords);
    const position = shard?.byOffset.get(range.offset);
    if (position === undefined) return undefined;
    const perShard = array.chunksPerShard!;
    const inner = new Array<number>(perShard.length);
    let rest = position;
    for (let d = perShard.length - 1; d >= 0; d--) {
      inner[d] = rest % perShard[d]!;
      rest = Math.floor(rest / perShard[d]!);
    }
    const chunk = inner.map((c, d) => shardCoords[d]! * perShard[d]! + c);
    return array.chunkGrid.contains(chunk) ? chunk : undefined;
  }

  /** The decoded index of a shard (null when the shard does not exist or its index does not decode). */
  async index(keys: CacheKeys, array: ZarrArray, shardCoords: readonly number[], signal?: AbortSignal) {
    const request = array.indexRequest(shardCoords);
    const key = keys.range(request.path, request.range!);
    const known = this.indexes.get(key);
    if (known !== undefined) return known;
    const bytes = await this.read(key, signal);
    let entry: { index: ShardIndex; byOffset: Map<number, number> } | null = null;
    if (bytes !== undefined) {
      try {
        const index = array.decodeIndex(bytes);
        const byOffset = new Map<number, number>();
        for (let i = 0; i < index.count; i++) {
          const e = index.get(i);
          if (e !== "empty") byOffset.set(e.offset, i);
        }
        entry = { index, byOffset };
      } catch {
        entry = null; // zarrita fails on this shard too; nothing to warm in it
      }
    }
    if (bytes === undefined) return null; // no shard (yet): ask again next time
    if (this.indexes.size >= MAX_INDEXES) this.indexes.delete(this.indexes.keys().next().value!);
    this.indexes.set(key, entry);
    return entry;
  }
}
