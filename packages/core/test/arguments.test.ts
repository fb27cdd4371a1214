// Bad input to createCache() and the TieredCache's read and write entry points: a ZarrsCacheError
// with a stable code and a message naming the option.
import { TieredCache, type TieredCache as Cache, createCache, isZarrsCacheError } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import { afterEach, describe, expect, it } from "vitest";
import { bytes } from "./helpers.js";

const MiB = 1024 * 1024;
let open: Cache[] = [];
afterEach(async () => {
  for (const cache of open) await cache.close().catch(() => {});
  open = [];
});
const tier = () => memory({ maxBytes: MiB });
function cache() {
  const built = createCache().tier(tier()).build();
  open.push(built);
  return built;
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (!isZarrsCacheError(error)) throw error;
    return `${error.code}: ${error.message}`;
  }
  return "no error";
}
async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (!isZarrsCacheError(error)) throw error;
    return `${error.code}: ${error.message}`;
  }
  return "no error";
}

describe("createCache() options", () => {
  const build = (options: object) =>
    failure(() =>
      createCache(options as never)
        .tier(tier())
        .build(),
    );

  it("refuses unknown option names, with a did-you-mean, also inside ttl", () => {
    expect(build({ loadTimout: 5 })).toMatch(/^INVALID_CONFIG: .*unknown option "loadTimout" — did you mean "loadTimeout"\?/);
    expect(build({ writepolicy: "write-around" })).toMatch(/^INVALID_CONFIG: .*"writepolicy" — did you mean "writePolicy"/);
    expect(build({ ttl: { chunks: 5 } })).toMatch(/^INVALID_CONFIG: .*"ttl\.chunks" — did you mean "ttl\.chunk"/);
    expect(build({ bogus: 1 })).toMatch(/^INVALID_CONFIG: .*unknown option "bogus" \(known: /);
    expect(failure(() => new TieredCache([tier()], { loadTimout: 5 } as never))).toMatch(/^INVALID_CONFIG: .*loadTimout/);
  });

  it("checks loadTimeout", () => {
    for (const bad of [0, -1, "5", Number.POSITIVE_INFINITY, Number.NaN, true, null]) {
      expect(build({ loadTimeout: bad }), String(bad)).toMatch(/^INVALID_CONFIG: .*"loadTimeout" must be a number of ms >= 1, or false/);
    }
    for (const good of [1, 250, false, undefined]) expect(build({ loadTimeout: good }), String(good)).toBe("no error");
  });
});

describe("getOrLoad() and load()", () => {
  for (const method of ["getOrLoad", "load"] as const) {
    const call = (c: Cache, loader: unknown, options?: unknown) => c[method]("k", loader as never, options as never);

    it(`${method}: refuses a loader that is not a function`, async () => {
      const c = cache();
      const expected = new RegExp(`^INVALID_ARGUMENT: ${method}\\(key, loader\\): loader must be a function, got null`);
      expect(await rejection(call(c, null))).toMatch(expected);
      expect(await rejection(call(c, "fetch"))).toMatch(/^INVALID_ARGUMENT: .*loader must be a function, got "fetch"/);
    });

    it(`${method}: refuses a bad kind, a signal that is not an AbortSignal, and unknown options`, async () => {
      const c = cache();
      const load = async () => bytes(1);
      expect(await rejection(call(c, load, { kind: "bogus" }))).toMatch(
        /^INVALID_ARGUMENT: .*option "kind" must be "metadata", "chunk" or "other", got "bogus"/,
      );
      expect(await rejection(call(c, load, { signal: "x" }))).toMatch(
        /^INVALID_ARGUMENT: .*option "signal" must be an AbortSignal, got "x"/,
      );
      expect(await rejection(call(c, load, { signal: {} }))).toMatch(/^INVALID_ARGUMENT: .*option "signal" must be an AbortSignal/);
      expect(await rejection(call(c, load, { sginal: new AbortController().signal }))).toMatch(
        /^INVALID_ARGUMENT: .*unknown option "sginal" — did you mean "signal"/,
      );
      expect(await rejection(call(c, load, "chunk"))).toMatch(/^INVALID_ARGUMENT: .*options must be an object, got "chunk"/);
      expect(await rejection(call(c, load, { kind: "chunk", signal: new AbortController().signal }))).toBe("no error");
    });
  }

  it("getOrLoad: refuses bad arguments on an L1 hit too", async () => {
    const c = cache();
    await c.set("k", bytes(1));
    expect(await rejection(c.getOrLoad("k", async () => bytes(1), { kind: "bogus" } as never))).toMatch(/^INVALID_ARGUMENT: .*kind/);
    expect(await rejection(c.getOrLoad("k", undefined as never))).toMatch(/^INVALID_ARGUMENT: .*loader/);
  });
});

describe("write() and prefetch()", () => {
  it("refuses a writer that is not a function and unknown write options", async () => {
    const c = cache();
    expect(await rejection(c.write("k", bytes(1), null as never))).toMatch(/^INVALID_ARGUMENT: .*writer must be a function, got null/);
    expect(await rejection(c.write("k", bytes(1), () => {}, { knd: "chunk" } as never))).toMatch(
      /^INVALID_ARGUMENT: .*"knd" — did you mean "kind"/,
    );
    expect(await rejection(c.write("k", bytes(1), () => {}, { kind: "bogus" } as never))).toMatch(/^INVALID_ARGUMENT: .*"kind"/);
    expect(await rejection(c.write("k", bytes(1), () => {}, { signal: new AbortController().signal } as never))).toMatch(
      /^INVALID_ARGUMENT: .*"signal" is not supported/,
    );
  });

  it("refuses bad prefetch arguments but never rejects for a failed load", async () => {
    const c = cache();
    c.registerLoader("ds:", async () => Promise.reject(new Error("upstream down")));
    expect(await rejection(c.prefetch("ds:/a" as never))).toMatch(/^INVALID_ARGUMENT: prefetch\(keys\): keys must be an array/);
    expect(await rejection(c.prefetch(["ds:/a"], { signal: "x" as never }))).toMatch(
      /^INVALID_ARGUMENT: .*"signal" must be an AbortSignal/,
    );
    expect(await rejection(c.prefetch(["ds:/a"]))).toBe("no error");
    expect(failure(() => c.registerLoader("ds:", null as never))).toMatch(/^INVALID_ARGUMENT: .*load must be a function/);
  });
});
