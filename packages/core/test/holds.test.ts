import { createCache, type CacheTier, type HoldScope, type TieredCache, type TierInvalidation } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, sleep } from "./helpers.js";

const MiB = 1024 * 1024;
const open: TieredCache[] = [];
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close();
});

const scopeId = (scope: HoldScope) => (scope.key !== undefined ? scope.key : `${scope.prefix}*`);
const covers = (id: string, key: string) => (id.endsWith("*") ? key.startsWith(id.slice(0, -1)) : id === key);

/**
 * A level two processes share (as a disk directory is), over one memory tier, with holds as
 * `CacheTier.hold` describes them: a fill whose load began before a covering hold ended is refused.
 * Its close() does nothing: both caches use it. `log` records holds, releases, deletes, refusals.
 */
function sharedLevel() {
  const inner = memory({ maxBytes: MiB, name: "shared" });
  const holds = new Map<string, number>();
  const log: string[] = [];
  const heldUntil = (key: string) => Math.max(-Infinity, ...[...holds].filter(([id]) => covers(id, key)).map(([, until]) => until));
  const tier: CacheTier = {
    name: "shared",
    get: (key) => inner.get(key),
    set: async (key, value, options) => {
      if (options?.fill && heldUntil(key) >= (options.loadStartedAt ?? Date.now())) {
        log.push(`refused ${key}`);
        return;
      }
      await inner.set(key, value, options);
    },
    delete: async (key) => {
      log.push(`delete ${key}`);
      return inner.delete(key);
    },
    has: (key) => inner.has(key),
    clear: () => inner.clear(),
    keys: (prefix) => inner.keys(prefix),
    stats: () => inner.stats(),
    close: async () => undefined,
    hold: async (scope, until) => {
      const id = scopeId(scope);
      log.push(`hold ${id}`);
      holds.set(id, Math.max(holds.get(id) ?? -Infinity, until));
    },
    release: async (scope) => {
      const id = scopeId(scope);
      log.push(`release ${id}`);
      if (holds.has(id)) holds.set(id, Math.min(holds.get(id)!, Date.now()));
    },
  };
  return { tier, log, inner };
}

/**
 * One process's view of a shared lower level (as Redis is): while `cut`, its updates fail and are
 * recorded for repair, and it reads recorded keys as misses; `heal()` repairs them (deletes them
 * in the shared level) and, with `announce`, tells the cache so as Redis's repair does.
 */
function partitionedView(shared: CacheTier, options: { repairs?: boolean } = {}) {
  const pending = new Set<string>();
  const listeners: ((message: TierInvalidation) => void)[] = [];
  const isPending = (key: string) => [...pending].some((id) => covers(id, key));
  const control = {
    cut: false,
    /** While set, a cut-off update waits for it before failing (a slow timeout). */
    failGate: undefined as Promise<void> | undefined,
    pending,
    async heal(announce = true) {
      control.cut = false;
      const ids = [...pending];
      for (const id of ids) {
        if (id.endsWith("*")) for await (const key of shared.keys(id.slice(0, -1))) await shared.delete(key);
        else await shared.delete(id);
      }
      pending.clear();
      if (announce) for (const listener of listeners) listener({ kind: "keys", keys: ids.filter((id) => !id.endsWith("*")) });
    },
  };
  const fail = async (id: string): Promise<never> => {
    if (control.failGate) await control.failGate;
    pending.add(id);
    throw new Error("cut off");
  };
  const tier: CacheTier = {
    name: "lower",
    get: async (key) => (control.cut || isPending(key) ? undefined : shared.get(key)),
    set: async (key, value, o) => (control.cut ? fail(key) : shared.set(key, value, o)),
    delete: async (key) => (control.cut ? fail(key) : shared.delete(key)),
    deletePrefix: async (prefix) => {
      if (control.cut) await fail(`${prefix}*`);
      let removed = 0;
      for await (const key of shared.keys(prefix)) if (await shared.delete(key)) removed++;
      return removed;
    },
    has: (key) => shared.has(key),
    clear: () => shared.clear(),
    keys: (prefix) => shared.keys(prefix),
    stats: () => shared.stats(),
    close: async () => undefined,
    onInvalidation(listener) {
      listeners.push(listener);
      return () => undefined;
    },
  };
  if (options.repairs !== false) {
    tier.repairPending = (scope) =>
      scope.key !== undefined ? isPending(scope.key) : [...pending].some((id) => id.startsWith(scope.prefix));
  }
  return { tier, control };
}

