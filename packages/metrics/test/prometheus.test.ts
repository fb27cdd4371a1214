import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { isZarrsCacheError } from "@zarrs-cache/core";
import { memory } from "@zarrs-cache/memory";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { chunk, gridArray, setup } from "./helpers.js";

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/**
 * Every sample with its labels. parse-prometheus-text-format folds the series of a histogram into
 * one (dropping their labels), so histograms are parsed a second time declared untyped: the
 * parser then returns each `_bucket`, `_sum` and `_count` line with its labels.
 */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const untyped = text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped");
  return parsePrometheusTextFormat(untyped).flatMap((f) =>
    f.metrics.map((m) => ({ name: f.name, labels: m.labels ?? {}, value: Number(m.value) })),
  );
}

async function workload(arrays = 3, maxArrayLabels?: number) {
  const list = Array.from({ length: arrays }, (_, i) => gridArray(`/g/a${i}`, [8, 8]));
  const s = setup({ arrays: list, ...(maxArrayLabels === undefined ? {} : { maxArrayLabels }) }, [
    memory({ maxBytes: 32 * 1024 }),
    memory({ maxBytes: 64 * 1024 * 1024 }),
  ]);
  for (const [i, a] of list.entries()) {
    for (let r = 0; r < 2; r++) for (let j = 0; j <= i % 8; j++) await s.read(chunk(a, [j, 0]));
  }
  // 40 chunks twice: more than the 32 KiB first tier holds, so the second pass hits the second tier.
  for (let pass = 0; pass < 2; pass++) for (let i = 0; i < 40; i++) await s.read(chunk(list[0]!, [i % 8, Math.floor(i / 8)]));
  await s.read("/nothing/absent");
  return { ...s, arrays: list };
}

describe("prometheus()", () => {
  it("writes valid text exposition: zarrs_cache_* names, _total counters, second-based histograms, tier/level/result labels", async () => {
    const { cache, plugin } = await workload();
    const families = parsePrometheusTextFormat(plugin.prometheus());
    const byName = new Map(families.map((f) => [f.name, f]));
    for (const f of families) {
      expect(f.name).toMatch(/^zarrs_cache_[a-z_]+$/);
      if (f.type === "COUNTER") expect(f.name).toMatch(/_total$/);
      if (f.type === "HISTOGRAM") expect(f.name).toMatch(/_seconds$/);
    }
    const lookups = byName.get("zarrs_cache_lookups_total")!;
    const snapshot = plugin.snapshot();
    for (const level of snapshot.levels) {
      for (const [result, expected] of [
        ["hit", level.hits],
        ["miss", level.misses],
      ] as const) {
        const sample = lookups.metrics.find((m) => m.labels?.level === String(level.level) && m.labels?.result === result)!;
        expect(sample.labels!.tier).toBe("memory");
        expect(Number(sample.value)).toBe(expected);
      }
    }
    expect(byName.get("zarrs_cache_lookup_duration_seconds")!.type).toBe("HISTOGRAM");
    const all = samples(plugin.prometheus());
    const series = (name: string) => all.filter((x) => x.name === name && x.labels.level === "1" && x.labels.result === "hit");
    const buckets = series("zarrs_cache_lookup_duration_seconds_bucket");
    const count = series("zarrs_cache_lookup_duration_seconds_count")[0]!.value;
    const sum = series("zarrs_cache_lookup_duration_seconds_sum")[0]!.value;
    expect(count).toBe(snapshot.levels[1]!.hits); // lower tiers time every lookup (the first one in 16)
    expect(count).toBeGreaterThan(0);
    expect(buckets[0]!.labels.le).toBe("0.000001"); // 1 µs
    expect(buckets.at(-1)!.labels.le).toBe("+Inf");
    expect(buckets.at(-1)!.value).toBe(count);
    expect(Number(buckets.at(-2)!.labels.le)).toBeGreaterThan(10); // seconds
    const cumulative = buckets.map((b) => b.value);
    expect(cumulative).toEqual([...cumulative].sort((a, b) => a - b));
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(count); // seconds, not µs: each lookup well under 1 s
    expect(Number(byName.get("zarrs_cache_hits_total")!.metrics[0]!.value)).toBe(cache.stats().hits);
    expect(byName.get("zarrs_cache_upstream_requests_total")!.metrics.find((m) => m.labels?.result === "absent")!.value).toBe("1");
    expect(byName.get("zarrs_cache_max_bytes")!.metrics.map((m) => Number(m.value))).toEqual([32 * 1024, 64 * 1024 * 1024]);
    await cache.close();
  });

  it("caps the array label: the most read arrays get their own, the rest are summed as _other", async () => {
    const { cache, plugin } = await workload(30, 5);
    const families = parsePrometheusTextFormat(plugin.prometheus());
    const reads = families.find((f) => f.name === "zarrs_cache_array_reads_total")!;
    const labels = reads.metrics.map((m) => m.labels!.array);
    expect(labels).toHaveLength(6);
    expect(labels).toContain("_other");
    expect(labels).toContain("/g/a0"); // the most read
    const total = reads.metrics.reduce((s, m) => s + Number(m.value), 0);
    expect(total).toBe(plugin.snapshot().arrays.reduce((s, a) => s + a.reads, 0));
    await cache.close();
  });
});

describe("registerWith()", () => {
  it("serves the same counters through a prom-client Registry, and unregisters", async () => {
    const { cache, plugin } = await workload();
    const registry = new Registry();
    const unregister = plugin.registerWith(registry);
    const ours = parsePrometheusTextFormat(plugin.prometheus());
    const theirs = parsePrometheusTextFormat(await registry.metrics());
    const pick = (list: typeof ours, name: string) => list.find((f) => f.name === name)!.metrics;
    for (const name of ["zarrs_cache_lookups_total", "zarrs_cache_lookup_duration_seconds", "zarrs_cache_array_reads_total"]) {
      expect(pick(theirs, name)).toEqual(pick(ours, name));
    }
    unregister();
    expect(await registry.metrics()).not.toContain("zarrs_cache_");
    await cache.close();
  });

  it("reports through an OpenTelemetry MeterProvider", async () => {
    const { cache, plugin } = await workload();
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const unregister = plugin.registerWith(provider);
    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const lookups = metrics.find((m) => m.descriptor.name === "zarrs_cache.lookups")!;
    const l1Hits = lookups.dataPoints.find((p) => p.attributes.level === "0" && p.attributes.result === "hit")!;
    expect(l1Hits.value).toBe(plugin.snapshot().levels[0]!.hits);
    const latency = metrics.find((m) => m.descriptor.name === "zarrs_cache.lookup_duration.quantile")!;
    expect(latency.descriptor.unit).toBe("s");
    expect(latency.dataPoints.some((p) => p.attributes.quantile === "0.99" && (p.value as number) > 0)).toBe(true);
    expect(metrics.find((m) => m.descriptor.name === "zarrs_cache.upstream")?.descriptor.unit).toBe("By");
    unregister();
    await provider.shutdown();
    await cache.close();
  });

  it("refuses anything else with a clear error", async () => {
    const { cache, plugin } = await workload(1);
    for (const bad of [undefined, {}, "registry", { getMeter: 1 }]) {
      let error: unknown;
      try {
        plugin.registerWith(bad);
      } catch (e) {
        error = e;
      }
      expect(isZarrsCacheError(error, "INVALID_ARGUMENT")).toBe(true);
      expect((error as Error).message).toMatch(/prom-client Registry, an OpenTelemetry MeterProvider or Meter/);
    }
    await cache.close();
  });
});
