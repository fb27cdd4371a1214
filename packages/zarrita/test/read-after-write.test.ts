// Read-after-write through withCache: a read that starts after `await store.set()` resolved never
// returns bytes older than that write, with either write policy, for get and getRange, with one
// tier or with a slow second tier (a stand-in for Redis).
import type { AbsolutePath, RangeQuery } from "@zarrita/storage";
import { createCache, type CacheEntry, type CacheTier, type SetOptions, type TieredCache, type WritePolicy } from "@zarrs-cache/core";
import { type MemoryTier, memory } from "@zarrs-cache/memory";
import { withCache } from "@zarrs-cache/zarrita";
import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "./fixtures.js";
import { seededRandom } from "@zarrs-cache/core/testing";

const VALUE_BYTES = 64;

/** Version `v` as bytes: every 32-bit word holds v, so any aligned range tells its version. */
function versionBytes(v: number): Uint8Array {
  const words = new Uint32Array(VALUE_BYTES / 4).fill(v);
  return new Uint8Array(words.buffer);
}

/** The version a value or an aligned range of it holds; throws on torn or foreign bytes. */
function versionOf(bytes: Uint8Array | undefined): number {
  if (bytes === undefined || bytes.byteLength === 0 || bytes.byteLength % 4 !== 0) {
    throw new Error(`not a versioned value: ${bytes?.byteLength} bytes`);
  }
  const words = new Uint32Array(bytes.slice().buffer);
  if (!words.every((w) => w === words[0])) throw new Error(`torn value: ${Array.from(words).join(",")}`);
  return words[0]!;
}

/**
 * An in-memory zarrita store with real latency. A read takes its snapshot somewhere inside its
 * latency (a request reaching a remote at some point); a write becomes visible somewhere inside
 * its own. `applied` keeps, per path, the versions in the order the store took them: the truth
 * reads are checked against.
 */
class VersionedStore {
  private readonly values = new Map<string, Uint8Array>();
  readonly applied = new Map<string, number[]>();
  /** Extra time every read takes after its snapshot (a slow remote). */
  readDelay = 0;

  constructor(private readonly latency: () => number) {}

  seed(path: string, version: number): void {
    this.values.set(path, versionBytes(version));
    this.applied.set(path, [version]);
  }

  async get(path: AbsolutePath): Promise<Uint8Array | undefined> {
    await sleep(this.latency());
    const value = this.values.get(path)?.slice();
    await sleep(this.latency() + this.readDelay);
    return value;
  }

  async getRange(path: AbsolutePath, range: RangeQuery): Promise<Uint8Array | undefined> {
    await sleep(this.latency());
    const value = this.values.get(path);
    await sleep(this.latency() + this.readDelay);
    if (value === undefined) return undefined;
    if ("suffixLength" in range) return value.slice(value.byteLength - range.suffixLength);
    return value.slice(range.offset, range.offset + range.length);
  }

  async set(path: AbsolutePath, value: Uint8Array): Promise<void> {
    await sleep(this.latency());
    this.values.set(path, value.slice());
    this.applied.get(path)!.push(versionOf(value));
    await sleep(this.latency());
  }
}

/** A memory tier behind a network-like delay on every call: the slow lower tier (Redis, say). */
class SlowTier implements CacheTier {
  readonly name = "slow";
  private readonly inner: MemoryTier = memory({ maxBytes: 1 << 24 });

  constructor(private readonly latency: () => number) {}

  private async later<T>(work: () => Promise<T>): Promise<T> {
    await sleep(this.latency());
    return work();
  }

