// The pieces every tier needs, written once: see CONTRIBUTING.md, "Adding a tier".
export { assertPrefix, assertSetArguments, valueTooLarge } from "./arguments.js";
export { TIER_METHODS, assertTier, missingTierMethods } from "./assert-tier.js";
export { BREAKER_STATE_GAUGE, CircuitBreaker, type BreakerSettings, type BreakerState } from "./breaker.js";
export { deleteByListing, deletePrefixOf } from "./delete-prefix.js";
export {
  ALIGNED_HEADER_BYTES,
  decodeEntry,
  encodeEntry,
  entryHeaderBytes,
  writeEntryHeader,
  type EntryLayout,
  type StoredEntry,
} from "./entry-codec.js";
export { forwardOptional, type OptionalTierMethod } from "./forward.js";
export { Guard, withTimeout, type GuardCounters, type GuardOptions } from "./guard.js";
export { guarded, type GuardedOptions } from "./guarded.js";
export { OpenState, closedError } from "./lifecycle.js";
export { EvictionListeners, Listeners, type EvictionListener, type EvictionReason } from "./listeners.js";
export { configName, configTtl } from "./config.js";
export { DEFAULT_ENTRY_OVERHEAD, entryBytes } from "./size.js";
export { planExpiry, wholeMs, type ExpiryPlan } from "./ttl.js";
