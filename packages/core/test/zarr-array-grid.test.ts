import { ChunkGrid, selectionRegion } from "@zarrs-cache/core";
import { describe, expect, it } from "vitest";

const slice = (start: number | null, stop: number | null, step: number | null = null) => ({ start, stop, step });

describe("ChunkGrid", () => {
  it("has ceil(shape / chunks) cells per dimension, one for a 0-d array, none with an empty dimension", () => {
    const grid = new ChunkGrid([10, 7], [4, 3]);
    expect(grid.shape).toEqual([3, 3]);
    expect(grid.size).toBe(9);
    expect(grid.rank).toBe(2);
    expect(new ChunkGrid([8], [4]).shape).toEqual([2]);
    const scalar = new ChunkGrid([], []);
    expect(scalar.size).toBe(1);
    expect([...scalar.cells()]).toEqual([[]]);
    expect(scalar.contains([])).toBe(true);
    const empty = new ChunkGrid([0, 5], [2, 2]);
    expect(empty.shape).toEqual([0, 3]);
    expect([...empty.cells()]).toEqual([]);
  });

  it("refuses shapes that make no grid", () => {
    expect(() => new ChunkGrid([4, 4], [2])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new ChunkGrid([4], [0])).toThrow(/cell shape \[0\] positive/);
    expect(() => new ChunkGrid([-1], [2])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  it("knows its edges: contains, clip, count", () => {
    const grid = new ChunkGrid([10, 7], [4, 3]);
    expect(grid.contains([2, 2])).toBe(true);
    for (const outside of [[3, 0], [0, 3], [-1, 0], [0.5, 0], [0], [0, 0, 0]]) expect(grid.contains(outside), String(outside)).toBe(false);
    expect(grid.clip({ start: [-2, 1], stop: [5, 9] })).toEqual({ start: [0, 1], stop: [3, 3] });
    expect(grid.clip({ start: [4, 0], stop: [6, 3] })).toEqual({ start: [3, 0], stop: [3, 3] });
    expect(grid.count({ start: [-2, 1], stop: [5, 9] })).toBe(6);
    expect(grid.count({ start: [2, 2], stop: [1, 3] })).toBe(0);
    expect(() => grid.clip({ start: [0], stop: [1, 1] })).toThrow(/region must have integer "start" and "stop" of 2 dimensions/);
  });

  it("iterates a region in C order (last dimension fastest), clipped to the grid", () => {
    const grid = new ChunkGrid([10, 7, 5], [4, 3, 5]);
    expect([...grid.cells({ start: [1, 1, 0], stop: [9, 3, 9] })]).toEqual([
      [1, 1, 0],
      [1, 2, 0],
      [2, 1, 0],
      [2, 2, 0],
    ]);
    const all = [...grid.cells()];
    expect(all).toHaveLength(grid.size);
    expect(all.map((c) => grid.linearIndex(c))).toEqual(all.map((_, i) => i));
    expect(all.map((_, i) => grid.coordsAt(i))).toEqual(all);
    expect(() => grid.coordsAt(grid.size)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => grid.linearIndex([3, 0, 0])).toThrow(/outside the grid \[3,3,1\]/);
  });

  it("finds neighbours along the chosen dimensions, nearest first, clipped at the edge", () => {
    const grid = new ChunkGrid([40, 40, 40], [10, 10, 10]); // 4×4×4
    // Default: the last two dimensions (the plane a viewer pans), distance 1.
    expect(grid.neighbours([2, 1, 1])).toEqual([
      [2, 0, 0],
      [2, 0, 1],
      [2, 0, 2],
      [2, 1, 0],
      [2, 1, 2],
      [2, 2, 0],
      [2, 2, 1],
      [2, 2, 2],
    ]);
    // A corner keeps only what is on the grid.
    expect(grid.neighbours([0, 0, 0])).toEqual([
      [0, 0, 1],
      [0, 1, 0],
      [0, 1, 1],
    ]);
    // One axis, distance 2, ring 1 before ring 2; negative dims count from the end.
    expect(grid.neighbours([1, 3, 3], { dims: [0], distance: 2 })).toEqual([
      [0, 3, 3],
      [2, 3, 3],
      [3, 3, 3],
    ]);
    expect(grid.neighbours([1, 3, 3], { dims: [-3], distance: 2 })).toEqual(grid.neighbours([1, 3, 3], { dims: [0], distance: 2 }));
    const far = grid.neighbours([1, 1, 1], { dims: [1, 2], distance: 2 });
    expect(far).toHaveLength(15); // a 4×4 plane minus the cell itself, all within 2
    expect(far.slice(0, 8).every((c) => Math.max(Math.abs(c[1]! - 1), Math.abs(c[2]! - 1)) === 1)).toBe(true);
    expect(grid.neighbours([1, 1, 1], { distance: 0 })).toEqual([]);
  });

  it("refuses bad neighbour questions", () => {
    const grid = new ChunkGrid([40, 40], [10, 10]);
    expect(() => grid.neighbours([4, 0])).toThrow(/\[4,0\] are outside the grid \[4,4\]/);
    expect(() => grid.neighbours([0, 0], { distance: -1 })).toThrow(/"distance" must be a non-negative integer, got -1/);
    expect(() => grid.neighbours([0, 0], { dims: [2] })).toThrow(/dimension 2 is outside an array of 2 dimensions/);
    expect(() => grid.neighbours([0, 0], { dims: [1, -1] })).toThrow(/names a dimension twice/);
  });

  it("shifts coordinates, or says the result is off the grid", () => {
    const grid = new ChunkGrid([10, 7], [4, 3]);
    expect(grid.shift([1, 1], [1, 1])).toEqual([2, 2]);
    expect(grid.shift([2, 2], [1, 0])).toBeUndefined();
    expect(grid.shift([0, 0], [0, -1])).toBeUndefined();
    expect(() => grid.shift([0, 0], [1])).toThrow(/delta \[1\] must have 2 dimensions/);
  });
});

describe("selectionRegion (zarrita's indexer semantics)", () => {
  const grid = new ChunkGrid([10, 7], [4, 3]); // 3×3 chunks

  it("maps null, indices (negative from the end, truncated) and slices to the chunks zarrita reads", () => {
    expect(selectionRegion(grid, null)).toEqual({ start: [0, 0], stop: [3, 3] });
    expect(selectionRegion(grid, [null, null])).toEqual({ start: [0, 0], stop: [3, 3] });
    expect(selectionRegion(grid, [5, -1])).toEqual({ start: [1, 2], stop: [2, 3] });
    expect(selectionRegion(grid, [-10, 2.9])).toEqual({ start: [0, 0], stop: [1, 1] });
    expect(selectionRegion(grid, [slice(3, 9), slice(null, 4)])).toEqual({ start: [0, 0], stop: [3, 2] });
    expect(selectionRegion(grid, [slice(-3, null), slice(-100, 100)])).toEqual({ start: [1, 0], stop: [3, 3] });
    expect(selectionRegion(grid, [{ start: 4 }, {}])).toEqual({ start: [1, 0], stop: [3, 3] }); // missing fields mean null
  });

  it("covers every chunk between a stepped slice's start and stop, as zarrita reads them", () => {
    // Columns 0 and 6 only, but zarrita visits column chunks 0, 1 and 2.
    expect(selectionRegion(grid, [null, slice(0, 7, 6)])).toEqual({ start: [0, 0], stop: [3, 3] });
    expect(selectionRegion(grid, [slice(1, 10, 4), 0])).toEqual({ start: [0, 0], stop: [3, 1] });
  });

  it("pads a short selection with full slices, and selects nothing for an empty slice", () => {
    expect(selectionRegion(grid, [1])).toEqual({ start: [0, 0], stop: [1, 3] });
    for (const empty of [slice(5, 2), slice(20, 30), slice(4, 4)]) {
      const region = selectionRegion(grid, [empty, null]);
      expect(grid.count(region), JSON.stringify(empty)).toBe(0);
    }
  });

  it("maps a 0-d array's selection to its one chunk", () => {
    const scalar = new ChunkGrid([], []);
    expect([...scalar.cells(selectionRegion(scalar, null))]).toEqual([[]]);
    expect([...scalar.cells(selectionRegion(scalar, []))]).toEqual([[]]);
  });

  it("refuses out-of-bounds indices, too many dimensions, steps below 1 and non-numbers", () => {
    const cases: [unknown, RegExp][] = [
      [[10, null], /index 10 is out of bounds for dimension 0 of length 10/],
      [[null, -8], /index -8 is out of bounds for dimension 1 of length 7/],
      [[0, 0, 0], /selection has 3 dimensions, the array has 2/],
      [[slice(null, null, 0), null], /slice step 0 of dimension 0 is not supported/],
      [[null, slice(null, null, -1)], /slice step -1 of dimension 1/],
      [[Number.NaN, null], /index NaN of dimension 0 is not a finite number/],
      [["3", null], /dimension 0 must be a number, null or a slice, got "3"/],
      [[slice(1.5, 3), null], /slice "start" of dimension 0 must be an integer or null, got 1\.5/],
      [{ 0: 1 }, /selection must be null or an array/],
    ];
    for (const [selection, message] of cases) {
      const error = expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringMatching(message) });
      expect(() => selectionRegion(grid, selection as never), JSON.stringify(selection)).toThrow(error);
    }
  });
});
