import {
  type ArraySelection,
  assertKnownOptions,
  DatasetArrays,
  isZarrsCacheError,
  type PrefetchOutcome,
  type PrefetchTarget,
  type StoreBinding,
  storeBinding,
  type ZarrArray,
  ZarrsCacheError,
} from "@zarrs-cache/core";
import { assertOptionsObject, badOption, nonNegativeNumber, positiveInteger, show } from "./errors.js";
import { ChunkKeys } from "./resolve.js";

export interface RegionProgress {
  /** Chunks finished (loaded, already cached, empty or failed) and in all. */
  done: number;
  total: number;
  /** Bytes loaded from upstream so far. */
  bytes: number;
  /** Chunks whose load failed (each also an `error` event). */
  failed: number;
}

export interface RegionResult extends RegionProgress {
  /** Chunks loaded from upstream, found cached already, and (sharded) empty inner chunks with no bytes. */
  loaded: number;
  cached: number;
  empty: number;
  /** Upstream reads made for chunk bytes (coalesced ranges count once). */
  requests: number;
}

export interface WarmRegionOptions {
  /** Chunk loads at once (default 4; keep it below what the upstream serves at once). */
  concurrency?: number;
  /** Aborting stops new requests at once; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after every chunk. */
  onProgress?: (progress: RegionProgress) => void;
  /** Priority among waiting prefetches (default -1: after the strategies). */
  priority?: number;
  /** Keep the bytes out of the first tier ("lower") or not ("all", the default). */
  target?: PrefetchTarget;
  /** Sharded arrays: inner chunks closer than this many bytes are read in one range (default 64 KiB). */
  coalesceBytes?: number;
}

/** What `warmRegion` needs of a zarrita array: its store and path. */
export interface RegionArray {
  readonly store: unknown;
  readonly path: string;
}

const OWNER = "warmRegion()";
const OPTION_NAMES = ["concurrency", "signal", "onProgress", "priority", "target", "coalesceBytes"];

/**
 * Loads every chunk zarrita reads for `selection` of `array` (a zarrita array opened over a
 * `withCache` store, or a store extended with `cacheExtension`) into the cache, so that reading
 * the region afterwards makes no upstream request. Loads wait while demand reads are waiting upstream. For a sharded array, each shard's
 * index is read (and cached), and the wanted inner chunks are read as coalesced ranges, then
 * stored under the exact range keys zarrita reads.
 */
export async function warmRegion(
  array: RegionArray,
  selection: ArraySelection,
  options: WarmRegionOptions = {},
  onOutcome?: (outcome: PrefetchOutcome) => void,
): Promise<RegionResult> {
  assertOptionsObject(OWNER, options);
  assertKnownOptions(OWNER, options, OPTION_NAMES);
  const concurrency = positiveInteger(OWNER, "concurrency", options.concurrency, 4);
  const coalesceBytes = nonNegativeNumber(OWNER, "coalesceBytes", options.coalesceBytes, 64 * 1024);
  const { signal, onProgress } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw badOption(OWNER, "signal", "must be an AbortSignal", signal);
  if (onProgress !== undefined && typeof onProgress !== "function") throw badOption(OWNER, "onProgress", "must be a function", onProgress);
  const priority = options.priority ?? -1;
  if (!Number.isFinite(priority)) throw badOption(OWNER, "priority", "must be a finite number", priority);
  const target = options.target ?? "all";
  if (target !== "all" && target !== "lower") throw badOption(OWNER, "target", 'must be "all" or "lower"', target);

  const binding = storeBinding((array as RegionArray | null)?.store);
  if (binding === undefined || typeof array?.path !== "string") {
    throw new ZarrsCacheError(
      "INVALID_ARGUMENT",
      `${OWNER}: the array must be a zarrita array opened over a withCache(store, cache) store (or one extended with cacheExtension), got ${show(array)}` +
        (array && typeof array === "object" && "store" in array ? " whose store reads through no cache" : ""),
    );
  }
  signal?.throwIfAborted();
  const model = await modelOf(binding, array.path, signal);
  let region;
  try {
    region = model.selectionRegion(selection);
  } catch (error) {
    throw isZarrsCacheError(error) ? new ZarrsCacheError(error.code, `${OWNER}: ${error.message}`, { cause: error }) : error;
  }

  const result: RegionResult = { done: 0, total: 0, bytes: 0, failed: 0, loaded: 0, cached: 0, empty: 0, requests: 0 };
  const progress = () => {
    try {
      onProgress?.({ done: result.done, total: result.total, bytes: result.bytes, failed: result.failed });
    } catch {
      // A faulty progress callback must not stop the warming.
    }
  };
  const count = (outcome: PrefetchOutcome) => {
    if (outcome.status === "cancelled") return;
    result.done++;
    if (outcome.status === "loaded" || outcome.status === "absent") {
      result.loaded++;
      result.bytes += outcome.bytes;
    } else if (outcome.status === "cached") result.cached++;
    else result.failed++;
    onOutcome?.(outcome);
    progress();
  };
  const prefetchOptions = { kind: "chunk" as const, signal, priority, target, concurrency, onOutcome: count };

  if (!model.sharded) {
    const keys = [...model.chunkGrid.cells(region)].map((chunk) => binding.keys.whole(model.key(chunk)));
    result.total = keys.length;
    result.requests = 0;
    await binding.cache.prefetch(keys, {
      ...prefetchOptions,
      onOutcome: (outcome) => {
        if (outcome.status === "loaded" || outcome.status === "absent") result.requests++;
        count(outcome);
      },
    });
  } else {
    await warmShards(binding, model, region, result, { ...prefetchOptions, coalesceBytes, progress });
  }
  signal?.throwIfAborted();
  return result;
}

