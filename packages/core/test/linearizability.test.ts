// The read-after-change rule, checked on histories of concurrent reads, writes, invalidations,
// deletes and clears of one key: every read that started after a change completed returns a
// version at least as new as that change made current.
import { type CacheTier, type TieredCache, type WritePolicy, createCache } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";
import { seededRandom } from "@zarrs-cache/core/testing";

const KEY = "ds:/temp/c/0";
const MiB = 1024 * 1024;

const pause = (ms: number) => (ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms)));

/** A memory tier behind random latency: reads see the value before the delay, writes land after it. */
function slowTier(rand: () => number): CacheTier {
  const inner = memory({ maxBytes: 16 * MiB, name: "slow" });
  const delay = () => pause(rand() < 0.5 ? 0 : Math.floor(rand() * 4));
  return {
    name: "slow",
    get: async (key) => {
      const entry = await inner.get(key);
      await delay();
      return entry;
    },
    set: async (key, value, options) => {
      await delay();
      return inner.set(key, value, options);
    },
    delete: async (key) => {
      await delay();
      return inner.delete(key);
    },
    deletePrefix: async (prefix) => {
      await delay();
      return inner.deletePrefix(prefix);
    },
    has: (key) => inner.has(key),
    clear: async () => {
      await delay();
      return inner.clear();
    },
    keys: (prefix) => inner.keys(prefix),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
}

const encode = (version: number, into = new Uint8Array(4)) => (new DataView(into.buffer).setUint32(0, version), into);
const decode = (value: Uint8Array) => new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0);

interface Change {
  kind: string;
  end: number;
  /** The version every later read must reach. */
  floor: number;
}
interface Read {
  start: number;
  version: number;
}

let open: TieredCache[] = [];
afterEach(async () => {
  for (const cache of open) await cache.close().catch(() => {});
  open = [];
});

async function history(policy: WritePolicy, withSlowTier: boolean, seed: number) {
  const rand = seededRandom(seed);
  let builder = createCache({ writePolicy: policy }).tier(memory({ maxBytes: 4 * MiB, name: "l1" }));
  if (withSlowTier) builder = builder.tier(slowTier(seededRandom(seed + 1)));
  const cache = builder.build();
  open.push(cache);

  // The store: every landing of a value takes the next version, so versions follow store order.
  let landed = 1;
  let clock = 0;
  const changes: Change[] = [];
  const reads: Read[] = [];
  const delay = () => pause(rand() < 0.4 ? 0 : Math.floor(rand() * 5));
  const loader = async () => {
    await delay();
    const version = landed; // read the store, then answer slowly
    await delay();
    return encode(version);
  };

  const operations: (() => Promise<void>)[] = [
    // reads, through the read-through and through a plain lookup
    async () => {
      const start = ++clock;
      const value = await cache.getOrLoad(KEY, loader, { kind: "chunk" });
      reads.push({ start, version: decode(value!) });
    },
    async () => {
      const start = ++clock;
      const hit = cache.peek(KEY);
      const value = hit ?? (await cache.load(KEY, loader));
      reads.push({ start, version: decode(value!) });
    },
    async () => {
      const start = ++clock;
      const entry = await cache.get(KEY);
      if (entry) reads.push({ start, version: decode(entry.value) });
    },
    // a write through the cache: the version is taken when the store takes the value
    async () => {
      const value = new Uint8Array(4);
      let version = 0;
      await cache.write(KEY, value, async () => {
        await delay();
        version = ++landed;
        encode(version, value);
      });
      changes.push({ kind: "write", end: ++clock, floor: version });
    },
    // the store changes behind the cache's back, then the cache is told
    async () => {
      const floor = ++landed;
      await cache.invalidate("ds:/temp/");
      changes.push({ kind: "invalidate", end: ++clock, floor });
    },
    async () => {
      const floor = ++landed;
      await cache.delete(KEY);
      changes.push({ kind: "delete", end: ++clock, floor });
    },
    async () => {
      const floor = ++landed;
      await cache.clear();
      changes.push({ kind: "clear", end: ++clock, floor });
    },
  ];
  const weights = [6, 4, 2, 4, 2, 1, 1];
  const pick = () => {
    let r = rand() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < weights.length; i++) if ((r -= weights[i]!) < 0) return operations[i]!;
    return operations[0]!;
  };

  const workers = Array.from({ length: 12 }, async () => {
    for (let i = 0; i < 60; i++) {
      await pick()();
      if (rand() < 0.3) await pause(0);
    }
  });
  await Promise.all(workers);

  // Every read must reach the floor of every change that completed before it started.
  const ordered = [...changes].sort((a, b) => a.end - b.end);
  const violations: string[] = [];
  let floor = 0;
  let floorKind = "";
  let next = 0;
  for (const read of [...reads].sort((a, b) => a.start - b.start)) {
    while (next < ordered.length && ordered[next]!.end < read.start) {
      if (ordered[next]!.floor > floor) [floor, floorKind] = [ordered[next]!.floor, ordered[next]!.kind];
      next++;
    }
    if (read.version < floor) {
      violations.push(`read at ${read.start} returned v${read.version}, but a ${floorKind} had made v${floor} current`);
    }
  }
  return { violations, reads: reads.length, changes: changes.length };
}

describe("read-after-change on one key under concurrent reads, writes, invalidations and clears", () => {
  for (const policy of ["write-through", "write-around"] as const) {
    for (const withSlowTier of [false, true]) {
      it(`${policy}, ${withSlowTier ? "memory + a slow second tier" : "memory only"}`, async () => {
        for (const seed of [1, 2, 3]) {
          const { violations, reads, changes } = await history(policy, withSlowTier, seed * 7919 + (withSlowTier ? 1 : 0));
          expect(reads).toBeGreaterThan(200);
          expect(changes).toBeGreaterThan(100);
          expect(violations.slice(0, 5)).toEqual([]);
        }
      });
    }
  }
});
