// Runs in Node: option checks, and what happens where there is no IndexedDB at all.
import { createCache } from "@zarrs-cache/core";
import { indexedDb } from "@zarrs-cache/indexeddb";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";

describe("indexedDb(): options", () => {
  it("refuses unknown options with a did-you-mean", () => {
    expect(() => indexedDb({ maxbytes: 10 } as never)).toThrow(/unknown option "maxbytes" — did you mean "maxBytes"/);
    expect(() => indexedDb({ maxBytes: 10, tll: 5 } as never)).toThrow(/did you mean "ttl"/);
  });

  it("refuses bad values, naming the option", () => {
    const cases: [object, RegExp][] = [
      [{}, /"maxBytes" must be an integer >= 1/],
      [{ maxBytes: 0 }, /"maxBytes"/],
      [{ maxBytes: 10, ttl: -1 }, /"ttl" must be a positive number/],
      [{ maxBytes: 10, name: "" }, /"name" must be a non-empty string/],
      [{ maxBytes: 10, maxValueBytes: 1.5 }, /"maxValueBytes"/],
      [{ maxBytes: 10, broadcast: "yes" }, /"broadcast" must be a boolean/],
      [{ maxBytes: 10, factory: {} }, /"factory" must be an IDBFactory/],
      [{ maxBytes: 10, touchDelay: -1 }, /"touchDelay"/],
    ];
    for (const [options, message] of cases) {
      expect(() => indexedDb(options as never)).toThrow(message);
      try {
        indexedDb(options as never);
      } catch (error) {
        expect((error as { code: string }).code).toBe("INVALID_CONFIG");
      }
    }
    expect(() => indexedDb(null as never)).toThrow(/options must be an object/);
  });
});

describe("indexedDb() where there is no IndexedDB (Node, old browsers)", () => {
  it("fails build() with a clear error", () => {
    expect(typeof (globalThis as { indexedDB?: unknown }).indexedDB).toBe("undefined");
    const build = () =>
      createCache()
        .tier(memory({ maxBytes: 1024 }))
        .tier(indexedDb({ maxBytes: 1024 }))
        .build();
    expect(build).toThrow(/indexedDb\(\): this environment has no IndexedDB/);
    expect(build).toThrow(expect.objectContaining({ code: "TIER_UNAVAILABLE" }));
  });

  it("rejects each operation with TIER_UNAVAILABLE when used directly", async () => {
    const tier = indexedDb({ maxBytes: 1024 });
    await expect(tier.get("k")).rejects.toMatchObject({ code: "TIER_UNAVAILABLE" });
    await expect(tier.set("k", new Uint8Array(1))).rejects.toMatchObject({ code: "TIER_UNAVAILABLE" });
    await tier.close();
  });
});
