// Letting the event loop turn between slices of long work, in any runtime.

interface Scheduling {
  setImmediate?: (callback: () => void) => unknown;
  scheduler?: { yield?: () => Promise<void> };
  MessageChannel?: typeof MessageChannel;
}

/**
 * Resolves after the event loop has had a turn (timers, I/O, rendering). Node: setImmediate.
 * Browsers: scheduler.yield() where it exists, else a MessageChannel message, which unlike
 * setTimeout(0) is not clamped to 4 ms when calls nest.
 */
export function yieldToEventLoop(): Promise<void> {
  const scope = globalThis as Scheduling;
  if (typeof scope.setImmediate === "function") return new Promise((resolve) => scope.setImmediate!(resolve));
  if (typeof scope.scheduler?.yield === "function") return scope.scheduler.yield();
  if (typeof scope.MessageChannel === "function") {
    return new Promise((resolve) => {
      const channel = new scope.MessageChannel!();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(undefined);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
