/**
 * The bad-input corpus through the real CLI (`node --import tsx main.ts`): every case must end
 * in exit code 2 with one stderr line naming the field (or the file and line), no stack trace,
 * nothing written, within 2 s and 200 MB.
 *
 * Small cases are files in test/bad-input/; big or special ones (deep nesting, megabytes of YAML,
 * a FIFO, a device, invalid UTF-8) are made here in a temp dir. Cases run two at a time.
 *
 * Measured: peak RSS and CPU time are the process's own (process.resourceUsage, written at exit
 * by test/support/report-rusage.mjs); both are hard limits. Wall time is measured around the
 * spawn and includes the CLI's own start (about 0.8 s on an idle core here: tsx and the cdktf
 * imports). On a shared machine the wait for a core adds to it, so the wall limit is 2 s plus
 * the wait a baseline run suffered in the same pool (its wall time minus its CPU time): the same
 * CLI failing on a trivial error. Idle, that is 2 s; a hang (which burns no CPU) still fails.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_ADMIN_KEY } from "../../topology/defaults.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const CORPUS = join(ROOT, "test", "bad-input");
const RUSAGE = join(ROOT, "test", "support", "report-rusage.mjs");
const WALL_LIMIT_MS = 2000;
const RSS_LIMIT_KB = 200 * 1024;
/** A hung case is killed after this, and fails. */
const KILL_AFTER_MS = 10_000;
const PARALLEL = 2;

const ADMIN = `admin:\n  sshKeys:\n    - name: ops\n      publicKey: ${EXAMPLE_ADMIN_KEY}\n`;

interface Case {
  readonly name: string;
  /** A file of test/bad-input/, or a function that makes the input in `dir` and returns its path. */
  readonly input: string | ((dir: string) => string);
  /** What the error line must name: a field path, or the file (and line). */
  readonly names: (file: string) => string;
  readonly message: RegExp;
}

const corpus = (file: string) => file;
const written = (file: string, content: string | Buffer) => (dir: string) => {
  writeFileSync(join(dir, file), content);
  return join(dir, file);
};

/** The CLI failing on a trivial error: how long its start takes in this run. */
const BASELINE: Case = {
  name: "baseline: an empty key list",
  input: written("baseline.yaml", "admin:\n  sshKeys: []\n"),
  names: () => "admin.sshKeys",
  message: /must NOT have fewer than 1 items/,
};

