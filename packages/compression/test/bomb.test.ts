// Decompression bombs stored under the tier by someone with write access to it (a shared Redis or
// Keyv prefix): a read must refuse them without inflating much, without a memory spike and
// without stalling the event loop. Each read runs in a child process of its own (the built
// package), so its peak RSS is measured by the OS and belongs to that read alone.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs helper shared with the child process, without type declarations
import { zeroBomb } from "./fixtures/bomb.mjs";

const MiB = 1024 * 1024;
const reader = fileURLToPath(new URL("./fixtures/bomb-reader.mjs", import.meta.url));
const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));

interface BombRead {
  storedBytes: number;
  capBytes: number;
  answers: (number | null)[];
  corruptions: number;
  oversized: number;
  misses: number;
  hits: number;
  decompressMs: number;
  rssGrowthMiB: number;
  maxStallMs: number;
}

async function readBomb(implementation: "node:zlib" | "fflate", bomb: string): Promise<BombRead> {
  if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: build first (npx turbo run build --filter=@zarrs-cache/compression...)`);
  const { stdout } = await promisify(execFile)(process.execPath, ["--expose-gc", reader, implementation, bomb], { timeout: 60_000 });
  const result = JSON.parse(stdout) as BombRead;
  const { rssGrowthMiB, maxStallMs } = result;
  console.log(`bomb ${bomb} (${implementation}): peak RSS +${rssGrowthMiB.toFixed(1)} MiB, longest stall ${maxStallMs.toFixed(1)} ms`);
  return result;
}

/** Every read answered a miss, counted as a corruption; nothing returned, nothing thrown. */
function expectRefused(result: BombRead) {
  expect(result.answers).toEqual([null, null, null, null]);
  expect(result.misses).toBe(4);
  expect(result.hits).toBe(0);
  expect(result.corruptions).toBe(4);
}

/** Before this was bounded, the honest bomb took ~1.1 GiB and stalled the loop for 5–7 s. */
const RSS_BOUND_MIB = 256;
const STALL_BOUND_MS = 200;
/**
 * fflate stops a lying stream only between steps (see fflate-inflate.ts): one step of bomb is up to
 * ~4 MiB (asynchronous) or ~16.5 MiB (synchronous) of output, which fflate decodes in 30–100 ms on
 * a quiet machine but took up to 1.2 s with this suite sharing 2 cores with a dozen other
 * processes. Before, fflate decoded the whole GiB: several seconds quiet, tens of seconds loaded.
 */
const FFLATE_STEP_STALL_BOUND_MS = 3000;

describe("the bomb is real", () => {
  it("about 1 MB of zlib stream that inflates to exactly 1 GiB, checksum included", async () => {
    const bomb = zeroBomb(1024) as Uint8Array;
    expect(bomb.byteLength).toBeLessThan(1.1e6);
    let inflated = 0;
    const counter = new Writable({
      write(chunk: Buffer, _encoding, done) {
        inflated += chunk.byteLength;
        done();
      },
    });
    // Streamed, so this check never holds the GiB either; it fails on a bad Adler-32.
    await pipeline(Readable.from([bomb]), zlib.createInflate({ chunkSize: MiB }), counter);
    expect(inflated).toBe(1024 * MiB);
  });
});

for (const implementation of ["node:zlib", "fflate"] as const) {
  describe(`decompression bombs are refused (${implementation})`, () => {
    it("1 MB stored that inflates to 1 GiB, as its header says: refused before inflating", async () => {
      const result = await readBomb(implementation, "honest");
      expect(result.storedBytes).toBeLessThan(1.1e6);
      expect(result.capBytes).toBe(64 * MiB); // memory({ maxBytes: 64 MiB })'s maxValueBytes
      expectRefused(result);
      expect(result.oversized).toBe(4);
      expect(result.decompressMs).toBe(0); // not a byte decoded
      expect(result.rssGrowthMiB).toBeLessThan(RSS_BOUND_MIB);
      expect(result.maxStallMs).toBeLessThan(STALL_BOUND_MS);
    });

    it("a corrupt header claiming 4 GiB over a 4 MB stream that inflates to 4 GiB: refused before inflating", async () => {
      const result = await readBomb(implementation, "claims-4GiB");
      expectRefused(result);
      expect(result.oversized).toBe(4);
      expect(result.decompressMs).toBe(0);
      expect(result.rssGrowthMiB).toBeLessThan(RSS_BOUND_MIB);
      expect(result.maxStallMs).toBeLessThan(STALL_BOUND_MS);
    });

    // The header lies: a length under the cap, over a stream that inflates to 1 GiB. Decoding
    // stops once the output passes the claimed length.
    it("claims 32 MiB (decoded asynchronously): stopped past 32 MiB", async () => {
      const result = await readBomb(implementation, "claims-32MiB");
      expectRefused(result);
      expect(result.oversized).toBe(0);
      expect(result.rssGrowthMiB).toBeLessThan(RSS_BOUND_MIB);
      // node:zlib decodes on the thread pool; fflate in slices of one or more 4 KiB steps.
      expect(result.maxStallMs).toBeLessThan(implementation === "node:zlib" ? STALL_BOUND_MS : FFLATE_STEP_STALL_BOUND_MS);
    });

    it("claims 512 KiB (decoded synchronously): stopped past 512 KiB", async () => {
      const result = await readBomb(implementation, "claims-512KiB");
      expectRefused(result);
      expect(result.oversized).toBe(0);
      expect(result.rssGrowthMiB).toBeLessThan(RSS_BOUND_MIB);
      expect(result.maxStallMs).toBeLessThan(implementation === "node:zlib" ? STALL_BOUND_MS : FFLATE_STEP_STALL_BOUND_MS);
    });
  });
}
