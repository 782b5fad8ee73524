import { createHash } from "node:crypto";
import { Construct } from "constructs";
import {
  DataResource,
  Fn,
  TerraformLocal,
  TerraformVariable,
  type IResolvable,
  type ITerraformDependable,
  type SSHProvisionerConnection,
} from "cdktf";
import type { Plan } from "../plan/model.ts";
import type { AgentConfig } from "../render/agent.ts";
import { escapeTerraformTemplate, resolveDeployValues } from "../render/deploy-values.ts";
import type { RenderedHost } from "../render/host.ts";
import { constructId } from "./ids.ts";

/** How Terraform reaches one host, and what identifies the server behind it. */
export interface RolloutTarget {
  /** The address Terraform connects to (a token in the stack, a literal in the lab). */
  readonly address: string;
  /** The host's SSH host public key (`ssh-ed25519 AAAA...`), pinned on every connection. */
  readonly hostKey: string;
  /**
   * Changes when the server is replaced, so the new server gets its step again (agent, files, gate).
   * @default - none: the step runs again only when the host's files change
   */
  readonly serverId?: string;
}

/** The SSH side of every rollout connection. */
export interface RolloutConnection {
  /** The admin user (passwordless sudo); root logins are off. */
  readonly user: string;
  /**
   * The private key, e.g. a sensitive variable.
   * @default - the SSH agent of the machine running terraform (SSH_AUTH_SOCK)
   */
  readonly privateKey?: string;
  /**
   * Whether to use the SSH agent (a bool or a Terraform expression).
   * @default - true when no privateKey is given
   */
  readonly agent?: string | boolean;
  /**
   * A bastion every connection goes through, with its own pinned host key.
   * @default - connect to each target's address directly
   */
  readonly bastion?: { readonly host: string; readonly hostKey: string };
  /**
   * How long Terraform retries a connection (a new server boots meanwhile).
   * @default "10m"
   */
  readonly timeout?: string;
}

export interface HostRolloutProps {
  /** The plan: its rollout section gives the order. */
  readonly plan: Plan;
  /** Every host's rendered files (markers for deploy-time values, as in user_data). */
  readonly rendered: readonly RenderedHost[];
  /** Per host name: how to reach it. Every host of the plan needs one. */
  readonly targets: ReadonlyMap<string, RolloutTarget>;
  /** The value for a deploy-time marker on `host` (a token in the stack, a literal in the lab). */
  readonly valueFor: (host: string, name: string, base64: boolean) => string | undefined;
  readonly connection: RolloutConnection;
  /**
   * Resources the first step waits for (the servers, their volumes).
   * @default - none
   */
  readonly dependsOn?: ITerraformDependable[];
  /**
   * Whether the agent writes over files changed on a host since the last rollout (drift): a bool
   * or a Terraform expression, passed as `--accept-drift`. Without it a drifted host fails its
   * step (exit 3, the files named) and nothing is written there.
   * @default false
   */
  readonly acceptDrift?: string | boolean;
}

export interface RolloutAccessProps {
  /** The host whose public address is the bastion (the first lb), named in the variable's description. */
  readonly bastionHost: string;
}

/**
 * How `cdktf deploy` reaches the hosts, and what it may overwrite: three variables with fixed
 * Terraform names, so `TF_VAR_rollout_ssh_private_key`, `TF_VAR_rollout_via_bastion` and
 * `TF_VAR_rollout_accept_drift` stay what the README and CI set, wherever the construct sits in
 * the tree.
 */
export class RolloutAccess extends Construct {
  /** The private key for every connection; the empty default means the SSH agent. */
  readonly privateKey: string;
  /** Whether connections use the SSH agent: a Terraform expression, true when no key is set. */
  readonly agent: string;
  /** Whether every host is reached through the bastion (a bool token). */
  readonly viaBastion: IResolvable;
  /** Whether the agent may overwrite drifted files: a Terraform expression, false by default. */
  readonly acceptDrift: string;

