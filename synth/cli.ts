/**
 * The command line: `tsx main.ts [--topology FILE] [--out DIR] [--review DIR] [--base DIR|REF]`.
 * A user error prints one line per problem, no stack trace, and exits with code 2.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkReviewDir } from "../bundle/write.ts";
import { UserError, UserErrors } from "../topology/errors.ts";
import { loadTopology, type TopologySource } from "../topology/load.ts";
import { isDirectory, withReviewBundleAtRef } from "./base-ref.ts";
import { synthesize, type SynthResult } from "./pipeline.ts";

const USAGE = `usage: npm run synth -- [--topology FILE] [--out DIR] [--review DIR] [--base DIR|REF]
  --topology FILE  topology as .json, .yaml or .yml (or set BULWARK_TOPOLOGY); default: the embedded seed
  --out DIR        cdktf output directory (default: $CDKTF_OUTDIR or cdktf.out)
  --review DIR     review bundle directory (default: review); replaced as a whole, so it must be
                   new, empty, or a bundle an earlier synth wrote (it holds .bulwark-review)
  --base DIR|REF   the previous state: a review bundle directory, or else a git ref of this repository
                   (main, origin/main, HEAD~1), whose own synth then writes one in a temp directory
                   (with the ref's version of --topology FILE when the ref tracks it); the review
                   gets CHANGES.md, each host's file diffs, actions, rollout order and disruption`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

function parseCliArgs(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      topology: { type: "string" },
      out: { type: "string" },
      review: { type: "string" },
      base: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
}

/** Runs the CLI; returns the exit code (0 ok, 2 user error). Unexpected errors propagate. */
export function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): number {
  let args: ReturnType<typeof parseCliArgs>;
  try {
    args = parseCliArgs(argv);
  } catch (err) {
    io.err(`bulwark: ${(err as Error).message}`);
    io.err(USAGE);
    return 2;
  }
  if (args.values.help) {
    io.out(USAGE);
    return 0;
  }
  const file = args.values.topology ?? env["BULWARK_TOPOLOGY"];
  const source: TopologySource = file ? { kind: "file", path: file } : { kind: "seed" };
  const outdir = args.values.out ?? env["CDKTF_OUTDIR"] ?? "cdktf.out";
  const reviewDir = args.values.review ?? "review";
  const started = performance.now();
  try {
    io.out(`bulwark: topology ${file ?? "(embedded seed)"}`);
    const base = args.values.base;
    let result: SynthResult;
    if (base === undefined || isDirectory(base)) result = synthesize(source, outdir, reviewDir, base !== undefined ? { base } : {});
    else {
      // Before the ref's synth, which takes seconds: the checks synthesize starts with (it makes them again).
      checkReviewDir(reviewDir);
      loadTopology(source);
      result = withReviewBundleAtRef(base, { ...(file !== undefined ? { topology: file } : {}), log: io.out }, (baseDir) => {
        const r = synthesize(source, outdir, reviewDir, { base: baseDir });
        nameBaseInChanges(reviewDir, baseDir, base);
        return r;
      });
    }
    const { plan, failures } = result.prepared;
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    io.out(
      `bulwark: ${plan.hosts.length} hosts, ${plan.placementGroups.length} placement groups; ` +
        `every single-host loss analysed (${failures.singlePointsOfFailure.length} stop the service)`,
    );
    io.out(`bulwark: wrote ${result.stackFile} and ${reviewDir}/ (${result.review.files.length} files) in ${seconds} s`);
    if (base !== undefined) io.out(`bulwark: ${reviewDir}/CHANGES.md compares with ${base}`);
    return 0;
  } catch (err) {
    if (err instanceof UserError || err instanceof UserErrors) {
      for (const line of err.message.split("\n")) io.err(`bulwark: error: ${line}`);
      return 2;
    }
    throw err;
  }
}

/**
 * CHANGES.md names its base by the directory it was read from; for a git ref that is a temp
 * directory, removed right after, so the page names the ref as the user gave it instead.
 */
function nameBaseInChanges(reviewDir: string, baseDir: string, ref: string): void {
  const page = join(reviewDir, "CHANGES.md");
  writeFileSync(page, readFileSync(page, "utf8").split(baseDir).join(ref));
}
