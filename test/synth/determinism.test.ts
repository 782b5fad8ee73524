/**
 * `npm run synth` as a user runs it (the real process), twice: exit 0, the stack file and the
 * review bundle are written, and both runs are byte-identical.
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { prepare } from "../../synth/pipeline.ts";
import { readTree as tree } from "../support/files.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");

describe("synth CLI", () => {
  it("GIVEN the seed WHEN synthesized twice THEN both runs exit 0 and write byte-identical cdktf.out/ and review/", async () => {
    const base = mkdtempSync(join(tmpdir(), "bulwark-det-"));
    const runs = await Promise.all(
      ["a", "b"].map(async (n) => {
        const { stdout } = await run(
          process.execPath,
          ["--import", "tsx", join(ROOT, "main.ts"), "--out", join(base, n, "cdktf.out"), "--review", join(base, n, "review")],
          { cwd: ROOT, timeout: 60_000 },
        );
        return { stdout, out: tree(join(base, n, "cdktf.out")), review: tree(join(base, n, "review")) };
      }),
    );
    const [a, b] = runs as [(typeof runs)[0], (typeof runs)[0]];
    expect(a.stdout).toMatch(/18 hosts, 7 placement groups; every single-host loss analysed \(0 stop the service\)/);
    expect([...a.out.keys()]).toContain(join("stacks", "bulwark", "cdk.tf.json"));
    const rendered = prepare({ kind: "seed" }).rendered;
    // TOPOLOGY.md, SECURITY.md, ROLLOUT.md, plan.json and the .bulwark-review marker, then each host's user-data and files.
    expect(a.review.size).toBe(5 + rendered.reduce((n, r) => n + 1 + r.files.length, 0));
    expect(a.review.get(".bulwark-review")).toMatch(/review bundle, written by `npm run synth`/);
    expect([...b.out.entries()]).toEqual([...a.out.entries()]);
    expect([...b.review.entries()]).toEqual([...a.review.entries()]);
    expect(a.out.get(join("stacks", "bulwark", "cdk.tf.json"))).not.toContain(base);
  });
});
