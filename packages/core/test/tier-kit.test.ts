import {
  type CacheTier,
  CircuitBreaker,
  Guard,
  ZarrsCacheError,
  decodeEntry,
  encodeEntry,
  guarded,
  isZarrsCacheError,
  planExpiry,
  wholeMs,
} from "@zarrs-cache/core";
import { forwardingTier, testBytes } from "@zarrs-cache/core/test-utils";
import { memory } from "@zarrs-cache/memory";
import { describe, expect, it } from "vitest";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return isZarrsCacheError(error) ? error.code : `foreign: ${String(error)}`;
  }
  return undefined;
}

describe("entry codec", () => {
  it("round-trips both layouts with and without expiry, as views of the stored bytes", () => {
    const value = testBytes(1000, 3);
    for (const layout of ["compact", "aligned"] as const) {
      for (const expiresAt of [undefined, 1_700_000_000_123.5]) {
        const stored = encodeEntry(value, expiresAt, layout);
        const entry = decodeEntry(stored, layout)!;
        expect(entry.expiresAt).toBe(expiresAt);
        expect(Buffer.compare(entry.value, value)).toBe(0);
        expect(entry.value.buffer).toBe(stored.buffer);
      }
    }
    // The layouts keep the stored formats byte for byte: 2/10-byte compact header, 18-byte aligned one.
    expect(encodeEntry(value, undefined, "compact").byteLength).toBe(1002);
    expect(encodeEntry(value, 5, "compact").byteLength).toBe(1010);
    expect(encodeEntry(value, 5, "aligned").byteLength).toBe(1018);
  });

  it("reads foreign, truncated and other-layout bytes as not ours", () => {
    const aligned = encodeEntry(testBytes(10), 42, "aligned");
    expect(decodeEntry(aligned, "compact")).toBeUndefined();
    expect(decodeEntry(encodeEntry(testBytes(10), 42, "compact"), "aligned")).toBeUndefined();
    expect(decodeEntry(aligned.subarray(0, aligned.byteLength - 1), "aligned")).toBeUndefined();
    expect(decodeEntry(new TextEncoder().encode("hello world, not an entry"), "aligned")).toBeUndefined();
    expect(decodeEntry(Uint8Array.of(0x7a, 1, 0), "compact")).toBeUndefined();
  });

  it("rounds TTLs up to whole ms and leaves ones over the store's maximum to the entry", () => {
    expect(wholeMs(1500.2)).toBe(1501);
    expect(wholeMs(0.001)).toBe(1);
    expect(planExpiry(undefined, 1000, 10)).toEqual({ storeTtl: undefined, expiresAt: undefined });
    expect(planExpiry(2.5, 1000, 10)).toEqual({ storeTtl: 3, expiresAt: 1003 });
    expect(planExpiry(20, 1000, 10)).toEqual({ storeTtl: undefined, expiresAt: 1020 });
  });
});

describe("Guard", () => {
  it("times a call out, counts it, and opens the breaker after consecutive failures", async () => {
    const errors: string[] = [];
    const guard = new Guard({
      label: "test tier",
      timeout: 50,
      breaker: { failures: 2, cooldown: 60_000 },
      onError: (_op, e) => errors.push(e.code),
    });
    const never = () => new Promise<never>(() => {});
    expect(await codeOf(guard.run("get", never))).toBe("TIMEOUT");
    expect(await codeOf(guard.run("get", () => Promise.reject(new ZarrsCacheError("TIER_UNAVAILABLE", "down"))))).toBe("TIER_UNAVAILABLE");
    const started = Date.now();
    expect(await codeOf(guard.run("get", async () => 1))).toBe("TIER_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(40);
    expect(guard.counters).toEqual({ errors: 2, timeouts: 1, rejected: 1 });
    expect(errors).toEqual(["TIMEOUT", "TIER_UNAVAILABLE"]);
    guard.close();
    expect(await codeOf(guard.run("get", async () => 1))).toBe("CLOSED");
  });

  it("classifies foreign errors; an answered error is not an outage; caller errors are not counted", async () => {
    const guard = new Guard({ label: "t", timeout: 0, breaker: { failures: 1, cooldown: 60_000 } });
    expect(await codeOf(guard.run("set", () => Promise.reject(new Error("disk full"))))).toBe("IO_ERROR");
    expect(await codeOf(guard.run("set", () => Promise.reject(new ZarrsCacheError("VALUE_TOO_LARGE", "too big"))))).toBe("VALUE_TOO_LARGE");
    expect(guard.breaker!.state).toBe("closed");
    expect(guard.counters.errors).toBe(1);
    expect(await guard.run("get", async () => "ok")).toBe("ok");
  });

  it("without a probe, lets calls through again after the cooldown", async () => {
    const breaker = new CircuitBreaker({ failures: 1, cooldown: 40 });
    breaker.failure();
    expect(breaker.closed).toBe(false);
    await sleep(60);
    expect(breaker.closed).toBe(true);
    expect(breaker.opens).toBe(1);
  });

  it("with a probe, recovers by itself once the probe succeeds", async () => {
    let up = false;
    const states: string[] = [];
    const breaker = new CircuitBreaker(
      { failures: 1, cooldown: 20 },
      async () => {
        if (!up) throw new Error("still down");
      },
      (state) => states.push(state),
    );
    breaker.failure();
    await sleep(50);
    expect(breaker.state).toBe("open");
    up = true;
    await sleep(50);
    expect(breaker.state).toBe("closed");
    expect(states.slice(0, 3)).toEqual(["open", "half-open", "open"]);
    breaker.dispose();
  });
});

describe("guarded()", () => {
  it("wraps a slow tier: timeouts, then fail-fast, then recovery; stats add the guard's counters", async () => {
    const inner = memory({ maxBytes: 1 << 20 });
    let slow = false;
    const flaky: CacheTier = forwardingTier(
      inner,
      {
        get: async (key) => {
          if (slow) await sleep(200);
          return inner.get(key);
        },
      },
      ["getSync", "onEviction"],
    );
    const tier = guarded(flaky, { timeout: 40, breaker: { failures: 2, cooldown: 100 } });
    expect(tier.getSync).toBeUndefined(); // a guarded tier always goes through the timed path
    expect(typeof tier.onEviction).toBe("function");
    await tier.set("k", testBytes(8));
    slow = true;
    expect(await codeOf(tier.get("k"))).toBe("TIMEOUT");
    expect(await codeOf(tier.get("k"))).toBe("TIMEOUT");
    expect(await codeOf(tier.get("k"))).toBe("TIER_UNAVAILABLE");
    expect(tier.stats()).toMatchObject({ timeouts: 2, rejected: 1, breakerOpens: 1, breakerState: 2, errors: 3 });
    slow = false;
    await sleep(120);
    expect(Buffer.compare((await tier.get("k"))!.value, testBytes(8))).toBe(0);
    await tier.close();
    expect(await codeOf(tier.get("k"))).toBe("CLOSED");
  });

  it("refuses what is not a tier and unknown options, naming them", () => {
    expect(() => guarded({ get() {} } as unknown as CacheTier)).toThrow(/missing set, delete/);
    expect(() => guarded(memory({ maxBytes: 1024 }), { timout: 5 } as never)).toThrow(/unknown option "timout" — did you mean "timeout"/);
  });
});
