import { forwardingTier } from "@zarrs-cache/core/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import type { CacheEntry, CacheTier, SetOptions, TierGetOptions } from "@zarrs-cache/core";
import { MemoryTier, memory } from "@zarrs-cache/memory";
import { compressed } from "@zarrs-cache/compression";
import { MiB, floatField, randomBytes, same, shuffled } from "./data.js";

const open: CacheTier[] = [];
const track = <T extends CacheTier>(tier: T): T => (open.push(tier), tier);
afterEach(async () => {
  for (const tier of open.splice(0)) await tier.close();
});

interface Handed {
  key: string;
  value: Uint8Array;
  buffer: ArrayBufferLike;
  options: SetOptions | undefined;
}

/** A memory tier that records what it is handed; it keeps a buffer only when told `transfer`, as memory() does. */
class RecordingTier extends MemoryTier {
  readonly handed: Handed[] = [];
  /** Copy every value, like a disk or a network tier: never keep the caller's buffer. */
  protected copies = false;
  override async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    this.handed.push({ key, value, buffer: value.buffer, options });
    return super.set(key, value, this.copies ? { ...options, transfer: false } : options);
  }
}

class CopyingTier extends RecordingTier {
  protected override copies = true;
}

/** Takes its copy 1 ms after set() was called: a buffer lent to it must stay untouched until set() resolves. */
class LateCopyingTier extends CopyingTier {
  override async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return super.set(key, value, options);
  }
}

const newRecording = () => track(new RecordingTier({ maxBytes: 32 * MiB }));
const newCopying = () => track(new CopyingTier({ maxBytes: 32 * MiB }));
const values = (count: number, size: number) => Array.from({ length: count }, (_, i) => randomBytes(size + i, i + 1));

