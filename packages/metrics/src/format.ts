import type { MetricsReport, Percentiles } from "./report.js";

const pct = (x: number | undefined) => (x === undefined ? "-" : `${(x * 100).toFixed(1)}%`);
const num = (x: number | undefined) => (x === undefined ? "-" : x.toLocaleString("en-US"));

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A duration given in µs, in the unit that reads best. */
export function formatMicros(us: number | undefined): string {
  if (us === undefined) return "-";
  if (us < 1000) return `${us.toFixed(us < 10 ? 2 : 0)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

const latency = (p: Percentiles, scale = 1) =>
  `p50 ${formatMicros(p.p50 === undefined ? undefined : p.p50 * scale)}, p90 ${formatMicros(p.p90 === undefined ? undefined : p.p90 * scale)}, ` +
  `p99 ${formatMicros(p.p99 === undefined ? undefined : p.p99 * scale)}`;

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => `  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")}`);
}

/** A readable plain-text rendering of a report. */
export function formatReport(r: MetricsReport): string {
  const s = r.performanceSummary;
  const lines: string[] = [];
  lines.push(`zarrs-cache metrics — ${(r.window.ms / 1000).toFixed(1)} s window`);
  lines.push("");
  lines.push(
    `reads ${num(s.reads)}  hit rate ${pct(s.averageHitRate)} (peak ${pct(s.peakHitRate)})  ` +
      `avg response ${s.averageResponseTimeMs === undefined ? "-" : formatMicros(s.averageResponseTimeMs * 1000)}  ` +
      `throughput ${s.throughputPerSecond.toFixed(1)} reads/s`,
  );
  lines.push("");
  lines.push("tiers:");
  lines.push(
    ...table([
      ["level", "tier", "hit rate", "hits", "misses", "p50", "p90", "p99", "entries", "bytes", "bound", "evicted", "expired", "errors"],
      ...r.tiers.map((t) => [
        String(t.level),
        t.tier,
        pct(t.hitRate),
        num(t.hits),
        num(t.misses),
        formatMicros(t.latencyUs.p50),
        formatMicros(t.latencyUs.p90),
        formatMicros(t.latencyUs.p99),
        num(t.entries),
        formatBytes(t.bytes),
        formatBytes(t.maxBytes),
        num(t.evictions.evict),
        num(t.evictions.expire),
        num(t.errors),
      ]),
    ]).map((l, i) => (i === 0 ? l : l)),
  );
  const u = r.upstream;
  lines.push("");
  lines.push(
    `upstream: ${num(u.loads)} loads (${num(u.absent)} absent), ${num(u.errors)} errors, ${num(u.timeouts)} timeouts, ${formatBytes(u.bytes)}; ${latency(u.latencyMs, 1000)}`,
  );
  const v = r.savings;
  lines.push(
    `savings: ${num(v.upstreamRequestsAvoided)} upstream requests avoided, ${formatBytes(v.bytesServedFromCache)} served from cache` +
      (v.timeSavedMs === undefined ? "" : `, about ${formatMicros(v.timeSavedMs * 1000)} saved`),
  );
  if (r.warming) {
    const w = r.warming;
    lines.push(
      `warming: ${num(w.prefetched)} prefetched → ${num(w.used)} used (${pct(w.usedRate)}), ${num(w.wasted)} wasted, ${num(w.late)} late`,
    );
  }
  if (r.arrays.length > 0) {
    lines.push("");
    lines.push("arrays:");
    lines.push(
      ...table([
        ["array", "reads", "hit rate", "locality", "hottest chunks"],
        ...r.arrays.map((a) => [
          a.path,
          num(a.reads),
          pct(a.hitRate),
          pct(a.localityScore),
          a.hottestChunks
            .slice(0, 3)
            .map((c) => `[${c.coords.join(",")}]×${c.reads}`)
            .join(" "),
        ]),
      ]),
    );
  }
  const a = r.accessPatterns;
  lines.push("");
  lines.push(
    `access: spatial locality ${pct(a.spatialLocalityScore)}; top 1% of ${num(a.accessDistribution.trackedKeys)} tracked keys take ` +
      `${pct(a.accessDistribution.top1PercentShare)} of reads, top 10% take ${pct(a.accessDistribution.top10PercentShare)}`,
  );
  for (const k of a.mostAccessedKeys.slice(0, 5)) lines.push(`  ${num(k.reads).padStart(8)}  ${printable(k.key)}`);
  lines.push("");
  if (r.recommendations.length === 0) lines.push("recommendations: none — nothing in this window calls for a change.");
  else {
    lines.push("recommendations:");
    for (const rec of r.recommendations) {
      lines.push(`  [${rec.priority}] ${rec.category}: ${rec.description}`);
      lines.push(
        `      evidence: ${Object.entries(rec.evidence)
          .map(([k, x]) => `${k}=${x}`)
          .join(", ")}`,
      );
      if (rec.suggestion)
        lines.push(
          `      suggestion: ${Object.entries(rec.suggestion)
            .map(([k, x]) => `${k}=${x}`)
            .join(", ")}`,
        );
      lines.push(`      expected: ${rec.expectedEffect}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Cache keys hold NUL and "|" separators: show them readably. */
function printable(key: string): string {
  return key.replace(/\u0000r/g, " bytes=").replace(/[\u0000-\u001f]/g, "?");
}
