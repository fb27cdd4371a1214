import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import KeyvSqlite from "@keyv/sqlite";
import { describeTierConformance } from "@zarrs-cache/core/testing";
import { keyvTier } from "@zarrs-cache/keyv";
import Keyv from "keyv";
import { afterAll } from "vitest";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-keyv-sqlite-"));
let files = 0;
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// A fresh database file per test: the suite expects an empty tier each time. maxValueBytes is
// set so the suite also checks that an oversized value is refused before it reaches the store.
describeTierConformance("keyv + @keyv/sqlite", {
  create: () =>
    keyvTier(new Keyv({ store: new KeyvSqlite(`sqlite://${path.join(dir, `t${files++}.sqlite`)}`), namespace: "zc" }), {
      maxValueBytes: 2 << 20,
    }),
  oversizedValueBytes: (2 << 20) + 1,
  exactSize: false,
});

// Keyv's default in-memory Map store, with its default serializer (base64 text) …
describeTierConformance("keyv + Map store", {
  create: () => keyvTier(new Keyv({ namespace: "zc" })),
  exactSize: false,
});

// … and as a raw store (no serializer): entries are kept as Buffers, 1 byte per byte.
describeTierConformance("keyv + raw Map store (serialize: undefined)", {
  create: () => keyvTier(new Keyv({ namespace: "zc", serialize: undefined, deserialize: undefined })),
  exactSize: false,
});
