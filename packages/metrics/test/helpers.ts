import { cacheKey, createCache, zarrArray, type CacheTier, type TieredCache, type ZarrArray } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { metrics, type MetricsOptions, type MetricsPlugin } from "../src/index.js";

export const NAMESPACE = "metrics-test";

/** A zarr v3 array of `grid` chunks (each chunk 4 elements wide in every dimension) at `path`. */
export function gridArray(path: string, grid: number[]): ZarrArray {
  return zarrArray(
    {
      zarr_format: 3,
      node_type: "array",
      data_type: "uint8",
      fill_value: 0,
      shape: grid.map((n) => n * 4),
      chunk_grid: { name: "regular", configuration: { chunk_shape: grid.map(() => 4) } },
      chunk_key_encoding: { name: "default" },
      codecs: [{ name: "bytes" }],
    },
    { path },
  );
}

/** The cache key of a chunk of `array`. */
export function chunk(array: ZarrArray, coords: number[]): string {
  return cacheKey(NAMESPACE, array.key(coords));
}

export interface Setup {
  cache: TieredCache;
  plugin: MetricsPlugin;
  /** Upstream loads so far. */
  loads: () => number;
  read: (key: string) => Promise<Uint8Array | undefined>;
}

/**
 * A cache over `tiers` (default: one 64 MiB memory tier) with the metrics plugin, and an in-process
 * upstream that answers every key with `size` bytes, except keys containing "absent".
 */
export function setup(options: MetricsOptions = {}, tiers: CacheTier[] = [memory({ maxBytes: 64 * 1024 * 1024 })], size = 1024): Setup {
  const plugin = metrics(options);
  let builder = createCache();
  for (const tier of tiers) builder = builder.tier(tier);
  const cache = builder.use(plugin).build();
  let loads = 0;
  const read = (key: string) =>
    cache.getOrLoad(key, async () => {
      loads++;
      return key.includes("absent") ? undefined : new Uint8Array(size).fill(key.length & 0xff);
    });
  return { cache, plugin, loads: () => loads, read };
}

/** Every cell of a grid in C order. */
export function cOrder(shape: number[]): number[][] {
  const out: number[][] = [];
  const walk = (prefix: number[]) => {
    if (prefix.length === shape.length) out.push(prefix);
    else for (let i = 0; i < shape[prefix.length]!; i++) walk([...prefix, i]);
  };
  walk([]);
  return out;
}
