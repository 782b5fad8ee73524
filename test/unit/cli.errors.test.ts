/**
 * The real CLI process on bad topology files: exit code 2, one line on stderr naming the field
 * path, no stack trace, and nothing written.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { withInput } from "../support/fixtures.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", join(ROOT, "main.ts"), ...args], { cwd: ROOT, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const CASES: [string, string, string][] = [
  ["a bad CIDR", stringify(withInput({ network: { subnet: "10.0.1.0/99" } })), "network.subnet"],
  ["an even number of voters", stringify(withInput({ roles: { mongo: { configServers: 4 } } })), "roles.mongo.configServers"],
  ["more than 100 servers", stringify(withInput({ roles: { app: { count: 60 }, parser: { count: 60 } } })), "roles:"],
  ["a retired server type", stringify(withInput({ roles: { storage: { serverType: "cpx31" } } })), "roles.storage.serverType"],
  ["a host name with ';'", stringify(withInput({ roles: { app: { namePrefix: "a;reboot" } } })), "roles.app.namePrefix"],
  ["a host name with a space", stringify(withInput({ roles: { app: { namePrefix: "a b" } } })), "roles.app.namePrefix"],
  ["a label value with a newline", stringify(withInput({ labels: { team: "a\nb" } })), "labels.team"],
  ["a YAML syntax error", "name: shop\nroles:\n  app: { count: 3\n  parser: {}\n", "topology.yaml:"],
];

describe("CLI on bad topology files", () => {
  it("GIVEN each bad file WHEN synthesized THEN exit 2 with one line naming the field, no stack, no output", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-cli-"));
    const outcomes = await Promise.all(
      CASES.map(async ([name, text, path], i) => {
        const caseDir = join(dir, String(i));
        const file = join(dir, `${i}-topology.yaml`);
        writeFileSync(file, text);
        const outcome = await cli(["--topology", file, "--out", join(caseDir, "out"), "--review", join(caseDir, "review")]);
        return { name, path, outcome, caseDir };
      }),
    );
    for (const { name, path, outcome, caseDir } of outcomes) {
      const lines = outcome.stderr.trimEnd().split("\n");
      expect.soft(outcome.code, name).toBe(2);
      expect.soft(lines, name).toHaveLength(1);
      expect.soft(lines[0], name).toMatch(/^bulwark: error: /);
      expect.soft(lines[0], name).toContain(path);
      expect.soft(outcome.stderr, name).not.toMatch(/\n\s+at /);
      expect.soft(existsSync(join(caseDir, "review")), name).toBe(false);
    }
  });

  it(
    "GIVEN --review naming a directory that is not a review bundle WHEN run " +
      "THEN exit 2 with one line and the fix, and nothing is deleted or written",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "bulwark-cli-review-"));
      const home = join(dir, "home");
      mkdirSync(join(home, ".ssh"), { recursive: true });
      writeFileSync(join(home, "notes.txt"), "keep me");
      const outcome = await cli(["--out", join(dir, "out"), "--review", home]);
      expect(outcome.code).toBe(2);
      expect(outcome.stderr.trimEnd().split("\n")).toEqual([
        `bulwark: error: --review: holds 2 entries but no .bulwark-review, so it is not a review bundle, and synth ` +
          `would delete all of it; got ${JSON.stringify(home)}. Fix: pass a new or empty directory, or one an earlier ` +
          `\`npm run synth\` wrote (it holds .bulwark-review); remove an old bundle from before that marker yourself`,
      ]);
      expect(readFileSync(join(home, "notes.txt"), "utf8")).toBe("keep me");
      expect(existsSync(join(home, ".ssh"))).toBe(true);
      expect(existsSync(join(dir, "out"))).toBe(false);
    },
  );

  it("GIVEN --review naming a file WHEN run THEN exit 2 naming it, and the file is kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-cli-review-"));
    const file = join(dir, "important.txt");
    writeFileSync(file, "keep me");
    const outcome = await cli(["--out", join(dir, "out"), "--review", file]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr.trimEnd().split("\n")).toEqual([
      expect.stringMatching(
        /^bulwark: error: --review: is a file, not a review directory; synth deletes the review directory and writes it anew; got ".*important\.txt"\. Fix: pass a new or empty directory/,
      ),
    ]);
    expect(readFileSync(file, "utf8")).toBe("keep me");
  });

  it("GIVEN an unknown option WHEN run THEN exit 2 with the usage", async () => {
    const outcome = await cli(["--topolgy", "x.yaml"]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/Unknown option '--topolgy'/);
    expect(outcome.stderr).toContain("usage: npm run synth");
  });

  it("GIVEN a missing file WHEN run THEN exit 2 naming the file", async () => {
    const outcome = await cli(["--topology", "/nonexistent/topology.yaml"]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr.trim()).toBe(
      "bulwark: error: /nonexistent/topology.yaml: cannot read the topology file (ENOENT); got " +
        '"/nonexistent/topology.yaml". Fix: pass the path of an existing .json, .yaml or .yml file',
    );
  });
});
