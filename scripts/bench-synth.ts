/**
 * `npm run bench:synth`: how long the app's synth takes (validate, plan, render, constructs,
 * app.synth(), review bundle; in-process, not the CLI start-up) for the seed and for generated
 * 50- and 100-host topologies, against an empty cdktf app measured in the same run.
 * Each measured run happens in a fresh process (this script with `--child <label>`), after one
 * untimed warm-up synth of the same topology there: five runs in one process grew from 1.2 s to
 * 2.7 s for 100 hosts, as state built up across runs, which measured the previous runs rather
 * than a synth. 5 runs each; median, min, max. Also the whole `npm run synth` process against an
 * empty cdktf app process. Writes reports/synth.json and ends with a RESULT line.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { App, TerraformStack } from "cdktf";
import { writeReport } from "../measure/report.ts";
import { round, spread } from "../measure/stats.ts";
import { synthesize } from "../synth/pipeline.ts";
import type { TopologySource } from "../topology/load.ts";
import { sizedTopology } from "./sized-topology.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = 5;
const WARMUP = 1;

interface Stats {
  readonly median_s: number;
  readonly min_s: number;
  readonly max_s: number;
  readonly runs_s: readonly number[];
}

function stats(samples: number[]): Stats {
  const { median, min, max } = spread(samples);
  return { median_s: round(median, 4), min_s: round(min, 4), max_s: round(max, 4), runs_s: samples.map((x) => round(x, 4)) };
}

/** Times `fn` once in a fresh temp dir under `root`. */
function timeOnce(fn: (dir: string) => void, root = tmpdir()): number {
  const dir = mkdtempSync(join(root, "bulwark-bench-"));
  try {
    const t0 = performance.now();
    fn(dir);
    return (performance.now() - t0) / 1000;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `fn` WARMUP + RUNS times in this process (the whole-process comparisons, which start a process per run anyway). */
function time(label: string, fn: (dir: string) => void): Stats {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const seconds = timeOnce(fn);
    if (i >= WARMUP) samples.push(seconds);
    process.stdout.write(`bench:synth ${label} run ${i + 1}/${WARMUP + RUNS}${i < WARMUP ? " (warm-up)" : ""}: ${seconds.toFixed(3)} s\n`);
  }
  return stats(samples);
}

/** RUNS fresh processes, each: WARMUP untimed runs of `label`, then one timed run; output under `root`. */
function timeInFreshProcesses(label: InProcessLabel, root = tmpdir()): Stats {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child", label, root], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 300_000,
    });
    const line = out.split("\n").find((l) => l.startsWith("CHILD "));
    if (!line) throw new Error(`bench:synth: the child for ${label} printed no CHILD line; its output:\n${out}`);
    const seconds = (JSON.parse(line.slice("CHILD ".length)) as { seconds: number }).seconds;
    samples.push(seconds);
    process.stdout.write(
      `bench:synth ${label} run ${i + 1}/${RUNS} (fresh process, after ${WARMUP} warm-up, output under ${root}): ${seconds.toFixed(3)} s\n`,
    );
  }
  return stats(samples);
}

const emptyApp = (dir: string) => {
  const app = new App({ outdir: dir });
  new TerraformStack(app, "empty");
  app.synth();
};
const topology = (source: TopologySource) => (dir: string) => {
  synthesize(source, join(dir, "cdktf.out"), join(dir, "review"));
};

const IN_PROCESS = {
  empty_app: emptyApp,
  default: topology({ kind: "seed" }),
  hosts_50: (dir: string) => topology({ kind: "object", topology: sizedTopology(50) })(dir),
  hosts_100: (dir: string) => topology({ kind: "object", topology: sizedTopology(100) })(dir),
} as const;
type InProcessLabel = keyof typeof IN_PROCESS;

const childAt = process.argv.indexOf("--child");
if (childAt >= 0) {
  const label = process.argv[childAt + 1] ?? "";
  if (!(label in IN_PROCESS)) {
    console.error(`bench:synth --child ${label}: unknown label; use one of ${Object.keys(IN_PROCESS).join(", ")}`);
    process.exit(2);
  }
  const fn = IN_PROCESS[label as InProcessLabel];
  const root = process.argv[childAt + 2] ?? tmpdir();
  for (let i = 0; i < WARMUP; i++) timeOnce(fn, root);
  console.log(`CHILD ${JSON.stringify({ seconds: timeOnce(fn, root) })}`);
  process.exit(0);
}

