import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { memory } from "@zarrs-cache/memory";
import { afterAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "./chromium.js";
import { chunk, gridArray, setup } from "./helpers.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zc-metrics-html-"));
afterAll(() => {
  if (!process.env.KEEP_HTML_REPORT) fs.rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sampleReport(): Promise<string> {
  const temp = gridArray("/temp", [16, 24]);
  const wind = gridArray("/wind", [4, 8, 8]);
  const s = setup(
    { arrays: [temp, wind], intervalMs: 25 },
    [memory({ maxBytes: 96 * 1024 }), memory({ maxBytes: 64 * 1024 * 1024 })],
    2048,
  );
  for (let pass = 0; pass < 3; pass++) {
    for (let i = 0; i < 16; i++) for (let j = 0; j < 8 + pass * 4; j++) await s.read(chunk(temp, [i, j]));
    for (let t = 0; t < 4; t++) for (let j = 0; j < 8; j++) await s.read(chunk(wind, [t, j, pass]));
    await sleep(40);
  }
  // Prefetches as a warming plugin reports them (events marked origin: "prefetch").
  const prefetch = (key: string, loaded: boolean) => {
    s.cache.events.emit("levelMiss", { key, tier: "memory", level: 0, ms: 0.02, origin: "prefetch" } as never);
    if (loaded) s.cache.events.emit("load", { key, bytes: 2048, absent: false, ms: 3, origin: "prefetch" } as never);
  };
  for (let i = 0; i < 16; i++) await s.read(chunk(temp, [i, 19]));
  for (let i = 0; i < 16; i++) prefetch(chunk(temp, [i, 19]), true); // in L1 when read: used
  for (let i = 0; i < 6; i++) prefetch(chunk(temp, [i, 22]), false); // still loading when read: late
  for (let i = 0; i < 8; i++) prefetch(chunk(temp, [i, 23]), true); // not in L1 when read: wasted
  for (const j of [19, 22, 23]) for (let i = 0; i < 16; i++) await s.read(chunk(temp, [i, j]));
  const html = s.plugin.htmlReport({ title: "zarrs-cache metrics — test workload" });
  await s.cache.close();
  return html;
}

describe("htmlReport()", () => {
  it("is one self-contained page under 300 KB", async () => {
    const html = await sampleReport();
    expect(Buffer.byteLength(html)).toBeLessThanOrEqual(300 * 1024);
    expect(html).not.toMatch(/\b(src|href)\s*=/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toContain("<script");
  });

  it("stays under 300 KB with 100 large arrays", async () => {
    const arrays = Array.from({ length: 100 }, (_, i) => gridArray(`/many/a${i}`, [500, 500]));
    const s = setup({ arrays });
    for (const [i, a] of arrays.entries()) for (let j = 0; j < 50; j++) await s.read(chunk(a, [(j * 37 + i) % 500, (j * 91) % 500]));
    const html = s.plugin.htmlReport();
    expect(Buffer.byteLength(html)).toBeLessThanOrEqual(300 * 1024);
    expect(html).toContain("more arrays not drawn");
    await s.cache.close();
  });

  const inCi = process.env.CI === "true";
  if (!hasChromium() && !inCi)
    console.warn("\n*** /usr/bin/chromium is missing: the Chromium rendering test is SKIPPED (apt-get install -y chromium) ***\n");
  it.skipIf(!hasChromium() && !inCi)(
    "renders in Chromium with no console errors and every chart drawn",
    async () => {
      const html = await sampleReport();
      const file = path.join(tmp, "report.html");
      fs.writeFileSync(file, html);
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const problems: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
        });
        page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
        page.on("request", (r) => {
          if (!r.url().startsWith("file:")) problems.push(`request: ${r.url()}`);
        });
        await page.goto(pathToFileURL(file).href);
        const charts = await page.evaluate(() =>
          Array.from(document.querySelectorAll("section")).map((section) => ({
            id: section.id,
            svgs: Array.from(section.querySelectorAll("svg")).map((svg) => {
              const box = svg.getBoundingClientRect();
              const marks = Array.from(svg.querySelectorAll("rect, path, circle")).filter((m) => {
                const b = m.getBoundingClientRect();
                return b.width > 0 && b.height > 0;
              });
              return { width: box.width, height: box.height, marks: marks.length };
            }),
          })),
        );
        expect(charts.map((c) => c.id)).toEqual(["hit-rate", "latency", "warming", "heatmaps"]);
        for (const chart of charts) {
          expect(chart.svgs.length, chart.id).toBeGreaterThan(0);
          for (const svg of chart.svgs) {
            expect(svg.width * svg.height, chart.id).toBeGreaterThan(0);
            expect(svg.marks, chart.id).toBeGreaterThan(0);
          }
        }
        expect(charts.find((c) => c.id === "latency")!.svgs).toHaveLength(2); // one per tier
        expect(charts.find((c) => c.id === "heatmaps")!.svgs).toHaveLength(2); // one per array
        expect(charts.find((c) => c.id === "warming")!.svgs[0]!.marks).toBe(4); // prefetched, used, late, wasted
        const screenshot = path.join(tmp, "report.png");
        await page.screenshot({ path: screenshot, fullPage: true });
        expect(fs.statSync(screenshot).size).toBeGreaterThan(10_000);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
