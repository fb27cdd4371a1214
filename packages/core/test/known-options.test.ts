import { describe, expect, it } from "vitest";
import { assertKnownOptions, closestName, isZarrsCacheError } from "../src/index.js";

describe("assertKnownOptions", () => {
  it("accepts known names and refuses an unknown one, naming it", () => {
    expect(() => assertKnownOptions("thing()", { a: 1, maxBytes: 2 }, ["a", "maxBytes"])).not.toThrow();
    let caught: unknown;
    try {
      assertKnownOptions("thing()", { maxbytes: 2 }, ["maxBytes", "name"]);
    } catch (error) {
      caught = error;
    }
    expect(isZarrsCacheError(caught, "INVALID_CONFIG")).toBe(true);
    expect((caught as Error).message).toBe('thing(): unknown option "maxbytes" — did you mean "maxBytes"? (known: maxBytes, name)');
  });

  it("suggests only close names", () => {
    expect(closestName("namspace", ["namespace", "copy"])).toBe("namespace");
    expect(closestName("zzz", ["namespace", "copy"])).toBeUndefined();
    expect(() => assertKnownOptions("x()", { bogus: 1 }, ["ttl"], "ttl.")).toThrow('x(): unknown option "ttl.bogus" (known: ttl.ttl)');
  });
});
