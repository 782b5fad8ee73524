/**
 * Golden files of the review bundle: TOPOLOGY.md and every file of one host per component.
 * After a deliberate change, `npm run golden:update` rewrites them; review the diff.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { synthesize } from "../../synth/pipeline.ts";
import { listFiles } from "../support/files.ts";

const files = (dir: string): string[] => (existsSync(dir) ? listFiles(dir) : []);

const GOLDEN = join(import.meta.dirname, "review");
const HOSTS = ["lb-1", "app-1", "parser-1", "storage-1", "mongo-cfg-1", "mongo-s1-1"];
const UPDATE = process.env["UPDATE_GOLDEN"] === "1";

describe("review bundle golden files", () => {
  const tmp = mkdtempSync(join(tmpdir(), "bulwark-golden-"));
  synthesize({ kind: "seed" }, join(tmp, "out"), join(tmp, "review"));
  const review = join(tmp, "review");
  // The host agent is the same program on every host: kept once, with lb-1.
  const agent = (h: string, f: string) => h !== HOSTS[0] && f.endsWith("usr/local/sbin/bulwark-host");
  const chosen = ["TOPOLOGY.md", ...HOSTS.flatMap((h) => files(join(review, "hosts", h)).map((f) => relative(review, f)).filter((f) => !agent(h, f)))];

  if (UPDATE) {
    rmSync(GOLDEN, { recursive: true, force: true });
    for (const f of chosen) {
      mkdirSync(dirname(join(GOLDEN, f)), { recursive: true });
      writeFileSync(join(GOLDEN, f), readFileSync(join(review, f)));
    }
    console.log(`UPDATE_GOLDEN=1: rewrote ${chosen.length} golden files under test/golden/review`);
  }

  it("GIVEN the golden set WHEN compared THEN it holds exactly the chosen files", () => {
    expect(files(GOLDEN).map((f) => relative(GOLDEN, f)).sort()).toEqual([...chosen].sort());
  });

  it.each(chosen)("GIVEN the seed WHEN synthesized THEN %s matches its golden file", (f) => {
    expect(readFileSync(join(review, f), "utf8")).toBe(readFileSync(join(GOLDEN, f), "utf8"));
  });
});
