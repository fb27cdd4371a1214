export { disk, DiskTier, type DiskStats } from "./disk-tier.js";
export {
  type DiskOptions,
  type DiskSingleFlightOptions,
  type DiskCoherenceOptions,
  DEFAULT_FILE_THRESHOLD,
  DEFAULT_MAX_KEY_LENGTH,
  ENTRY_OVERHEAD,
  VALUE_BYTES_LIMIT,
} from "./options.js";
