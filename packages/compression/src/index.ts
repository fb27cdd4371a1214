export { compressed, CompressedTier, type CompressionStats } from "./compressed-tier.js";
export type { Codec, CompressionOptions, Implementation } from "./options.js";
export type { ImplementationName } from "./engines.js";
