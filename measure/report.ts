/**
 * Where every benchmark and lab writes its report: reports/<name>.json at the repository root,
 * pretty-printed, one trailing newline. Returns the path written.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPORTS = join(dirname(fileURLToPath(import.meta.url)), "..", "reports");

export function writeReport(name: string, report: unknown): string {
  mkdirSync(REPORTS, { recursive: true });
  const path = join(REPORTS, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}
