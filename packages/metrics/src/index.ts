export { metrics, type HtmlReportOptions, type MetricsPlugin, type ReportOptions } from "./plugin.js";
export type { MetricsOptions } from "./options.js";
export type { ArraySnapshot, LevelSnapshot, MetricsSnapshot, UpstreamSnapshot, WarmingSnapshot } from "./snapshot.js";
export type { ArrayReport, MetricsReport, Percentiles, TierReport } from "./report.js";
export type { Recommendation } from "./recommendations.js";
export type { HistogramData } from "./histogram.js";
export type { TimelinePoint } from "./collector.js";
export type { OtelMeterLike, OtelMeterProviderLike, PromRegistryLike } from "./register.js";
