/**
 * The host agent on every host: `/usr/local/sbin/bulwark-host` (templates/base/bulwark-host.py.hbs,
 * Python 3 from the standard library: cloud-init needs python3, so every host has it) and its
 * settings `/etc/bulwark/host-agent.json`, built here from the plan's rollout section and the
 * host's own files. `cdktf deploy` uploads both with each host's bundle and runs
 * `bulwark-host apply` on each host in turn (constructs/rollout.ts); the first run, right after
 * cloud-init has finished, records the files as cloud-init wrote them, so a later rollout can
 * tell the host's own edits (drift) from its own old version. `bulwark-host state` prints every
 * managed file's sha256 and the role's health.
 */
import type { PlannedHost, Plan } from "../plan/model.ts";
import { MONGO_ADMIN_USER, MONGOS_PORT } from "../plan/mongo.ts";
import type { GateKind } from "../plan/rollout.ts";
import { renderTemplate } from "./handlebars.ts";
import { hostFile, none, type HostFile } from "./host-file.ts";
import { LB_PATHS } from "./lb.ts";
import { BOOTSTRAP_ENV_PATH, BOOTSTRAP_UNIT } from "./mongo-bootstrap.ts";
import { MONGO_AGENT_ENV_PATH } from "./mongo-server.ts";

/** The agent's settings, as it reads them (JSON). */
export interface AgentConfig {
  readonly host: string;
  /** Where the agent installs itself (it runs from the rollout's upload directory). */
  readonly agent: string;
  /** Every file Bulwark manages on this host, for `state` and the first run's record. */
  readonly files: readonly string[];
  readonly actionTimeoutS: number;
  /** The first apply waits this long for cloud-init to finish before it records the files. */
  readonly cloudInitTimeoutS: number;
  readonly gate: { readonly kind: GateKind; readonly timeoutS: number; readonly intervalS: number; readonly maxRounds: number };
  readonly lb?: {
    readonly vrrpStateFile: string;
    readonly haproxyDownFile: string;
    readonly haproxySocket: string;
    readonly backend: string;
    readonly failoverEnv: string;
    readonly tokenFile: string;
    readonly serverIdCache: string;
    readonly handoffTimeoutS: number;
    readonly handoffSettleS: number;
    /** The other lb: its gate needs it reachable (a TCP connect to sshd on its private address). */
    readonly peer: { readonly host: string; readonly address: string; readonly port: number };
  };
  readonly service?: {
    readonly unit: string;
    readonly healthUrl: string;
    readonly drainFile?: string;
    readonly drainS?: number;
    readonly upSettleS?: number;
    /** Other services of the host the gate checks the same way (an app host's SMTP receiver). */
    readonly also?: readonly { readonly unit: string; readonly healthUrl: string }[];
  };
  readonly storage?: { readonly volume: string; readonly peers: number; readonly bricks: number };
  readonly mongo?: {
    readonly port: number;
    readonly adminUser: string;
    readonly adminEnv: string;
    readonly maxLagS: number;
    readonly stepDownS: number;
    readonly catchUpS: number;
  };
  /** On the mongos host that bootstraps the cluster: how `bulwark-host balancer stop|start` reaches it (plan.rollout.balancer). */
  readonly balancer?: {
    readonly port: number;
    readonly adminUser: string;
    readonly adminEnv: string;
    /** The cluster bootstrap starts the balancer itself: a stop waits while it runs. */
    readonly bootstrapUnit: string;
    readonly timeoutS: number;
    readonly intervalS: number;
    /** The bound in rounds as well as in time (as the gates): tests skip the sleeps. */
    readonly maxRounds: number;
    readonly commandTimeoutS: number;
  };
}

/** The gate of a host, from its rollout step. */
function gateOf(plan: Plan, host: PlannedHost): GateKind {
  const step = plan.rollout.steps.find((s) => s.host === host.name);
  if (!step) throw new Error(`render/agent: ${host.name} has no rollout step; plan/rollout.ts gives every host one`);
  return step.gate;
}

