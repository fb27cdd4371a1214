/**
 * A TinyLFU frequency sketch: estimates how often each key was seen recently, in a fixed amount
 * of memory whatever the number of keys.
 *
 * - A count-min sketch with 4 rows of 4-bit counters (two per byte, saturating at 15) and
 *   conservative update (only the smallest counters grow), so collisions overestimate less.
 * - A doorkeeper (a small Bloom filter) absorbs the first sighting of each key, so one-off keys
 *   from a long scan never reach the counters.
 * - Aging: after `sampleSize` recorded accesses every counter is halved and the doorkeeper
 *   cleared, so the sketch follows what is popular now rather than what was popular once.
 */
export class FrequencySketch {
  /** Counters per row (a power of two). */
  private readonly width: number;
  /** 4 rows × width nibbles, two per byte. */
  private readonly counters: Uint8Array;
  private readonly doorkeeper: Uint32Array;
  private readonly doorkeeperMask: number;
  readonly sampleSize: number;
  private additions = 0;
  /** How many times the counters were halved (for tests and stats). */
  agings = 0;

  /** `capacity`: about how many entries the protected level holds. */
  constructor(capacity: number) {
    const entries = Math.max(16, Math.min(capacity, 1 << 24));
    this.width = nextPowerOfTwo(entries);
    this.counters = new Uint8Array((4 * this.width) / 2);
    this.sampleSize = 10 * entries;
    // About 4 bits per access of a sample keeps the doorkeeper's false positives low.
    const doorkeeperBits = nextPowerOfTwo(4 * this.sampleSize);
    this.doorkeeper = new Uint32Array(doorkeeperBits / 32);
    this.doorkeeperMask = doorkeeperBits - 1;
  }

  /** Records one access of `key`. */
  increment(key: string): void {
    const h = hashKey(key);
    const h2 = mix(h ^ 0x9e3779b9) | 1;
    if (this.admitToDoorkeeper(h, h2)) {
      this.counted();
      return;
    }
    let min = 15;
    for (let row = 0; row < 4; row++) min = Math.min(min, this.read(this.slot(row, h, h2)));
    if (min < 15) {
      for (let row = 0; row < 4; row++) {
        const slot = this.slot(row, h, h2);
        if (this.read(slot) === min) this.write(slot, min + 1);
      }
    }
    this.counted();
  }

  /** Estimated recent accesses of `key` (0 to 16). */
  estimate(key: string): number {
    const h = hashKey(key);
    const h2 = mix(h ^ 0x9e3779b9) | 1;
    let min = 15;
    for (let row = 0; row < 4; row++) min = Math.min(min, this.read(this.slot(row, h, h2)));
    return min + (this.inDoorkeeper(h, h2) ? 1 : 0);
  }

  /** Forgets everything (after `clear()`). */
  reset(): void {
    this.counters.fill(0);
    this.doorkeeper.fill(0);
    this.additions = 0;
  }

  private counted(): void {
    if (++this.additions >= this.sampleSize) this.age();
  }

  private age(): void {
    const counters = this.counters;
    // Halves both nibbles of every byte at once.
    for (let i = 0; i < counters.length; i++) counters[i] = (counters[i]! >>> 1) & 0x77;
    this.doorkeeper.fill(0);
    this.additions = Math.floor(this.additions / 2);
    this.agings++;
  }

  private slot(row: number, h: number, h2: number): number {
    return row * this.width + ((h + row * h2) & (this.width - 1));
  }

  private read(slot: number): number {
    const byte = this.counters[slot >>> 1]!;
    return slot & 1 ? byte >>> 4 : byte & 0x0f;
  }

  private write(slot: number, value: number): void {
    const i = slot >>> 1;
    const byte = this.counters[i]!;
    this.counters[i] = slot & 1 ? (byte & 0x0f) | (value << 4) : (byte & 0xf0) | value;
  }

  /** Sets the key's two doorkeeper bits; true if both were clear (a first sighting). */
  private admitToDoorkeeper(h: number, h2: number): boolean {
    const a = h & this.doorkeeperMask;
    const b = (h + h2) & this.doorkeeperMask;
    const wasSet = this.bit(a) && this.bit(b);
    if (wasSet) return false;
    this.doorkeeper[a >>> 5]! |= 1 << (a & 31);
    this.doorkeeper[b >>> 5]! |= 1 << (b & 31);
    return true;
  }

  private inDoorkeeper(h: number, h2: number): boolean {
    return this.bit(h & this.doorkeeperMask) && this.bit((h + h2) & this.doorkeeperMask);
  }

  private bit(index: number): boolean {
    return (this.doorkeeper[index >>> 5]! & (1 << (index & 31))) !== 0;
  }
}

/** FNV-1a over UTF-16 code units, then a finalizer so nearby keys spread out. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix(h);
}

/** murmur3's 32-bit finalizer. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
