import zlib from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { CacheTier, SetOptions } from "@zarrs-cache/core";
import { MemoryTier, memory } from "@zarrs-cache/memory";
import { type Codec, type CompressedTier, compressed } from "@zarrs-cache/compression";
import { MiB, floatField, randomBytes, repeatedRandom, same, shuffled } from "./data.js";

const open: CacheTier[] = [];
const track = <T extends CacheTier>(tier: T): T => (open.push(tier), tier);
afterEach(async () => {
  for (const tier of open.splice(0)) await tier.close();
});

const newMemory = () => track(memory({ maxBytes: 32 * MiB }));
const standardDecoder: Record<Codec, (payload: Uint8Array) => Uint8Array> = {
  deflate: (p) => zlib.inflateRawSync(p),
  zlib: (p) => zlib.inflateSync(p),
  gzip: (p) => zlib.gunzipSync(p),
};
const CODE: Record<Codec, number> = { deflate: 1, zlib: 2, gzip: 3 };
const implementations = ["node:zlib", "fflate"] as const;

describe("entries written by one implementation are read by the other", () => {
  const chunk = shuffled(floatField(64 * 1024));
  for (const codec of ["deflate", "zlib", "gzip"] as const) {
    for (const writerImpl of implementations) {
      for (const readerImpl of implementations) {
        it(`${codec}: ${writerImpl} writes, ${readerImpl} reads`, async () => {
          const shared = newMemory();
          const writer = compressed(shared, { codec, implementation: writerImpl });
          const reader = compressed(shared, { codec: "deflate", implementation: readerImpl });
          expect(await writer.ready()).toBe(writerImpl);
          expect(await reader.ready()).toBe(readerImpl);

          await writer.set("c/0/0", chunk);
          expect(writer.stats().storedCompressed).toBe(1);

          // The stored payload is one standard stream, readable by plain node:zlib.
          const stored = (await shared.get("c/0/0"))!.value;
          expect(stored[3]).toBe(CODE[codec]);
          expect(stored.byteLength).toBeLessThan(chunk.byteLength * 0.7);
          expect(same(standardDecoder[codec](stored.subarray(8)), chunk)).toBe(true);

          // The reader decodes by the header, whatever its own codec option says.
          const entry = await reader.get("c/0/0");
          expect(same(entry?.value, chunk)).toBe(true);
          expect(entry!.value.constructor).toBe(Uint8Array);
          expect(reader.stats().corruptions).toBe(0);
        });
      }
    }
  }
});

