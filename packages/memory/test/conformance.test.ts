import { describeTierConformance } from "@zarrs-cache/core/testing";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";

describeTierConformance("memory", {
  create: () => memory({ maxBytes: 8 * 1024 * 1024 }),
  largeValueBytes: 1 << 20,
  oversizedValueBytes: 9 * 1024 * 1024,
});

describe("memory: handing a buffer over", () => {
  it("keeps a transferred whole buffer without copying, and copies anything else", async () => {
    const tier = memory({ maxBytes: 1 << 20 });
    const whole = new Uint8Array([1, 2, 3]);
    await tier.set("whole", whole, { transfer: true });
    expect((await tier.get("whole"))!.value).toBe(whole);
    const view = new Uint8Array(64).subarray(8, 16);
    await tier.set("view", view, { transfer: true });
    expect((await tier.get("view"))!.value).not.toBe(view); // would retain the 64-byte backing store
    const kept = new Uint8Array([4]);
    await tier.set("kept", kept);
    expect((await tier.get("kept"))!.value).not.toBe(kept);
    await expect(tier.set("x", kept, { transfer: "yes" as never })).rejects.toThrow(/transfer/);
    await tier.close();
  });
});
