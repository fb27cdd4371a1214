/**
 * A log-linear latency histogram in microseconds: 4 buckets per power of two (≤ 19% wide), from
 * below 1 µs to hours, in one fixed Float64Array. Recording is a log2 and an increment.
 */
const SUB = 4;
const POWERS = 36; // 2^35 µs ≈ 9.5 hours
export const HISTOGRAM_BUCKETS = 1 + POWERS * SUB;

export interface HistogramData {
  /** Counts per bucket (see `bucketBounds`). */
  readonly counts: readonly number[];
  readonly count: number;
  /** Sum of recorded values in µs. */
  readonly sum: number;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(HISTOGRAM_BUCKETS);
  count = 0;
  sum = 0;

  /** Records one duration in microseconds (negative or NaN is ignored). */
  record(us: number): void {
    if (!(us >= 0)) return;
    this.counts[bucketOf(us)]!++;
    this.count++;
    this.sum += us;
  }

  data(): HistogramData {
    return Object.freeze({ counts: Object.freeze(Array.from(this.counts)), count: this.count, sum: this.sum });
  }
}

export function bucketOf(us: number): number {
  if (us < 1) return 0;
  const e = Math.min(POWERS - 1, Math.floor(Math.log2(us)));
  const sub = Math.min(SUB - 1, Math.floor((us / 2 ** e - 1) * SUB));
  return 1 + e * SUB + sub;
}

/** [lower, upper) of a bucket in µs. */
export function bucketBounds(index: number): [number, number] {
  if (index === 0) return [0, 1];
  const e = (index - 1) >> 2;
  const sub = (index - 1) & 3;
  return [2 ** e * (1 + sub / SUB), 2 ** e * (1 + (sub + 1) / SUB)];
}

export function emptyHistogram(): HistogramData {
  return Object.freeze({ counts: Object.freeze(new Array<number>(HISTOGRAM_BUCKETS).fill(0)), count: 0, sum: 0 });
}

export function subtractHistogram(a: HistogramData, b: HistogramData): HistogramData {
  return Object.freeze({
    counts: Object.freeze(a.counts.map((c, i) => c - (b.counts[i] ?? 0))),
    count: a.count - b.count,
    sum: a.sum - b.sum,
  });
}

/** The q-quantile (0..1) in µs, interpolated inside its bucket; undefined when empty. */
export function quantile(h: HistogramData, q: number): number | undefined {
  if (h.count <= 0) return undefined;
  const rank = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (c <= 0) continue;
    if (seen + c >= rank) {
      const [lo, hi] = bucketBounds(i);
      return lo + (hi - lo) * Math.max(0, Math.min(1, (rank - seen) / c));
    }
    seen += c;
  }
  return bucketBounds(h.counts.length - 1)[1];
}

export function mean(h: HistogramData): number | undefined {
  return h.count > 0 ? h.sum / h.count : undefined;
}

/** Cumulative counts at power-of-two bounds 2^0 … 2^(n-1) µs (bucket edges align with them exactly). */
export function cumulativeAtPowers(h: HistogramData, n: number): number[] {
  const out: number[] = [];
  let acc = h.counts[0] ?? 0;
  for (let e = 0; e < n; e++) {
    out.push(acc);
    for (let s = 0; s < SUB; s++) acc += h.counts[1 + e * SUB + s] ?? 0;
  }
  return out;
}
