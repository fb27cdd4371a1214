import { cumulativeAtPowers, type HistogramData } from "./histogram.js";
import type { MetricsSnapshot } from "./snapshot.js";

export type Labels = Record<string, string>;

export interface Sample {
  /** The full sample name (with `_bucket`, `_sum`, `_count` for histograms). */
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

/** One metric family in Prometheus terms; names are in base units (seconds, bytes). */
export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly samples: Sample[];
}

/** Histogram bucket bounds: 1 µs · 2^k for k = 0 … 24 (1 µs to ~16.8 s), in seconds. */
const BUCKET_POWERS = 25;
const BUCKET_BOUNDS = Array.from({ length: BUCKET_POWERS }, (_, k) => formatBound(2 ** k / 1e6));

function formatBound(seconds: number): string {
  return Number(seconds.toPrecision(6)).toString();
}

/** Label value used for the arrays beyond the cardinality cap. */
export const OTHER_ARRAYS = "_other";

export function families(s: MetricsSnapshot, maxArrayLabels: number): Family[] {
  const out: Family[] = [];
  const family = (name: string, type: Family["type"], help: string): Sample[] => {
    const samples: Sample[] = [];
    out.push({ name, type, help, samples });
    return samples;
  };

  const lookups = family(
    "zarrs_cache_lookups_total",
    "counter",
    "Lookups per cache level by result (a level is asked only when the levels above missed).",
  );
  const lookupTime = family("zarrs_cache_lookup_duration_seconds", "histogram", "Time of one lookup at a level, by result.");
  const evictions = family(
    "zarrs_cache_evictions_total",
    "counter",
    "Entries a tier dropped on its own, by reason (evict = size bound, expire = TTL).",
  );
  const errors = family("zarrs_cache_tier_errors_total", "counter", "Tier operations that failed (served from elsewhere).");
  const entries = family("zarrs_cache_entries", "gauge", "Entries a tier holds now.");
  const bytes = family("zarrs_cache_size_bytes", "gauge", "Bytes a tier holds now (payload plus its overhead estimate).");
  const bound = family("zarrs_cache_max_bytes", "gauge", "A tier's size bound.");
  for (const l of s.levels) {
    const labels = { tier: l.tier, level: String(l.level) };
    lookups.push({ name: "zarrs_cache_lookups_total", labels: { ...labels, result: "hit" }, value: l.hits });
    lookups.push({ name: "zarrs_cache_lookups_total", labels: { ...labels, result: "miss" }, value: l.misses });
    histogram(lookupTime, "zarrs_cache_lookup_duration_seconds", { ...labels, result: "hit" }, l.hitLatency);
    histogram(lookupTime, "zarrs_cache_lookup_duration_seconds", { ...labels, result: "miss" }, l.missLatency);
    evictions.push({ name: "zarrs_cache_evictions_total", labels: { ...labels, reason: "evict" }, value: l.evictions.evict });
    evictions.push({ name: "zarrs_cache_evictions_total", labels: { ...labels, reason: "expire" }, value: l.evictions.expire });
    errors.push({ name: "zarrs_cache_tier_errors_total", labels, value: l.errors });
    if (l.entries !== undefined) entries.push({ name: "zarrs_cache_entries", labels, value: l.entries });
    if (l.bytes !== undefined) bytes.push({ name: "zarrs_cache_size_bytes", labels, value: l.bytes });
    if (l.maxBytes !== undefined) bound.push({ name: "zarrs_cache_max_bytes", labels, value: l.maxBytes });
  }

  const total = (name: string, help: string, value: number) => family(name, "counter", help).push({ name, labels: {}, value });
  total("zarrs_cache_reads_total", "Demand reads (lookups at the first tier that were not prefetches).", s.reads);
  total("zarrs_cache_hits_total", "Lookups answered by some tier (as stats().hits).", s.hits);
  total("zarrs_cache_misses_total", "Lookups no tier answered (as stats().misses).", s.misses);
  total(
    "zarrs_cache_served_bytes_total",
    "Bytes answered from the tiers.",
    s.levels.reduce((sum, l) => sum + l.hitBytes, 0),
  );
  total("zarrs_cache_dropped_writes_total", "Fills of lower tiers dropped because too many were pending.", s.droppedWrites);
  total("zarrs_cache_too_large_total", "Writes a tier refused because the value was too large for it.", s.tooLarge);

  const u = s.upstream;
  const loads = family("zarrs_cache_upstream_requests_total", "counter", "Upstream loads by result.");
  loads.push({ name: "zarrs_cache_upstream_requests_total", labels: { result: "value" }, value: u.loads - u.absent });
  loads.push({ name: "zarrs_cache_upstream_requests_total", labels: { result: "absent" }, value: u.absent });
  loads.push({ name: "zarrs_cache_upstream_requests_total", labels: { result: "error" }, value: u.errors });
  loads.push({ name: "zarrs_cache_upstream_requests_total", labels: { result: "timeout" }, value: u.timeouts });
  total("zarrs_cache_upstream_bytes_total", "Bytes loaded from upstream.", u.bytes);
  histogram(
    family("zarrs_cache_upstream_duration_seconds", "histogram", "Time of one upstream load that answered."),
    "zarrs_cache_upstream_duration_seconds",
    {},
    u.latency,
  );

  // Arrays: the most read get their own label, the rest are summed under "_other".
  const ranked = [...s.arrays].sort((a, b) => b.reads - a.reads || (a.path < b.path ? -1 : 1));
  const named = ranked.slice(0, maxArrayLabels);
  const rest = ranked.slice(maxArrayLabels);
  const rows = named.map((a) => ({ label: a.path, reads: a.reads, hits: a.hits, pairs: a.pairs, neighbourPairs: a.neighbourPairs }));
  if (rest.length > 0) {
    const sum = (k: "reads" | "hits" | "pairs" | "neighbourPairs") => rest.reduce((acc, a) => acc + a[k], 0);
    rows.push({ label: OTHER_ARRAYS, reads: sum("reads"), hits: sum("hits"), pairs: sum("pairs"), neighbourPairs: sum("neighbourPairs") });
  }
  if (rows.length > 0) {
    const reads = family("zarrs_cache_array_reads_total", "counter", "Demand reads of an array's chunk keys.");
    const hits = family("zarrs_cache_array_hits_total", "counter", "Hits (any level) on an array's chunk keys.");
    const locality = family(
      "zarrs_cache_array_locality_ratio",
      "gauge",
      "Share of consecutive demand reads of an array that were grid neighbours.",
    );
    for (const r of rows) {
      reads.push({ name: "zarrs_cache_array_reads_total", labels: { array: r.label }, value: r.reads });
      hits.push({ name: "zarrs_cache_array_hits_total", labels: { array: r.label }, value: r.hits });
      if (r.pairs > 0)
        locality.push({ name: "zarrs_cache_array_locality_ratio", labels: { array: r.label }, value: r.neighbourPairs / r.pairs });
    }
  }

  if (s.warming) {
    const warming = family("zarrs_cache_warming_total", "counter", "Prefetched keys, and what became of them (used, wasted, late).");
    for (const outcome of ["prefetched", "used", "wasted", "late"] as const) {
      warming.push({ name: "zarrs_cache_warming_total", labels: { outcome }, value: s.warming[outcome] });
    }
  }
  return out.filter((f) => f.samples.length > 0);
}

function histogram(samples: Sample[], name: string, labels: Labels, h: HistogramData): void {
  const cumulative = cumulativeAtPowers(h, BUCKET_POWERS);
  for (let k = 0; k < BUCKET_POWERS; k++)
    samples.push({ name: `${name}_bucket`, labels: { ...labels, le: BUCKET_BOUNDS[k]! }, value: cumulative[k]! });
  samples.push({ name: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: h.count });
  samples.push({ name: `${name}_sum`, labels, value: h.sum / 1e6 });
  samples.push({ name: `${name}_count`, labels, value: h.count });
}

/** Prometheus text exposition format 0.0.4. */
export function exposition(list: Family[]): string {
  const lines: string[] = [];
  for (const f of list) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${s.name}${labelText(s.labels)} ${valueText(s.value)}`);
  }
  return `${lines.join("\n")}\n`;
}

function labelText(labels: Labels): string {
  let out = "";
  for (const k in labels) out += `${out === "" ? "" : ","}${k}="${escapeLabel(labels[k]!)}"`;
  return out === "" ? "" : `{${out}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}
