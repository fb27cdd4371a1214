import { assertKnownOptions, type ZarrArray } from "@zarrs-cache/core";
import { assertOptionsObject, badOption, positiveInteger } from "./errors.js";
import type { ChunkRead, PrefetchFate, WarmingStrategy } from "./types.js";

export interface PredictiveOptions {
  /** Chunks to load ahead of a confident stream (default 10); adapted between 1 and 4× this. */
  lookahead?: number;
  /** Confidence needed before prefetching, 0–1 (default 0.8: four reads in a row on one stride). */
  minConfidence?: number;
  /** Interleaved streams followed per array (default 4). */
  streams?: number;
  /** Priority among waiting prefetches (default 2). */
  priority?: number;
}

/** One access stream: reads advancing by `stride` cells (C order) on an array's chunk grid. */
interface Stream {
  stride: number;
  last: number;
  /** Reads in a row that followed the stride. */
  hits: number;
  /** The furthest cell already predicted along the stride. */
  ahead: number;
}

interface ArrayState {
  streams: Stream[];
  /** Recent reads (linear cell indices), newest first. */
  recent: number[];
  lookahead: number;
}

/** Reads a new stream may start from (a stride between the new read and one of these). */
const WINDOW = 4;

/**
 * Stride detection on grid coordinates. Each read is placed on its array's chunk grid as a C-order
 * cell index; a read that continues a stream (last + stride) adds to its confidence, others start
 * candidate streams from the strides to the last few reads, so forward, reverse, any-axis (a stride
 * of a row or a plane) and several interleaved scans are each followed. Confidence is
 * hits / (hits + 1); once it reaches `minConfidence` the next `lookahead` cells along the stride are
 * prefetched (stopping at the grid's end). The lookahead grows while prefetches come late and
 * shrinks when they are wasted.
 */
export function predictive(options: PredictiveOptions = {}): WarmingStrategy {
  assertOptionsObject("predictive()", options);
  assertKnownOptions("predictive()", options, ["lookahead", "minConfidence", "streams", "priority"]);
  const lookahead = positiveInteger("predictive()", "lookahead", options.lookahead, 10);
  const maxStreams = positiveInteger("predictive()", "streams", options.streams, 4) * WINDOW;
  const minConfidence = options.minConfidence ?? 0.8;
  if (typeof minConfidence !== "number" || !(minConfidence >= 0 && minConfidence < 1)) {
    throw badOption("predictive()", "minConfidence", "must be a number from 0 up to (not including) 1", minConfidence);
  }
  const priority = options.priority ?? 2;
  if (!Number.isFinite(priority)) throw badOption("predictive()", "priority", "must be a finite number", priority);
  // hits / (hits + 1) >= minConfidence
  const minHits = Math.ceil(minConfidence / (1 - minConfidence) - 1e-9);
  const states = new WeakMap<ZarrArray, ArrayState>();

  const stateOf = (array: ZarrArray) => {
    let state = states.get(array);
    if (state === undefined) states.set(array, (state = { streams: [], recent: [], lookahead }));
    return state;
  };

  const follow = (state: ArrayState, cell: number): Stream | undefined => {
    const streams = state.streams;
    for (let i = 0; i < streams.length; i++) {
      const stream = streams[i]!;
      if (stream.last + stream.stride !== cell) continue;
      stream.hits++;
      stream.last = cell;
      // Move to the front without allocating (this runs on every read, memory hits included).
      for (let j = i; j > 0; j--) streams[j] = streams[j - 1]!;
      streams[0] = stream;
      return stream;
    }
    for (const previous of state.recent) {
      const stride = cell - previous;
      if (stride === 0 || streams.some((s) => s.stride === stride && s.last === cell)) continue;
      // A stride already seen elsewhere (the same scan after a wrap, or a parallel one) starts at half its confidence.
      const known = streams.find((s) => s.stride === stride);
      streams.unshift({ stride, last: cell, hits: known === undefined ? 0 : Math.floor(known.hits / 2), ahead: cell });
    }
    streams.length = Math.min(streams.length, maxStreams);
    return undefined;
  };

  return {
    name: "predictive",
    priority,
    onChunkRead(read: ChunkRead) {
      const grid = read.array.chunkGrid;
      const state = stateOf(read.array);
      const cell = grid.linearIndex(read.chunk);
      const stream = follow(state, cell);
      state.recent.unshift(cell);
      state.recent.length = Math.min(state.recent.length, WINDOW);
      if (stream === undefined || stream.hits < minHits) return undefined;
      const { stride } = stream;
      // Refill the window when half of it was read: most reads of a scan then cost nothing here.
      if ((stream.ahead - cell) / stride >= Math.max(1, Math.floor(state.lookahead / 2))) return undefined;
      const out: number[][] = [];
      for (let k = 1; k <= state.lookahead; k++) {
        const next = cell + k * stride;
        if (next < 0 || next >= grid.size) break;
        if (stride > 0 ? next <= stream.ahead : next >= stream.ahead) continue;
        out.push(grid.coordsAt(next));
      }
      const reach = cell + state.lookahead * stride;
      stream.ahead = stride > 0 ? Math.max(stream.ahead, reach) : Math.min(stream.ahead, reach);
      return out;
    },
    onFate(fate: PrefetchFate, array: ZarrArray | undefined) {
      if (array === undefined) return;
      const state = stateOf(array);
      if (fate === "late") state.lookahead = Math.min(lookahead * 4, state.lookahead + 1);
      else if (fate === "wasted") state.lookahead = Math.max(1, state.lookahead - 1);
    },
  };
}
