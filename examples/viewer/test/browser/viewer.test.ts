// The viewer end to end in Chromium: pan across the sharded array (every tile read once from
// upstream), reload, pan again: every tile now comes from IndexedDB (its first time after the
// reload) or memory (when seen again), with zero upstream requests. Screenshots go to the test's
// temp dir (printed), which is kept.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startViewerHarness } from "../../src/harness.mjs";

type Harness = Awaited<ReturnType<typeof startViewerHarness>>;
type View = { ms: number; tiles: { tile: [number, number]; source: string }[] };

// wind: 64×256×256 in 16×128×128 shards of 4×64×64 chunks: a 4×4 grid of tiles, a 3×3 view.
const PANS: [number, number][] = [
  [0, 0],
  [0, 1],
  [1, 1],
  [1, 0],
];
let harness: Harness;
let shots: string;

beforeAll(async () => {
  harness = await startViewerHarness({ latencyMs: 20, arrays: ["wind"] });
  shots = path.join(harness.dir, "screenshots");
  fs.mkdirSync(shots);
  console.log(`viewer screenshots: ${shots}`);
}, 120_000);

afterAll(async () => {
  await harness?.close({ keep: ["screenshots"] });
});

async function panAcross(label: string): Promise<View[]> {
  const views: View[] = [(await harness.page.evaluate(() => window.viewer.state.lastView)) as View];
  const shoot = async (name: string) => {
    await harness.page.screenshot({ path: path.join(shots, `${name}.png`) });
    await harness.page.locator("canvas").screenshot({ path: path.join(shots, `${name}-canvas.png`) });
  };
  await shoot(`${label}-0-0`);
  for (const [row, col] of PANS.slice(1)) {
    views.push((await harness.panTo(row, col)) as View);
    await shoot(`${label}-${row}-${col}`);
  }
  return views;
}

describe("viewer in Chromium", () => {
  it("reads every tile from upstream once, then after a reload from IndexedDB with zero upstream requests", async () => {
    await harness.open("wind");
    const cold = await panAcross("cold");
    const coldTiles = new Set(cold.flatMap((v) => v.tiles.map((t) => t.tile.join(","))));
    expect(coldTiles.size).toBe(16); // the whole 4×4 grid was shown
    expect(cold[0]!.tiles.every((t) => t.source === "upstream")).toBe(true);
    // Metadata, shard indexes and the tiles' inner chunks; nearby inner chunks of one shard read
    // together go out as one coalesced range request, so there may be fewer requests than tiles.
    expect(harness.server.upstream.stats.requests).toBeGreaterThan(4);
    // The page counts store reads; FetchStore sends a HEAD before each suffix read (shard index), so the server sees more.
    expect(await harness.pageUpstream()).toBeGreaterThan(4);
    expect(await harness.pageUpstream()).toBeLessThanOrEqual(harness.server.upstream.stats.requests);
    await harness.flush(); // fills of IndexedDB land before the reload

    harness.server.upstream.reset();
    await harness.open("wind", { reload: true });
    const warm = await panAcross("reloaded");
    const seen = new Set<string>();
    for (const view of warm) {
      for (const { tile, source } of view.tiles) {
        const id = tile.join(",");
        expect(source, `tile ${id}`).toBe(seen.has(id) ? "memory" : "indexeddb");
        seen.add(id);
      }
    }
    expect(seen.size).toBe(16);
    expect(harness.server.upstream.stats.requests).toBe(0);
    expect(await harness.pageUpstream()).toBe(0);
    const levels = await harness.levels();
    expect(levels[1]).toMatchObject({ name: "indexeddb" });
    expect(levels[1]!.hits).toBeGreaterThanOrEqual(16);
    expect(levels[1]!.bytes).toBeGreaterThan(16 * 64 * 64 * 4 * 4); // 16 inner chunks of 64 KiB, at least

    // The canvas shows the field (many colours, not a blank), and the same pixels after the reload as before it.
    const colours = await harness.page.evaluate(() => {
      const canvas = document.querySelector("canvas")!;
      const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < data.length; i += 4) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      return seen.size;
    });
    expect(colours).toBeGreaterThan(200);
    for (const [row, col] of PANS) {
      const [before, after] = ["cold", "reloaded"].map((label) => fs.readFileSync(path.join(shots, `${label}-${row}-${col}-canvas.png`)));
      expect(after!.equals(before!), `canvas at (${row}, ${col})`).toBe(true);
    }
  }, 120_000);
});
