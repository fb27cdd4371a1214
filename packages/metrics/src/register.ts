import { ZarrsCacheError } from "@zarrs-cache/core";
import type { Family } from "./families.js";
import { describeValue } from "./options.js";

/** The part of a prom-client `Registry` used here (prom-client itself is never imported). */
export interface PromRegistryLike {
  registerMetric(metric: unknown): void;
  removeSingleMetric(name: string): void;
}

/** The part of an OpenTelemetry `Meter` used here (`@opentelemetry/api` is never imported). */
export interface OtelMeterLike {
  createObservableCounter(name: string, options?: { description?: string; unit?: string }): OtelObservable;
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): OtelObservable;
  addBatchObservableCallback(callback: (result: OtelBatchResult) => void, observables: OtelObservable[]): void;
  removeBatchObservableCallback(callback: (result: OtelBatchResult) => void, observables: OtelObservable[]): void;
}
export interface OtelMeterProviderLike {
  getMeter(name: string, version?: string): OtelMeterLike;
}
export type OtelObservable = object;
interface OtelBatchResult {
  observe(observable: OtelObservable, value: number, attributes?: Record<string, string>): void;
}

/**
 * Registers the metrics with a prom-client Registry, an OpenTelemetry MeterProvider or Meter.
 * `read` gives the current families (called once per scrape/collection). Returns an unregister function.
 */
export function registerFamilies(target: unknown, read: () => Family[], all: Family[]): () => void {
  if (isProm(target)) return registerProm(target, read, all);
  if (isMeterProvider(target)) return registerOtel(target.getMeter("@zarrs-cache/metrics"), read, all);
  if (isMeter(target)) return registerOtel(target, read, all);
  throw new ZarrsCacheError(
    "INVALID_ARGUMENT",
    `registerWith(registry): expected a prom-client Registry, an OpenTelemetry MeterProvider or Meter, got ${describeValue(target)}`,
  );
}

function isProm(t: unknown): t is PromRegistryLike {
  return typeof (t as PromRegistryLike)?.registerMetric === "function" && typeof (t as PromRegistryLike).removeSingleMetric === "function";
}
function isMeterProvider(t: unknown): t is OtelMeterProviderLike {
  return typeof (t as OtelMeterProviderLike)?.getMeter === "function";
}
function isMeter(t: unknown): t is OtelMeterLike {
  return (
    typeof (t as OtelMeterLike)?.createObservableCounter === "function" &&
    typeof (t as OtelMeterLike).addBatchObservableCallback === "function"
  );
}

/** Families read once per scrape: prom-client asks every metric separately within one scrape. */
function memo(read: () => Family[]): () => Family[] {
  let at = -1;
  let cached: Family[] = [];
  return () => {
    const now = Date.now();
    if (now - at > 50) {
      cached = read();
      at = now;
    }
    return cached;
  };
}

function registerProm(registry: PromRegistryLike, read: () => Family[], all: Family[]): () => void {
  const current = memo(read);
  const names: string[] = [];
  for (const f of all) {
    const metric = {
      name: f.name,
      help: f.help,
      type: f.type,
      aggregator: "sum",
      labelNames: [] as string[],
      reset() {},
      get: async () => {
        const now = current().find((x) => x.name === f.name);
        return {
          name: f.name,
          help: f.help,
          type: f.type,
          aggregator: "sum",
          values: (now?.samples ?? []).map((s) => ({ metricName: s.name, labels: s.labels, value: s.value })),
        };
      },
    };
    registry.registerMetric(metric);
    names.push(f.name);
  }
  return () => {
    for (const name of names) registry.removeSingleMetric(name);
  };
}

/** OpenTelemetry names: dots, no `_total` (exporters add it), units as UCUM. */
function otelName(f: Family): { name: string; unit: string | undefined } {
  let name = f.name.replace(/_total$/, "");
  let unit: string | undefined;
  if (name.endsWith("_seconds")) {
    unit = "s";
    name = name.slice(0, -"_seconds".length);
  } else if (name.endsWith("_bytes")) {
    unit = "By";
    name = name.slice(0, -"_bytes".length);
  }
  return { name: name.replace(/^zarrs_cache_/, "zarrs_cache."), unit };
}

function registerOtel(meter: OtelMeterLike, read: () => Family[], all: Family[]): () => void {
  const observables = new Map<string, OtelObservable>();
  for (const f of all) {
    const { name, unit } = otelName(f);
    const options = unit === undefined ? { description: f.help } : { description: f.help, unit };
    // No asynchronous histogram exists in OpenTelemetry: latency goes out as quantile gauges.
    const observable =
      f.type === "counter"
        ? meter.createObservableCounter(name, options)
        : meter.createObservableGauge(f.type === "histogram" ? `${name}.quantile` : name, options);
    observables.set(f.name, observable);
  }
  const callback = (result: OtelBatchResult) => {
    for (const f of read()) {
      const observable = observables.get(f.name);
      if (observable === undefined) continue;
      if (f.type !== "histogram") {
        for (const s of f.samples) result.observe(observable, s.value, s.labels);
        continue;
      }
      for (const [labels, q] of histogramQuantiles(f)) result.observe(observable, q.value, { ...labels, quantile: q.quantile });
    }
  };
  const list = [...observables.values()];
  meter.addBatchObservableCallback(callback, list);
  return () => meter.removeBatchObservableCallback(callback, list);
}

/** p50/p90/p99 (seconds) of each labelled histogram of a family, from its cumulative buckets. */
function histogramQuantiles(f: Family): [Record<string, string>, { quantile: string; value: number }][] {
  const groups = new Map<string, { labels: Record<string, string>; buckets: [number, number][]; count: number }>();
  for (const s of f.samples) {
    if (!s.name.endsWith("_bucket")) continue;
    const { le, ...labels } = s.labels;
    const id = JSON.stringify(labels);
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { labels, buckets: [], count: 0 }));
    if (le === "+Inf") g.count = s.value;
    else g.buckets.push([Number(le), s.value]);
  }
  const out: [Record<string, string>, { quantile: string; value: number }][] = [];
  for (const g of groups.values()) {
    if (g.count === 0) continue;
    for (const q of [0.5, 0.9, 0.99]) {
      const rank = q * g.count;
      const hit = g.buckets.find(([, c]) => c >= rank);
      out.push([g.labels, { quantile: String(q), value: hit ? hit[0] : Number.POSITIVE_INFINITY }]);
    }
  }
  return out;
}
