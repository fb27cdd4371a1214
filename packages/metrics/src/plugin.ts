import {
  assertKnownOptions,
  ZarrsCacheError,
  type CachePlugin,
  type CacheEvents,
  type PluginContext,
  type ZarrArray,
} from "@zarrs-cache/core";
import { Collector } from "./collector.js";
import { exposition, families, type Family } from "./families.js";
import { formatReport } from "./format.js";
import { renderHtml } from "./html.js";
import { assertArray, describeValue, resolveOptions, type MetricsOptions, type ResolvedOptions } from "./options.js";
import { registerFamilies } from "./register.js";
import { buildReport, type MetricsReport } from "./report.js";
import { since, type MetricsSnapshot } from "./snapshot.js";

export interface ReportOptions {
  /** Report on about the last `windowMs` (from the checkpoint taken closest before it); default: since the start. */
  windowMs?: number;
  /** Report on the window since this snapshot (exact). */
  since?: MetricsSnapshot;
}

export interface HtmlReportOptions extends ReportOptions {
  /** The page title. */
  title?: string;
}

export interface MetricsPlugin extends CachePlugin {
  /** An immutable snapshot of every counter now. */
  snapshot(): MetricsSnapshot;
  /** The counters between `previous` (an earlier snapshot) and now. */
  since(previous: MetricsSnapshot): MetricsSnapshot;
  report(options?: ReportOptions): MetricsReport;
  /** A plain-text report (of `report`, or of a fresh `report()`). */
  formatReport(report?: MetricsReport): string;
  /** Prometheus text exposition (version 0.0.4) of the counters now. */
  prometheus(): string;
  /** Registers with a prom-client Registry or an OpenTelemetry MeterProvider/Meter; returns an unregister function. */
  registerWith(registry: unknown): () => void;
  /** One self-contained HTML page with charts. */
  htmlReport(options?: HtmlReportOptions): string;
  /** Makes an array's chunk grid known (for locality, per-array counters and heatmaps). */
  addArray(array: ZarrArray): void;
}

/** Events heard one by one; hits come in batches (`onHits`). */
const EVENTS = ["levelMiss", "miss", "load", "set", "delete", "invalidate", "backfill", "evict", "error"] as const;
/** Checkpoints for `report({ windowMs })`: one per interval for the last 60, one per 60 intervals for the last 60 of those. */
const RING = 60;

/**
 * The metrics plugin: `createCache().tier(...).use(metrics({ arrays })).build()`. It only listens to
 * events (and reads stats()), so it never sees values; a failure inside it never reaches a read.
 */