function agentConfig(plan: Plan, host: PlannedHost, files: readonly HostFile[]): AgentConfig {
  const r = plan.rollout;
  const kind = gateOf(plan, host);
  const bounds = r.gates[kind];
  const base = {
    host: host.name,
    agent: r.paths.agent,
    files: [...files.map((f) => f.path), r.paths.agent, r.paths.config],
    cloudInitTimeoutS: r.cloudInitTimeoutS,
    actionTimeoutS: r.actionTimeoutS,
    gate: { kind, timeoutS: bounds.timeoutS, intervalS: bounds.intervalS, maxRounds: Math.ceil(bounds.timeoutS / bounds.intervalS) + 1 },
    ...(r.balancer?.host === host.name ? { balancer: balancerSettings(r.balancer) } : {}),
  };
  switch (kind) {
    case "lb":
      return {
        ...base,
        lb: {
          vrrpStateFile: LB_PATHS.vrrpStateFile,
          haproxyDownFile: LB_PATHS.haproxyDownFile,
          haproxySocket: "/run/haproxy/admin.sock",
          backend: "api",
          failoverEnv: LB_PATHS.failoverEnv,
          tokenFile: LB_PATHS.tokenFile,
          serverIdCache: LB_PATHS.serverIdCache,
          handoffTimeoutS: r.lbHandoff.timeoutS,
          handoffSettleS: r.lbHandoff.settleS,
          peer: lbPeer(plan, host),
        },
      };
    case "app":
    case "parser": {
      const hp = plan.services.hosts[host.name]!;
      const unit = plan.services.artifacts[hp.service].unit;
      const ingress = plan.services.ingress?.hosts[host.name];
      return {
        ...base,
        service: {
          unit,
          healthUrl: `http://${hp.listenHost}:${hp.listenPort}/healthz`,
          ...(ingress ? { also: [{ unit: plan.services.artifacts.ingress.unit, healthUrl: `http://127.0.0.1:${ingress.healthPort}/healthz` }] } : {}),
          ...(kind === "app" ? { drainFile: plan.services.drainFile, drainS: r.appDrain.seconds, upSettleS: r.appDrain.upSettleS } : {}),
        },
      };
    }
    case "storage":
      // Peers other than this host; every brick of the volume.
      return { ...base, storage: { volume: plan.storage.volume, peers: plan.storage.servers.length - 1, bricks: plan.storage.bricks.length } };
    case "mongo": {
      const set = plan.mongo.replicaSets.find((s) => s.members.some((m) => m.host === host.name))!;
      return {
        ...base,
        mongo: {
          port: set.port,
          adminUser: MONGO_ADMIN_USER,
          adminEnv: MONGO_AGENT_ENV_PATH,
          maxLagS: r.mongo.maxLagS,
          stepDownS: r.mongo.stepDownS,
          catchUpS: r.mongo.catchUpS,
        },
      };
    }
  }
}

/** The balancer settings of the cluster's bootstrap mongos (the admin password is in its bootstrap env file). */
function balancerSettings(b: NonNullable<Plan["rollout"]["balancer"]>): NonNullable<AgentConfig["balancer"]> {
  return {
    port: MONGOS_PORT,
    adminUser: MONGO_ADMIN_USER,
    adminEnv: BOOTSTRAP_ENV_PATH,
    bootstrapUnit: BOOTSTRAP_UNIT,
    timeoutS: b.timeoutS,
    intervalS: b.intervalS,
    maxRounds: Math.ceil(b.timeoutS / b.intervalS) + 1,
    commandTimeoutS: b.commandTimeoutS,
  };
}

/** The other lb of the pair, reached on sshd: the ssh-bastion rule already lets the lb pair in (plan/catalog.ts). */
function lbPeer(plan: Plan, host: PlannedHost): NonNullable<AgentConfig["lb"]>["peer"] {
  const peer = plan.hosts.find((h) => h.role === "lb" && h.name !== host.name);
  if (!peer) throw new Error(`render/agent: ${host.name} has no peer lb; the topology rules require two`);
  return { host: peer.name, address: peer.privateIp, port: 22 };
}

/** The agent and its settings, appended after the host's other files (the settings list them). */
export function agentFiles(plan: Plan, host: PlannedHost, files: readonly HostFile[]): HostFile[] {
  const r = plan.rollout;
  return [
    hostFile(r.paths.agent, renderTemplate("base/bulwark-host.py", { managedRoots: JSON.stringify(r.managedRoots) }), {
      permissions: "0755",
      action: none("read at its next run"),
    }),
    hostFile(r.paths.config, `${JSON.stringify(agentConfig(plan, host, files), null, 1)}\n`, { action: none("read at the agent's next run") }),
  ];
}
