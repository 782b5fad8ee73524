/**
 * Real-tool tiers check for their tool first. Missing: print one line naming the package and
 * skip, unless BULWARK_REQUIRE_ALL=1 (CI), where a missing tool fails the run.
 */
import { spawnSync } from "node:child_process";

export function haveTool(command: string, debianPackage: string): boolean {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).status === 0;
  if (found) return true;
  const line = `${command} not found: install the Debian package ${debianPackage} (bash .ci/run does)`;
  if (process.env["BULWARK_REQUIRE_ALL"] === "1") throw new Error(`BULWARK_REQUIRE_ALL=1 and ${line}`);
  console.warn(`SKIP: ${line}`);
  return false;
}

/** True when running as root (nft -c needs CAP_NET_ADMIN). */
function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** Skips (printing why) or, under BULWARK_REQUIRE_ALL=1, fails when not root. */
export function needRoot(what: string): boolean {
  if (isRoot()) return true;
  const line = `${what} needs root`;
  if (process.env["BULWARK_REQUIRE_ALL"] === "1") throw new Error(`BULWARK_REQUIRE_ALL=1 and ${line}`);
  console.warn(`SKIP: ${line}`);
  return false;
}
