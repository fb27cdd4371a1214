export { redis, RedisTier, type RedisGetOptions, type RedisTierEvents, type RedisTierStats } from "./redis-tier.js";
export type { BreakerOptions, BusOptions, RedisTierOptions, SingleFlightOptions } from "./options.js";
export type { BreakerState } from "./breaker.js";