const CASES: readonly Case[] = [
  // 3. SSH open to the internet, judged by coverage; CIDRs parsed strictly
  {
    name: "a zero-padded /00 prefix",
    input: corpus("cidr-zero-padded-prefix.yaml"),
    names: () => "admin.sshSourceCidrs[0]",
    message: /leading zeros .*Fix: write it without them: 0\.0\.0\.0\/0$/,
  },
  {
    name: "two halves of IPv4",
    input: corpus("cidr-two-halves.yaml"),
    names: () => "admin.sshSourceCidrs",
    message: /together open SSH to the whole IPv4 internet/,
  },
  {
    name: "an IPv6 zone id",
    input: corpus("cidr-ipv6-zone-id.yaml"),
    names: () => "admin.sshSourceCidrs[0]",
    message: /zone id .*Fix: remove it: fe80::1\/128$/,
  },
  {
    name: "IPv6 host bits",
    input: corpus("cidr-ipv6-host-bits.yaml"),
    names: () => "admin.sshSourceCidrs[0]",
    message: /host bits set.*Fix: write the network address 2001:db8::\/32/,
  },
  // 4. reserved admin users
  {
    name: "root as the admin user",
    input: corpus("admin-user-root.yaml"),
    names: () => "admin.user",
    message: /system or service account.*got "root"/,
  },
  {
    name: "a Bulwark service user as the admin user",
    input: corpus("admin-user-service.yaml"),
    names: () => "admin.user",
    message: /Bulwark's own service accounts; .*got "bulwark-parser"/,
  },
  // 5. the loader: parser bombs, sizes, file kinds, duplicate keys, tags, construct ids
  { name: "a YAML alias bomb", input: corpus("yaml-alias-bomb.yaml"), names: (f) => `${f}: `, message: /uses YAML aliases too often/ },
  { name: "an unknown YAML tag", input: corpus("yaml-unknown-tag.yaml"), names: (f) => `${f}:6:7: `, message: /TAG_RESOLVE_FAILED.*!shell/ },
  {
    name: "a duplicate JSON key",
    input: corpus("json-duplicate-key.json"),
    names: (f) => `${f}:5:5: `,
    message: /repeats a key of the same object.*got "sshSourceCidrs"/,
  },
  {
    name: "host names with the same construct id",
    input: corpus("construct-id-hosts.yaml"),
    names: () => "roles.app.namePrefix",
    message: /construct id App11 is also that of app-1-1/,
  },
  {
    name: "key names with the same construct id",
    input: corpus("construct-id-keys.yaml"),
    names: () => "admin.sshKeys[1].name",
    message: /makes construct id Ops1, as key ops-1 does/,
  },
  {
    name: "JSON nested 20,000 deep",
    input: written("deep.json", `{"admin": ${"[".repeat(20_000)}${"]".repeat(20_000)}}`),
    names: (f) => `${f}:1:`,
    message: /nests objects and lists more than 32 deep/,
  },
  {
    name: "YAML nested 30,000 deep ('- - - ...')",
    input: written("deep.yaml", `${"- ".repeat(30_000)}x\n`),
    names: (f) => `${f}:1: `,
    message: /nests deeper than a topology can/,
  },
  {
    name: "60 KB of one-line YAML items",
    input: written("items.yaml", "- 1\n".repeat(15_000)),
    names: (f) => `${f}:10001: `,
    message: /holds more than 10000 items/,
  },
  {
    name: "4 MiB of YAML",
    input: written("huge.yaml", `${ADMIN}labels:\n${"  k: v\n".repeat(600_000)}`),
    names: (f) => `${f}: `,
    message: /above the 65536-byte limit of a topology file/,
  },
  {
    name: "a FIFO",
    input: (dir) => {
      const path = join(dir, "topology.yaml");
      expect(spawnSync("mkfifo", [path]).status).toBe(0);
      return path;
    },
    names: (f) => `${f}: `,
    message: /is a FIFO \(named pipe\), not a regular file/,
  },
  {
    name: "a character device (/dev/zero)",
    input: (dir) => {
      symlinkSync("/dev/zero", join(dir, "zero.yaml"));
      return join(dir, "zero.yaml");
    },
    names: (f) => `${f}: `,
    message: /is a character device, not a regular file/,
  },
  {
    name: "invalid UTF-8",
    input: written("latin1.yaml", Buffer.concat([Buffer.from(ADMIN), Buffer.from("name: caf\xe9\n", "latin1")])),
    names: (f) => `${f}: `,
    message: /is not valid UTF-8 text/,
  },
  // 6. admin SSH keys
  {
    name: "a too-long public key",
    input: written("long-key.yaml", `admin:\n  sshKeys:\n    - name: ops\n      publicKey: ssh-ed25519 ${"A".repeat(4000)}\n`),
    names: () => "admin.sshKeys[0].publicKey",
    message: /is 4012 characters long, above the 3072/,
  },
  {
    name: "the same key twice",
    input: corpus("key-duplicate.yaml"),
    names: () => "admin.sshKeys[1].publicKey",
    message: /is the same key as admin\.sshKeys\[0\] \(alice-laptop\)/,
  },
  {
    name: "a key whose type does not match its body",
    input: corpus("key-type-mismatch.yaml"),
    names: () => "admin.sshKeys[0].publicKey",
    message: /says ssh-rsa but its base64 part holds a "ssh-ed25519" key/,
  },
  // 2. user strings reaching cdk.tf.json; 6. the reason at the head of TOPOLOGY.md
  {
    name: "a key comment with ${file(...)}",
    input: corpus("key-comment-template.yaml"),
    names: () => "admin.sshKeys[0].publicKey",
    message:
      /has in its comment the Terraform template sequence '\$\{'.*got "ops \$\{file\(\\"\/etc\/passwd\\"\)\}"\. Fix: remove the template sequence from the key comment/,
  },
  {
    name: "a reason with an escape and a bidi override",
    input: corpus("reason-escape-sequence.yaml"),
    names: () => "allowSinglePointsOfFailure.reason",
    message:
      /has characters or a form that is not allowed; got "staging \\u001b\[8m\\u202ehidden"\. Fix: write one line of 3 to 200 printable characters/,
  },
];

