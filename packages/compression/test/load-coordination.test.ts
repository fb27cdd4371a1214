import type { CacheEntry, TierGetOptions } from "@zarrs-cache/core";
import { MemoryTier } from "@zarrs-cache/memory";
import { compressed } from "@zarrs-cache/compression";
import { describe, expect, it } from "vitest";

/** An in-process tier that also coordinates loads (like the disk tier): records how it was read and settled. */
class Coordinating extends MemoryTier {
  readonly reads: string[] = [];
  readonly settled: string[] = [];
  override getSync(key: string): CacheEntry | undefined {
    this.reads.push(`getSync ${key}`);
    return super.getSync(key);
  }
  override async get(key: string, options?: TierGetOptions): Promise<CacheEntry | undefined> {
    this.reads.push(`get ${key} ${JSON.stringify(options)}`);
    return super.getSync(key);
  }
  loadSettled(key: string, outcome: string): void {
    this.settled.push(`${key} ${outcome}`);
  }
}

describe("compressed() passes load coordination through", () => {
  it("a loading read of a coordinating tier goes through its get with { load: true }; loadSettled is forwarded", async () => {
    const inner = new Coordinating({ maxBytes: 1 << 20 });
    const tier = compressed(inner);
    await tier.get("a", { load: true });
    await tier.get("b", { load: false });
    await tier.get("c");
    expect(inner.reads).toEqual(['get a {"load":true}', "getSync b", "getSync c"]);
    tier.loadSettled!("a", "failed");
    expect(inner.settled).toEqual(["a failed"]);
  });

  it("over a tier without loadSettled, reads stay synchronous and there is nothing to forward", async () => {
    const inner = new MemoryTier({ maxBytes: 1 << 20 });
    const tier = compressed(inner);
    expect(tier.loadSettled).toBeUndefined();
    expect(await tier.get("a", { load: true })).toBeUndefined();
  });
});
