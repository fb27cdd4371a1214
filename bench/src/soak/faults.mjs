// The fault schedule: one fault at a time, each kind as often as the others, between a quiet
// start and a quiet end (the end leaves time for every freshness deadline to pass before the
// final sweep). Each fault is recorded with when it started and when it healed.

export const KINDS = ["redis-pause", "redis-kill", "partition", "process-kill", "node-kill", "flaky-upstream"];

const between = (random, lo, hi) => Math.round(lo + random() * (hi - lo));

/** Fault kinds in a shuffled order, every kind once per round. */
export function faultDeck(random, rounds = 20) {
  const deck = [];
  for (let r = 0; r < rounds; r++) {
    const round = [...KINDS];
    for (let i = round.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [round[i], round[j]] = [round[j], round[i]];
    }
    deck.push(...round);
  }
  return deck;
}

/**
 * Runs faults from `deck` until `until()` says stop. `world` does the harm:
 *   pauseRedis(), resumeRedis(), killRedis(), restartRedis(), cut(machine), heal(machine),
 *   killProcess(slot), respawn(slot) (resolves when the new process is ready), flaky(on), machines, slots
 */
export async function runFaults({ world, deck, random, until, log, sleep, healBoundMs }) {
  const done = [];
  for (const kind of deck) {
    if (until()) break;
    const fault = { kind, start: 0, healed: undefined };
    done.push(fault);
    if (kind === "redis-pause") {
      fault.ms = between(random, 1500, 3000);
      fault.start = world.now();
      world.pauseRedis();
      await sleep(fault.ms);
      world.resumeRedis();
      fault.healed = world.now();
    } else if (kind === "redis-kill") {
      fault.ms = between(random, 800, 2000);
      fault.start = world.now();
      await world.killRedis();
      await sleep(fault.ms);
      await world.restartRedis();
      fault.healed = world.now();
    } else if (kind === "partition") {
      fault.machine = Math.floor(random() * world.machines);
      fault.ms = between(random, 1500, 3500);
      fault.start = world.now();
      world.cut(fault.machine);
      await sleep(fault.ms);
      world.heal(fault.machine);
      fault.healed = world.now();
    } else if (kind === "process-kill") {
      fault.slot = Math.floor(random() * world.slots);
      fault.ms = between(random, 300, 1000);
      fault.start = world.now();
      world.killProcess(fault.slot);
      await sleep(fault.ms);
      await world.respawn(fault.slot);
      fault.healed = world.now();
    } else if (kind === "node-kill") {
      fault.machine = Math.floor(random() * world.machines);
      fault.ms = between(random, 500, 1500);
      fault.start = world.now();
      const slots = world.slotsOf(fault.machine);
      for (const slot of slots) world.killProcess(slot);
      await sleep(fault.ms);
      await Promise.all(slots.map((slot) => world.respawn(slot)));
      fault.healed = world.now();
    } else if (kind === "flaky-upstream") {
      fault.ms = between(random, 3000, 5000);
      fault.start = world.now();
      world.flaky(true);
      await sleep(fault.ms);
      world.flaky(false);
      fault.healed = world.now();
    }
    const where = fault.machine !== undefined ? ` node ${fault.machine}` : fault.slot !== undefined ? ` process ${fault.slot}` : "";
    log(`fault ${kind}${where}: ${Math.round(fault.healed - fault.start)} ms`);
    // After a Redis fault, the next fault waits until that fault's freshness deadline has passed,
    // so that each stale read has one fault to blame.
    const redisFault = ["redis-pause", "redis-kill", "partition"].includes(kind);
    await sleep(between(random, 700, 1500) + (redisFault ? healBoundMs : 0));
  }
  return done;
}
