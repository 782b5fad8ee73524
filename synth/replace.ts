/**
 * Replacing one host, dead or alive: `npm run replace -- <host> [--auto-approve] [--no-retire] [--out DIR]`.
 * `cdktf deploy` has no -replace, so this runs `terraform apply -replace=<its server>` in the
 * synthesized stack's directory (run `npm run synth` first, from the same checkout). Terraform
 * then also replaces what hangs on that server: the host's rollout step (its trigger holds the
 * server id), so the new server gets the agent and its files, and the apply returns only once
 * the role's health gate holds on it (constructs/rollout.ts); a storage host's brick volume is
 * kept and attached to the new server. Before that, `bulwark-host retire` runs on the old server
 * if it answers (host key pinned): an lb MASTER hands the Floating IP to its peer, so the
 * replacement is not a failover; `--no-retire` skips it. The lb and storage rejoin rules are in docs/day2.md.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROLLOUT_PATHS } from "../plan/rollout.ts";
import { UserError } from "../topology/errors.ts";
import { constructId } from "../topology/ids.ts";
import { cmdOutputSync } from "./cmd.ts";

export interface ReplaceArgs {
  readonly host: string;
  readonly outdir: string;
  readonly autoApprove: boolean;
  /**
   * Skip `bulwark-host retire` on the old server before it is destroyed.
   * @default false
   */
  readonly noRetire?: boolean;
}

/** Where and as whom `retire` connects: what the rollout step pins. */
export interface RetireTarget {
  readonly user: string;
  readonly address: string;
  /** `ssh-ed25519 AAAA...`: the host key every connection pins. */
  readonly hostKey: string;
  readonly agent: string;
}

/** How long `retire` may take: connecting, and the lb handoff inside it (plan/rollout.ts lbHandoff, 30 s). */
const RETIRE_BOUNDS = { connectTimeoutS: 10, timeoutMs: 90_000 } as const;

/**
 * The ssh command that runs `bulwark-host retire` on the old server, its host key pinned (the
 * known_hosts file holds only that key, so a mismatch is refused, never trusted on first use).
 * The user's own SSH agent or default key authenticates, as for any admin login.
 */
export function retireArgv(t: RetireTarget, knownHostsFile: string, extra: readonly string[] = []): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHostsFile}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    `ConnectTimeout=${RETIRE_BOUNDS.connectTimeoutS}`,
    ...extra,
    `${t.user}@${t.address}`,
    "sudo",
    t.agent,
    "retire",
  ];
}

/** The known_hosts line that pins `t`'s key. */
export function knownHostsLine(t: RetireTarget): string {
  return `${t.address} ${t.hostKey}\n`;
}

const AGENT_PATH = ROLLOUT_PATHS.agent;

/** The stack directory and the Terraform address of `host`'s server, from the synthesized JSON. */
export function replaceTarget(outdir: string, host: string): { stackDir: string; address: string; step?: string } {
  const stacks = join(outdir, "stacks");
  const names = existsSync(stacks) ? readdirSync(stacks) : [];
  if (names.length !== 1) {
    throw new UserError(
      "--out",
      `holds ${names.length} synthesized stacks (${names.join(", ") || "none"}) in ${stacks}`,
      outdir,
      "run `npm run synth` first, with the same --out",
    );
  }
  const stackDir = join(stacks, names[0]!);
  const tf = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as { resource?: Record<string, Record<string, { name?: string }>> };
  const prefix = `${constructId(host)}_Server_`;
  const server = Object.keys(tf.resource?.["hcloud_server"] ?? {}).find((id) => id.startsWith(prefix));
  if (!server) {
    const servers = Object.values(tf.resource?.["hcloud_server"] ?? {})
      .map((r) => r.name)
      .join(", ");
    throw new UserError(
      "host",
      `is not a host of the synthesized stack (servers: ${servers})`,
      host,
      "name a host as the plan names it (the server name without the project prefix), e.g. storage-2",
    );
  }
  const step = Object.keys(tf.resource?.["terraform_data"] ?? {}).find((id) => id.startsWith(`HostRollout_${constructId(host)}_`));
  return { stackDir, address: `hcloud_server.${server}`, ...(step ? { step: `terraform_data.${step}` } : {}) };
}

