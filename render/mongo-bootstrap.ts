/**
 * The bootstrap files of the designated hosts: the mongosh script (templates/mongo/
 * mongo-bootstrap.js.hbs, the same logic everywhere, with this host's config placed as JSON),
 * its systemd oneshot unit, and the env file with the secrets it needs. The replica set config
 * (explicit member _ids and priorities) and the addShard seed lists are read from the plan
 * (`plan.mongo`, computed by buildPlan in plan/mongo.ts and shown in review/plan.json), so the
 * script only sends them.
 */
import { MONGO_ADMIN_USER, MONGO_APP_DB, MONGO_APP_USER, MONGOS_PORT, shardsOf, type MongoPlan, type MongoReplicaSet } from "../plan/mongo.ts";
import { deployMarker } from "./deploy-values.ts";
import { renderTemplate } from "./handlebars.ts";
import { HARDENING, unitSandbox, type UnitSandbox } from "./hardening.ts";
import { hostFile, restart, type HostFile } from "./host-file.ts";

const BOOTSTRAP_SCRIPT_PATH = "/usr/local/lib/bulwark/mongo-bootstrap.js";
export const BOOTSTRAP_UNIT = "bulwark-mongo-bootstrap.service";
const BOOTSTRAP_UNIT_PATH = `/etc/systemd/system/${BOOTSTRAP_UNIT}`;
export const BOOTSTRAP_ENV_PATH = "/etc/bulwark/mongo-bootstrap.env";
/**
 * One run: at most 180 rounds and 15 minutes, 5 s between waits (the whole cluster's first boot
 * takes a few minutes of package installs). systemd then retries a run that gave up 60 s
 * later, at most 5 starts in 2 hours.
 */
export const BOOTSTRAP_BUDGET = { rounds: 180, seconds: 900, waitMs: 5000 } as const;
const UNIT_LIMITS = { timeoutStart: "20min", restartSec: "60s", startLimitInterval: "2h", startLimitBurst: 5 } as const;

/** The roles of the admin user: cluster administration and user administration, not root. */
const ADMIN_ROLES = [
  { role: "clusterAdmin", db: "admin" },
  { role: "userAdminAnyDatabase", db: "admin" },
] as const;

interface ReplicaSetInitiate {
  readonly _id: string;
  readonly configsvr?: true;
  readonly members: readonly { readonly _id: number; readonly host: string; readonly priority: number; readonly votes: 1 }[];
}

/** What the script knows on a replica set's designated member. */
export interface ReplicaSetBootstrapConfig {
  readonly kind: "replicaSet";
  readonly set: string;
  readonly self: string;
  readonly port: number;
  /** Members in config order (the designated member first), for the observation. */
  readonly members: readonly { readonly name: string; readonly address: string }[];
  /** The replSetInitiate document, sent as is. */
  readonly initiate: ReplicaSetInitiate;
  /** Shards create a shard-local admin through their localhost exception; the config set's users are made through mongos. */
  readonly createAdmin: boolean;
  readonly adminUser: string;
  readonly adminRoles: typeof ADMIN_ROLES;
  readonly budget: typeof BOOTSTRAP_BUDGET;
}

/** What the script knows on the designated mongos. */
export interface ClusterBootstrapConfig {
  readonly kind: "cluster";
  readonly mongosPort: number;
  readonly shards: readonly { readonly name: string; readonly seedList: string; readonly members: readonly string[] }[];
  readonly adminUser: string;
  readonly adminRoles: typeof ADMIN_ROLES;
  readonly appUser: string;
  readonly appDb: string;
  readonly budget: typeof BOOTSTRAP_BUDGET;
}

export type BootstrapConfig = ReplicaSetBootstrapConfig | ClusterBootstrapConfig;

export function replicaSetBootstrapConfig(set: MongoReplicaSet): ReplicaSetBootstrapConfig {
  return {
    kind: "replicaSet",
    set: set.name,
    self: set.bootstrapHost,
    port: set.port,
    members: set.members.map((m) => ({ name: m.host, address: m.address })),
    initiate: {
      _id: set.name,
      ...(set.kind === "config" ? { configsvr: true as const } : {}),
      members: set.members.map((m) => ({ _id: m.id, host: m.address, priority: m.priority, votes: m.votes })),
    },
    createAdmin: set.kind === "shard",
    adminUser: MONGO_ADMIN_USER,
    adminRoles: ADMIN_ROLES,
    budget: BOOTSTRAP_BUDGET,
  };
}

