import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { runCli } from "../../synth/cli.ts";
import { withInput } from "../support/fixtures.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-cli-ok-"));
  const file = join(dir, "shop.yaml");
  writeFileSync(file, stringify(withInput({ name: "shop", roles: { app: { count: 3 } } })));

  it("GIVEN BULWARK_TOPOLOGY names a file WHEN run without --topology THEN that topology is synthesized", () => {
    const c = capture();
    const code = runCli(["--out", join(dir, "a", "out"), "--review", join(dir, "a", "review")], { BULWARK_TOPOLOGY: file }, c.io);
    expect(code).toBe(0);
    expect(c.out[0]).toBe(`bulwark: topology ${file}`);
    expect(c.out[1]).toMatch(/^bulwark: 19 hosts, 7 placement groups/);
    expect(c.out[2]).toMatch(
      new RegExp(`wrote ${join(dir, "a", "out", "stacks", "shop", "cdk.tf.json")} and .*review/ \\(\\d+ files\\) in [0-9.]+ s$`),
    );
    expect(c.err).toEqual([]);
  });

  it("GIVEN both --topology and BULWARK_TOPOLOGY WHEN run THEN the option wins", () => {
    const c = capture();
    runCli(
      ["--topology", file, "--out", join(dir, "b", "out"), "--review", join(dir, "b", "review")],
      { BULWARK_TOPOLOGY: "/nonexistent.yaml" },
      c.io,
    );
    expect(c.err).toEqual([]);
    expect(c.out[0]).toBe(`bulwark: topology ${file}`);
  });

  it("GIVEN CDKTF_OUTDIR (as cdktf synth sets it) WHEN run THEN the stack goes there", () => {
    const c = capture();
    const out = join(dir, "c", "cdktf-out");
    expect(runCli(["--review", join(dir, "c", "review")], { CDKTF_OUTDIR: out }, c.io)).toBe(0);
    expect(c.out[2]).toContain(join(out, "stacks", "bulwark", "cdk.tf.json"));
  });

  it("GIVEN --review naming the bundle of an earlier run WHEN run again THEN it is replaced, stale files and all", () => {
    const review = join(dir, "d", "review");
    expect(runCli(["--topology", file, "--out", join(dir, "d", "out"), "--review", review], {}, capture().io)).toBe(0);
    expect(existsSync(join(review, ".bulwark-review"))).toBe(true);
    writeFileSync(join(review, "stale.txt"), "from an older run");
    const c = capture();
    expect(runCli(["--topology", file, "--out", join(dir, "d", "out"), "--review", review], {}, c.io)).toBe(0);
    expect(c.err).toEqual([]);
    expect(existsSync(join(review, "stale.txt"))).toBe(false);
    expect(existsSync(join(review, "TOPOLOGY.md"))).toBe(true);
  });

  it("GIVEN --help WHEN run THEN the usage is printed and nothing is synthesized", () => {
    const c = capture();
    expect(runCli(["--help"], {}, c.io)).toBe(0);
    expect(c.out.join("\n")).toMatch(/^usage: npm run synth -- \[--topology FILE\]/);
  });
});
