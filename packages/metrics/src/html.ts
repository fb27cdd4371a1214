import type { TimelinePoint } from "./collector.js";
import { formatBytes, formatMicros, formatReport } from "./format.js";
import type { GridHeatmap } from "./heatmap.js";
import { bucketBounds, type HistogramData } from "./histogram.js";
import type { MetricsReport } from "./report.js";
import type { MetricsSnapshot } from "./snapshot.js";

export interface HtmlInput {
  readonly report: MetricsReport;
  readonly snapshot: MetricsSnapshot;
  readonly timeline: readonly TimelinePoint[];
  readonly heatmaps: readonly { readonly path: string; readonly heatmap: GridHeatmap }[];
  readonly title: string;
}

const W = 640;
const H = 200;
const MAX_HEATMAPS = 6;
const RENDER_BINS = 32;
/** The report must stay small enough to mail or attach: heatmaps are dropped beyond this. */
const MAX_BYTES = 290 * 1024;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const f1 = (x: number) => (Math.round(x * 10) / 10).toString();

/** One self-contained HTML page: inline CSS and SVG, no script, no external URL. */
export function renderHtml(input: HtmlInput): string {
  const { report } = input;
  const heatmaps = [...input.heatmaps].filter((h) => h.heatmap.reads.some((r) => r > 0));
  let shown = Math.min(MAX_HEATMAPS, heatmaps.length);
  for (;;) {
    const html = page(input, heatmaps.slice(0, shown), heatmaps.length);
    if (html.length <= MAX_BYTES || shown === 0) return html;
    shown--;
  }

  function page(inp: HtmlInput, maps: typeof heatmaps, total: number): string {
    const sections = [
      section("Hit rate over time", "hit-rate", hitRateChart(inp.timeline)),
      section(
        "Lookup latency per tier",
        "latency",
        inp.snapshot.levels.map((l) => latencyChart(`${l.tier} (level ${l.level})`, l.hitLatency, l.missLatency)).join(""),
      ),
      section("Warming funnel", "warming", warmingChart(report)),
      section(
        "Chunk-grid heatmaps (reads; colour = hit rate)",
        "heatmaps",
        maps.length === 0
          ? `<p class="note">No known array was read. Pass arrays to metrics({ arrays }) or call addArray().</p>`
          : maps.map((m) => heatmapChart(m.path, m.heatmap)).join("") +
              (total > maps.length ? `<p class="note">${total - maps.length} more arrays not drawn (size budget).</p>` : ""),
      ),
    ];
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(inp.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.kpis{display:flex;gap:12px;flex-wrap:wrap}.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px}
.kpi b{display:block;font-size:18px}svg{background:#fafafa;border:1px solid #eee;margin:4px 8px 4px 0}
.chart{display:inline-block;vertical-align:top}.note{color:#666}pre{background:#f6f6f6;padding:12px;overflow:auto;font-size:12px}
text{font-size:11px;fill:#444}
</style></head><body>
<h1>${esc(inp.title)}</h1>
<div class="kpis">${kpis(report)}</div>
${sections.join("\n")}
<h2>Text report</h2>
<pre>${esc(formatReport(report))}</pre>
</body></html>
`;
  }
}

function section(title: string, id: string, body: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`;
}

function kpis(r: MetricsReport): string {
  const items: [string, string][] = [
    ["hit rate", `${(r.performanceSummary.averageHitRate * 100).toFixed(1)}%`],
    ["reads", r.performanceSummary.reads.toLocaleString("en-US")],
    ["upstream loads", r.upstream.loads.toLocaleString("en-US")],
    ["served from cache", formatBytes(r.savings.bytesServedFromCache)],
    ["time saved", r.savings.timeSavedMs === undefined ? "-" : formatMicros(r.savings.timeSavedMs * 1000)],
    ["recommendations", String(r.recommendations.length)],
  ];
  return items.map(([k, v]) => `<div class="kpi">${esc(k)}<b>${esc(v)}</b></div>`).join("");
}

function hitRateChart(points: readonly TimelinePoint[]): string {
  const used = points.filter((p) => p.hits + p.misses > 0);
  if (used.length === 0) return `<p class="note">No reads yet.</p>`;
  const t0 = used[0]!.at;
  const span = Math.max(1, used[used.length - 1]!.at - t0);
  const x = (at: number) => 40 + ((at - t0) / span) * (W - 60);
  const y = (rate: number) => 10 + (1 - rate) * (H - 40);
  const coords = used.map((p) => [used.length === 1 ? W / 2 : x(p.at), y(p.hits / (p.hits + p.misses))] as const);
  const line = coords.map(([a, b], i) => `${i === 0 ? "M" : "L"}${f1(a)},${f1(b)}`).join("");
  const dots = coords.map(([a, b]) => `<circle cx="${f1(a)}" cy="${f1(b)}" r="2.5" fill="#2a7"/>`).join("");
  const grid = [0, 0.5, 1]
    .map((r) => `<line x1="40" x2="${W - 20}" y1="${y(r)}" y2="${y(r)}" stroke="#ddd"/><text x="4" y="${y(r) + 4}">${r * 100}%</text>`)
    .join("");
  return `<div class="chart"><svg class="plot" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="hit rate over time">${grid}<path d="${line}" fill="none" stroke="#2a7" stroke-width="2"/>${dots}<text x="40" y="${H - 8}">${new Date(t0).toISOString().slice(11, 19)}</text><text x="${W - 90}" y="${H - 8}">+${(span / 1000).toFixed(1)} s</text></svg></div>`;
}

function latencyChart(label: string, hits: HistogramData, misses: HistogramData): string {
  const counts = hits.counts.map((c, i) => c + (misses.counts[i] ?? 0));
  const first = counts.findIndex((c) => c > 0);
  if (first === -1) return `<div class="chart"><p class="note">${esc(label)}: no timed lookups.</p></div>`;
  let last = counts.length - 1;
  while (counts[last] === 0) last--;
  const lo = Math.max(0, first - 1);
  const hi = Math.min(counts.length - 1, last + 1);
  const n = hi - lo + 1;
  const max = Math.max(...counts.slice(lo, hi + 1));
  const bw = (W - 60) / n;
  const bars = counts
    .slice(lo, hi + 1)
    .map((c, i) => {
      const h = (c / max) * (H - 50);
      return c === 0
        ? ""
        : `<rect x="${f1(40 + i * bw)}" y="${f1(H - 30 - h)}" width="${f1(Math.max(1, bw - 1))}" height="${f1(Math.max(1, h))}" fill="#47a"><title>${esc(formatMicros(bucketBounds(lo + i)[0]))}–${esc(formatMicros(bucketBounds(lo + i)[1]))}: ${c}</title></rect>`;
    })
    .join("");
  const total = hits.count + misses.count;
  return `<div class="chart"><svg class="plot" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="latency ${esc(label)}"><text x="40" y="14">${esc(label)}: ${total.toLocaleString("en-US")} timed lookups</text>${bars}<text x="40" y="${H - 12}">${esc(formatMicros(bucketBounds(lo)[0]))}</text><text x="${W - 90}" y="${H - 12}">${esc(formatMicros(bucketBounds(hi)[1]))}</text></svg></div>`;
}

function warmingChart(r: MetricsReport): string {
  const w = r.warming;
  if (w === undefined) return `<p class="note">No prefetch seen: warming is off.</p>`;
  const stages: [string, number, string][] = [
    ["prefetched", w.prefetched, "#47a"],
    ["used", w.used, "#2a7"],
    ["late", w.late, "#e92"],
    ["wasted", w.wasted, "#c44"],
  ];
  const max = Math.max(1, ...stages.map((s) => s[1]));
  const bars = stages
    .map(([name, value, colour], i) => {
      const width = Math.max(value > 0 ? 2 : 0, (value / max) * (W - 200));
      const y = 14 + i * 44;
      return `<text x="8" y="${y + 20}">${name}</text><rect x="100" y="${y}" width="${f1(width)}" height="30" fill="${colour}"/><text x="${f1(108 + width)}" y="${y + 20}">${value.toLocaleString("en-US")}</text>`;
    })
    .join("");
  return `<div class="chart"><svg class="plot" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="warming funnel">${bars}</svg></div>`;
}

function heatmapChart(path: string, heatmap: GridHeatmap): string {
  // Merge bins further so that no drawing holds more than RENDER_BINS × RENDER_BINS cells.
  const [rows, cols] = heatmap.bins;
  const fr = Math.ceil(rows / RENDER_BINS);
  const fc = Math.ceil(cols / RENDER_BINS);
  const R = Math.ceil(rows / fr);
  const C = Math.ceil(cols / fc);
  const reads = new Float64Array(R * C);
  const hits = new Float64Array(R * C);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = Math.floor(r / fr) * C + Math.floor(c / fc);
      reads[i]! += heatmap.reads[r * cols + c]!;
      hits[i]! += heatmap.hits[r * cols + c]!;
    }
  }
  const max = Math.max(...reads);
  const size = Math.max(4, Math.min(24, Math.floor(360 / Math.max(R, C))));
  const cells: string[] = [];
  for (let i = 0; i < reads.length; i++) {
    const n = reads[i]!;
    if (n === 0) continue;
    const rate = Math.min(1, hits[i]! / n);
    const hue = Math.round(rate * 120); // red (no hit) → green (all hits)
    const light = Math.round(85 - (n / max) * 50); // darker = more reads
    cells.push(
      `<rect x="${(i % C) * size}" y="${Math.floor(i / C) * size}" width="${size}" height="${size}" fill="hsl(${hue},70%,${light}%)"/>`,
    );
  }
  const shape = heatmap.shape.join(" × ");
  const binNote =
    heatmap.binSize[0] * fr > 1 || heatmap.binSize[1] * fc > 1
      ? `, ${heatmap.binSize[0] * fr} × ${heatmap.binSize[1] * fc} keys per cell`
      : "";
  const fold = heatmap.shape.length > 2 ? ", leading dimensions summed" : "";
  return `<div class="chart"><p>${esc(path)} — key grid ${esc(shape)}${esc(binNote)}${esc(fold)}</p><svg class="plot heatmap" width="${C * size}" height="${R * size}" viewBox="0 0 ${C * size} ${R * size}" role="img" aria-label="heatmap ${esc(path)}">${cells.join("")}</svg></div>`;
}
