import { describe, expect, it } from "vitest";
import { isZarrsCacheError } from "@zarrs-cache/core";
import { type MemoryOptions, memory } from "@zarrs-cache/memory";

function configError(options: unknown): Error {
  try {
    memory(options as MemoryOptions);
  } catch (error) {
    expect(isZarrsCacheError(error, "INVALID_CONFIG"), `expected INVALID_CONFIG, got ${String(error)}`).toBe(true);
    return error as Error;
  }
  throw new Error(`memory(${JSON.stringify(options)}) was accepted`);
}

describe("memory(): options are checked, naming the bad one", () => {
  it("refuses an unknown option name, with a did-you-mean when one is close", () => {
    expect(configError({ maxBytes: 1024, maxbytes: 2048 }).message).toMatch(/unknown option "maxbytes" — did you mean "maxBytes"\?/);
    const typo = configError({ maxBytes: 1024, maxValueByte: 10 }).message;
    expect(typo).toMatch(/unknown option "maxValueByte" — did you mean "maxValueBytes"\?/);
    expect(configError({ maxBytes: 1024, ttl: 1000, tll: 5 }).message).toMatch(/unknown option "tll" — did you mean "ttl"\?/);
    const far = configError({ maxBytes: 1024, evictionPolicy: "lru" }).message;
    expect(far).toContain('unknown option "evictionPolicy"');
    expect(far).not.toContain("did you mean");
    expect(far).toContain("known: maxBytes, ttl, maxValueBytes, entryOverhead, name");
  });

  it("refuses bad values and options that are not an object", () => {
    expect(configError({ maxBytes: 0 }).message).toContain('"maxBytes"');
    expect(configError({ maxBytes: 1024, maxValueBytes: -1 }).message).toContain('"maxValueBytes"');
    expect(configError({ maxBytes: 1024, entryOverhead: 1.5 }).message).toContain('"entryOverhead"');
    expect(configError({ maxBytes: 1024, ttl: -5 }).message).toContain('"ttl"');
    expect(configError({ maxBytes: 1024, name: "" }).message).toContain('"name"');
    expect(configError({ maxBytes: 1024, name: 7 }).message).toContain('"name"');
    expect(configError(undefined).message).toContain("options must be an object");
    expect(configError([1024]).message).toContain("options must be an object");
  });

  it("states its value limit as maxValueBytes: the option, never above maxBytes", () => {
    expect(memory({ maxBytes: 4096 }).maxValueBytes).toBe(4096);
    expect(memory({ maxBytes: 4096, maxValueBytes: 100 }).maxValueBytes).toBe(100);
    expect(memory({ maxBytes: 4096, maxValueBytes: 10_000 }).maxValueBytes).toBe(4096);
    expect(memory({ maxBytes: 4096, ttl: 1000, maxValueBytes: 100, entryOverhead: 0, name: "l1" }).name).toBe("l1");
  });
});
