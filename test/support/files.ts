/** Reading output trees in tests. */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** Every file below `dir`, as absolute paths in sorted order. */
export function listFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? listFiles(join(dir, n)) : [join(dir, n)]));
}

/** Every file below `dir`: relative path → content. */
export function readTree(dir: string): Map<string, string> {
  return new Map(listFiles(dir).map((f) => [relative(dir, f), readFileSync(f, "utf8")]));
}
