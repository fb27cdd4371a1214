import { assertKnownOptions, configNumber, ZarrArray, ZarrsCacheError } from "@zarrs-cache/core";

export interface MetricsOptions {
  /** Arrays whose chunk grids the metrics know (from `zarrArray(metadata, { path })`); more with `addArray`. */
  arrays?: Iterable<ZarrArray>;
  /** Length of one timeline interval (hit rate over time, windows), ms. Default 1000. */
  intervalMs?: number;
  /** Intervals kept in the timeline. Default 600 (10 minutes at the default interval). */
  timelineLength?: number;
  /** Keys tracked for "most accessed" and per-chunk counts (the least read are dropped). Default 4096. */
  maxTrackedKeys?: number;
  /** Keys sampled for the miss-ratio estimate (SHARDS). Default 8192. */
  missRatioSamples?: number;
  /** Arrays tracked at most. Default 256. */
  maxArrays?: number;
  /** Arrays that get their own `array` label in Prometheus/OpenTelemetry; the rest are "_other". Default 20. */
  maxArrayLabels?: number;
}

export type ResolvedOptions = Required<Omit<MetricsOptions, "arrays">> & { arrays: ZarrArray[] };

const KNOWN = ["arrays", "intervalMs", "timelineLength", "maxTrackedKeys", "missRatioSamples", "maxArrays", "maxArrayLabels"] as const;

export function resolveOptions(options: MetricsOptions | undefined): ResolvedOptions {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ZarrsCacheError("INVALID_CONFIG", `metrics(options): options must be an object, got ${String(options)}`);
  }
  assertKnownOptions("metrics", options, KNOWN);
  configNumber("metrics", "intervalMs", options.intervalMs, { min: 1, optional: true });
  configNumber("metrics", "timelineLength", options.timelineLength, { min: 2, integer: true, optional: true });
  configNumber("metrics", "maxTrackedKeys", options.maxTrackedKeys, { min: 16, integer: true, optional: true });
  configNumber("metrics", "missRatioSamples", options.missRatioSamples, { min: 64, integer: true, optional: true });
  configNumber("metrics", "maxArrays", options.maxArrays, { min: 1, integer: true, optional: true });
  configNumber("metrics", "maxArrayLabels", options.maxArrayLabels, { min: 0, integer: true, optional: true });
  const arrays = options.arrays === undefined ? [] : toArrays(options.arrays);
  return {
    arrays,
    intervalMs: options.intervalMs ?? 1000,
    timelineLength: options.timelineLength ?? 600,
    maxTrackedKeys: options.maxTrackedKeys ?? 4096,
    missRatioSamples: options.missRatioSamples ?? 8192,
    maxArrays: options.maxArrays ?? 256,
    maxArrayLabels: options.maxArrayLabels ?? 20,
  };
}

function toArrays(arrays: unknown): ZarrArray[] {
  if (typeof arrays !== "object" || arrays === null || typeof (arrays as Iterable<unknown>)[Symbol.iterator] !== "function") {
    throw new ZarrsCacheError(
      "INVALID_CONFIG",
      `metrics: option "arrays" must be an iterable of ZarrArray (from zarrArray()), got ${String(arrays)}`,
    );
  }
  const list = [...(arrays as Iterable<unknown>)];
  list.forEach((a, i) => assertArray(a, `metrics: option "arrays"[${i}]`, "INVALID_CONFIG"));
  return list as ZarrArray[];
}

export function assertArray(
  array: unknown,
  what: string,
  code: "INVALID_ARGUMENT" | "INVALID_CONFIG" = "INVALID_ARGUMENT",
): asserts array is ZarrArray {
  if (!(array instanceof ZarrArray)) {
    throw new ZarrsCacheError(code, `${what} must be a ZarrArray from zarrArray(metadata, { path }), got ${describeValue(array)}`);
  }
}

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object (${(value as object).constructor?.name ?? "Object"})`;
  return typeof value === "string" ? `"${value}"` : String(value);
}
