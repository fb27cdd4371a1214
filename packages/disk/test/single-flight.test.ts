import { disk, type DiskOptions, type DiskTier } from "@zarrs-cache/disk";
import { afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, expectCode, same, tempDir } from "./helpers.js";

// Two disk tiers on one directory behave as two processes would (each has its own lease owner id);
// the real-process cases (an owner SIGKILLed mid-load) are in packages/hybrid/test/fleet.test.ts.
const tiers: DiskTier[] = [];
function open(dir: string, options: Partial<DiskOptions> = {}): DiskTier {
  const tier = disk({ dir, maxBytes: 16 * 1024 * 1024, ...options });
  tier.open();
  tiers.push(tier);
  return tier;
}

afterEach(async () => {
  for (const tier of tiers.splice(0)) await tier.close();
  cleanupTempDirs();
});

const LOAD = { load: true } as const;

describe("cross-process single-flight through the directory", () => {
  it("a second miss of a key another tier is loading waits for its fill instead of loading", async () => {
    const dir = tempDir("flight");
    const [a, b] = [open(dir), open(dir)];
    expect(await a.get("k", LOAD)).toBeUndefined(); // a takes the lease: its caller loads
    let settled = false;
    const waiting = b.get("k", LOAD).then((entry) => ((settled = true), entry));
    await new Promise((r) => setTimeout(r, 60));
    expect(settled).toBe(false);
    await a.set("k", bytes(100, 7), { fill: true, loadStartedAt: Date.now() });
    const entry = await waiting;
    expect(same(entry?.value, bytes(100, 7))).toBe(true);
    expect(a.stats()).toMatchObject({ leasesTaken: 1, leasesHeld: 0 });
    expect(b.stats()).toMatchObject({ leaseWaits: 1, leaseWaitHits: 1, leasesTaken: 0, hits: 1, misses: 0 });
  });

  it("the owner's load ending without a fill (loadSettled) lets one waiter take the lease over at once", async () => {
    const dir = tempDir("flight");
    const [a, b, c] = [open(dir), open(dir), open(dir)];
    await a.get("k", LOAD);
    const waits = [b.get("k", LOAD), c.get("k", LOAD)];
    await new Promise((r) => setTimeout(r, 30));
    const released = Date.now();
    a.loadSettled("k", "failed");
    // One waiter takes over (answers "miss": its caller loads); the other keeps waiting for it.
    const first = await Promise.race(waits.map((w, i) => w.then(() => i)));
    expect(Date.now() - released).toBeLessThan(1000);
    const [owner, waiter] = first === 0 ? [b, c] : [c, b];
    expect(owner.stats()).toMatchObject({ leaseTakeovers: 1, leasesHeld: 1 });
    await owner.set("k", bytes(10, 2), { fill: true });
    expect(same((await waits[first === 0 ? 1 : 0])?.value, bytes(10, 2))).toBe(true);
    expect(waiter.stats().leaseWaitHits).toBe(1);
    expect(a.stats().leasesAbandoned).toBe(1);
  });

  it("waits are bounded by `wait`: then the waiter loads itself", async () => {
    const dir = tempDir("flight");
    const a = open(dir);
    const b = open(dir, { singleFlight: { wait: 150 } });
    await a.get("k", LOAD);
    const started = Date.now();
    expect(await b.get("k", LOAD)).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(b.stats()).toMatchObject({ leaseTimeouts: 1, leaseWaits: 1 });
  });

  it("an expired lease is taken over", async () => {
    const dir = tempDir("flight");
    const a = open(dir, { singleFlight: { leaseTtl: 100 } });
    const b = open(dir);
    await a.get("k", LOAD);
    expect(await b.get("k", LOAD)).toBeUndefined();
    expect(b.stats()).toMatchObject({ leaseTakeovers: 1 });
  });

  it("closing the owner releases its leases and wakes the waiters", async () => {
    const dir = tempDir("flight");
    const [a, b] = [open(dir), open(dir)];
    await a.get("k", LOAD);
    const waiting = b.get("k", LOAD);
    await new Promise((r) => setTimeout(r, 20));
    const closedAt = Date.now();
    await a.close();
    expect(await waiting).toBeUndefined();
    expect(Date.now() - closedAt).toBeLessThan(1000);
    expect(b.stats().leaseTakeovers).toBe(1);
  });

  it("the owner is never made to wait on its own lease", async () => {
    const dir = tempDir("flight");
    const a = open(dir);
    expect(await a.get("k", LOAD)).toBeUndefined();
    const started = Date.now();
    expect(await a.get("k", LOAD)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(100);
    expect(a.stats()).toMatchObject({ leaseWaits: 0, leasesTaken: 1, leasesHeld: 1 });
  });

  it("reads that will not load (no `load: true`) neither take a lease nor wait", async () => {
    const dir = tempDir("flight");
    const [a, b] = [open(dir), open(dir)];
    await a.get("k", LOAD);
    const started = Date.now();
    expect(await b.get("k")).toBeUndefined();
    expect(await b.get("k", { load: false })).toBeUndefined();
    expect(b.getSync("k")).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(100);
    expect(b.stats().leaseWaits).toBe(0);
  });

  it("singleFlight: false turns it off", async () => {
    const dir = tempDir("flight");
    const a = open(dir);
    const b = open(dir, { singleFlight: false });
    await a.get("k", LOAD);
    expect(await b.get("k", LOAD)).toBeUndefined();
    expect(b.stats()).toMatchObject({ leaseWaits: 0, leasesTaken: 0 });
  });

  it("a refused or failed fill still releases the lease", async () => {
    const dir = tempDir("flight");
    const [a, b] = [open(dir), open(dir)];
    await a.get("k", LOAD);
    // A load that began before a delete of the key: the fill is refused, the lease must still go.
    const loadStartedAt = Date.now() - 5;
    await b.delete("k");
    await a.set("k", bytes(5, 1), { fill: true, loadStartedAt });
    expect(a.stats()).toMatchObject({ fillsRefused: 1, leasesHeld: 0 });
    await a.get("big", LOAD);
    await expectCode(a.set("big", new Uint8Array(17 * 1024 * 1024)), "VALUE_TOO_LARGE");
    expect(a.stats().leasesHeld).toBe(0);
    const started = Date.now();
    expect(await b.get("big", LOAD)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(100);
  });

  it("refuses bad options, naming them", async () => {
    const dir = tempDir("flight");
    await expectCode(
      async () => disk({ dir, maxBytes: 1 << 20, singleFlight: { leaseTTL: 5 } as never }),
      "INVALID_CONFIG",
      'did you mean "singleFlight.leaseTtl"',
    );
    await expectCode(async () => disk({ dir, maxBytes: 1 << 20, singleFlight: { wait: -1 } }), "INVALID_CONFIG", "singleFlight.wait");
    await expectCode(async () => disk({ dir, maxBytes: 1 << 20, singleFlight: "yes" as never }), "INVALID_CONFIG", "singleFlight");
    await expectCode(
      async () => disk({ dir, maxBytes: 1 << 20, coherence: { intervall: 5 } as never }),
      "INVALID_CONFIG",
      "coherence.interval",
    );
  });
});
