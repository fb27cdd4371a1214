/**
 * An online miss-ratio curve for an LRU cache bounded in bytes, from spatially hashed sampling of
 * reuse distances (SHARDS, Waldspurger et al., FAST'15, fixed-size variant): a key is sampled
 * when its hash falls below a threshold, which drops as more keys are seen so that at most
 * `maxSamples` keys are tracked. The byte reuse distance of a sampled reference (bytes of the
 * distinct keys touched since its last use) is kept in a Fenwick tree over access times, and
 * scaled up by the sampling rate.
 */
const HASH_SPACE = 2 ** 32;
const DIST_SUB = 8; // histogram buckets per power of two of bytes
const DIST_POWERS = 48;

interface Sample {
  slot: number;
  size: number;
  hash: number;
}

export interface MissRatioCurve {
  /** Sampled references counted (each stands for 1 / rate references). */
  readonly references: number;
  /** The sampling rate now (1 = every key). */
  readonly rate: number;
  /** Predicted LRU hit ratio for a bound of `bytes`. */
  hitRatioAt(bytes: number): number;
  /** The hit ratio an unbounded cache would reach (only first references miss). */
  readonly maxHitRatio: number;
  /** Mean value size seen (bytes), if any. */
  readonly meanSize: number | undefined;
  /** The smallest bound (bytes) whose predicted hit ratio reaches `ratio`, if any does. */
  bytesFor(ratio: number): number | undefined;
}

export class MissRatioEstimator {
  private readonly samples = new Map<string, Sample>();
  private threshold = HASH_SPACE;
  private tree: Float64Array;
  private clock = 0;
  /** Weighted references per distance bucket; cold (first) references separately. */
  private readonly distances = new Float64Array(DIST_POWERS * DIST_SUB);
  private cold = 0;
  private total = 0;
  private sizeSum = 0;
  private sizeCount = 0;

  constructor(private readonly maxSamples: number) {
    this.tree = new Float64Array(4 * maxSamples + 1);
  }

  /** Mean size of the values seen (bytes), or undefined before any. */
  get meanSize(): number | undefined {
    return this.sizeCount > 0 ? this.sizeSum / this.sizeCount : undefined;
  }

  get rate(): number {
    return this.threshold / HASH_SPACE;
  }

  /** One reference to `key` (`hash` = fnv1a(key)); `size` when known (else the last size seen for it, or the mean). */
  access(key: string, hash: number, size: number | undefined): void {
    if (hash >= this.threshold) return;
    const known = this.samples.get(key);
    const bytes = size ?? known?.size ?? (this.sizeCount > 0 ? this.sizeSum / this.sizeCount : 1);
    if (this.clock + 1 >= this.tree.length) this.compact();
    const slot = ++this.clock;
    const weight = 1 / this.rate;
    this.total += 1;
    if (known === undefined) {
      this.cold += 1;
      this.samples.set(key, { slot, size: bytes, hash });
      this.add(slot, bytes);
      if (this.samples.size > this.maxSamples) this.shrink();
    } else {
      const distance = (this.prefix(this.clock - 1) - this.prefix(known.slot)) * weight + bytes;
      this.distances[distanceBucket(distance)]! += 1;
      this.add(known.slot, -known.size);
      known.slot = slot;
      known.size = bytes;
      this.add(slot, bytes);
    }
  }

  /** The size of a sampled key became known (a fill or a hit reported its bytes). */
  sized(key: string, size: number): void {
    this.sizeSum += size;
    this.sizeCount++;
    const known = this.samples.get(key);
    if (known === undefined || known.size === size) return;
    this.add(known.slot, size - known.size);
    known.size = size;
  }

  curve(): MissRatioCurve {
    const distances = Array.from(this.distances);
    const total = this.total;
    const cold = this.cold;
    const rate = this.rate;
    const hitRatioAt = (bytes: number): number => {
      if (total === 0) return 0;
      let hits = 0;
      for (let i = 0; i < distances.length; i++) {
        const upper = distanceUpper(i);
        if (upper <= bytes) hits += distances[i]!;
        else {
          // The bucket the bound falls in counts in proportion (distances spread evenly inside it).
          const lower = distanceLower(i);
          if (bytes > lower) hits += (distances[i]! * (bytes - lower)) / (upper - lower);
          break;
        }
      }
      return hits / total;
    };
    return Object.freeze({
      references: total,
      rate,
      maxHitRatio: total === 0 ? 0 : (total - cold) / total,
      meanSize: this.meanSize,
      hitRatioAt,
      bytesFor(ratio: number): number | undefined {
        let hits = 0;
        for (let i = 0; i < distances.length; i++) {
          hits += distances[i]!;
          if (total > 0 && hits / total >= ratio) return Math.ceil(distanceUpper(i));
        }
        return undefined;
      },
    });
  }

  /** Keeps at most maxSamples keys: drops those with the largest hashes and lowers the threshold. */
  private shrink(): void {
    const sorted = [...this.samples.entries()].sort((a, b) => b[1].hash - a[1].hash);
    const drop = Math.max(1, this.samples.size - Math.floor(this.maxSamples * 0.9));
    const before = this.threshold;
    for (let i = 0; i < drop; i++) {
      const [key, sample] = sorted[i]!;
      this.add(sample.slot, -sample.size);
      this.samples.delete(key);
      this.threshold = sample.hash;
    }
    // References counted at the old rate stand for fewer references than new ones: rescale them
    // to the new rate (SHARDS_adj), or the early, mostly cold, part of the stream would dominate.
    const scale = this.threshold / before;
    for (let i = 0; i < this.distances.length; i++) this.distances[i]! *= scale;
    this.cold *= scale;
    this.total *= scale;
  }

  /** Renumbers access times 1..n in order, so the tree never grows. */
  private compact(): void {
    const live = [...this.samples.values()].sort((a, b) => a.slot - b.slot);
    this.tree.fill(0);
    this.clock = 0;
    for (const sample of live) {
      sample.slot = ++this.clock;
      this.add(sample.slot, sample.size);
    }
  }

  private add(slot: number, delta: number): void {
    for (let i = slot; i < this.tree.length; i += i & -i) this.tree[i]! += delta;
  }

  private prefix(slot: number): number {
    let sum = 0;
    for (let i = slot; i > 0; i -= i & -i) sum += this.tree[i]!;
    return sum;
  }
}

const POW2 = Array.from({ length: DIST_POWERS }, (_, e) => 2 ** e);

function distanceBucket(bytes: number): number {
  if (bytes < 1) return 0;
  // clz32 is far cheaper than log2 on the hot path; log2 only past 2 GiB.
  const e = Math.min(DIST_POWERS - 1, bytes < 2 ** 31 ? 31 - Math.clz32(bytes) : Math.floor(Math.log2(bytes)));
  return e * DIST_SUB + Math.min(DIST_SUB - 1, Math.floor((bytes / POW2[e]! - 1) * DIST_SUB));
}

function distanceLower(index: number): number {
  const e = Math.floor(index / DIST_SUB);
  return 2 ** e * (1 + (index % DIST_SUB) / DIST_SUB);
}

function distanceUpper(index: number): number {
  const e = Math.floor(index / DIST_SUB);
  return 2 ** e * (1 + ((index % DIST_SUB) + 1) / DIST_SUB);
}

/** 32-bit FNV-1a: a cheap, well-spread hash of the key's UTF-16 units. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
