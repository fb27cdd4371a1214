import { describe, expect, it } from "vitest";
import { type CacheTier, type TierInvalidation, createCache, isZarrsCacheError } from "@zarrs-cache/core";
import { MemoryTier, memory } from "@zarrs-cache/memory";
import { type CompressionOptions, compressed } from "@zarrs-cache/compression";
import { floatField, randomBytes, same, shuffled } from "./data.js";

function expectConfigError(make: () => unknown, mentions: string) {
  let error: unknown;
  try {
    make();
  } catch (e) {
    error = e;
  }
  expect(isZarrsCacheError(error, "INVALID_CONFIG"), `expected INVALID_CONFIG, got ${String(error)}`).toBe(true);
  expect((error as Error).message).toContain(mentions);
}

describe("options are validated, naming the bad one", () => {
  const bad: [string, unknown][] = [
    ["codec", "lz4"],
    ["codec", 1],
    ["level", 0],
    ["level", 10],
    ["level", 2.5],
    ["level", "6"],
    ["minBytes", -1],
    ["minBytes", 1.5],
    ["minSavings", 1],
    ["minSavings", -0.1],
    ["minSavings", Number.NaN],
    ["entropyCheck", "yes"],
    ["implementation", "wasm"],
    ["maxDecompressedBytes", 0],
    ["maxDecompressedBytes", 1.5],
    ["maxDecompressedBytes", 2 ** 32],
    ["maxDecompressedBytes", "64MiB"],
    ["asyncAboveBytes", -1],
    ["asyncAboveBytes", 0.5],
    ["asyncAboveBytes", Number.POSITIVE_INFINITY],
    ["name", ""],
  ];
  for (const [option, value] of bad) {
    it(`${option}: ${typeof value === "number" ? value : JSON.stringify(value)}`, () => {
      expectConfigError(() => compressed(memory({ maxBytes: 1024 }), { [option]: value } as CompressionOptions), `"${option}"`);
    });
  }

  it("an unknown option (a typo, with a did-you-mean) and options that are not an object", () => {
    const typo = (options: object) => () => compressed(memory({ maxBytes: 1024 }), options as CompressionOptions);
    expectConfigError(typo({ minsavings: 0.2 }), 'compressed(): unknown option "minsavings" — did you mean "minSavings"?');
    expectConfigError(typo({ maxDecompresedBytes: 1 }), 'unknown option "maxDecompresedBytes" — did you mean "maxDecompressedBytes"?');
    expectConfigError(typo({ codecs: "gzip" }), 'did you mean "codec"?');
    const known = "(known: codec, level, minBytes, minSavings, entropyCheck, implementation, maxDecompressedBytes, asyncAboveBytes, name)";
    expectConfigError(typo({ compressionLevel: 9 }), known);
    expectConfigError(() => compressed(memory({ maxBytes: 1024 }), "zlib" as unknown as CompressionOptions), "options must be an object");
    expectConfigError(() => compressed(memory({ maxBytes: 1024 }), null as unknown as CompressionOptions), "options must be an object");
  });

  it("something that is not a tier", () => {
    expectConfigError(() => compressed(undefined as unknown as CacheTier), "must be a CacheTier");
    expectConfigError(() => compressed({ get() {}, set() {} } as unknown as CacheTier), "missing delete, has, clear, keys, stats, close");
  });

  it("accepts the edges of every range", () => {
    const edges: CompressionOptions[] = [
      { level: 1 },
      { level: 9 },
      { minBytes: 0 },
      { minSavings: 0 },
      { minSavings: 0.99 },
      { codec: "gzip", implementation: "fflate" },
      { maxDecompressedBytes: 1, asyncAboveBytes: 0 },
      { maxDecompressedBytes: 2 ** 32 - 1 },
    ];
    for (const options of edges) {
      expect(compressed(memory({ maxBytes: 1024 }), options).name).toBe("compressed(memory)");
    }
  });

  it("level changes the bytes, and every level reads back", async () => {
    const chunk = shuffled(floatField(64 * 1024));
    const sizes: number[] = [];
    for (const level of [1, 9]) {
      const tier = compressed(memory({ maxBytes: 1 << 20 }), { level, implementation: "node:zlib" });
      await tier.ready();
      await tier.set("k", chunk);
      sizes.push(tier.stats().bytesOut);
      expect(same((await tier.get("k"))?.value, chunk)).toBe(true);
      await tier.close();
    }
    expect(sizes[1]).toBeLessThan(sizes[0]!);
  });
});

/** A memory tier that also has the optional hooks, to check they are forwarded. */
class HookedTier extends MemoryTier {
  private listeners = new Set<(message: TierInvalidation) => void>();
  opened = 0;
  failOpen = false;

  open(): void {
    this.opened++;
    if (this.failOpen) throw new Error("directory not writable");
  }

