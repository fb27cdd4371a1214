import { execFile } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";

const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const fixture = fileURLToPath(new URL("./fixtures/without-node-zlib.mjs", import.meta.url));

function builtPackage(): string {
  if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: build first (cd packages/compression && npx tsup)`);
  return fs.readFileSync(dist, "utf8");
}

describe("isomorphic: nothing from node: at load time", () => {
  it("the built module has no static import of a node: builtin, only the lazy node:zlib", () => {
    const code = builtPackage();
    expect(code).not.toMatch(/^\s*import\b[^(]*?\bfrom\s*["'](node:)?(zlib|fs|path|crypto|buffer|util)["']/m);
    expect(code).not.toMatch(/\brequire\s*\(/);
    expect(code).toContain('import("node:zlib")');
  });

  for (const codec of ["zlib", "gzip"]) {
    it(`loads and falls back to fflate where node:zlib cannot be imported (${codec})`, async () => {
      builtPackage();
      const { stdout } = await promisify(execFile)(process.execPath, [fixture, codec], { timeout: 20_000 });
      const result = JSON.parse(stdout);
      expect(result.blocked).toBe(true);
      expect(result.implementation).toBe("fflate");
      expect(result.roundTrip).toBe(true);
      expect(result.stats.storedCompressed).toBe(1);
      expect(result.forcedNode).toBe("TIER_UNAVAILABLE");
      // What fflate wrote there, node:zlib reads here.
      const stored = Buffer.from(result.stored, "base64");
      const decoded = codec === "zlib" ? zlib.inflateSync(stored.subarray(8)) : zlib.gunzipSync(stored.subarray(8));
      expect(decoded.byteLength).toBe(65536);
      expect(new Float32Array(decoded.buffer, decoded.byteOffset, 16384)[150]).toBe(Math.round(100 * Math.sin(150 / 100)));
    });
  }
});