describe("stored buffers: handed over to a tier that keeps them, reused for one that copies", () => {
  it("memory() keeps the very buffer it was handed (transfer), a fresh one for every value", async () => {
    const inner = newRecording();
    const tier = compressed(inner);
    const written = values(6, 4096);
    for (const [i, value] of written.entries()) await tier.set(`k/${i}`, value);
    expect(inner.handed.map((h) => h.options?.transfer)).toEqual(written.map(() => true));
    expect(new Set(inner.handed.map((h) => h.buffer)).size).toBe(written.length);
    for (const [i, handed] of inner.handed.entries()) {
      expect(inner.getSync(`k/${i}`)!.value).toBe(handed.value); // kept, not copied
      expect(handed.value.byteLength).toBe(written[i]!.byteLength + 8);
    }
    for (const [i, value] of written.entries()) expect(same((await tier.get(`k/${i}`))?.value, value)).toBe(true);
  });

  it("a tier that copies gets one warm buffer again and again, without transfer, and reads stay right", async () => {
    const inner = newCopying();
    const tier = compressed(inner);
    const written = [shuffled(floatField(64 * 1024, 3)), ...values(8, 64 * 1024), ...values(3, 1000)];
    for (const [i, value] of written.entries()) await tier.set(`k/${i}`, value, { ttl: 60_000 });
    expect(tier.stats()).toMatchObject({ storedCompressed: 1, storedRaw: written.length - 1 });
    // The first value was handed over (the tier was asked whether it kept it); from then on one buffer serves.
    expect(inner.handed[0]!.options).toEqual({ ttl: 60_000, transfer: true });
    const later = inner.handed.slice(1);
    expect(later.every((h) => h.options?.transfer === undefined && h.options?.ttl === 60_000)).toBe(true);
    expect(new Set(later.map((h) => h.buffer)).size).toBe(1);
    // Smaller values get a view of it; a later read of each key has its own bytes.
    expect(later.at(-1)!.value.byteLength).toBeLessThan(later.at(-1)!.buffer.byteLength);
    for (const [i, value] of written.entries()) expect(same((await tier.get(`k/${i}`))?.value, value)).toBe(true);
  });

  it("never rewrites a buffer before the inner set() has resolved, however many are in flight", async () => {
    const inner = track(new LateCopyingTier({ maxBytes: 32 * MiB }));
    const tier = compressed(inner);
    await tier.set("first", randomBytes(2048, 99)); // settles the mode: this tier copies
    const written = [...values(16, 16 * 1024), ...Array.from({ length: 8 }, (_, i) => shuffled(floatField(16 * 1024, i + 1)))];
    for (let round = 0; round < 3; round++) {
      const writes: Promise<void>[] = [];
      for (const [i, value] of written.entries()) {
        writes.push(tier.set(`k/${i}`, value));
        if (i % 5 === 4) await writes.at(-1); // some finish (their buffer is reused) while others are still in flight
      }
      await Promise.all(writes);
      for (const [i, value] of written.entries())
        expect(same((await tier.get(`k/${i}`))?.value, value), `round ${round}, k/${i}`).toBe(true);
    }
    expect(new Set(inner.handed.map((h) => h.buffer)).size).toBeLessThan(inner.handed.length); // some were reused
  });

  it("a caller's transfer is not passed on with a reused buffer (it was about the caller's buffer)", async () => {
    // Keeps what it is handed with transfer (as memory() does) but answers reads with copies, so the
    // wrapper takes it for a copying tier. Passing the caller's transfer on would let it keep our buffer.
    class KeepsButReadsCopies extends RecordingTier {
      override getSync(key: string): CacheEntry | undefined {
        const entry = super.getSync(key);
        return entry && { ...entry, value: entry.value.slice() };
      }
    }
    const inner = track(new KeepsButReadsCopies({ maxBytes: 32 * MiB }));
    const tier = compressed(inner);
    const written = values(6, 8192);
    for (const [i, value] of written.entries()) await tier.set(`k/${i}`, value.slice(), { transfer: true, fill: true });
    expect(inner.handed.slice(1).map((h) => h.options)).toEqual(written.slice(1).map(() => ({ transfer: false, fill: true })));
    for (const [i, value] of written.entries()) expect(same((await tier.get(`k/${i}`))?.value, value)).toBe(true);
  });

  it("a buffer whose inner set() failed is not reused", async () => {
    class RefusesSome extends CopyingTier {
      override async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
        if (key.startsWith("refused/")) {
          this.handed.push({ key, value, buffer: value.buffer, options });
          throw new Error("refused");
        }
        return super.set(key, value, options);
      }
    }
    const inner = track(new RefusesSome({ maxBytes: 32 * MiB }));
    const tier = compressed(inner);
    await tier.set("a", randomBytes(4096, 1)); // handed over; the tier answers with a copy
    await tier.set("b", randomBytes(4096, 2)); // a warm buffer, given back afterwards
    await expect(tier.set("refused/c", randomBytes(4096, 3))).rejects.toThrow("refused");
    await tier.set("d", randomBytes(4096, 4));
    const [, b, refused, d] = inner.handed;
    expect(refused!.buffer).toBe(b!.buffer);
    expect(d!.buffer).not.toBe(refused!.buffer);
    expect(tier.stats()).toMatchObject({ storedRaw: 3, bytesIn: 3 * 4096 });
    expect(same((await tier.get("d"))?.value, randomBytes(4096, 4))).toBe(true);
  });

  it("two set()s in flight at the first write do not mislead the question (memory() still keeps its buffers)", async () => {
    const inner = newRecording();
    const tier = compressed(inner);
    await Promise.all([tier.set("k", randomBytes(4096, 1)), tier.set("k", randomBytes(4096, 2))]);
    for (let i = 0; i < 4; i++) await tier.set(`k/${i}`, randomBytes(4096, i + 3));
    expect(inner.handed.every((h) => h.options?.transfer === true)).toBe(true);
    expect(inner.getSync("k/3")!.value).toBe(inner.handed.at(-1)!.value);
  });

  it("settles on transfer when the key is never found right after the write", async () => {
    class ForgetsAtOnce extends RecordingTier {
      lookups = 0;
      override getSync(key: string): CacheEntry | undefined {
        return ++this.lookups <= 4 ? undefined : super.getSync(key);
      }
    }
    const inner = track(new ForgetsAtOnce({ maxBytes: 32 * MiB }));
    const tier = compressed(inner);
    for (let i = 0; i < 8; i++) await tier.set(`k/${i}`, randomBytes(2048, i + 1));
    expect(inner.lookups).toBe(4); // asked after each of the first 4 writes, then no more
    expect(inner.handed.every((h) => h.options?.transfer === true)).toBe(true);
    expect(same((await tier.get("k/7"))?.value, randomBytes(2048, 8))).toBe(true);
  });

  it("a tier without getSync is always handed fresh buffers with transfer, and get() options reach it", async () => {
    const below = newRecording();
    const gets: (TierGetOptions | undefined)[] = [];
    // Only the required methods: like a Redis or Keyv tier.
    const plain = forwardingTier(below, {
      name: "plain",
      get: (key, options) => (gets.push(options), below.get(key)),
      close: async () => undefined,
    });
    const tier = compressed(plain);
    const written = values(5, 4096);
    for (const [i, value] of written.entries()) await tier.set(`k/${i}`, value);
    expect(below.handed.every((h) => h.options?.transfer === true)).toBe(true);
    expect(new Set(below.handed.map((h) => h.buffer)).size).toBe(written.length);
    expect(same((await tier.get("k/1", { load: false }))?.value, written[1]!)).toBe(true);
    expect(same((await tier.get("k/2"))?.value, written[2]!)).toBe(true);
    expect(gets).toEqual([{ load: false }, undefined]);
  });
});