describe("compressible and incompressible values", () => {
  it("compresses realistic float32 chunks, shuffled or not, and reports it", async () => {
    const tier = compressed(newMemory());
    const plain = floatField(256 * 1024, 2);
    const shuffledChunk = shuffled(floatField(256 * 1024, 3));
    await tier.set("plain", plain);
    await tier.set("shuffled", shuffledChunk);
    expect(same((await tier.get("plain"))?.value, plain)).toBe(true);
    expect(same((await tier.get("shuffled"))?.value, shuffledChunk)).toBe(true);
    const stats = tier.stats();
    expect(stats.storedCompressed).toBe(2);
    expect(stats.storedRaw).toBe(0);
    expect(stats.bytesIn).toBe(512 * 1024);
    expect(stats.bytesOut).toBeLessThan(stats.bytesIn * 0.8);
    expect(stats.ratio).toBeCloseTo(stats.bytesIn / stats.bytesOut, 10);
    expect(stats.compressMs).toBeGreaterThan(0);
    expect(stats.decompressMs).toBeGreaterThan(0);
    // The inner tier's own counters come along; hits and misses are this tier's answers.
    expect(stats.entries).toBe(2);
    expect(stats.bytes).toBeLessThan(stats.bytesIn);
    expect(stats.hits).toBe(2);
    expect(stats.misses).toBe(0);
  });

  it("stores random bytes raw without compressing them (entropy check)", async () => {
    const inner = newMemory();
    const tier = compressed(inner);
    const value = randomBytes(256 * 1024, 3);
    await tier.set("random", value);
    expect(tier.stats()).toMatchObject({
      storedRaw: 1,
      entropySkips: 1,
      storedCompressed: 0,
      bytesIn: value.byteLength,
      bytesOut: value.byteLength + 8,
    });
    expect((await inner.get("random"))!.value.byteLength).toBe(value.byteLength + 8);
    const entry = await tier.get("random");
    expect(same(entry?.value, value)).toBe(true);
    // A raw hit is a view past the 8-byte header: no copy, still 8-byte aligned.
    expect(entry!.value.byteOffset % 8).toBe(0);
    expect(tier.stats().decompressMs).toBe(0);
  });

  it("tells random from float32 data by the entropy sample at every size", async () => {
    const tier = compressed(newMemory());
    const sizes = [1024, 4096, 64 * 1024, 300 * 1024 + 3, MiB];
    for (const [i, size] of sizes.entries()) {
      await tier.set(`random/${i}`, randomBytes(size, i + 20));
      await tier.set(`field/${i}`, shuffled(floatField(size, i + 20)));
    }
    expect(tier.stats()).toMatchObject({ entropySkips: sizes.length, storedRaw: sizes.length, storedCompressed: sizes.length });
  });

  it("after a run of incompressible values checks only some, and a compressible one ends the run", async () => {
    const tier = compressed(newMemory());
    for (let i = 0; i < 40; i++) await tier.set(`random/${i}`, randomBytes(4096, i + 1));
    expect(tier.stats()).toMatchObject({ storedRaw: 40, entropySkips: 40, storedCompressed: 0 });
    // A long run skips up to 15 values unseen (stored raw), then looks again.
    let firstCompressed = -1;
    for (let i = 0; i < 20 && firstCompressed === -1; i++) {
      await tier.set(`field/${i}`, shuffled(floatField(4096, i + 1)));
      if (tier.stats().storedCompressed === 1) firstCompressed = i;
    }
    expect(firstCompressed).toBeGreaterThan(0); // the first compressible values went by unseen
    expect(firstCompressed).toBeLessThanOrEqual(15);
    await tier.set("field/next", shuffled(floatField(4096, 99)));
    expect(tier.stats().storedCompressed).toBe(2); // the run is over: checked and compressed at once
    for (let i = 0; i < firstCompressed; i++) expect((await tier.get(`field/${i}`))?.value).toEqual(shuffled(floatField(4096, i + 1)));
  });

  it("without the entropy check, tries random bytes, finds no savings and stores them raw", async () => {
    const tier = compressed(newMemory(), { entropyCheck: false });
    await tier.set("random", randomBytes(64 * 1024, 4));
    expect(tier.stats()).toMatchObject({ storedRaw: 1, entropySkips: 0, storedCompressed: 0 });
    expect(tier.stats().compressMs).toBeGreaterThan(0);
  });

  it("misjudges a repeated random block with the entropy check, and compresses it without", async () => {
    const value = repeatedRandom(128 * 1024);
    const checked = compressed(newMemory());
    const unchecked = compressed(newMemory(), { entropyCheck: false });
    await checked.set("k", value);
    await unchecked.set("k", value);
    expect(checked.stats()).toMatchObject({ storedRaw: 1, entropySkips: 1 });
    expect(unchecked.stats().storedCompressed).toBe(1);
    expect(unchecked.stats().ratio).toBeGreaterThan(10);
    expect(same((await unchecked.get("k"))?.value, value)).toBe(true);
  });

  it("stores raw what does not save minSavings, and what is shorter than minBytes", async () => {
    const chunk = floatField(64 * 1024, 5); // saves about 20%
    const strict = compressed(newMemory(), { minSavings: 0.5 });
    const lenient = compressed(newMemory(), { minSavings: 0.05 });
    await strict.set("k", chunk);
    await lenient.set("k", chunk);
    expect(strict.stats()).toMatchObject({ storedRaw: 1, storedCompressed: 0, entropySkips: 0 });
    expect(lenient.stats()).toMatchObject({ storedRaw: 0, storedCompressed: 1 });

    const json = new TextEncoder().encode(
      JSON.stringify({
        zarr_format: 3,
        node_type: "array",
        shape: [365, 720, 1440],
        data_type: "float32",
        fill_value: "NaN",
        attributes: { units: "K", long_name: "2 metre temperature" },
      }),
    );
    const small = compressed(newMemory(), { minBytes: json.byteLength + 1 });
    const fine = compressed(newMemory(), { minBytes: 64 });
    await small.set("zarr.json", json);
    await fine.set("zarr.json", json);
    expect(small.stats().storedRaw).toBe(1);
    expect(small.stats().compressMs).toBe(0);
    expect(fine.stats().storedCompressed).toBe(1);
    expect(same((await small.get("zarr.json"))?.value, json)).toBe(true);
    expect(same((await fine.get("zarr.json"))?.value, json)).toBe(true);
  });

  it("round-trips an empty value as an empty value (the TieredCache's absent marker)", async () => {
    for (const options of [{}, { minBytes: 0, minSavings: 0, entropyCheck: false }]) {
      const inner = newMemory();
      const tier = compressed(inner, options);
      await tier.set("absent", new Uint8Array(0));
      expect((await inner.get("absent"))!.value.byteLength).toBe(8);
      const entry = await tier.get("absent");
      expect(entry?.value).toBeInstanceOf(Uint8Array);
      expect(entry!.value.byteLength).toBe(0);
    }
  });
});