export function clusterBootstrapConfig(mongo: MongoPlan): ClusterBootstrapConfig {
  return {
    kind: "cluster",
    mongosPort: MONGOS_PORT,
    shards: shardsOf(mongo).map((s) => ({ name: s.name, seedList: s.seedList, members: s.members.map((m) => m.address) })),
    adminUser: MONGO_ADMIN_USER,
    adminRoles: ADMIN_ROLES,
    appUser: MONGO_APP_USER,
    appDb: MONGO_APP_DB,
    budget: BOOTSTRAP_BUDGET,
  };
}

/** The script for one config: the one render call site of mongo-bootstrap.js. */
export function renderBootstrapScript(config: BootstrapConfig): string {
  return renderTemplate("mongo/mongo-bootstrap.js", { configJson: JSON.stringify(config, null, 2) });
}

interface BootstrapUnit {
  readonly host: string;
  readonly subject: string;
  readonly after: string;
  readonly environmentFiles: readonly string[];
  readonly scriptPath: string;
  readonly timeoutStart: string;
  readonly restartSec: string;
  readonly startLimitInterval: string;
  readonly startLimitBurst: number;
  readonly sandbox: UnitSandbox;
}

interface BootstrapEnv {
  readonly variables: readonly { readonly name: string; readonly value: string }[];
}

/** The addresses (no ports) the script connects to besides 127.0.0.1: the members it asks directly. */
function bootstrapPeers(config: BootstrapConfig): string[] {
  const addresses = config.kind === "replicaSet" ? config.members.map((m) => m.address) : config.shards.flatMap((s) => s.members);
  return [...new Set(addresses.map((a) => a.replace(/:\d+$/, "")))];
}

/** Script, unit and (when the step needs secrets) env file of one designated host. */
export function bootstrapFiles(host: string, config: BootstrapConfig): HostFile[] {
  const variables = [
    ...(config.kind === "cluster" || config.createAdmin ? [{ name: "BULWARK_MONGO_ADMIN_PASSWORD", value: deployMarker("mongoAdminPassword") }] : []),
    ...(config.kind === "cluster" ? [{ name: "BULWARK_MONGO_APP_PASSWORD", value: deployMarker("mongoAppPassword") }] : []),
  ];
  const unit: BootstrapUnit = {
    host,
    subject: config.kind === "cluster" ? "the sharded cluster (through the local mongos)" : `replica set ${config.set}`,
    after: config.kind === "cluster" ? "mongos.service" : "mongod.service",
    environmentFiles: variables.length > 0 ? [BOOTSTRAP_ENV_PATH] : [],
    scriptPath: BOOTSTRAP_SCRIPT_PATH,
    ...UNIT_LIMITS,
    sandbox: unitSandbox(HARDENING.mongoBootstrap, bootstrapPeers(config).join(" ")),
  };
  return [
    // The bootstrap is idempotent and resumable: rerun, it does only what is missing.
    hostFile(BOOTSTRAP_SCRIPT_PATH, renderBootstrapScript(config), { action: restart(BOOTSTRAP_UNIT) }),
    hostFile(BOOTSTRAP_UNIT_PATH, renderTemplate("mongo/mongo-bootstrap.service", unit), { action: restart(BOOTSTRAP_UNIT) }),
    ...(variables.length > 0
      ? [
          hostFile(BOOTSTRAP_ENV_PATH, renderTemplate("mongo/mongo-bootstrap.env", { variables } satisfies BootstrapEnv), {
            permissions: "0400",
            action: restart(BOOTSTRAP_UNIT),
          }),
        ]
      : []),
  ];
}

/** Starts the bootstrap without waiting for it (it waits for the other hosts, up to its budget). */
export const START_BOOTSTRAP: readonly string[] = ["systemctl", "enable", "--now", "--no-block", BOOTSTRAP_UNIT];