describe("sizes are counted as they were handed over", () => {
  it("even when the tier detaches the buffer it was handed (transfer) or the caller detaches its own", async () => {
    // A tier may move a transferred buffer on (postMessage to a worker, say): that detaches it here.
    class MovesItAway extends MemoryTier {
      override async set(key: string, value: Uint8Array, options?: SetOptions): Promise<void> {
        if (!options?.transfer) return super.set(key, value, options);
        const moved = structuredClone(value.buffer, { transfer: [value.buffer as ArrayBuffer] });
        expect(value.byteLength).toBe(0); // detached
        return super.set(key, new Uint8Array(moved, value.byteOffset, moved.byteLength), options);
      }
    }
    const tier = compressed(track(new MovesItAway({ maxBytes: MiB })));
    const value = randomBytes(4096, 7);
    const expected = value.slice();
    const write = tier.set("k", value);
    structuredClone(value.buffer, { transfer: [value.buffer] }); // the caller moves its buffer on without waiting
    await write;
    expect(tier.stats()).toMatchObject({ bytesIn: 4096, bytesOut: 4096 + 8, storedRaw: 1 });
    expect(same((await tier.get("k"))?.value, expected)).toBe(true);
  });
});

describe("reads", () => {
  it("go through getSync when the inner tier has it (same answers, no extra promise)", async () => {
    class CountingTier extends MemoryTier {
      asyncGets = 0;
      syncGets = 0;
      override async get(key: string): Promise<CacheEntry | undefined> {
        this.asyncGets++;
        return super.get(key);
      }
      override getSync(key: string): CacheEntry | undefined {
        this.syncGets++;
        return super.getSync(key);
      }
    }
    const inner = track(new CountingTier({ maxBytes: MiB }));
    const tier = compressed(inner);
    await tier.set("k", randomBytes(1000, 5), { ttl: 60_000 });
    const before = inner.syncGets;
    const entry = await tier.get("k");
    expect(same(entry?.value, randomBytes(1000, 5))).toBe(true);
    expect(entry!.expiresAt).toBe(inner.getSync("k")!.expiresAt);
    expect(await tier.get("missing")).toBeUndefined();
    expect(inner.syncGets - before).toBe(3); // two through the wrapper, one above
    expect(inner.asyncGets).toBe(0);
    expect(tier.stats()).toMatchObject({ hits: 1, misses: 1 });
  });
});

describe("timing counters", () => {
  it("a value the run of incompressible ones lets through unseen adds nothing to compressMs", async () => {
    const tier = compressed(track(memory({ maxBytes: 8 * MiB })));
    for (let i = 0; i < 4; i++) await tier.set(`r/${i}`, randomBytes(4096, i + 1));
    const before = tier.stats();
    expect(before.compressMs).toBeGreaterThan(0);
    await tier.set("r/4", randomBytes(4096, 5)); // the fifth in a row is not sampled
    const after = tier.stats();
    expect(after.entropySkips - before.entropySkips).toBe(1);
    expect(after.compressMs).toBe(before.compressMs);
  });
});
