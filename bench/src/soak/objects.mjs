// The soak's objects: each is one value upstream, read and changed through one access path.
//  - "direct": a TieredCache key, read with getOrLoad, changed with write() or upstream PUT + invalidate()
//  - "zarr": a path of a store wrapped by withCache, read with get/getRange, changed with set()
// Two zarr datasets are named so that, if namespace and path were simply joined, a path of one
// ("soak-z" + "/q:/c/0") would meet a path of the other ("soak-z:/q" + "/c/0"): the checker then
// sees foreign bytes.

export const DATASETS = { main: "soak-z", neighbour: "soak-z:/q" };

export function catalogue({ direct = 24, zarr = 24, colliding = 4 } = {}) {
  const objects = [];
  for (let i = 0; i < direct; i++) objects.push({ id: objects.length, layer: "direct", key: `soak-t/${String(i).padStart(3, "0")}` });
  for (let i = 0; i < zarr; i++) objects.push({ id: objects.length, layer: "zarr", dataset: "main", path: `/c/${i}/0` });
  for (let i = 0; i < colliding; i++) {
    objects.push({ id: objects.length, layer: "zarr", dataset: "main", path: `/q:/c/${i}` });
    objects.push({ id: objects.length, layer: "zarr", dataset: "neighbour", path: `/c/${i}` });
  }
  return objects;
}

/** Which worker slot may change an object: one writer per object, so versions only grow. */
export function ownerSlot(objectId, slots) {
  return objectId % slots;
}