/** Writer and sibling process over one shared level and one shared lower level; the writer's view of the lower one can be cut. */
function twoProcesses(holdTime?: number, repairs = true) {
  const disk = sharedLevel();
  const redis = memory({ maxBytes: MiB, name: "redis" });
  const writerView = partitionedView(redis, { repairs });
  const siblingView = partitionedView(redis);
  const options = holdTime === undefined ? {} : { holdTime };
  const writer = createCache(options)
    .tier(memory({ maxBytes: MiB }))
    .tier(disk.tier)
    .tier(writerView.tier)
    .build();
  const sibling = createCache(options)
    .tier(memory({ maxBytes: MiB }))
    .tier(disk.tier)
    .tier(siblingView.tier)
    .build();
  open.push(writer, sibling);
  const upstream = new Map<string, Uint8Array>();
  const read = async (cache: TieredCache, key: string) => (await cache.getOrLoad(key, async () => upstream.get(key)))?.[0];
  const write = (key: string, value: number) => writer.write(key, bytes(value), () => void upstream.set(key, bytes(value)));
  return { disk, redis, writer, sibling, writerView, upstream, read, write };
}

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe("holds after a failed update of a lower tier", () => {
  it("the shared upper tier refuses a sibling's fill of the older value; the writer never reads it back", async () => {
    const p = twoProcesses();
    p.upstream.set("k", bytes(1));
    expect(await p.read(p.writer, "k")).toBe(1);
    await p.writer.flush();

    p.writerView.control.cut = true;
    const result = await p.write("k", 2);
    expect(result.mayBeStale).toBe(true);
    expect(p.writer.stats().holds).toBe(1);
    expect(p.disk.log).toContain("hold k");
    // The writer's own new value stays in the shared level.
    expect((await p.disk.tier.get("k"))?.value[0]).toBe(2);

    // The sibling's bus resync clears the shared level; it then finds the older value below.
    await p.disk.tier.clear();
    expect(await p.read(p.sibling, "k")).toBe(1);
    await p.sibling.flush();
    expect(p.disk.log).toContain("refused k");
    expect(await p.disk.tier.get("k")).toBeUndefined();
    // The writer's memory level lost the key (evicted): it must not find the older value anywhere.
    await p.writer.levels[0]!.clear();
    expect(await p.read(p.writer, "k")).toBe(2);

    // Repaired: the hold ends, and a load that begins now fills the shared level again.
    await p.writerView.control.heal();
    await waitFor(() => p.writer.stats().holds === 0, 2000, "the release");
    expect(p.disk.log).toContain("release k");
    await p.sibling.levels[0]!.clear();
    expect(await p.read(p.sibling, "k")).toBe(2);
    await p.sibling.flush();
    expect((await p.disk.tier.get("k"))?.value[0]).toBe(2);
  });

  it("deletes an older copy a sibling filled in before the hold, and keeps the writer's value otherwise", async () => {
    const p = twoProcesses();
    p.upstream.set("k", bytes(1));
    expect(await p.read(p.writer, "k")).toBe(1);
    await p.writer.flush();
    p.writerView.control.cut = true;
    let timeout!: () => void;
    p.writerView.control.failGate = new Promise<void>((resolve) => (timeout = resolve));
    const writing = p.write("k", 2);
    await sleep(10);
    // While the writer's Redis calls hang: the sibling's resync clears the level, the sibling fills it from Redis.
    await p.disk.tier.clear();
    expect(await p.read(p.sibling, "k")).toBe(1);
    await p.sibling.flush();
    expect((await p.disk.tier.get("k"))?.value[0]).toBe(1);
    timeout();
    expect((await writing).mayBeStale).toBe(true);
    expect(await p.disk.tier.get("k")).toBeUndefined();
    await p.writer.levels[0]!.clear();
    expect(await p.read(p.writer, "k")).toBe(2);
  });

  it("holds the tiers above before clearing them, for a failed delete and a failed invalidate(prefix)", async () => {
    const p = twoProcesses();
    p.writerView.control.cut = true;
    const deleted = await p.writer.delete("gone");
    expect(deleted).toBe(false);
    await p.writer.invalidate("arr/");
    const log = p.disk.log.filter((line) => !line.startsWith("refused"));
    expect(log.indexOf("hold gone")).toBeGreaterThanOrEqual(0);
    expect(log.indexOf("hold gone")).toBeLessThan(log.indexOf("delete gone"));
    expect(log).toContain("hold arr/*");
    expect(p.writer.stats().holds).toBe(2);
    // A write whose lower update worked holds nothing.
    p.writerView.control.cut = false;
    await p.write("fine", 1);
    expect(p.writer.stats().holds).toBe(2);
  });

  it("renews a hold while the failed tier reports its repair pending; releases it once repaired, even unannounced", async () => {
    const p = twoProcesses(60);
    p.writerView.control.cut = true;
    await p.write("k", 2);
    await sleep(250);
    const holds = p.disk.log.filter((line) => line === "hold k").length;
    expect(holds, "renewals").toBeGreaterThanOrEqual(3);
    expect(p.writer.stats().holds).toBe(1);
    await p.writerView.control.heal(false);
    await waitFor(() => p.writer.stats().holds === 0, 1000, "the release at renewal");
    expect(p.disk.log).toContain("release k");
  });

  it("lets a hold lapse after holdTime where the failed tier cannot report repairs", async () => {
    const p = twoProcesses(60, false);
    p.writerView.control.cut = true;
    await p.write("k", 2);
    expect(p.writer.stats().holds).toBe(1);
    await waitFor(() => p.writer.stats().holds === 0, 1000, "the lapse");
    expect(p.disk.log.filter((line) => line === "hold k")).toHaveLength(1);
    expect(p.disk.log).not.toContain("release k");
  });

  it("takes a holdTime, and refuses a bad one naming it", async () => {
    await createCache({ holdTime: 50 })
      .tier(memory({ maxBytes: MiB }))
      .build()
      .close();
    for (const holdTime of [-5, Number.NaN, "30s"]) {
      expect(() =>
        createCache({ holdTime: holdTime as number })
          .tier(memory({ maxBytes: MiB }))
          .build(),
      ).toThrow(/option "holdTime"/);
    }
  });
});