  get(key: string): Promise<CacheEntry | undefined> {
    return this.later(() => this.inner.get(key));
  }
  set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    return this.later(() => this.inner.set(key, value, options));
  }
  delete(key: string): Promise<boolean> {
    return this.later(() => this.inner.delete(key));
  }
  deletePrefix(prefix: string): Promise<number> {
    return this.later(() => this.inner.deletePrefix(prefix));
  }
  has(key: string): Promise<boolean> {
    return this.later(() => this.inner.has(key));
  }
  clear(): Promise<void> {
    return this.later(() => this.inner.clear());
  }
  keys(prefix?: string): AsyncIterable<string> {
    return this.inner.keys(prefix);
  }
  stats() {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

type ReadKind = "get" | "range" | "suffix";
const READ_KINDS: readonly ReadKind[] = ["get", "range", "suffix"];

type Cached = VersionedStore & { getRange: VersionedStore["getRange"] };

function read(store: Cached, path: AbsolutePath, kind: ReadKind): Promise<Uint8Array | undefined> {
  if (kind === "get") return store.get(path);
  return store.getRange(path, kind === "range" ? { offset: 8, length: 16 } : { suffixLength: 12 });
}

let caches: TieredCache[] = [];
afterEach(async () => {
  for (const cache of caches) await cache.close();
  caches = [];
});

function setup(writePolicy: WritePolicy, slowSecondTier: boolean, latency: () => number) {
  const builder = createCache({ writePolicy }).tier(memory({ maxBytes: 1 << 24 }));
  if (slowSecondTier) builder.tier(new SlowTier(latency));
  const cache = builder.build();
  caches.push(cache);
  const upstream = new VersionedStore(latency);
  const store = withCache(upstream, cache, { namespace: "raw" }) as Cached;
  return { cache, upstream, store };
}

/**
 * Concurrent writers and readers over a few paths; every read is checked against the writes that
 * had completed when it started: it must return a version the store applied no earlier than all
 * of them. Returns the violations found.
 */
async function linearizability(writePolicy: WritePolicy, slowSecondTier: boolean, seed: number): Promise<string[]> {
  const next = seededRandom(seed);
  const { upstream, store } = setup(writePolicy, slowSecondTier, () => next() * 3);
  const paths = ["/a/c/0", "/a/c/1", "/b/zarr.json"] as AbsolutePath[];
  paths.forEach((path, i) => upstream.seed(path, 1000 * (i + 1)));
  let clock = 0;
  // Per path: [logical time the write completed, version]; reads are checked after everything ends.
  const completed = new Map<string, [number, number][]>(paths.map((p) => [p, []]));
  const reads: { path: string; kind: ReadKind; start: number; version: number }[] = [];
  const violations: string[] = [];
  let writing = true;

  const writer = async (path: AbsolutePath, first: number) => {
    for (let v = first; v < first + 12; v++) {
      await store.set(path, versionBytes(v));
      completed.get(path)!.push([++clock, v]);
      await sleep(next() * 3);
    }
  };
  const reader = async (path: AbsolutePath) => {
    while (writing) {
      const kind = READ_KINDS[Math.floor(next() * READ_KINDS.length)]!;
      const start = ++clock;
      try {
        reads.push({ path, kind, start, version: versionOf(await read(store, path, kind)) });
      } catch (error) {
        violations.push(`${kind} ${path}: ${(error as Error).message}`);
      }
      if (next() < 0.3) await sleep(next() * 2);
    }
  };

  const writers = paths.flatMap((path, i) => [writer(path, 1000 * (i + 1) + 1), writer(path, 1000 * (i + 1) + 101)]);
  const readers = paths.flatMap((path) => Array.from({ length: 4 }, () => reader(path)));
  await Promise.all(writers);
  writing = false;
  await Promise.all(readers);
  // Once everything is quiet, every kind of read must agree with what the store holds last.
  for (const path of paths) {
    for (const kind of READ_KINDS) reads.push({ path, kind, start: ++clock, version: versionOf(await read(store, path, kind)) });
  }

  for (const { path, kind, start, version } of reads) {
    const order = upstream.applied.get(path)!;
    const floor = Math.max(
      0,
      ...completed
        .get(path)!
        .filter(([at]) => at < start)
        .map(([, v]) => order.indexOf(v)),
    );
    const position = order.indexOf(version);
    if (position < floor) {
      violations.push(`${kind} ${path} started at t${start} returned v${version}, older than v${order[floor]} written before it`);
    }
  }
  expect(reads.length).toBeGreaterThan(100);
  return violations;
}

describe("reads after a write through withCache", () => {
  for (const writePolicy of ["write-through", "write-around"] as const) {
    for (const kind of READ_KINDS) {
      it(`${writePolicy}: a ${kind} started after set() resolved never joins a load of the old bytes`, async () => {
        // Reads are slow, writes fast: the old read is still in flight when the write completes.
        const { upstream, store } = setup(writePolicy, false, () => 0);
        const path = "/x/c/0" as AbsolutePath;
        upstream.seed(path, 1);
        expect(versionOf(await read(store, path, kind))).toBe(1); // cached
        upstream.readDelay = 80;
        await store.set(path, versionBytes(2));
        // A read of v2 is now in flight under write-around (and for ranges under both policies) ...
        const during = read(store, path, kind);
        await sleep(5);
        // ... when v3 is written: a read that starts afterwards must see v3.
        await store.set(path, versionBytes(3));
        const after = read(store, path, kind);
        expect(versionOf(await during)).toBeGreaterThanOrEqual(2);
        expect(versionOf(await after)).toBe(3);
        upstream.readDelay = 0;
        expect(versionOf(await read(store, path, kind))).toBe(3);
      });
    }

    for (const slow of [false, true]) {
      const where = `${writePolicy}${slow ? " over a slow second tier" : ""}`;
      const name = `${where}: concurrent readers and writers never read older than a completed write`;
      it(name, async () => {
        for (const seed of [11, 12]) expect(await linearizability(writePolicy, slow, seed), `seed ${seed}`).toEqual([]);
      });
    }
  }

  it("overlapping writes of one path leave the cache holding what the store holds", async () => {
    for (const writePolicy of ["write-through", "write-around"] as const) {
      for (const seed of [5, 6, 7, 8]) {
        // Random store latency: unordered, the store and the cache could take the writes in different orders.
        const next = seededRandom(seed);
        const { upstream, store } = setup(writePolicy, false, () => next() * 4);
        const path = "/w/c/0" as AbsolutePath;
        upstream.seed(path, 1);
        await Promise.all(Array.from({ length: 8 }, (_, i) => store.set(path, versionBytes(10 + i))));
        const last = upstream.applied.get(path)!.at(-1)!;
        for (const kind of READ_KINDS) expect(versionOf(await read(store, path, kind)), `${writePolicy} ${kind} seed ${seed}`).toBe(last);
      }
    }
  });
});
