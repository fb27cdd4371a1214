// The decode bound (maxDecompressedBytes) and large values decoded off the event loop
// (asyncAboveBytes), on both implementations. The bombs themselves, with memory and stall
// measured, are in bomb.test.ts.
import zlib from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type CacheTier, createCache, isZarrsCacheError } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { type CompressionOptions, compressed } from "@zarrs-cache/compression";
import { yieldToEventLoop } from "../src/yield.js";
// @ts-expect-error: a plain .mjs helper shared with bomb.test.ts's child process, without type declarations
import { zeroBomb } from "./fixtures/bomb.mjs";
import { MiB, floatField, same, shuffled } from "./data.js";

const open: CacheTier[] = [];
const track = <T extends CacheTier>(tier: T): T => (open.push(tier), tier);
afterEach(async () => {
  vi.unstubAllGlobals();
  for (const tier of open.splice(0)) await tier.close();
});

const implementations = ["node:zlib", "fflate"] as const;
const codecs = ["deflate", "zlib", "gzip"] as const;

/**
 * A compressed tier over memory; a writer over the same memory (node:zlib, the largest cap: fast to
 * fill); and a way to store any bytes under it as the wrapper's own format.
 */
async function setup(options: CompressionOptions, innerMaxBytes = 64 * MiB) {
  const inner = track(memory({ maxBytes: innerMaxBytes }));
  const tier = compressed(inner, options);
  const writer = compressed(inner, { implementation: "node:zlib", codec: options.codec, maxDecompressedBytes: 0xffff_ffff });
  await tier.ready();
  await writer.ready();
  /** Stores `payload` behind a header of format 1 with the codec and the claimed original length. */
  const plant = (key: string, codec: "deflate" | "zlib" | "gzip", payload: Uint8Array, claims: number) => {
    const stored = new Uint8Array(8 + payload.byteLength);
    stored.set([0xa7, 0x5a, 1, { deflate: 1, zlib: 2, gzip: 3 }[codec]]);
    new DataView(stored.buffer).setUint32(4, claims, true);
    stored.set(payload, 8);
    return inner.set(key, stored);
  };
  return { inner, tier, writer, plant };
}

const nodeEncode = { deflate: zlib.deflateRawSync, zlib: zlib.deflateSync, gzip: zlib.gzipSync };

describe("the cap: maxDecompressedBytes", () => {
  it("defaults to the inner tier's maxValueBytes, else 64 MiB; the option wins; at most 4 GiB − 1", () => {
    expect(compressed(memory({ maxBytes: 8 * MiB })).maxValueBytes).toBe(8 * MiB);
    expect(compressed(memory({ maxBytes: 8 * MiB, maxValueBytes: MiB })).maxValueBytes).toBe(MiB);
    expect(compressed(memory({ maxBytes: 8 * 1024 * MiB })).maxValueBytes).toBe(0xffff_ffff);
    expect(compressed(memory({ maxBytes: 8 * MiB }), { maxDecompressedBytes: 100 * MiB }).maxValueBytes).toBe(100 * MiB);
    // A TieredCache states no value limit.
    expect(
      compressed(
        createCache()
          .tier(memory({ maxBytes: MiB }))
          .build(),
      ).maxValueBytes,
    ).toBe(64 * MiB);
    // Nested: the outer one follows the inner one's cap.
    expect(compressed(compressed(memory({ maxBytes: MiB }), { maxDecompressedBytes: 1000 })).maxValueBytes).toBe(1000);
  });

  it("set() refuses a value over the cap with VALUE_TOO_LARGE naming the option, and changes nothing", async () => {
    const { inner, tier } = await setup({ maxDecompressedBytes: 64 * 1024 });
    const fits = shuffled(floatField(64 * 1024));
    await tier.set("k", fits);
    const error = await tier.set("k", new Uint8Array(64 * 1024 + 1)).catch((e: unknown) => e);
    expect(isZarrsCacheError(error, "VALUE_TOO_LARGE")).toBe(true);
    expect((error as Error).message).toContain("maxDecompressedBytes");
    expect(same((await tier.get("k"))?.value, fits)).toBe(true);
    expect(inner.stats().sets).toBe(1);
  });

  for (const implementation of implementations) {
    it(`a value stored by a tier with a larger cap is a counted miss, refused without decoding (${implementation})`, async () => {
      const { tier, writer } = await setup({ implementation, maxDecompressedBytes: MiB });
      const large = shuffled(floatField(2 * MiB));
      const small = shuffled(floatField(MiB, 2));
      await writer.set("large", large);
      await writer.set("small", small);
      expect(writer.stats().storedCompressed).toBe(2);

      expect(await tier.get("large")).toBeUndefined();
      expect(await tier.getMany!(["large"])).toEqual([undefined]);
      expect(tier.stats()).toMatchObject({ corruptions: 2, oversized: 2, misses: 2, hits: 0, decompressMs: 0 });
      expect(await tier.has("large")).toBe(true); // left in place, as every unreadable value is
      expect(same((await tier.get("small"))?.value, small)).toBe(true);
      expect(same((await writer.get("large"))?.value, large)).toBe(true);
    });
  }

  it("a raw value is returned whatever its size: it costs no decoding", async () => {
    const { inner, tier } = await setup({ maxDecompressedBytes: 1024 });
    const writer = compressed(inner);
    const random = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24);
    await writer.set("raw", random);
    expect(writer.stats().storedRaw).toBe(1);
    expect(same((await tier.get("raw"))?.value, random)).toBe(true);
  });
});

