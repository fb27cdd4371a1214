import type { TierStats } from "@zarrs-cache/core";

/** What one maintenance pass did. */
export interface MaintenanceReport {
  /** Memory entries idle for `demotionAfter`, moved down to the disk level. */
  demoted: number;
  /** Expired memory entries dropped. */
  expired: number;
}

/** Counters of a hybrid tier: the TierStats ones plus both levels' own. */
export interface HybridStats extends TierStats {
  /** Lookups answered from memory (including entries being demoted). */
  memoryHits: number;
  /** Lookups answered from the disk level. */
  diskHits: number;
  /** memoryHits / all lookups. */
  memoryHitRate: number;
  /** diskHits / lookups that reached the disk level. */
  diskHitRate: number;
  /** Disk-level entries moved into memory because their access rate passed the threshold. */
  promotions: number;
  /** Entries that left memory for the disk level (idle, or displaced by a more frequent one). */
  demotions: number;
  /** The demotions due to idleness. */
  idleDemotions: number;
  /** Written values that entered memory. */
  admissions: number;
  /** Candidates (written or promoted) kept out of memory because they were not more frequent than the entries they would displace. */
  admissionsRefused: number;
  /** Demoted entries the disk level had evicted meanwhile, written back to it. */
  writeBacks: number;
  /** Expired memory entries dropped by maintenance. */
  expiredReclaimed: number;
  memoryEntries: number;
  memoryBytes: number;
  memoryMaxBytes: number;
  diskEntries: number | undefined;
  diskBytes: number | undefined;
  /** Disk-level keys whose access rate is being measured. */
  trackedRates: number;
  /** Times the frequency sketch halved its counters. */
  sketchAgings: number;
}
