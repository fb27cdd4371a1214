import type { TierInvalidation } from "@zarrs-cache/core";
import type { Totals } from "./schema.js";

/** What tabs sharing one database tell each other. */
export type TabMessage = { type: "invalidate"; message: TierInvalidation } | { type: "totals"; totals: Totals };

/**
 * A BroadcastChannel per database name. It never delivers a message to the channel object that
 * posted it, so a tier does not hear its own writes; another tier on the same database in the same
 * page (a second cache) does, which is what it needs.
 */
export class TabChannel {
  private readonly channel: BroadcastChannel | undefined;

  constructor(dbName: string, enabled: boolean, onMessage: (message: TabMessage) => void) {
    if (!enabled || typeof BroadcastChannel === "undefined") return;
    this.channel = new BroadcastChannel(`zarrs-cache/indexeddb/${dbName}`);
    this.channel.onmessage = (event: MessageEvent<TabMessage>) => onMessage(event.data);
  }

  post(message: TabMessage): void {
    this.channel?.postMessage(message);
  }

  close(): void {
    this.channel?.close();
  }
}