for (const implementation of implementations) {
  for (const asyncAboveBytes of [0, 1 * MiB]) {
    const path = asyncAboveBytes === 0 ? "asynchronous" : "synchronous";
    describe(`a stream that disagrees with its header is a counted miss (${implementation}, ${path})`, () => {
      for (const codec of codecs) {
        it(`${codec}: longer or shorter than claimed, a small and a streamed payload`, async () => {
          const { tier, plant } = await setup({ implementation, asyncAboveBytes });
          for (const bytes of [2000, 256 * 1024]) {
            const value = shuffled(floatField(bytes));
            const payload = nodeEncode[codec](value);
            await plant("exact", codec, payload, bytes);
            await plant("longer", codec, payload, bytes - 1);
            await plant("shorter", codec, payload, bytes + 1);
            expect(same((await tier.get("exact"))?.value, value)).toBe(true);
            const before = tier.stats().corruptions;
            expect(await tier.get("longer")).toBeUndefined();
            expect(await tier.get("shorter")).toBeUndefined();
            expect(tier.stats().corruptions - before).toBe(2);
          }
        });
      }

      it("a stream that inflates to 64 MiB under a header that claims 64 KiB is a counted miss", async () => {
        const { tier, plant } = await setup({ implementation, asyncAboveBytes });
        await plant("bomb", "zlib", zeroBomb(64), 64 * 1024);
        expect(await tier.get("bomb")).toBeUndefined();
        expect(tier.stats()).toMatchObject({ corruptions: 1, oversized: 0 });
      });
    });
  }

  describe(`large values (${implementation})`, () => {
    for (const codec of codecs) {
      it(`${codec}: values above asyncAboveBytes round-trip, through get() and getMany(), mixed with small ones`, async () => {
        const { tier, writer } = await setup({ implementation, codec, asyncAboveBytes: 256 * 1024 });
        const large = shuffled(floatField(3 * MiB));
        const small = shuffled(floatField(64 * 1024, 2));
        await writer.set("large", large);
        await tier.set("small", small);
        expect(same((await tier.get("large"))?.value, large)).toBe(true);
        const [a, b, c] = await tier.getMany!(["small", "large", "missing"]);
        expect(same(a?.value, small)).toBe(true);
        expect(same(b?.value, large)).toBe(true);
        expect(c).toBeUndefined();
        expect(tier.stats()).toMatchObject({ hits: 3, misses: 1, corruptions: 0 });
      });
    }

    it("a large value decodes while the event loop keeps turning", async () => {
      const { tier, writer } = await setup({ implementation, asyncAboveBytes: 0 });
      const value = shuffled(floatField(16 * MiB));
      await writer.set("k", value);
      let turns = 0;
      let decoding = true;
      const spin = async () => {
        while (decoding) {
          await yieldToEventLoop();
          turns++;
        }
      };
      const spinning = spin();
      const entry = await tier.get("k");
      decoding = false;
      await spinning;
      expect(same(entry?.value, value)).toBe(true);
      // node:zlib: the thread pool decodes while this thread turns; fflate: one turn per ≥ 5 ms slice
      // of a decode that takes tens of ms at least.
      expect(turns).toBeGreaterThan(1);
    });

    it("a checksum that fails on a large value is a counted miss", async () => {
      const { tier, writer, inner } = await setup({ implementation, codec: "gzip", asyncAboveBytes: 0 });
      await writer.set("k", shuffled(floatField(2 * MiB)));
      const stored = (await inner.get("k"))!.value.slice();
      stored[stored.byteLength - 6] ^= 1; // inside the CRC-32
      await inner.set("k", stored);
      expect(await tier.get("k")).toBeUndefined();
      expect(tier.stats().corruptions).toBe(1);
    });
  });
}