  constructor(scope: Construct, id: string, props: RolloutAccessProps) {
    super(scope, id);
    const key = new TerraformVariable(this, "PrivateKey", {
      type: "string",
      sensitive: true,
      nullable: false,
      default: "",
      description: "Private key of an admin SSH key, for the rollout's connections (CI). Empty: the SSH agent of the machine running terraform.",
    });
    key.overrideLogicalId("rollout_ssh_private_key");
    const viaBastion = new TerraformVariable(this, "ViaBastion", {
      type: "bool",
      nullable: false,
      default: false,
      description:
        `Reach every host through ${props.bastionHost} (its public address, then private addresses) instead ` +
        `of each host's public address: one SSH destination for the runner, which must still be inside admin.sshSourceCidrs. ` +
        `Needs a Terraform release with hashicorp/terraform#38318 (docs/day2.md).`,
    });
    viaBastion.overrideLogicalId("rollout_via_bastion");
    const acceptDrift = new TerraformVariable(this, "AcceptDrift", {
      type: "bool",
      nullable: false,
      default: false,
      description:
        "Let the rollout overwrite files changed on a host since the last rollout (drift). Off: such a host " +
        "fails its step naming the files, and nothing is written there. Set it for one deploy, after reading them.",
    });
    acceptDrift.overrideLogicalId("rollout_accept_drift");
    this.acceptDrift = `\${var.${acceptDrift.friendlyUniqueId}}`;
    this.privateKey = key.stringValue;
    this.agent = `\${var.${key.friendlyUniqueId} == ""}`;
    this.viaBastion = viaBastion.booleanValue;
  }
}

/** Where the admin user's uploads go on the host: a directory only that user can read. */
export function uploadDir(user: string): string {
  return `/home/${user}/.bulwark-rollout`;
}

/**
 * The bundle a host's rollout step hands over: the agent's settings and every managed file but
 * the agent itself (uploaded beside it, and run from there), with its action. Deploy-time values
 * stay markers here; `bundleText` makes them Terraform expressions.
 */
export function rolloutBundle(plan: Plan, r: RenderedHost): { host: string; config: unknown; files: unknown[] } {
  const rendered = (path: string) => {
    const f = r.files.find((x) => x.path === path);
    if (!f) throw new Error(`HostRollout: ${r.host.name} has no ${path}; render/agent.ts adds it to every host`);
    return f;
  };
  // The settings as rendered (render/agent.ts), not computed a second time.
  const config = JSON.parse(rendered(plan.rollout.paths.config).content) as AgentConfig;
  const agent = rendered(plan.rollout.paths.agent);
  const files = r.files
    .filter((f) => f !== agent)
    .map((f) => ({
      path: f.path,
      content: f.content,
      ...(f.encoding ? { encoding: f.encoding } : {}),
      permissions: f.permissions,
      owner: f.owner,
      action: f.action,
    }));
  return { host: r.host.name, config, files };
}

/**
 * Day-2 as part of `cdktf deploy`: one built-in `terraform_data` per host, replaced (so its
 * provisioners run again) when the sha256 of that host's bundle changes or its server is
 * replaced, and chained with `depends_on` in the plan's rollout order. Each step uploads the
 * agent and the bundle over SSH (host key pinned), then runs `bulwark-host apply`, which writes
 * the changed files, runs their actions inside the role's handoff or drain and waits for the
 * role's health gate. A failed gate fails the step: Terraform stops there, names the resource
 * (`HostRollout_<Host>`), leaves the hosts after it untouched and retries the step on the next
 * deploy. With Mongo steps, two more steps on the cluster's bootstrap mongos stop the balancer
 * before the first of them and start it after the last (`MongoBalancerStop`, `MongoBalancerStart`);
 * a Mongo step that fails leaves the balancer stopped until a later deploy completes the chain.
 * Needs no provider: terraform_data and provisioners are built into Terraform.
 */
export class HostRollout extends Construct {
  /** The step of each host, by host name. */
  readonly steps: ReadonlyMap<string, DataResource>;