interface Outcome {
  readonly file: string;
  readonly caseDir: string;
  readonly inputs: readonly string[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
  readonly usage: { readonly maxRssKb: number; readonly cpuMs: number } | undefined;
}

function runCase(c: Case, base: string, i: number): Promise<Outcome> {
  const caseDir = join(base, String(i));
  mkdirSync(caseDir);
  const file = typeof c.input === "string" ? join(CORPUS, c.input) : c.input(caseDir);
  const inputs = readdirSync(caseDir);
  const usageFile = join(base, `${i}.rusage.json`);
  const args = [
    "--import",
    "tsx",
    "--import",
    RUSAGE,
    join(ROOT, "main.ts"),
    "--topology",
    file,
    "--out",
    join(caseDir, "out"),
    "--review",
    join(caseDir, "review"),
  ];
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, BULWARK_RUSAGE_FILE: usageFile },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code, signal) => {
      const wallMs = performance.now() - started;
      clearTimeout(timer);
      const usage = existsSync(usageFile) ? (JSON.parse(readFileSync(usageFile, "utf8")) as Outcome["usage"]) : undefined;
      resolve({ file, caseDir, inputs, code, signal, stdout, stderr, wallMs, usage });
    });
  });
}

/** Runs the baseline first and last, the cases in between, PARALLEL at a time. */
async function runAll(): Promise<{ outcomes: Outcome[]; baselines: Outcome[] }> {
  const base = mkdtempSync(join(tmpdir(), "bulwark-bad-input-"));
  const jobs = [BASELINE, ...CASES, BASELINE];
  const results: Outcome[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < jobs.length; i = next++) results[i] = await runCase(jobs[i]!, base, i);
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return { outcomes: results.slice(1, -1), baselines: [results[0]!, results[results.length - 1]!] };
}

const row = (name: string, o: Outcome) =>
  `${name.padEnd(44)} exit ${String(o.code).padStart(2)}  wall ${o.wallMs.toFixed(0).padStart(5)} ms  ` +
  `cpu ${o.usage?.cpuMs.toFixed(0).padStart(5) ?? "    ?"} ms  rss ${o.usage ? (o.usage.maxRssKb / 1024).toFixed(0).padStart(4) : "   ?"} MB`;

describe("the bad-input corpus through the CLI", () => {
  let outcomes: Outcome[] = [];
  let baselines: Outcome[] = [];
  /** The wait for a core a run of the CLI suffered in this pool, at most. */
  let wait = 0;
  beforeAll(async () => {
    ({ outcomes, baselines } = await runAll());
    wait = Math.max(0, ...baselines.map((b) => b.wallMs - (b.usage?.cpuMs ?? b.wallMs)));
    console.log(
      [
        ...baselines.map((b) => row(BASELINE.name, b)),
        ...CASES.map((c, i) => row(c.name, outcomes[i]!)),
        `wall limit: ${WALL_LIMIT_MS} + ${wait.toFixed(0)} ms of waiting for a core`,
      ].join("\n"),
    );
  }, 180_000);

  it("GIVEN the baseline WHEN synthesized THEN it fails like a case, and fast", () => {
    for (const b of baselines) {
      expect(b.code).toBe(2);
      expect(b.stderr).toMatch(BASELINE.message);
      expect(b.usage!.cpuMs).toBeLessThan(WALL_LIMIT_MS);
    }
  });

  it.each(CASES.map((c, i) => [c.name, i] as const))(
    "GIVEN %s WHEN synthesized THEN exit 2, one line naming the field, no stack, nothing written, within 2 s and 200 MB",
    (_name, i) => {
      const c = CASES[i]!;
      const o = outcomes[i]!;
      const lines = o.stderr.trimEnd().split("\n");
      expect(o.signal, `killed after ${KILL_AFTER_MS} ms`).toBeNull();
      expect(o.code).toBe(2);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^bulwark: error: /);
      expect(lines[0]).toContain(c.names(o.file));
      expect(lines[0]).toMatch(c.message);
      expect(`${o.stdout}\n${o.stderr}`).not.toMatch(/\n\s+at /);
      expect(readdirSync(o.caseDir)).toEqual(o.inputs);
      expect(existsSync(join(o.caseDir, "out")) || existsSync(join(o.caseDir, "review"))).toBe(false);
      expect(o.wallMs).toBeLessThan(WALL_LIMIT_MS + wait);
      expect(o.usage, "the process reported no resource usage (it did not exit normally)").toBeDefined();
      expect(o.usage!.maxRssKb).toBeLessThan(RSS_LIMIT_KB);
      expect(o.usage!.cpuMs).toBeLessThan(WALL_LIMIT_MS);
    },
  );

  it("GIVEN the corpus directory WHEN listed THEN every file in it is one of the cases", () => {
    const used = CASES.flatMap((c) => (typeof c.input === "string" ? [c.input] : []));
    expect(readdirSync(CORPUS).sort()).toEqual([...new Set(used)].sort());
  });
});