const empty = timeInFreshProcesses("empty_app");
const seed = timeInFreshProcesses("default");
const hosts50 = timeInFreshProcesses("hosts_50");
const hosts100 = timeInFreshProcesses("hosts_100");
// The same with the output on tmpfs: what the synth costs apart from this machine's disk. On this
// VM, writing the review bundle (a directory tree per host) is most of the 100-host time.
const TMPFS = "/dev/shm";
const onTmpfs = existsSync(TMPFS)
  ? {
      default: timeInFreshProcesses("default", TMPFS),
      hosts_50: timeInFreshProcesses("hosts_50", TMPFS),
      hosts_100: timeInFreshProcesses("hosts_100", TMPFS),
    }
  : null;

// The same comparison as whole processes (node --import tsx, module loading included): what a
// user waits for with `npm run synth`, against an empty cdktf app started the same way.
const emptyAppFile = join(mkdtempSync(join(tmpdir(), "bulwark-bench-empty-")), "empty-app.ts");
writeFileSync(
  emptyAppFile,
  `import { App, TerraformStack } from ${JSON.stringify(join(ROOT, "node_modules/cdktf/lib/index.js"))};\n` +
    'const app = new App({ outdir: process.argv[2] });\nnew TerraformStack(app, "empty");\napp.synth();\n',
);
const node = (args: string[]) => execFileSync(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, stdio: "ignore", timeout: 120_000 });
const emptyProcess = time("empty_app_process", (dir) => node([emptyAppFile, join(dir, "out")]));
const cliProcess = time("cli_process_default", (dir) => node([join(ROOT, "main.ts"), "--out", join(dir, "out"), "--review", join(dir, "review")]));
rmSync(dirname(emptyAppFile), { recursive: true, force: true });

const ratio = (s: Stats) => Math.round((s.median_s / empty.median_s) * 100) / 100;
const version = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
const report = {
  default: { ...seed, ratio_vs_empty_app: ratio(seed) },
  hosts_50: { ...hosts50, ratio_vs_empty_app: ratio(hosts50) },
  hosts_100: { ...hosts100, ratio_vs_empty_app: ratio(hosts100) },
  empty_app: empty,
  output_on_tmpfs: onTmpfs,
  processes: {
    cli_default: { ...cliProcess, ratio_vs_empty_app_process: Math.round((cliProcess.median_s / emptyProcess.median_s) * 100) / 100 },
    empty_app: emptyProcess,
  },
  targets: { default_median_s_max: 1.5, hosts_100_median_s_max: 2.5 },
  conditions: {
    measured:
      "synthesize(): validate, the services' artifact check (dist/services/ reused, sources hashed), " +
      "plan, render, constructs, app.synth(), review bundle; each run in a fresh process after one untimed warm-up synth there; " +
      "excludes process start-up and module loading; " +
      "output (cdktf.out and the review bundle) under the OS temp dir on this VM's disk, and again under /dev/shm (output_on_tmpfs)",
    runs: RUNS,
    warmup_runs: WARMUP,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? "unknown",
  },
  versions: {
    node: process.version,
    kernel: release(),
    cdktf: version("cdktf"),
    constructs: version("constructs"),
    handlebars: version("handlebars"),
    ajv: version("ajv"),
    git: (() => {
      try {
        return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
      } catch {
        return "unknown";
      }
    })(),
  },
};
writeReport("synth", report);
const pass = seed.median_s <= 1.5 && hosts100.median_s <= 2.5;
console.log(`bench:synth wrote reports/synth.json; targets ${pass ? "met" : "MISSED"} (default <= 1.5 s, 100 hosts <= 2.5 s median)`);
console.log(
  `RESULT synth ${JSON.stringify({
    default_median_s: seed.median_s,
    hosts_50_median_s: hosts50.median_s,
    hosts_100_median_s: hosts100.median_s,
    hosts_100_tmpfs_median_s: onTmpfs?.hosts_100.median_s ?? null,
    empty_app_median_s: empty.median_s,
    default_ratio_vs_empty: ratio(seed),
    hosts_100_ratio_vs_empty: ratio(hosts100),
    cli_process_default_median_s: cliProcess.median_s,
    empty_app_process_median_s: emptyProcess.median_s,
    targets_met: pass,
  })}`,
);
