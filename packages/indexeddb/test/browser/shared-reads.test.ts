// Reads share a readonly transaction while it is active: the gets a page issues together, and the
// reads a hit leads to at once (a shard's index, then its inner chunk), cost one transaction, not
// one each. A steady chain of reads still lets a write in.
import { indexedDb } from "@zarrs-cache/indexeddb";
import { afterEach, describe, expect, it } from "vitest";
import { dropDatabases, filled, freshName, sleep } from "./helpers.js";

afterEach(dropDatabases);

/** Counts readonly transactions opened on the payload stores while `body` runs. */
async function countingReadTransactions<T>(body: () => Promise<T>): Promise<{ result: T; transactions: number }> {
  const original = IDBDatabase.prototype.transaction;
  let transactions = 0;
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase["transaction"]>) {
    const [stores, mode] = args;
    if ((mode ?? "readonly") === "readonly" && [stores].flat().includes("values")) transactions++;
    return original.apply(this, args);
  } as IDBDatabase["transaction"];
  try {
    return { result: await body(), transactions };
  } finally {
    IDBDatabase.prototype.transaction = original;
  }
}

describe("indexedDb: reads share a transaction", () => {
  it("answers gets issued together, and gets issued as the previous one answers, in one transaction", async () => {
    const tier = indexedDb({ name: freshName("shared"), maxBytes: 8 << 20 });
    for (let i = 0; i < 10; i++) await tier.set(`k${i}`, filled(70_000 + i, i));
    await sleep(10);

    const together = await countingReadTransactions(() => Promise.all(Array.from({ length: 10 }, (_, i) => tier.get(`k${i}`))));
    expect(together.result.map((entry) => entry?.value.byteLength)).toEqual(Array.from({ length: 10 }, (_, i) => 70_000 + i));
    expect(together.result.every((entry, i) => entry!.value.every((byte) => byte === i))).toBe(true);
    expect(together.transactions).toBe(1);

    // A chain: each get starts in the continuation of the previous hit (as zarrita reads a shard
    // index, then the inner chunk it points to), and a miss in the middle does not break it.
    await sleep(0); // out of the batch's transaction
    const chained = await countingReadTransactions(async () => {
      const first = await tier.get("k1");
      const missing = await tier.get("nope");
      const second = await tier.get("k2");
      return [first?.value[0], missing, second?.value[0]];
    });
    expect(chained.result).toEqual([1, undefined, 2]);
    expect(chained.transactions).toBe(1);

    // After the page returns to the event loop, the transaction is over: the next read opens another.
    await sleep(0);
    const later = await countingReadTransactions(async () => {
      await tier.get("k3");
      await sleep(0);
      return tier.get("k4");
    });
    expect(later.result?.value[0]).toBe(4);
    expect(later.transactions).toBe(2);
    await tier.close();
  });

  it("lets a write in while reads keep chaining (a transaction takes a bounded number of reads)", async () => {
    const tier = indexedDb({ name: freshName("chain"), maxBytes: 8 << 20 });
    await tier.set("hot", filled(100, 1));
    const reads = 2000;
    let done = 0;
    let doneWhenWritten = -1;
    const chain = (async () => {
      for (; done < reads; done++) expect((await tier.get("hot"))?.value.byteLength).toBeGreaterThan(0);
    })();
    await sleep(0);
    await tier.set("other", filled(10, 2));
    doneWhenWritten = done;
    await chain;
    // Without the bound the write would wait for the whole chain of reads.
    expect(doneWhenWritten).toBeLessThan(reads);
    expect((await tier.get("other"))?.value[0]).toBe(2);
    await tier.close();
  });
});
