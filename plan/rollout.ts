/**
 * Day-2: how a change reaches running hosts. `cdktf deploy` hands each host whose files changed
 * its new files, one host at a time, in the order below; the host agent (bulwark-host) writes them,
 * runs each file's action inside the role's handoff or drain, and holds the next host back until
 * the role's health gate holds (render/agent.ts, constructs/rollout.ts). The order follows the
 * failure rules: at most one host of a role is ever out, and a role's redundancy is whole again
 * before the next host of it is touched.
 */
import type { PlannedHost } from "./model.ts";
import type { MongoPlan } from "./mongo.ts";

export type GateKind = "lb" | "app" | "parser" | "storage" | "mongo";

interface GateBounds {
  /** Longest the gate is waited for after the actions; past it the rollout stops here. */
  readonly timeoutS: number;
  readonly intervalS: number;
}

interface RolloutStep {
  readonly host: string;
  readonly gate: GateKind;
}

export interface RolloutPlan {
  /** One step per host, in rollout order. */
  readonly steps: readonly RolloutStep[];
  readonly gates: Readonly<Record<GateKind, GateBounds>>;
  /** The only places a rollout may write: a bundle path outside them is refused. */
  readonly managedRoots: readonly string[];
  /** Where the agent, its settings, its record of applied files and uploaded bundles live. */
  readonly paths: { readonly agent: string; readonly config: string; readonly state: string; readonly incoming: string };
  /** Bound of one action (a restart, a bootstrap rerun); the install of a new service build is one. */
  readonly actionTimeoutS: number;
  /** The first rollout of a new server waits this long for its cloud-init to finish. */
  readonly cloudInitTimeoutS: number;
  /** lb: how long the MASTER waits for its peer to take the Floating IP, then lets haproxy settle. */
  readonly lbHandoff: { readonly timeoutS: number; readonly settleS: number };
  /**
   * app: how long haproxy gets to mark a draining host down (the drain file is
   * plan.services.drainFile), and how long it gets to bring it back up before the next host.
   */
  readonly appDrain: { readonly seconds: number; readonly upSettleS: number };
  /** mongo: the longest lag a SECONDARY may have to pass, and rs.stepDown's seconds and catch-up. */
  readonly mongo: { readonly maxLagS: number; readonly stepDownS: number; readonly catchUpS: number };
  /**
   * The sharded cluster's balancer, stopped before the first Mongo step and started again after
   * the last, so that no chunk migrates while members restart one by one. It is run on `host`, the
   * mongos that bootstraps the cluster (the bootstrap starts the balancer itself, so the stop
   * waits for a running bootstrap first). Absent when the plan has no Mongo step.
   */
  readonly balancer?: {
    readonly host: string;
    /** Longest the stop (or the start) is retried, a running cluster bootstrap included. */
    readonly timeoutS: number;
    readonly intervalS: number;
    /** maxTimeMS of one balancerStop: it waits for a balancing round in progress to end. */
    readonly commandTimeoutS: number;
  };
}

/** Where the host agent, its settings, its state and the uploads live on every host. */
export const ROLLOUT_PATHS = {
  agent: "/usr/local/sbin/bulwark-host",
  config: "/etc/bulwark/host-agent.json",
  state: "/var/lib/bulwark/applied.json",
  incoming: "/var/lib/bulwark/incoming",
} as const;

export function planRollout(hosts: readonly PlannedHost[], mongo: MongoPlan): RolloutPlan {
  const of = (role: string) => hosts.filter((h) => h.role === role).map((h) => h.name);
  // lb: the second lb first. lb-1 starts as MASTER (priority 150, nopreempt), so it is usually
  // the MASTER; the agent hands the Floating IP off before it restarts anything on whichever
  // node is MASTER when its turn comes, and a haproxy reload needs no handoff at all.
  const lbs = [...of("lb")].reverse();
  // Mongo: the config servers, then each shard; in each set the members without the bootstrap
  // priority first, the bootstrap member (priority 2, the usual PRIMARY) last. A member that is
  // PRIMARY when its turn comes steps down first (the agent), whatever the order.
  const mongoOrder = mongo.replicaSets.flatMap((rs) => [
    ...rs.members.filter((m) => m.host !== rs.bootstrapHost).map((m) => m.host),
    rs.bootstrapHost,
  ]);
  const steps: RolloutStep[] = [
    ...lbs.map((host) => ({ host, gate: "lb" as const })),
    ...of("app").map((host) => ({ host, gate: "app" as const })),
    ...of("parser").map((host) => ({ host, gate: "parser" as const })),
    ...of("storage").map((host) => ({ host, gate: "storage" as const })),
    ...mongoOrder.map((host) => ({ host, gate: "mongo" as const })),
  ];
  return {
    steps,
    gates: {
      // haproxy re-checks a recovered backend every 250 ms and needs rise 3: about 1 s.
      lb: { timeoutS: 60, intervalS: 0.5 },
      // A new build is downloaded and checked first (bounded by services.fetch), then started.
      app: { timeoutS: 300, intervalS: 0.5 },
      parser: { timeoutS: 300, intervalS: 0.5 },
      // A glusterd restart brings the bricks back in seconds; the heal of what was written
      // meanwhile can take minutes on a busy volume.
      storage: { timeoutS: 900, intervalS: 2 },
      // An initial sync of a replaced member can take long; a restart is back in seconds.
      mongo: { timeoutS: 1800, intervalS: 2 },
    },
    managedRoots: [
      "/etc/bulwark",
      "/etc/haproxy",
      "/etc/keepalived",
      "/etc/glusterfs",
      "/etc/systemd/system",
      "/etc/sysusers.d",
      "/etc/apt/preferences.d/mongodb-org",
      "/etc/nftables.conf",
      "/etc/ssh/ssh_host_ed25519_key",
      "/etc/ssh/ssh_host_ed25519_key.pub",
      "/etc/mongod.conf",
      "/etc/mongos.conf",
      "/usr/local/sbin",
      "/usr/local/lib/bulwark",
    ],
    paths: ROLLOUT_PATHS,
    actionTimeoutS: 1800,
    // Packages, the Mongo apt repository, service downloads: first boots take minutes.
    cloudInitTimeoutS: 1200,
    // keepalived's priority-0 advert hands over within the skew (< 0.1 s); the takeover's API
    // calls take about a second; 30 s covers its retries.
    lbHandoff: { timeoutS: 30, settleS: 1 },
    // haproxy marks a failing server down after fall 2 checks 100-250 ms apart, and a recovered
    // one up after rise 3 checks 250 ms apart: 2 s each way is ample (plan/lb.ts healthCheck).
    appDrain: { seconds: 2, upSettleS: 2 },
    mongo: { maxLagS: 10, stepDownS: 60, catchUpS: 10 },
    // A first deploy's cluster bootstrap waits for every member (plan/mongo.ts); then a stop
    // waits for one chunk migration at most.
    ...(mongoOrder.length > 0 ? { balancer: { host: mongo.clusterBootstrapHost, timeoutS: 1800, intervalS: 5, commandTimeoutS: 300 } } : {}),
  };
}
