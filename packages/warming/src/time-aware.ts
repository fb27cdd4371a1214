import { assertKnownOptions, ZarrsCacheError } from "@zarrs-cache/core";
import { assertOptionsObject, badOption, nonNegativeNumber, positiveInteger, show } from "./errors.js";
import type { WarmingStrategy } from "./types.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface TimeAwareOptions {
  /** Profile by hour of the day (default) or by hour of the week. */
  period?: "day" | "week";
  /** How long before a busy hour its keys are warmed (default 15 minutes). */
  leadMs?: number;
  /** A read's weight halves after this long (default 7 days). */
  halfLifeMs?: number;
  /** Keys warmed per hour at most, best first (default 100). */
  topKeys?: number;
  /** A key is warmed only with at least this (decayed) weight of reads in the hour (default 2). */
  minScore?: number;
  /** Keys remembered per hour; the weakest are forgotten beyond this (default 10,000). */
  maxKeysPerHour?: number;
  /** Hours counted in UTC or in the local time zone (default "local"). */
  timeZone?: "local" | "utc";
  /** The time source (default `Date`); tests inject a fake one. */
  clock?: { now(): number };
  /** Priority among waiting prefetches (default 0). */
  priority?: number;
}

/** A profile as `exportProfile()` returns it: plain JSON. */
export interface TimeProfile {
  version: 1;
  period: "day" | "week";
  /** [hour slot, cache key, score, time of the score in ms]. */
  entries: [number, string, number, number][];
}

export interface TimeAwareStrategy extends WarmingStrategy {
  exportProfile(): TimeProfile;
  /** Adds a saved profile to what is known (scores of the same key and hour add up). */
  importProfile(profile: TimeProfile): void;
}

interface Score {
  score: number;
  at: number;
}

/**
 * A decaying hour-of-day (or hour-of-week) profile of demand reads. Every read adds 1 to its
 * key's score in the hour it happened; scores halve every `halfLifeMs`. `leadMs` ahead of an hour,
 * the hour's `topKeys` keys whose score is at least `minScore` are warmed, once per occurrence of
 * the hour. An hour with no history warms nothing.
 */
export function timeAware(options: TimeAwareOptions = {}): TimeAwareStrategy {
  const owner = "timeAware()";
  assertOptionsObject(owner, options);
  assertKnownOptions(owner, options, [
    ...["period", "leadMs", "halfLifeMs", "topKeys", "minScore", "maxKeysPerHour", "timeZone", "clock", "priority"],
  ]);
  const period = options.period ?? "day";
  if (period !== "day" && period !== "week") throw badOption(owner, "period", 'must be "day" or "week"', period);
  const timeZone = options.timeZone ?? "local";
  if (timeZone !== "local" && timeZone !== "utc") throw badOption(owner, "timeZone", 'must be "local" or "utc"', timeZone);
  const leadMs = nonNegativeNumber(owner, "leadMs", options.leadMs, 15 * 60_000);
  const halfLifeMs = nonNegativeNumber(owner, "halfLifeMs", options.halfLifeMs, 7 * DAY);
  if (halfLifeMs === 0) throw badOption(owner, "halfLifeMs", "must be positive", halfLifeMs);
  const topKeys = positiveInteger(owner, "topKeys", options.topKeys, 100);
  const minScore = nonNegativeNumber(owner, "minScore", options.minScore, 2);
  const maxKeys = positiveInteger(owner, "maxKeysPerHour", options.maxKeysPerHour, 10_000);
  const clock = options.clock ?? Date;
  if (typeof clock?.now !== "function") throw badOption(owner, "clock", "must have a now() method", clock);
  const priority = options.priority ?? 0;
  if (!Number.isFinite(priority)) throw badOption(owner, "priority", "must be a finite number", priority);

  const slots = new Map<number, Map<string, Score>>();
  /** The occurrence (hour number since the epoch) each slot was last warmed for. */
  const warmedFor = new Map<number, number>();

  const slotOf = (time: number) => {
    const date = new Date(time);
    const hour = timeZone === "utc" ? date.getUTCHours() : date.getHours();
    const day = timeZone === "utc" ? date.getUTCDay() : date.getDay();
    return period === "day" ? hour : day * 24 + hour;
  };
  const decayed = (s: Score, now: number) => s.score * 0.5 ** (Math.max(0, now - s.at) / halfLifeMs);

  const add = (slot: number, key: string, score: number, at: number) => {
    let keys = slots.get(slot);
    if (keys === undefined) slots.set(slot, (keys = new Map()));
    const current = keys.get(key);
    keys.set(key, { score: (current === undefined ? 0 : decayed(current, at)) + score, at });
    if (keys.size > maxKeys) forgetWeakest(keys, at);
  };

  const forgetWeakest = (keys: Map<string, Score>, now: number) => {
    const ranked = [...keys].sort((a, b) => decayed(a[1], now) - decayed(b[1], now));
    for (const [key] of ranked.slice(0, keys.size - Math.floor(maxKeys * 0.9))) keys.delete(key);
  };

  return {
    name: "timeAware",
    priority,
    onKeyRead(key: string) {
      const now = clock.now();
      add(slotOf(now), key, 1, now);
    },
    tick() {
      const now = clock.now();
      const ahead = now + leadMs;
      const slot = slotOf(ahead);
      const occurrence = Math.floor(ahead / HOUR);
      if (warmedFor.get(slot) === occurrence) return undefined;
      const keys = slots.get(slot);
      if (keys === undefined) return undefined;
      warmedFor.set(slot, occurrence);
      return [...keys]
        .map(([key, s]) => [key, decayed(s, now)] as const)
        .filter(([, score]) => score >= minScore)
        .sort((a, b) => b[1] - a[1])
        .slice(0, topKeys)
        .map(([key]) => key);
    },
    exportProfile(): TimeProfile {
      const entries: TimeProfile["entries"] = [];
      for (const [slot, keys] of slots) for (const [key, s] of keys) entries.push([slot, key, s.score, s.at]);
      return { version: 1, period, entries };
    },
    importProfile(profile: TimeProfile) {
      const bad = (why: string) => new ZarrsCacheError("INVALID_ARGUMENT", `timeAware.importProfile(profile): ${why}`);
      if (profile === null || typeof profile !== "object" || profile.version !== 1 || !Array.isArray(profile.entries)) {
        throw bad(`expected an object from exportProfile() ({ version: 1, period, entries }), got ${show(profile)}`);
      }
      if (profile.period !== period) throw bad(`the profile is by ${show(profile.period)}, this strategy by ${show(period)}`);
      const slotCount = period === "day" ? 24 : 168;
      for (const entry of profile.entries) {
        const [slot, key, score, at] = Array.isArray(entry) ? entry : [];
        if (
          !Number.isInteger(slot) ||
          slot! < 0 ||
          slot! >= slotCount ||
          typeof key !== "string" ||
          !(Number(score) >= 0) ||
          !Number.isFinite(at)
        ) {
          throw bad(`entry ${show(entry)} is not [hour slot, key, score, time]`);
        }
        add(slot!, key, score!, at!);
      }
    },
  };
}
