export { indexedDb, IndexedDbTier } from "./indexeddb-tier.js";
export type { IndexedDbOptions } from "./options.js";
export { DB_VERSION, MAX_SPLIT_BYTES, PIECE_BYTES } from "./schema.js";
