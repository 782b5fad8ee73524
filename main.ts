/**
 * The cdktf app: load the topology, plan, render, build the stack, synth, write the review.
 * `npm run synth` and `cdktf synth|deploy` (cdktf.json "app") both run this file.
 */
import { runCli } from "./synth/cli.ts";

process.exitCode = runCli(process.argv.slice(2), process.env, {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
