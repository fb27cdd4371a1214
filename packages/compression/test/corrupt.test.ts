import zlib from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { CacheTier } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { compressed } from "@zarrs-cache/compression";
import { MiB, floatField, randomBytes, same, shuffled } from "./data.js";

const open: CacheTier[] = [];
afterEach(async () => {
  for (const tier of open.splice(0)) await tier.close();
});

const chunk = shuffled(floatField(64 * 1024));
const raw = randomBytes(8 * 1024, 11);

/** A tier over a plain memory tier, and a way to overwrite what it stored underneath. */
async function setup(implementation: "node:zlib" | "fflate", codec: "deflate" | "zlib" | "gzip" = "zlib") {
  const inner = memory({ maxBytes: 8 * MiB });
  const tier = compressed(inner, { implementation, codec });
  open.push(tier);
  await tier.ready();
  await tier.set("compressed", chunk);
  await tier.set("raw", raw);
  expect(tier.stats()).toMatchObject({ storedCompressed: 1, storedRaw: 1 });
  const stored = async (key: string) => (await inner.get(key))!.value.slice();
  const tamper = async (key: string, change: (bytes: Uint8Array) => Uint8Array) => inner.set(key, change(await stored(key)));
  return { inner, tier, tamper };
}

/** get() answers a miss, counted as a corruption, and never throws. */
async function expectCountedMiss(tier: ReturnType<typeof compressed>, key: string) {
  const before = tier.stats();
  expect(await tier.get(key)).toBeUndefined();
  const after = tier.stats();
  expect(after.corruptions - before.corruptions).toBe(1);
  expect(after.misses - before.misses).toBe(1);
  expect(after.hits - before.hits).toBe(0);
}

const flip = (at: number) => (bytes: Uint8Array) => ((bytes[at] = bytes[at]! ^ 0x10), bytes);

for (const implementation of ["node:zlib", "fflate"] as const) {
  describe(`unreadable values are counted misses (${implementation})`, () => {
    it("truncated: compressed payload, raw payload, and inside the header", async () => {
      const { tier, tamper } = await setup(implementation);
      await tamper("compressed", (b) => b.subarray(0, b.byteLength - 10));
      await expectCountedMiss(tier, "compressed");
      await tamper("raw", (b) => b.subarray(0, b.byteLength - 1));
      await expectCountedMiss(tier, "raw");
      await tamper("raw", (b) => b.subarray(0, 5));
      await expectCountedMiss(tier, "raw");
    });

    it("a flipped header: magic, version (a newer format), codec code, original length", async () => {
      const { tier, tamper } = await setup(implementation);
      await tamper("compressed", flip(0));
      await expectCountedMiss(tier, "compressed");
      await tamper("compressed", flip(0)); // restored
      expect(same((await tier.get("compressed"))?.value, chunk)).toBe(true);

      await tamper("compressed", (b) => ((b[2] = 2), b));
      await expectCountedMiss(tier, "compressed");
      await tamper("compressed", (b) => ((b[2] = 1), (b[3] = 9), b));
      await expectCountedMiss(tier, "compressed");
      await tamper("compressed", (b) => ((b[3] = 2), flip(4)(b)));
      await expectCountedMiss(tier, "compressed");
      await tamper("raw", flip(5));
      await expectCountedMiss(tier, "raw");
    });

    it("an original length no deflate stream could produce is refused before allocating", async () => {
      const { tier, tamper } = await setup(implementation);
      await tamper("compressed", (b) => (b.fill(0xff, 4, 8), b));
      await expectCountedMiss(tier, "compressed");
    });

    it("a raw value marked as compressed, and a compressed one marked raw", async () => {
      const { tier, tamper } = await setup(implementation);
      await tamper("raw", (b) => ((b[3] = 2), b));
      await expectCountedMiss(tier, "raw");
      await tamper("compressed", (b) => ((b[3] = 0), b));
      await expectCountedMiss(tier, "compressed");
    });

    for (const codec of ["zlib", "gzip"] as const) {
      it(`a flipped payload byte fails the ${codec} checksum`, async () => {
        const { tier, tamper } = await setup(implementation, codec);
        const before = tier.stats().corruptions;
        // Flip bytes at several places; each one alone must be caught.
        for (const at of [20, 1000, 9000, 20000]) {
          await tier.set("compressed", chunk);
          await tamper("compressed", flip(at));
          await expectCountedMiss(tier, "compressed");
        }
        // And the trailer itself.
        await tier.set("compressed", chunk);
        await tamper("compressed", (b) => flip(b.byteLength - 2)(b));
        await expectCountedMiss(tier, "compressed");
        expect(tier.stats().corruptions - before).toBe(5);
      });
    }

    it("foreign bytes: random, a bare gzip stream, a short value, an empty value", async () => {
      const { inner, tier } = await setup(implementation);
      await inner.set("random", randomBytes(4096, 3));
      await inner.set("gzip", zlib.gzipSync(chunk));
      await inner.set("short", Uint8Array.of(0xa7, 0x5a, 1));
      await inner.set("empty", new Uint8Array(0));
      for (const key of ["random", "gzip", "short", "empty"]) await expectCountedMiss(tier, key);
      const many = await tier.getMany!(["gzip", "compressed", "random", "raw"]);
      expect(many.map((e) => e !== undefined)).toEqual([false, true, false, true]);
      expect(tier.stats().corruptions).toBe(6);
    });

    it("a later set() replaces an unreadable value", async () => {
      const { tier, tamper } = await setup(implementation);
      await tamper("compressed", flip(0));
      await expectCountedMiss(tier, "compressed");
      expect(await tier.has("compressed")).toBe(true); // still held below, as documented
      await tier.set("compressed", chunk);
      expect(same((await tier.get("compressed"))?.value, chunk)).toBe(true);
    });
  });
}

it("raw deflate has no checksum: a flipped payload byte never throws and never changes the length", async () => {
  for (const implementation of ["node:zlib", "fflate"] as const) {
    const { tier, tamper } = await setup(implementation, "deflate");
    for (const at of [20, 1000, 9000, 20000]) {
      await tier.set("compressed", chunk);
      await tamper("compressed", flip(at));
      const entry = await tier.get("compressed");
      if (entry !== undefined) expect(entry.value.byteLength).toBe(chunk.byteLength);
    }
  }
});