export function metrics(options?: MetricsOptions): MetricsPlugin {
  const resolved: ResolvedOptions = resolveOptions(options);
  let collector: Collector | undefined;
  const fine: MetricsSnapshot[] = [];
  const coarse: MetricsSnapshot[] = [];
  let ticks = 0;

  const ready = (what: string): Collector => {
    if (collector === undefined) {
      throw new ZarrsCacheError(
        "INVALID_CONFIG",
        `metrics.${what}(): add the plugin to a cache first (createCache().use(metrics()).build())`,
      );
    }
    return collector;
  };

  const windowFor = (c: Collector, what: string, options: ReportOptions | undefined): MetricsSnapshot => {
    if (options === undefined) return c.snapshot();
    if (typeof options !== "object" || options === null) {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `metrics.${what}(options): options must be an object, got ${describeValue(options)}`);
    }
    assertKnownOptions(`metrics.${what}`, options, what === "htmlReport" ? ["windowMs", "since", "title"] : ["windowMs", "since"]);
    const { windowMs, since: previous } = options;
    if (windowMs !== undefined && previous !== undefined) {
      throw new ZarrsCacheError("INVALID_ARGUMENT", `metrics.${what}(options): give windowMs or since, not both`);
    }
    const now = c.snapshot();
    if (previous !== undefined) return since(now, previous);
    if (windowMs === undefined) return now;
    if (typeof windowMs !== "number" || !Number.isFinite(windowMs) || windowMs <= 0) {
      throw new ZarrsCacheError(
        "INVALID_ARGUMENT",
        `metrics.${what}(options): windowMs must be a positive number of milliseconds, got ${describeValue(windowMs)}`,
      );
    }
    const target = now.takenAt - windowMs;
    const candidates = [...coarse, ...fine].sort((a, b) => a.takenAt - b.takenAt);
    let start: MetricsSnapshot | undefined;
    for (const checkpoint of candidates) if (checkpoint.takenAt <= target) start = checkpoint;
    return start === undefined ? now : since(now, start);
  };

  const currentFamilies = (c: Collector): Family[] => families(c.snapshot(), resolved.maxArrayLabels);

  const plugin: MetricsPlugin = {
    name: "metrics",

    setup(context: PluginContext) {
      if (collector !== undefined)
        throw new ZarrsCacheError("INVALID_CONFIG", "metrics(): one metrics() plugin serves one cache; create another for this one");
      const c = new Collector(resolved, context);
      collector = c;
      const guard =
        <T>(handler: (event: T) => void) =>
        (event: T) => {
          try {
            handler(event);
          } catch {
            c.internalError();
          }
        };
      const handlers: { [K in (typeof EVENTS)[number]]: (e: CacheEvents[K]) => void } = {
        levelMiss: c.onLevelMiss,
        miss: c.onMiss,
        load: c.onLoad,
        set: c.onSet,
        delete: c.onDelete,
        invalidate: c.onInvalidate,
        backfill: c.onBackfill,
        evict: c.onEvict,
        error: c.onError,
      };
      const unsubscribes = EVENTS.map((type) => context.on(type, guard(handlers[type] as (e: unknown) => void)));
      const hits = context.on("hits", guard(c.onHits));
      unsubscribes.push(hits);
      c.flushHits = hits.flush;

      fine.push(c.snapshot());
      const timer = setInterval(() => {
        try {
          hits.flush();
          c.tick();
          fine.push(c.snapshot());
          if (fine.length > RING) fine.shift();
          if (++ticks % RING === 0) {
            coarse.push(fine[fine.length - 1]!);
            if (coarse.length > RING) coarse.shift();
          }
        } catch {
          c.internalError();
        }
      }, resolved.intervalMs);
      (timer as { unref?: () => void }).unref?.();
      return () => {
        clearInterval(timer);
        for (const unsubscribe of unsubscribes) unsubscribe();
      };
    },

    snapshot: () => ready("snapshot").snapshot(),
    since: (previous) => since(ready("since").snapshot(), previous),
    report: (options) => {
      const c = ready("report");
      return buildReport(windowFor(c, "report", options), c);
    },
    formatReport: (report) => formatReport(report ?? plugin.report()),
    prometheus: () => exposition(currentFamilies(ready("prometheus"))),
    registerWith: (registry) => {
      const c = ready("registerWith");
      // Every family that can appear, so that a registry knows all names up front.
      const all = families(
        {
          ...c.snapshot(),
          arrays: [{ path: "/", reads: 1, hits: 0, misses: 0, pairs: 1, neighbourPairs: 0 }],
          warming: { prefetched: 0, used: 0, wasted: 0, late: 0 },
        },
        1,
      );
      return registerFamilies(registry, () => currentFamilies(c), all);
    },
    htmlReport: (options) => {
      const c = ready("htmlReport");
      const window = windowFor(c, "htmlReport", options);
      const report = buildReport(window, c);
      const title = options?.title ?? "zarrs-cache metrics";
      if (typeof title !== "string")
        throw new ZarrsCacheError("INVALID_ARGUMENT", `metrics.htmlReport(options): title must be a string, got ${describeValue(title)}`);
      const heatmaps = [...c.arrays.values()].sort((a, b) => b.reads - a.reads).map((a) => ({ path: a.array.path, heatmap: a.heatmap }));
      return renderHtml({
        report,
        snapshot: window,
        timeline: c.timelinePoints().filter((p) => p.at >= window.windowStart - 1),
        heatmaps,
        title,
      });
    },
    addArray: (array) => {
      assertArray(array, "metrics.addArray(array): array");
      if (collector === undefined) resolved.arrays.push(array);
      else collector.addArray(array);
    },
  };
  return plugin;
}