describe("pass-through", () => {
  it("carries expiresAt unchanged and passes ttl to the inner tier", async () => {
    const inner = newMemory();
    const tier = compressed(inner);
    const chunk = shuffled(floatField(32 * 1024));
    await tier.set("short", chunk, { ttl: 200 });
    await tier.set("long", chunk, { ttl: 60_000 });
    const below = await inner.get("long");
    const above = await tier.get("long");
    expect(above!.expiresAt).toBe(below!.expiresAt);
    expect(above!.expiresAt! - Date.now()).toBeGreaterThan(50_000);
    expect((await tier.get("short"))!.expiresAt).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await tier.get("short")).toBeUndefined();
    expect(tier.stats().storedCompressed).toBe(2);
  });

  it("stores what set() was called with even if the caller reuses its buffer without awaiting", async () => {
    for (const implementation of ["auto", ...implementations] as const) {
      const tier: CompressedTier = compressed(newMemory(), { implementation });
      await tier.ready();
      const compressible = shuffled(floatField(64 * 1024));
      const random = randomBytes(64 * 1024, 8);
      const expected = [compressible.slice(), random.slice()];
      const writes = [tier.set("a", compressible), tier.set("b", random)];
      compressible.fill(0);
      random.fill(0);
      await Promise.all(writes);
      expect(same((await tier.get("a"))?.value, expected[0]!)).toBe(true);
      expect(same((await tier.get("b"))?.value, expected[1]!)).toBe(true);
    }
  });

  it("a forced node:zlib tier used before it has loaded copies the value (a Buffer too) and waits", async () => {
    const tier = compressed(newMemory(), { implementation: "node:zlib" });
    const chunk = shuffled(floatField(64 * 1024, 6));
    const asBuffer = Buffer.from(chunk);
    const write = tier.set("k", asBuffer); // first call: node:zlib is still loading
    asBuffer.fill(0);
    await write;
    expect(tier.stats().storedCompressed).toBe(1);
    expect(same((await tier.get("k"))?.value, chunk)).toBe(true);
  });

  it("keeps many concurrent writes apart when the inner tier takes its copy later", async () => {
    // A conforming tier may read the buffer any time before its set() resolves (a disk or a socket
    // write does), or keep it (transfer): every write must hand over a buffer of its own.
    class LateCopyTier extends MemoryTier {
      override async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return super.set(key, value, options);
      }
    }
    const tier = compressed(track(new LateCopyTier({ maxBytes: 8 * MiB })));
    const values = Array.from({ length: 24 }, (_, i) =>
      i % 2 ? randomBytes(16 * 1024 + i, i + 1) : shuffled(floatField(16 * 1024, i + 1)),
    );
    for (let round = 0; round < 2; round++) {
      await Promise.all(values.map((value, i) => tier.set(`k/${i}`, value)));
      const entries = await tier.getMany!(values.map((_, i) => `k/${i}`));
      entries.forEach((entry, i) => expect(same(entry?.value, values[i]!)).toBe(true));
    }
  });

  it("nests: compressed(compressed(memory))", async () => {
    const outer = compressed(compressed(newMemory()), { minSavings: 0, entropyCheck: false });
    const value = shuffled(floatField(32 * 1024));
    await outer.set("k", value);
    expect(same((await outer.get("k"))?.value, value)).toBe(true);
    expect(outer.name).toBe("compressed(compressed(memory))");
  });

  it("uses node:zlib by default in Node", async () => {
    expect(await compressed(newMemory()).ready()).toBe("node:zlib");
  });
});