describe("fflate reads what any gzip writer may write", () => {
  it("a gzip header with extra field, name, comment and header CRC", async () => {
    const { tier, plant } = await setup({ implementation: "fflate" });
    const value = shuffled(floatField(100 * 1024));
    const plain = zlib.gzipSync(value);
    const extra = [4, 0, 1, 2, 3, 4];
    const name = [...Buffer.from("chunk.bin"), 0];
    const comment = [...Buffer.from("a comment"), 0];
    const fields = [0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 0xff, ...extra, ...name, ...comment];
    const headerCrc = zlib.crc32(Uint8Array.from(fields)) & 0xffff;
    const header = [...fields, headerCrc & 0xff, headerCrc >> 8];
    const payload = new Uint8Array([...header, ...plain.subarray(10)]);
    expect(same(zlib.gunzipSync(payload), value)).toBe(true); // node:zlib agrees it is valid
    await plant("k", "gzip", payload, value.byteLength);
    expect(same((await tier.get("k"))?.value, value)).toBe(true);
    for (const broken of [payload.subarray(0, 20), Uint8Array.of(0x1f, 0x8b, 9, ...payload.subarray(3))]) {
      await plant("broken", "gzip", broken, value.byteLength);
      expect(await tier.get("broken")).toBeUndefined();
    }
    expect(tier.stats().corruptions).toBe(2);
  });

  it("a zlib header asking for a preset dictionary is refused", async () => {
    const { tier, plant } = await setup({ implementation: "fflate" });
    const value = shuffled(floatField(64 * 1024));
    const payload = zlib.deflateSync(value, { dictionary: Buffer.from("dictionary") });
    expect(payload[1]! & 0x20).toBe(0x20);
    await plant("k", "zlib", payload, value.byteLength);
    expect(await tier.get("k")).toBeUndefined();
    expect(tier.stats().corruptions).toBe(1);
  });
});

describe("yieldToEventLoop", () => {
  it("lets timers and I/O run, with setImmediate, scheduler.yield, a MessageChannel or setTimeout", async () => {
    const runs: string[] = [];
    const check = async (label: string) => {
      let ran = false;
      setTimeout(() => (ran = true), 0);
      // A timer runs once the loop turns; a yield that only queued a microtask would never let it.
      const until = performance.now() + 1000;
      while (!ran && performance.now() < until) await yieldToEventLoop();
      if (ran) runs.push(label);
    };
    await check("setImmediate");
    vi.stubGlobal("setImmediate", undefined);
    let yields = 0;
    vi.stubGlobal("scheduler", { yield: () => (yields++, new Promise<void>((resolve) => setTimeout(resolve, 0))) });
    await check("scheduler.yield");
    expect(yields).toBeGreaterThan(0);
    vi.stubGlobal("scheduler", undefined);
    await check("MessageChannel");
    vi.stubGlobal("MessageChannel", undefined);
    await check("setTimeout");
    expect(runs).toEqual(["setImmediate", "scheduler.yield", "MessageChannel", "setTimeout"]);
  });
});
