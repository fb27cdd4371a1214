import fs from "node:fs";
import path from "node:path";
import { createCache } from "@zarrs-cache/core";
import { disk, type DiskOptions, type DiskTier } from "@zarrs-cache/disk";
import { memory } from "@zarrs-cache/memory";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { bytes, cleanupTempDirs, expectCode, mountTmpfs, tempDir, unmountAll } from "./helpers.js";

const MiB = 1024 * 1024;

const tiers: DiskTier[] = [];
function make(options: DiskOptions): DiskTier {
  const tier = disk(options);
  tiers.push(tier);
  return tier;
}

afterEach(async () => {
  for (const tier of tiers.splice(0)) await tier.close().catch(() => undefined);
});
afterAll(() => {
  unmountAll();
  cleanupTempDirs();
});

describe("option and input validation", () => {
  it("rejects bad options in the factory with INVALID_CONFIG naming the option", async () => {
    await expectCode(() => disk(undefined as unknown as DiskOptions), "INVALID_CONFIG");
    await expectCode(() => disk({ maxBytes: MiB } as DiskOptions), "INVALID_CONFIG", '"dir"');
    await expectCode(() => disk({ dir: "", maxBytes: MiB }), "INVALID_CONFIG", '"dir"');
    await expectCode(() => disk({ dir: "a\0b", maxBytes: MiB }), "INVALID_CONFIG", '"dir"');
    await expectCode(() => disk({ dir: "x" } as DiskOptions), "INVALID_CONFIG", '"maxBytes"');
    await expectCode(() => disk({ dir: "x", maxBytes: 100 }), "INVALID_CONFIG", '"maxBytes"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, ttl: 0 }), "INVALID_CONFIG", '"ttl"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, fileThreshold: 0 }), "INVALID_CONFIG", '"fileThreshold"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, maxKeyLength: 1.5 }), "INVALID_CONFIG", '"maxKeyLength"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, maxValueBytes: 2 ** 30 }), "INVALID_CONFIG", '"maxValueBytes"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, name: "" }), "INVALID_CONFIG", '"name"');
    expect(fs.existsSync("x")).toBe(false); // the factory touches nothing
  });

  it("refuses unknown option names, naming the option and the one meant", async () => {
    const error = await expectCode(() => disk({ dir: "x", maxBytes: MiB, maxbytes: MiB } as DiskOptions), "INVALID_CONFIG", '"maxbytes"');
    expect(error.message).toContain('did you mean "maxBytes"');
    const typo = { dir: "x", maxBytes: MiB, fileTreshold: 10 } as DiskOptions;
    await expectCode(() => disk(typo), "INVALID_CONFIG", 'did you mean "fileThreshold"');
    await expectCode(() => disk({ dir: "x", maxBytes: MiB, compression: true } as DiskOptions), "INVALID_CONFIG", '"compression"');
    expect(fs.existsSync("x")).toBe(false);
  });

  it("refuses keys and values over the documented limits, writing nothing", async () => {
    const dir = tempDir("limits");
    const tier = make({ dir, maxBytes: MiB, maxKeyLength: 20, maxValueBytes: 300_000, fileThreshold: 100_000 });
    await expectCode(tier.set("k".repeat(21), bytes(1)), "INVALID_KEY", "20");
    await expectCode(tier.get("k".repeat(21)), "INVALID_KEY");
    await tier.set("k".repeat(20), bytes(1));
    await expectCode(tier.set("big", bytes(300_001)), "VALUE_TOO_LARGE", "300000");
    await expectCode(tier.set("k", bytes(1), { ttl: -1 }), "INVALID_ARGUMENT");
    await expectCode(
      tier
        .keys(42 as unknown as string)
        [Symbol.asyncIterator]()
        .next(),
      "INVALID_ARGUMENT",
    );
    await expectCode(tier.deletePrefix(null as unknown as string), "INVALID_ARGUMENT");
    expect(fs.readdirSync(path.join(dir, "blobs"))).toEqual([]);
    expect(tier.stats().entries).toBe(1);
  });

  it("refuses a value larger than maxBytes itself (with its key and overhead)", async () => {
    const tier = make({ dir: tempDir("too-big"), maxBytes: 64 * 1024 });
    await expectCode(tier.set("x", bytes(64 * 1024 - 10)), "VALUE_TOO_LARGE");
    await tier.set("x", bytes(60 * 1024));
    expect(tier.stats().entries).toBe(1);
  });
});

describe("a bad directory fails at build() with a message naming it", () => {
  it("a path under a regular file", async () => {
    const file = path.join(tempDir("dir-file"), "plain-file");
    fs.writeFileSync(file, "x");
    const dir = path.join(file, "cache");
    const builder = createCache()
      .tier(memory({ maxBytes: MiB }))
      .tier(disk({ dir, maxBytes: MiB }));
    await expectCode(() => builder.build(), "INVALID_CONFIG", dir);
  });

  it("an existing regular file as dir", async () => {
    const file = path.join(tempDir("dir-is-file"), "cache");
    fs.writeFileSync(file, "x");
    const error = await expectCode(
      () =>
        createCache()
          .tier(disk({ dir: file, maxBytes: MiB }))
          .build(),
      "INVALID_CONFIG",
      file,
    );
    expect(error.message).toContain("not a directory");
  });

  it("a read-only directory", async (context) => {
    const base = tempDir("read-only");
    let readOnly: string;
    if (process.getuid?.() !== 0) {
      readOnly = path.join(base, "ro");
      fs.mkdirSync(readOnly, { mode: 0o555 });
    } else {
      // Root ignores permission bits, so a read-only mount is the only real refusal.
      readOnly = path.join(base, "mnt");
      fs.mkdirSync(readOnly);
      if (!mountTmpfs(readOnly, "ro,size=1m")) {
        console.warn("\n⚠️  SKIPPED read-only directory test: running as root and cannot mount a read-only tmpfs here\n");
        context.skip();
      }
    }
    await expectCode(
      () =>
        createCache()
          .tier(disk({ dir: readOnly, maxBytes: MiB }))
          .build(),
      "INVALID_CONFIG",
      readOnly,
    );
    const nested = path.join(readOnly, "cache");
    await expectCode(
      () =>
        createCache()
          .tier(disk({ dir: nested, maxBytes: MiB }))
          .build(),
      "INVALID_CONFIG",
      nested,
    );
  });

  it("an unopened tier used directly reports the same error on first use", async () => {
    const file = path.join(tempDir("lazy"), "f");
    fs.writeFileSync(file, "x");
    const tier = disk({ dir: path.join(file, "sub"), maxBytes: MiB });
    await expectCode(tier.get("k"), "INVALID_CONFIG", file);
  });
});
