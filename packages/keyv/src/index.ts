export { KeyvTier, keyvTier } from "./keyv-tier.js";
export { MAX_STORE_TTL } from "./expiry.js";
export type { KeyvTierOptions } from "./options.js";
export type { Encoding, Transport } from "./transport.js";
