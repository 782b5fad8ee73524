/**
 * `--base <git ref>` (synth/base-ref.ts): a ref is resolved in the checkout's repository, its tree
 * is synthesized by its own main.ts in a temp directory, and that directory is gone afterwards,
 * on success, on a failure, on the timeout and on Ctrl-C. The error paths use a scratch git
 * repository; the end-to-end cases synthesize HEAD of this repository.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { readBaseBundle, REVIEW_MARKER } from "../../bundle/write.ts";
import { serviceArtifacts } from "../../services/build.ts";
import { CHECKOUT_ROOT, resolveBaseRef, reviewBundleAtRef, withReviewBundleAtRef } from "../../synth/base-ref.ts";
import { runCli } from "../../synth/cli.ts";
import { withInput } from "../support/fixtures.ts";

const E2E_TIMEOUT = 180_000;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

/** A scratch repository with one commit holding `files`. */
function scratchRepo(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-base-repo-"));
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", dir, "-c", "user.name=bulwark-test", "-c", "user.email=test@example.invalid", ...args], { stdio: "pipe" });
  git("init", "-q");
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  git("add", ".");
  git("commit", "-q", "-m", "scratch");
  return dir;
}

/** The temp directories base-ref.ts makes, below TMPDIR. */
const baseTemps = (root = tmpdir()) => readdirSync(root).filter((n) => n.startsWith("bulwark-base-") && !n.startsWith("bulwark-base-repo-"));

describe("--base as a git ref: resolution and errors", () => {
  const FIX =
    /Fix: pass a review directory an earlier `npm run synth` wrote \(it holds \.bulwark-review\), or a branch, tag or commit of this repository/;

  it("GIVEN a branch, HEAD and a short commit WHEN resolved THEN each names the commit", () => {
    const repo = scratchRepo({ "a.txt": "a\n" });
    const head = execFileSync("git", ["-C", repo, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    const branch = execFileSync("git", ["-C", repo, "branch", "--show-current"], { encoding: "utf8" }).trim();
    for (const ref of ["HEAD", branch, head.slice(0, 10)])
      expect(resolveBaseRef(ref, repo)).toMatchObject({ ref, commit: head, short: expect.stringMatching(/^[0-9a-f]{4,}$/) });
  });

  it.each([
    [
      "a ref the repository does not have",
      "no-such-branch",
      /^--base: is neither a directory nor a commit of the git repository at .*; got "no-such-branch"\. /,
    ],
    ["a ref beyond the first commit", "HEAD~5", /^--base: is neither a directory nor a commit of the git repository at .*; got "HEAD~5"\. /],
    [
      "a value that starts with a dash",
      "--help",
      /^--base: is not a directory, nor a git ref \(a ref is not empty and does not start with '-'\); got "--help"\. /,
    ],
    ["an empty value", "", /^--base: is not a directory, nor a git ref .*; got ""\. /],
  ])("GIVEN %s WHEN used as --base THEN a user error names --base, the value and the fix, and nothing is left behind", (_case, ref, expected) => {
    const repo = scratchRepo({ "a.txt": "a\n" });
    const before = baseTemps();
    expect(() => withReviewBundleAtRef(ref, { checkout: repo }, () => 0)).toThrow(expected);
    expect(() => resolveBaseRef(ref, repo)).toThrow(FIX);
    expect(baseTemps()).toEqual(before);
  });

  it("GIVEN a checkout outside any git repository WHEN a ref is given THEN the error says so", () => {
    const plain = mkdtempSync(join(tmpdir(), "bulwark-base-repo-plain-"));
    expect(() => resolveBaseRef("main", plain)).toThrow(
      /^--base: is not a directory, and .* is not in a git repository, so it is no git ref either \(git: .*\); got "main"\. Fix: /,
    );
  });

  it("GIVEN a commit that is not of this toolkit (no main.ts) WHEN used as --base THEN a user error says so and the temp directory is gone", () => {
    const repo = scratchRepo({ "README.md": "# not bulwark\n" });
    const before = baseTemps();
    expect(() => withReviewBundleAtRef("HEAD", { checkout: repo }, () => 0)).toThrow(
      /^--base: names commit [0-9a-f]+, which has no main\.ts, so it is not a commit of this toolkit; got "HEAD"\. Fix: /,
    );
    expect(baseTemps()).toEqual(before);
  });

  it("GIVEN the CLI and a --base that is neither a directory nor a ref WHEN run THEN it exits 2 with the error and writes nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-base-cli-"));
    const c = capture();
    expect(runCli(["--out", join(dir, "out"), "--review", join(dir, "review"), "--base", join(dir, "no-such-dir")], {}, c.io)).toBe(2);
    expect(c.err[0]).toMatch(/^bulwark: error: --base: is neither a directory nor a commit of the git repository at .*; got ".*no-such-dir"\. Fix: /);
    expect(existsSync(join(dir, "review"))).toBe(false);
  });
});

