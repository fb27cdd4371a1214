export { indexedDb, IndexedDbTier } from "./indexeddb-tier.js";
export type { IndexedDbOptions } from "./options.js";
export { DB_VERSION } from "./schema.js";
