export { cacheExtension, withCache, type CacheExtensionOptions, type WithCacheOptions } from "./with-cache.js";
export { StoreKeys, storeIdentity } from "./keys.js";
