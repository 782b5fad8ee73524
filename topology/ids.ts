/**
 * Construct IDs are API: renaming one replaces the resource. They come from names (host
 * names, group names, key names), never from array positions: `app-1` → `App1`,
 * `mongo-s1-2` → `MongoS12`. Pure, so the topology rules can check that two names never make
 * the same id (rule `unique-construct-ids`); constructs/ids.ts re-exports it.
 */
export function constructId(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
}
