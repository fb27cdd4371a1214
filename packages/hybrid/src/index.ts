export { hybrid, HybridTier } from "./hybrid-tier.js";
export type { HybridStats, MaintenanceReport } from "./stats.js";
export type { HybridMemoryOptions, HybridOptions } from "./options.js";
