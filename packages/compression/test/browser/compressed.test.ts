// compressed() in Chromium: no node:zlib there, so the default implementation must fall back to
// fflate, and what it stores must round-trip through the conformance suite.
import { compressed } from "@zarrs-cache/compression";
import { describeTierConformance } from "@zarrs-cache/core/testing";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";

const inner = () => memory({ maxBytes: 8 * 1024 * 1024 });

describeTierConformance("compressed(memory) in Chromium", {
  create: () => compressed(inner()),
  oversizedValueBytes: 9 * 1024 * 1024,
});

describeTierConformance("compressed(memory) in Chromium, always compressing (gzip)", {
  create: () => compressed(inner(), { codec: "gzip", minBytes: 0, minSavings: 0, entropyCheck: false }),
});

describe("compressed() in Chromium", () => {
  it("shrinks a compressible value with fflate and reads it back", async () => {
    const under = inner();
    const tier = compressed(under);
    const value = new Uint8Array(64 * 1024).map((_, i) => i % 7);
    await tier.set("smooth", value);
    const stored = await under.get("smooth");
    expect(stored!.value.byteLength).toBeLessThan(value.byteLength / 4);
    expect(Array.from((await tier.get("smooth"))!.value)).toEqual(Array.from(value));
    expect(typeof (globalThis as { process?: unknown }).process).toBe("undefined"); // really a browser, not Node
    await tier.close();
  });
});
