/**
 * `npm run bench:synth`: how long the app's synth takes (validate, plan, render, constructs,
 * app.synth(), review bundle; in-process, not the CLI start-up) for the seed and for generated
 * 50- and 100-host topologies, against an empty cdktf app measured in the same run.
 * 1 warm-up + 5 measured runs each; median, min, max. Also the whole `npm run synth` process
 * against an empty cdktf app process. Writes reports/synth.json and ends with a RESULT line.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { App, TerraformStack } from "cdktf";
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

function time(label: string, fn: (dir: string) => void): Stats {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-"));
    try {
      const t0 = performance.now();
      fn(dir);
      const seconds = (performance.now() - t0) / 1000;
      if (i >= WARMUP) samples.push(seconds);
      process.stdout.write(`bench:synth ${label} run ${i + 1}/${WARMUP + RUNS}${i < WARMUP ? " (warm-up)" : ""}: ${seconds.toFixed(3)} s\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

const empty = time("empty_app", emptyApp);
const seed = time("default", topology({ kind: "seed" }));
const hosts50 = time("hosts_50", topology({ kind: "object", topology: sizedTopology(50) }));
const hosts100 = time("hosts_100", topology({ kind: "object", topology: sizedTopology(100) }));

// The same comparison as whole processes (node --import tsx, module loading included): what a
// user waits for with `npm run synth`, against an empty cdktf app started the same way.
const emptyAppFile = join(mkdtempSync(join(tmpdir(), "bulwark-bench-empty-")), "empty-app.ts");
writeFileSync(
  emptyAppFile,
  `import { App, TerraformStack } from ${JSON.stringify(join(ROOT, "node_modules/cdktf/lib/index.js"))};\n` +
    "const app = new App({ outdir: process.argv[2] });\nnew TerraformStack(app, \"empty\");\napp.synth();\n",
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
  processes: {
    cli_default: { ...cliProcess, ratio_vs_empty_app_process: Math.round((cliProcess.median_s / emptyProcess.median_s) * 100) / 100 },
    empty_app: emptyProcess,
  },
  targets: { default_median_s_max: 1.5, hosts_100_median_s_max: 2.5 },
  conditions: {
    measured: "in-process synthesize(): validate, plan, render, constructs, app.synth(), review bundle; excludes process start-up and module loading",
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
mkdirSync(join(ROOT, "reports"), { recursive: true });
writeFileSync(join(ROOT, "reports", "synth.json"), `${JSON.stringify(report, null, 2)}\n`);
const pass = seed.median_s <= 1.5 && hosts100.median_s <= 2.5;
console.log(`bench:synth wrote reports/synth.json; targets ${pass ? "met" : "MISSED"} (default <= 1.5 s, 100 hosts <= 2.5 s median)`);
console.log(
  `RESULT synth ${JSON.stringify({
    default_median_s: seed.median_s,
    hosts_50_median_s: hosts50.median_s,
    hosts_100_median_s: hosts100.median_s,
    empty_app_median_s: empty.median_s,
    default_ratio_vs_empty: ratio(seed),
    hosts_100_ratio_vs_empty: ratio(hosts100),
    cli_process_default_median_s: cliProcess.median_s,
    empty_app_process_median_s: emptyProcess.median_s,
    targets_met: pass,
  })}`,
);
