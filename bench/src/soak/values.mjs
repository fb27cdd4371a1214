// Soak values: every byte says which object and version it belongs to, so any byte range of a
// read can be checked exactly. A value is a run of 16-byte frames; frame i holds
//   objectId (u32) | version (u32) | i (u32) | mix(objectId, version, i) (u32)
// An object's size never changes between versions, so a byte range is valid for every version.

export const FRAME = 16;

/** Size of an object's value: 1–12 KiB, fixed per object. */
export function objectSize(objectId) {
  return FRAME * (64 + ((Math.imul(objectId + 1, 2654435761) >>> 0) % 704));
}

function mix(objectId, version, index) {
  let x = Math.imul(objectId ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(version + 0x7f4a7c15, 0xc2b2ae35) ^ Math.imul(index + 1, 0x27d4eb2f);
  x ^= x >>> 15;
  x = Math.imul(x, 0x2c1b3c6d);
  x ^= x >>> 12;
  return x >>> 0;
}

export function makeValue(objectId, version) {
  const size = objectSize(objectId);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  for (let i = 0, o = 0; o < size; i++, o += FRAME) {
    view.setUint32(o, objectId);
    view.setUint32(o + 4, version);
    view.setUint32(o + 8, i);
    view.setUint32(o + 12, mix(objectId, version, i));
  }
  return bytes;
}

/** The version a whole value claims (its first frame), or undefined if it is too short. */
export function versionOf(bytes) {
  if (bytes.byteLength < FRAME) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4);
}

/**
 * Checks bytes read at `offset` (length `expectedLength`) of object `objectId`.
 * Returns { version } when they are exactly that slice of some version of the object, else
 * { bad: "absent" | "short" | "foreign" | "corrupt", detail }.
 */
export function verify(objectId, bytes, offset, expectedLength) {
  if (bytes === undefined) return { bad: "absent" };
  if (!(bytes instanceof Uint8Array)) return { bad: "corrupt", detail: `not bytes: ${typeof bytes}` };
  const firstFrame = Math.ceil(offset / FRAME) * FRAME;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = firstFrame - offset;
  if (at + FRAME <= bytes.byteLength) {
    // Whose bytes these are is asked first: another object's value usually has another length too.
    const owner = view.getUint32(at);
    if (owner !== objectId) {
      return { bad: "foreign", detail: `bytes of object ${owner} (version ${view.getUint32(at + 4)}), ${bytes.byteLength} bytes` };
    }
  }
  if (bytes.byteLength !== expectedLength) return { bad: "short", detail: `${bytes.byteLength} bytes, expected ${expectedLength}` };
  if (at + FRAME > bytes.byteLength) return { bad: "short", detail: "no whole frame in the range" };
  const version = view.getUint32(at + 4);
  if (version < 1) return { bad: "corrupt", detail: "version 0" };
  const expected = makeValue(objectId, version).subarray(offset, offset + expectedLength);
  for (let i = 0; i < expectedLength; i++) {
    if (bytes[i] !== expected[i]) return { bad: "corrupt", detail: `byte ${offset + i} differs from version ${version}` };
  }
  return { version };
}
