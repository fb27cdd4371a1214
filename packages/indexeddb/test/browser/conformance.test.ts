import { describeTierConformance } from "@zarrs-cache/core/testing";
import { indexedDb } from "@zarrs-cache/indexeddb";
import { deleteDB } from "idb";

let n = 0;
let names: string[] = [];
describeTierConformance("indexedDb", {
  create: () => {
    const name = `zc-conformance-${Date.now()}-${n++}`;
    names.push(name);
    return indexedDb({ name, maxBytes: 8 * 1024 * 1024 });
  },
  cleanup: async () => {
    for (const name of names) await deleteDB(name);
    names = [];
  },
  largeValueBytes: 1 << 20,
  oversizedValueBytes: 9 * 1024 * 1024,
});
