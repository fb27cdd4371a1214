import { describe, expect, it } from "vitest";
import { FrequencySketch } from "../src/frequency-sketch.js";

describe("FrequencySketch", () => {
  it("estimates 0 for unseen keys and grows with accesses", () => {
    const sketch = new FrequencySketch(1024);
    expect(sketch.estimate("never")).toBe(0);
    sketch.increment("k");
    expect(sketch.estimate("k")).toBe(1); // the doorkeeper absorbed the first sighting
    for (let i = 0; i < 5; i++) sketch.increment("k");
    expect(sketch.estimate("k")).toBe(6);
  });

  it("saturates at 16 (a 4-bit counter plus the doorkeeper bit)", () => {
    const sketch = new FrequencySketch(1024);
    for (let i = 0; i < 100; i++) sketch.increment("hot");
    expect(sketch.estimate("hot")).toBe(16);
  });

  it("keeps one-off keys from inflating the estimates of others", () => {
    const sketch = new FrequencySketch(1024);
    for (let i = 0; i < 3000; i++) sketch.increment(`scan/${i}`);
    let overestimated = 0;
    for (let i = 0; i < 1000; i++) if (sketch.estimate(`other/${i}`) > 1) overestimated++;
    // Scan keys reach only the doorkeeper: the counters stay empty.
    expect(overestimated).toBe(0);
    expect(sketch.estimate("scan/5")).toBe(1);
  });

  it("halves counters after a sample of accesses, so old popularity fades", () => {
    const sketch = new FrequencySketch(16); // sample size 160
    expect(sketch.sampleSize).toBe(160);
    for (let i = 0; i < 13; i++) sketch.increment("old");
    expect(sketch.estimate("old")).toBe(13);
    for (let i = 0; i < 160; i++) sketch.increment(`filler/${i % 40}`);
    expect(sketch.agings).toBeGreaterThanOrEqual(1);
    // 12 counted + aging halves to 6; the doorkeeper bit was cleared.
    expect(sketch.estimate("old")).toBeLessThanOrEqual(6);
    expect(sketch.estimate("old")).toBeGreaterThanOrEqual(3);
  });

  it("tells a hot set from a long tail with few errors", () => {
    const sketch = new FrequencySketch(512);
    for (let round = 0; round < 10; round++) {
      for (let h = 0; h < 100; h++) sketch.increment(`hot/${h}`);
      for (let c = 0; c < 300; c++) sketch.increment(`cold/${round}/${c}`);
    }
    let hotAboveCold = 0;
    for (let h = 0; h < 100; h++) if (sketch.estimate(`hot/${h}`) > sketch.estimate(`cold/3/${h}`)) hotAboveCold++;
    expect(hotAboveCold).toBeGreaterThanOrEqual(98);
  });

  it("forgets everything on reset", () => {
    const sketch = new FrequencySketch(64);
    for (let i = 0; i < 5; i++) sketch.increment("k");
    sketch.reset();
    expect(sketch.estimate("k")).toBe(0);
  });
});
