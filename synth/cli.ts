/**
 * The command line: `tsx main.ts [--topology FILE] [--out DIR] [--review DIR] [--base DIR]`.
 * A user error prints one line per problem, no stack trace, and exits with code 2.
 */
import { parseArgs } from "node:util";
import { UserError, UserErrors } from "../topology/errors.ts";
import type { TopologySource } from "../topology/load.ts";
import { synthesize } from "./pipeline.ts";

const USAGE = `usage: npm run synth -- [--topology FILE] [--out DIR] [--review DIR] [--base DIR]
  --topology FILE  topology as .json, .yaml or .yml (or set BULWARK_TOPOLOGY); default: the embedded seed
  --out DIR        cdktf output directory (default: $CDKTF_OUTDIR or cdktf.out)
  --review DIR     review bundle directory (default: review); replaced as a whole, so it must be
                   new, empty, or a bundle an earlier synth wrote (it holds .bulwark-review)
  --base DIR       a review bundle of the previous state (e.g. synthesized from main): the review
                   gets CHANGES.md, each host's file diffs, actions, rollout order and disruption`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** Runs the CLI; returns the exit code (0 ok, 2 user error). Unexpected errors propagate. */
export function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): number {
  let args;
  try {
    args = parseArgs({
      args: [...argv],
      options: { topology: { type: "string" }, out: { type: "string" }, review: { type: "string" }, base: { type: "string" }, help: { type: "boolean" } },
      strict: true,
      allowPositionals: false,
    });
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
    const result = synthesize(source, outdir, reviewDir, args.values.base !== undefined ? { base: args.values.base } : {});
    const { plan, failures } = result.prepared;
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    io.out(`bulwark: ${plan.hosts.length} hosts, ${plan.placementGroups.length} placement groups; every single-host loss analysed (${failures.singlePointsOfFailure.length} stop the service)`);
    io.out(`bulwark: wrote ${result.stackFile} and ${reviewDir}/ (${result.review.files.length} files) in ${seconds} s`);
    if (args.values.base !== undefined) io.out(`bulwark: ${reviewDir}/CHANGES.md compares with ${args.values.base}`);
    return 0;
  } catch (err) {
    if (err instanceof UserError || err instanceof UserErrors) {
      for (const line of err.message.split("\n")) io.err(`bulwark: error: ${line}`);
      return 2;
    }
    throw err;
  }
}
