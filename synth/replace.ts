/**
 * Replacing one host, dead or alive: `npm run replace -- <host> [--auto-approve] [--out DIR]`.
 * `cdktf deploy` has no -replace, so this runs `terraform apply -replace=<its server>` in the
 * synthesized stack's directory (run `npm run synth` first, from the same checkout). Terraform
 * then also replaces what hangs on that server: the host's rollout step (its trigger holds the
 * server id), so the new server gets the agent and its files, and the apply returns only once
 * the role's health gate holds on it (constructs/rollout.ts); a storage host's brick volume is
 * kept and attached to the new server. The lb and storage rejoin rules are in docs/day2.md.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../topology/errors.ts";
import { constructId } from "../topology/ids.ts";

export interface ReplaceArgs {
  readonly host: string;
  readonly outdir: string;
  readonly autoApprove: boolean;
}

/** The stack directory and the Terraform address of `host`'s server, from the synthesized JSON. */
export function replaceTarget(outdir: string, host: string): { stackDir: string; address: string; step?: string } {
  const stacks = join(outdir, "stacks");
  const names = existsSync(stacks) ? readdirSync(stacks) : [];
  if (names.length !== 1) {
    throw new UserError("--out", `holds ${names.length} synthesized stacks (${names.join(", ") || "none"}) in ${stacks}`, outdir, "run `npm run synth` first, with the same --out");
  }
  const stackDir = join(stacks, names[0]!);
  const tf = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as { resource?: Record<string, Record<string, { name?: string }>> };
  const prefix = `${constructId(host)}_Server_`;
  const server = Object.keys(tf.resource?.["hcloud_server"] ?? {}).find((id) => id.startsWith(prefix));
  if (!server) {
    const servers = Object.values(tf.resource?.["hcloud_server"] ?? {}).map((r) => r.name).join(", ");
    throw new UserError("host", `is not a host of the synthesized stack (servers: ${servers})`, host, "name a host as the plan names it (the server name without the project prefix), e.g. storage-2");
  }
  const step = Object.keys(tf.resource?.["terraform_data"] ?? {}).find((id) => id.startsWith(`HostRollout_${constructId(host)}_`));
  return { stackDir, address: `hcloud_server.${server}`, ...(step ? { step: `terraform_data.${step}` } : {}) };
}

export function replaceHost(args: ReplaceArgs, io: { out: (line: string) => void } = { out: (l) => process.stdout.write(`${l}\n`) }): number {
  const { stackDir, address, step } = replaceTarget(args.outdir, args.host);
  io.out(`bulwark: replacing ${args.host}: terraform apply -replace=${address} in ${stackDir}`);
  io.out(`bulwark: ${step ? `its rollout step ${step} runs again and waits for the role's gate` : "no rollout step found: the new server is not gated"}`);
  const r = spawnSync("terraform", [`-chdir=${stackDir}`, "apply", `-replace=${address}`, ...(args.autoApprove ? ["-auto-approve"] : [])], { stdio: "inherit" });
  if (r.error) throw new UserError("terraform", `could not run: ${r.error.message}`, "terraform", "install terraform (1.5 or later) and put it on PATH");
  return r.status ?? 1;
}
