export { redis, RedisTier, type RedisGetOptions, type RedisTierEvents, type RedisTierStats } from "./redis-tier.js";
export type { BreakerOptions, BusOptions, RedisTierOptions, RepairOptions, SingleFlightOptions } from "./options.js";
export type { BreakerState } from "@zarrs-cache/core";
