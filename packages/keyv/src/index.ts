export { KeyvTier, keyvTier } from "./keyv-tier.js";
export type { KeyvTierOptions } from "./options.js";
export type { Encoding, Transport } from "./transport.js";
