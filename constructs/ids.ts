/**
 * Construct IDs are API: renaming one replaces the resource. They come from names (host
 * names, group names), never from array positions: `app-1` → `App1`, `mongo-s1-2` → `MongoS12`.
 */
export function constructId(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
}
