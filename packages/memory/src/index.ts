export { memory, MemoryTier, type MemoryOptions } from "./memory-tier.js";