async function modelOf(binding: StoreBinding, path: string, signal: AbortSignal | undefined): Promise<ZarrArray> {
  const arrays = new DatasetArrays(
    (key, s) => binding.cache.readAhead(key, { kind: "metadata", signal: s }),
    () => undefined,
  );
  try {
    return await arrays.array(binding.keys.namespace, path, signal);
  } catch (error) {
    if (isZarrsCacheError(error, "UNSUPPORTED")) {
      throw new ZarrsCacheError("UNSUPPORTED", `${OWNER}: array ${path} cannot be warmed by region: ${error.message}`, { cause: error });
    }
    if (isZarrsCacheError(error, "INVALID_ARGUMENT")) {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `${OWNER}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

interface ShardOptions {
  signal: AbortSignal | undefined;
  priority: number;
  target: PrefetchTarget;
  concurrency: number;
  coalesceBytes: number;
  onOutcome: (outcome: PrefetchOutcome) => void;
  progress: () => void;
}

/** A run of inner chunks read with one range request. */
interface Run {
  offset: number;
  end: number;
  bytes?: Promise<Uint8Array | undefined>;
}

async function warmShards(
  binding: StoreBinding,
  model: ZarrArray,
  region: { start: readonly number[]; stop: readonly number[] },
  result: RegionResult,
  options: ShardOptions,
): Promise<void> {
  const { signal } = options;
  const chunkKeys = new ChunkKeys((key, s) => binding.cache.readAhead(key, { kind: "chunk", signal: s }));
  const chunks = [...model.chunkGrid.cells(region)];
  result.total = chunks.length;
  // Group the region's chunks by shard, then read each shard's index (cached where zarrita finds it).
  const byShard = new Map<string, { coords: number[]; chunks: number[][] }>();
  for (const chunk of chunks) {
    const { path, keyCoords } = model.locate(chunk);
    let group = byShard.get(path);
    if (group === undefined) byShard.set(path, (group = { coords: [...keyCoords], chunks: [] }));
    group.chunks.push(chunk);
  }
  const pieces: { key: string; offset: number; length: number; run: Run }[] = [];
  for (const { coords, chunks: inShard } of byShard.values()) {
    signal?.throwIfAborted();
    const shard = await chunkKeys.index(binding.keys, model, coords, signal);
    const wanted: { key: string; offset: number; length: number }[] = [];
    for (const chunk of inShard) {
      const request = shard === null ? undefined : model.chunkRequest(chunk, shard.index);
      if (request?.range === undefined) {
        // An empty inner chunk (or a missing shard): zarrita reads no bytes for it.
        result.empty++;
        result.done++;
        options.progress();
        continue;
      }
      const range = request.range as { offset: number; length: number };
      wanted.push({ key: binding.keys.range(request.path, range), ...range });
    }
    wanted.sort((a, b) => a.offset - b.offset);
    let run: Run | undefined;
    const path = model.key(coords);
    for (const piece of wanted) {
      if (run === undefined || piece.offset - run.end > options.coalesceBytes)
        run = { offset: piece.offset, end: piece.offset + piece.length };
      else run.end = Math.max(run.end, piece.offset + piece.length);
      pieces.push({ ...piece, run: Object.assign(run, { path }) });
    }
  }
  const byKey = new Map(pieces.map((p) => [p.key, p]));
  await binding.cache.prefetch(
    pieces.map((p) => p.key),
    {
      kind: "chunk",
      signal,
      priority: options.priority,
      target: options.target,
      concurrency: options.concurrency,
      onOutcome: options.onOutcome,
      // Each piece is cut from its run's one range read, made by the first piece that needs it.
      load: async (key, loadSignal) => {
        const piece = byKey.get(key)!;
        const run = piece.run as Run & { path: string };
        // A store without range reads gives the whole shard.
        const base = binding.ranges ? run.offset : 0;
        if (run.bytes === undefined) {
          result.requests++;
          const range = binding.ranges ? { offset: run.offset, length: run.end - run.offset } : undefined;
          run.bytes = binding.fetch(run.path, range, loadSignal);
          run.bytes.catch(() => undefined);
        }
        const bytes = await run.bytes;
        if (bytes === undefined) return undefined;
        const start = piece.offset - base;
        return bytes.slice(start, start + piece.length);
      },
    },
  );
}