describe("--base as a git ref: this repository's HEAD", () => {
  it(
    "GIVEN HEAD WHEN its review bundle is made THEN it holds what CHANGES.md reads, named " +
      "by the ref, its artifacts match an in-place build, and the temp directory is gone",
    () => {
      const lines: string[] = [];
      const bundle = reviewBundleAtRef("HEAD", { log: (l) => lines.push(l) });
      const short = execFileSync("git", ["-C", CHECKOUT_ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
      expect(lines[0]).toMatch(new RegExp(`^bulwark: base HEAD \\(${short}\\): synthesizing its review bundle in .*bulwark-base-\\w+$`));
      const tmp = /in (.*)$/.exec(lines[0]!)![1]!;
      expect(lines).toContainEqual(expect.stringMatching(/^bulwark: base HEAD \([0-9a-f]+\): topology \(its embedded seed\)$/));
      expect(lines.at(-1)).toMatch(/^bulwark: base HEAD \([0-9a-f]+\): its review bundle is ready \([0-9.]+ s\)$/);
      for (const f of [REVIEW_MARKER, "plan.json", "TOPOLOGY.md", "ROLLOUT.md"]) expect(bundle.files.has(f)).toBe(true);
      expect(bundle.plan?.hosts.length).toBeGreaterThan(0);
      for (const h of bundle.plan!.hosts) expect(bundle.files.has(`hosts/${h.name}/user-data.yaml`)).toBe(true);
      expect(bundle.dir).toBe("HEAD");
      expect(existsSync(tmp)).toBe(false);

      // node_modules is linked in file by file, not as one symbolic link, so that esbuild's output (and so
      // each artifact's sha256) does not depend on where the tree is: the same sources give the same sha256.
      const unchanged = (paths: string[]) =>
        execFileSync("git", ["-C", CHECKOUT_ROOT, "status", "--porcelain", "--untracked-files=all", "--", ...paths], { encoding: "utf8" }).trim() ===
        "";
      if (unchanged(["services", "package-lock.json", "tsconfig.json"])) {
        const plan = bundle.files.get("plan.json")!;
        for (const a of Object.values(serviceArtifacts())) expect(plan).toContain(a.sha256);
      }
    },
    E2E_TIMEOUT,
  );

  it(
    "GIVEN the CLI with --base HEAD WHEN run THEN CHANGES.md names HEAD, not the temp directory, and the temp directory is gone",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "bulwark-base-cli-"));
      const c = capture();
      expect(runCli(["--out", join(dir, "out"), "--review", join(dir, "review"), "--base", "HEAD"], {}, c.io)).toBe(0);
      const tmp = /synthesizing its review bundle in (.*)$/.exec(c.out.find((l) => l.includes("synthesizing")) ?? "")?.[1];
      expect(tmp).toBeDefined();
      expect(existsSync(tmp!)).toBe(false);
      const page = readFileSync(join(dir, "review", "CHANGES.md"), "utf8");
      expect(page).toMatch(/^# Changes against HEAD\n\nGenerated by `npm run synth -- --base HEAD`\./);
      expect(page).not.toContain(tmp!);
      expect(c.out.at(-1)).toBe(`bulwark: ${join(dir, "review")}/CHANGES.md compares with HEAD`);
      expect(c.err).toEqual([]);
    },
    E2E_TIMEOUT,
  );

  it(
    "GIVEN a topology file outside the checkout WHEN HEAD is the base THEN it is used " +
      "as it is now; one HEAD tracks is read as of HEAD, and its failure quotes the child",
    () => {
      const outside = mkdtempSync(join(tmpdir(), "bulwark-base-topo-"));
      const file = join(outside, "shop.yaml");
      writeFileSync(file, stringify(withInput({ name: "shop", roles: { app: { count: 3 } } })));
      const lines: string[] = [];
      const log = (l: string) => lines.push(l);
      const bundle = withReviewBundleAtRef("HEAD", { topology: file, log }, (dir) => readBaseBundle(dir));
      expect(lines).toContainEqual(expect.stringMatching(/: topology .*shop\.yaml as it is now \(HEAD does not track it\)$/));
      expect(bundle.plan?.hosts.filter((h) => h.name.startsWith("app-"))).toHaveLength(3);

      // A file HEAD tracks: an invalid one, so that the child's own error ends the message.
      const tracked = "test/bad-input/key-duplicate.yaml";
      lines.length = 0;
      expect(() => withReviewBundleAtRef("HEAD", { topology: tracked, cwd: CHECKOUT_ROOT, log }, () => 0)).toThrow(
        new RegExp(
          String.raw`^--base: the synth of HEAD \([0-9a-f]+\) exited with code 2; got "HEAD"\. Fix: an older ref may not know an option .*\. ` +
            String.raw`Its output ended with:\n {2}\| bulwark: error: admin\.sshKeys\[1\]\.publicKey: is the same key as admin\.sshKeys\[0\]`,
        ),
      );
      expect(lines).toContainEqual(expect.stringMatching(/: topology test\/bad-input\/key-duplicate\.yaml as of HEAD$/));
      const tmp = /in (.*)$/.exec(lines[0] ?? "")?.[1];
      expect(existsSync(tmp!)).toBe(false);
    },
    E2E_TIMEOUT,
  );

  it(
    "GIVEN a timeout shorter than the synth WHEN it runs out THEN a user error says so and the temp directory is gone",
    () => {
      const lines: string[] = [];
      expect(() => withReviewBundleAtRef("HEAD", { timeoutMs: 50, log: (l) => lines.push(l) }, () => 0)).toThrow(
        /^--base: the synth of HEAD \([0-9a-f]+\) did not finish within 0\.05 s and was stopped; got "HEAD"\. Fix: run npm run synth in a checkout of that ref/,
      );
      const tmp = /in (.*)$/.exec(lines[0] ?? "")?.[1];
      expect(tmp).toBeDefined();
      expect(existsSync(tmp!)).toBe(false);
    },
    E2E_TIMEOUT,
  );

  it(
    "GIVEN npm run synth -- --base HEAD WHEN Ctrl-C reaches it during the " +
      "ref's synth THEN it stops, writes no review, and the temp directory is gone",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "bulwark-base-sigint-"));
      const childTmp = join(dir, "tmp");
      mkdirSync(childTmp);
      // As `npm run synth` runs it (tsx's CLI, which SIGKILLs a child that does not answer a signal
      // within 60 ms), in a process group of its own, like a terminal's foreground job.
      const tsx = join(CHECKOUT_ROOT, "node_modules", ".bin", "tsx");
      const cli = spawn(tsx, ["main.ts", "--out", join(dir, "out"), "--review", join(dir, "review"), "--base", "HEAD"], {
        cwd: CHECKOUT_ROOT,
        env: { ...process.env, TMPDIR: childTmp },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
        cli.on("exit", (code, signal) => done({ code, signal })),
      );
      await new Promise<void>((started) => {
        cli.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes("synthesizing its review bundle")) started();
        });
      });
      expect(baseTemps(childTmp)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 1500));
      process.kill(-cli.pid!, "SIGINT");
      const { code, signal } = await exited;
      expect(code === 0 && signal === null).toBe(false);
      const deadline = Date.now() + 10_000;
      while (baseTemps(childTmp).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(baseTemps(childTmp)).toEqual([]);
      expect(existsSync(join(dir, "review"))).toBe(false);
    },
    E2E_TIMEOUT,
  );
});