/**
 * The retire target of `host` from the applied stack: its address and pinned key from `terraform
 * output hosts`, the user and the agent's path from the synthesized rollout step. Undefined (with
 * the reason) when the state has no outputs yet or the stack has no rollout step.
 */
export function retireTarget(stackDir: string, host: string, run = terraformOutput): RetireTarget | string {
  const tf = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as {
    resource?: Record<string, Record<string, { connection?: { user?: string }; provisioner?: { "remote-exec"?: { inline?: string[] } }[] }>>;
  };
  const step = Object.entries(tf.resource?.["terraform_data"] ?? {}).find(([id]) => id.startsWith(`HostRollout_${constructId(host)}_`))?.[1];
  const user = step?.connection?.user;
  const applyLine = (step?.provisioner ?? []).flatMap((p) => p["remote-exec"]?.inline ?? []).find((l) => / apply /.test(l));
  if (!step || !user || !applyLine) return "the stack has no rollout step for it";
  const out = run(stackDir);
  if (typeof out === "string") return out;
  const h = out[host];
  if (!h?.ssh_host_key || !(h.public_ipv4 || h.private_ip))
    return `terraform output hosts has no address or host key for ${host} (deploy once with this version first)`;
  return { user, address: (h.public_ipv4 || h.private_ip)!, hostKey: h.ssh_host_key, agent: AGENT_PATH };
}

type HostsOutput = Record<string, { private_ip?: string; public_ipv4?: string; ssh_host_key?: string }>;

function terraformOutput(stackDir: string): HostsOutput | string {
  const r = cmdOutputSync("terraform", [`-chdir=${stackDir}`, "output", "-json", "hosts"], { timeoutMs: 60_000 });
  if (!r.ok) return `terraform output hosts failed: ${r.failure!.split("\n").pop()}`;
  return JSON.parse(r.stdout) as HostsOutput;
}

/** Runs `retire` on the old server; a failure is reported and the replacement goes on (a dead host has nothing to hand over). */
function retireHost(t: RetireTarget, io: { out: (line: string) => void }): boolean {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-retire-"));
  try {
    writeFileSync(join(dir, "known_hosts"), knownHostsLine(t), { mode: 0o600 });
    io.out(`bulwark: retiring ${t.address} first: bulwark-host retire (an lb hands the Floating IP to its peer, an app host is drained)`);
    const r = cmdOutputSync("ssh", retireArgv(t, join(dir, "known_hosts")), { timeoutMs: RETIRE_BOUNDS.timeoutMs });
    if (r.ok) {
      io.out(`bulwark: ${r.stdout.trim()}`);
      return true;
    }
    const why = (r.stderr || r.stdout).trim().split("\n").pop() || r.failure;
    io.out(
      `bulwark: warning: could not retire ${t.address} (${why}); replacing it anyway: ` +
        `a dead host has nothing to hand over, a live lb MASTER fails over when its server goes`,
    );
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function replaceHost(args: ReplaceArgs, io: { out: (line: string) => void } = { out: (l) => process.stdout.write(`${l}\n`) }): number {
  const { stackDir, address, step } = replaceTarget(args.outdir, args.host);
  io.out(`bulwark: replacing ${args.host}: terraform apply -replace=${address} in ${stackDir}`);
  io.out(
    `bulwark: ${step ? `its rollout step ${step} runs again and waits for the role's gate` : "no rollout step found: the new server is not gated"}`,
  );
  if (!args.noRetire) {
    const t = retireTarget(stackDir, args.host);
    if (typeof t === "string") io.out(`bulwark: warning: not retiring ${args.host} first: ${t}`);
    else retireHost(t, io);
  }
  // The apply is the user's: its prompt and output go to this terminal. No time bound here: each
  // step inside it is bounded (the gates), and the user can stop it.
  const r = cmdOutputSync("terraform", [`-chdir=${stackDir}`, "apply", `-replace=${address}`, ...(args.autoApprove ? ["-auto-approve"] : [])], {
    interactive: true,
    timeoutMs: Number.POSITIVE_INFINITY,
  });
  if (r.exitCode === 127)
    throw new UserError("terraform", "could not run: not found on PATH", "terraform", "install terraform (1.5 or later) and put it on PATH");
  return r.exitCode ?? 1;
}