  constructor(scope: Construct, id: string, props: HostRolloutProps) {
    super(scope, id);
    const { plan } = props;
    const byName = new Map(props.rendered.map((r) => [r.host.name, r]));
    for (const step of plan.rollout.steps) {
      if (!byName.has(step.host)) throw new Error(`HostRollout: no rendered files for ${step.host}; render every host of the plan`);
      if (!props.targets.has(step.host)) throw new Error(`HostRollout: no target for ${step.host}; give every host an address and host key`);
    }
    const dir = uploadDir(props.connection.user);
    const drift = props.acceptDrift ?? false;
    const driftFlag = typeof drift === "boolean" ? (drift ? " --accept-drift" : "") : `\${${unwrap(drift)} ? " --accept-drift" : ""}`;
    const { bastion } = props.connection;
    const agentPath = plan.rollout.paths.agent;
    const steps = new Map<string, DataResource>();
    // The agent is the same program on every host: kept once, as a local.
    const agents = new Map<string, TerraformLocal>();
    const agentLocal = (text: string): string => {
      const key = sha256(text);
      if (!agents.has(key))
        agents.set(key, new TerraformLocal(this, `Agent${agents.size === 0 ? "" : agents.size + 1}`, escapeTerraformTemplate(text)));
      return agents.get(key)!.asString;
    };
    const connectionTo = (target: RolloutTarget): SSHProvisionerConnection => ({
      type: "ssh",
      host: target.address,
      user: props.connection.user,
      hostKey: target.hostKey,
      privateKey: props.connection.privateKey,
      agent: String(props.connection.agent ?? props.connection.privateKey === undefined),
      timeout: props.connection.timeout ?? "10m",
      bastionHost: bastion?.host,
      bastionHostKey: bastion?.hostKey,
      bastionUser: bastion ? props.connection.user : undefined,
      bastionPrivateKey: bastion ? props.connection.privateKey : undefined,
    });
    // Each step's bundle and agent first: the balancer steps' trigger is made of the Mongo steps'.
    const prepared = plan.rollout.steps.map((step) => {
      const rendered = byName.get(step.host)!;
      const agent = rendered.files.find((f) => f.path === agentPath)!.content;
      const bundle = JSON.stringify(rolloutBundle(plan, rendered));
      const triggers = { bundle_sha256: sha256(bundle), agent_sha256: sha256(agent), server: props.targets.get(step.host)!.serverId };
      return { step, agent, bundle, triggers };
    });
    // The sharded cluster's balancer: stopped before the first Mongo step, started after the last.
    // Both steps run again whenever any Mongo step does (their trigger is made of those steps').
    const mongo = prepared.filter((x) => x.step.gate === "mongo");
    const balancerHost = plan.rollout.balancer?.host;
    const balancerTrigger = {
      mongo_steps_sha256: sha256(mongo.map((x) => `${x.step.host} ${x.triggers.bundle_sha256} ${x.triggers.agent_sha256}`).join("\n")),
      servers: mongo.some((x) => x.triggers.server !== undefined)
        ? Fn.join(
            ",",
            mongo.map((x) => x.triggers.server ?? ""),
          )
        : undefined,
    };
    const balancerStep = (id: string, verb: "stop" | "start", after: DataResource | undefined): DataResource => {
      const target = props.targets.get(balancerHost!);
      if (!target) throw new Error(`HostRollout: no target for ${balancerHost}, the balancer's host; give every host an address and host key`);
      return new DataResource(this, id, {
        triggersReplace: balancerTrigger,
        dependsOn: after ? [after] : (props.dependsOn ?? []),
        connection: connectionTo(target),
        // The agent is installed on that host by its own step, earlier in the chain.
        provisioners: [{ type: "remote-exec", inline: [`sudo ${agentPath} balancer ${verb}`] }],
      });
    };
    let previous: DataResource | undefined;
    for (const { step, agent, bundle, triggers } of prepared) {
      const target = props.targets.get(step.host)!;
      if (balancerHost && step.host === mongo[0]?.step.host) {
        previous = balancerStep("MongoBalancerStop", "stop", previous);
      }
      // Inside the bundle (JSON) every value must arrive JSON-escaped: a PEM has newlines.
      const text = resolveDeployValues(bundle, (name, base64) => {
        const value = props.valueFor(step.host, name, base64);
        return value === undefined ? undefined : Fn.replace(Fn.jsonencode(value), Fn.rawString('/^"|"$/'), "");
      });
      const node = new DataResource(this, constructId(step.host), {
        // Sensitive: it holds the host's secrets, and a plan would print every file of it; the
        // review's ROLLOUT.md shows what changes, with secrets as placeholders. The text goes
        // through a local: Fn.sensitive of a literal template would be mis-serialized by cdktf.
        input: { bundle: Fn.sensitive(new TerraformLocal(this, `Bundle${constructId(step.host)}`, text).asString) },
        triggersReplace: triggers,
        dependsOn: previous ? [previous] : (props.dependsOn ?? []),
        connection: connectionTo(target),
        provisioners: [
          { type: "remote-exec", inline: [`install -d -m 0700 ${dir}`] },
          { type: "file", content: agentLocal(agent), destination: `${dir}/bulwark-host` },
          { type: "file", content: "${self.input.bundle}", destination: `${dir}/${step.host}.json` },
          {
            type: "remote-exec",
            inline: [
              // The hash is of the bundle as uploaded (secrets included), so it is no secret itself.
              `sudo /usr/bin/python3 ${dir}/bulwark-host apply ${dir}/${step.host}.json --sha256 ` +
                `\${nonsensitive(sha256(self.input.bundle))}${driftFlag}; rc=$?; rm -f ${dir}/${step.host}.json; exit $rc`,
            ],
          },
        ],
      });
      steps.set(step.host, node);
      previous = node;
    }
    if (balancerHost && mongo.length > 0) balancerStep("MongoBalancerStart", "start", previous);
    this.steps = steps;
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The expression inside a `${...}` Terraform interpolation. */
function unwrap(expression: string): string {
  const m = /^\$\{(.*)\}$/s.exec(expression);
  if (!m) throw new Error(`HostRollout: acceptDrift must be a bool or a Terraform expression \${...}, not ${expression}`);
  return m[1]!;
}
