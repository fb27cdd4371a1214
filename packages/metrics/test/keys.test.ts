import { cacheKey, parseCacheKey } from "@zarrs-cache/core";
import { expect, it } from "vitest";
import { storePath } from "../src/collector.js";

it("finds the store path of every kind of cache key, as parseCacheKey does", () => {
  const keys = [
    cacheKey("ns", "/a/c/0/1"),
    cacheKey("n|s:%", "/a/c/0/1"),
    cacheKey("ns", "/a/c/0/1", { offset: 10, length: 20 }),
    cacheKey("ns", "/a/c/0/1", { suffixLength: 260 }),
    cacheKey("ns", "/we:ird\u0000/c/0", { offset: 1, length: 2 }),
    cacheKey("ns", "/we:ird/c/0"),
  ];
  for (const key of keys) expect(storePath(key)).toBe(parseCacheKey(key)!.path);
  expect(storePath("/plain/c/0")).toBe("/plain/c/0");
});