  onInvalidation(listener: (message: TierInvalidation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  announce(message: TierInvalidation): void {
    for (const listener of this.listeners) listener(message);
  }
}

describe("the wrapper forwards to the inner tier", () => {
  it("has a recognisable name, or the one given", () => {
    expect(compressed(memory({ maxBytes: 1024, name: "disk-ish" })).name).toBe("compressed(disk-ish)");
    expect(compressed(memory({ maxBytes: 1024 }), { name: "l2" }).name).toBe("l2");
  });

  it("set options it does not use (fill, loadStartedAt, any other field) reach the inner tier", async () => {
    const seen: unknown[] = [];
    const inner = memory({ maxBytes: 1 << 20 });
    const setOf = inner.set.bind(inner);
    inner.set = (key, value, options) => {
      seen.push(options);
      return setOf(key, value, options);
    };
    const tier = compressed(inner);
    await tier.set("k", new Uint8Array(64), { fill: true, loadStartedAt: 1234, ttl: 5000, future: "x" } as never);
    expect(seen[0]).toMatchObject({ fill: true, loadStartedAt: 1234, ttl: 5000, future: "x" });
  });

  it("caps decompressed sizes at the inner tier's stated maxValueBytes (disk, redis and memory state one)", async () => {
    const fs = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const { disk } = await import("@zarrs-cache/disk");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-compressed-limit-"));
    try {
      const inner = disk({ dir, maxBytes: 8 << 20, maxValueBytes: 3 << 20 });
      const tier = compressed(inner);
      expect(inner.maxValueBytes).toBe(3 << 20);
      expect(tier.maxValueBytes).toBe(3 << 20);
      await tier.close();
      expect(compressed(memory({ maxBytes: 1 << 20 })).maxValueBytes).toBe(1 << 20);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("open(), onInvalidation(), deletePrefix() and getMany() when the inner tier has them", async () => {
    const inner = new HookedTier({ maxBytes: 1 << 20 });
    const tier = compressed(inner);
    tier.open!();
    expect(inner.opened).toBe(1);

    const seen: TierInvalidation[] = [];
    const unsubscribe = tier.onInvalidation!((message) => seen.push(message));
    inner.announce({ kind: "keys", keys: ["a"] });
    unsubscribe();
    inner.announce({ kind: "all" });
    expect(seen).toEqual([{ kind: "keys", keys: ["a"] }]);

    await tier.set("p/1", floatField(4096));
    await tier.set("p/2", floatField(4096, 2));
    await tier.set("q/1", floatField(4096, 3));
    expect(await tier.deletePrefix!("p/")).toBe(2);
    expect(await inner.has("p/1")).toBe(false);
    expect((await tier.getMany!(["q/1", "p/1"])).map((e) => e !== undefined)).toEqual([true, false]);
    await tier.close();
  });

  it("onEviction(): the inner tier's evictions, under the same keys", async () => {
    const tier = compressed(memory({ maxBytes: 40 * 1024 }));
    const evicted: string[] = [];
    const unsubscribe = tier.onEviction!((key, reason) => evicted.push(`${key}:${reason}`));
    for (let i = 0; i < 4; i++) await tier.set(`c/${i}`, randomBytes(16 * 1024, i + 1));
    expect(evicted).toEqual(["c/0:evict", "c/1:evict"]);
    unsubscribe();
    await tier.set("c/4", randomBytes(16 * 1024, 9));
    expect(evicted).toHaveLength(2);
    await tier.close();
  });

  it("build() reports an inner tier that fails to open", () => {
    const inner = new HookedTier({ maxBytes: 1 << 20 });
    inner.failOpen = true;
    expect(() => createCache().tier(compressed(inner)).build()).toThrow(/failed to open: directory not writable/);
  });

  it("omits the optional methods the inner tier lacks", async () => {
    // A TieredCache is a tier with deletePrefix but no getMany, getSync or onInvalidation.
    const cache = createCache()
      .tier(memory({ maxBytes: 1 << 20 }))
      .build();
    const tier = compressed(cache);
    expect(tier.getMany).toBeUndefined();
    expect(tier.onInvalidation).toBeUndefined();
    expect(tier.onEviction).toBeUndefined();
    expect(typeof tier.deletePrefix).toBe("function");
    expect("getSync" in tier).toBe(false);
    await tier.close();
  });

  it("close() closes the inner tier too, once", async () => {
    const inner = memory({ maxBytes: 1 << 20 });
    const tier = compressed(inner);
    await tier.close();
    await tier.close();
    await expect(inner.get("k")).rejects.toMatchObject({ code: "CLOSED" });
    await expect(tier.has("k")).rejects.toMatchObject({ code: "CLOSED" });
    await expect(tier.deletePrefix!("x")).rejects.toMatchObject({ code: "CLOSED" });
    const keys = tier.keys()[Symbol.asyncIterator]();
    await expect(keys.next()).rejects.toMatchObject({ code: "CLOSED" });
  });
});
