/**
 * @zarrs-cache/warming: prefetch strategies that understand zarr chunk grids, and region warming.
 * `createCache().tier(memory(...)).use(warming({ strategies: [neighbor(), predictive()] })).build()`.
 */
export { warming, type WarmingOptions, type WarmingPlugin, type WarmingStats } from "./plugin.js";
export { neighbor, type NeighborOptions } from "./neighbor.js";
export { predictive, type PredictiveOptions } from "./predictive.js";
export { timeAware, type TimeAwareOptions, type TimeAwareStrategy, type TimeProfile } from "./time-aware.js";
export { warmRegion, type RegionArray, type RegionProgress, type RegionResult, type WarmRegionOptions } from "./region.js";
export type { Budget } from "./scheduler.js";
export type { ChunkRead, PrefetchFate, StrategyStats, WarmingStrategy } from "./types.js";
