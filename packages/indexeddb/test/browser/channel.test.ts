// Invalidation messages between two tiers on one database (in one page, as in two tabs).
import type { TierInvalidation } from "@zarrs-cache/core";
import { indexedDb } from "@zarrs-cache/indexeddb";
import { afterEach, describe, expect, it } from "vitest";
import { dropDatabases, filled, freshName, waitFor } from "./helpers.js";

afterEach(dropDatabases);

describe("indexedDb: invalidation messages", () => {
  it("tells the other tier about writes, deletes, prefix deletes and clears, not fills; and never itself", async () => {
    const name = freshName("channel");
    const writer = indexedDb({ name, maxBytes: 1 << 20 });
    const reader = indexedDb({ name, maxBytes: 1 << 20 });
    const heardByReader: TierInvalidation[] = [];
    const heardByWriter: TierInvalidation[] = [];
    reader.onInvalidation((m) => heardByReader.push(m));
    writer.onInvalidation((m) => heardByWriter.push(m));
    await writer.set("filled", filled(4, 1), { fill: true });
    await writer.set("k", filled(4, 2));
    await writer.delete("k");
    await writer.deletePrefix("p/");
    await writer.clear();
    await waitFor(() => heardByReader.length >= 4);
    expect(heardByReader).toEqual([
      { kind: "keys", keys: ["k"] },
      { kind: "keys", keys: ["k"] },
      { kind: "prefix", prefix: "p/" },
      { kind: "all" },
    ]);
    expect(heardByWriter).toEqual([]);
    // The reader's origin-wide totals follow the writer's writes.
    expect(reader.stats().entries).toBe(0);
    await writer.set("x", filled(100, 3));
    expect(await waitFor(() => reader.stats().entries === 1)).toBe(true);
    await writer.close();
    await reader.close();
  });

  it("stays silent with broadcast: false", async () => {
    const name = freshName("silent");
    const writer = indexedDb({ name, maxBytes: 1 << 20, broadcast: false });
    const fence = indexedDb({ name, maxBytes: 1 << 20 });
    const reader = indexedDb({ name, maxBytes: 1 << 20 });
    const heard: TierInvalidation[] = [];
    reader.onInvalidation((m) => heard.push(m));
    await writer.set("k", filled(4, 2));
    // A message posted after the silent write arrives after anything that write could have posted.
    await fence.set("fence", filled(4, 3));
    await waitFor(() => heard.length >= 1);
    expect(heard).toEqual([{ kind: "keys", keys: ["fence"] }]);
    await writer.close();
    await fence.close();
    await reader.close();
  });
});
