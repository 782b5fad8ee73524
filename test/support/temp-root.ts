/**
 * vitest globalSetup: every test run gets a temp root of its own (TMPDIR for the test processes),
 * removed when the run ends. Temp dirs the tests make — and the ones cdktf's Testing and other
 * libraries make under os.tmpdir() — go there, so no run leaves anything in the machine's /tmp
 * (before this, about 3.8 GB had piled up there over this machine's runs).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "bulwark-test-run-"));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(root, { recursive: true, force: true });
  };
}
