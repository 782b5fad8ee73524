/**
 * The Mongo section of the plan, computed by buildPlan: each replica set's members with explicit
 * `_id`s, priorities and `ip:port` addresses, the member that bootstraps each set, the seed
 * lists, the mongos that bootstraps the cluster, and the connection string. The plan checks
 * (plan/mongo-checks.ts) run here, so their errors surface at plan time. Pure and deterministic;
 * review/plan.json shows it, and the render layers and the bootstrap script read it and
 * recompute nothing.
 */
import { UserErrors } from "../topology/errors.ts";
import { MONGO_CONFIG_PORT, MONGO_SHARD_PORT } from "./catalog.ts";
import { checkMongoPlan, type ReplicaSetHosts } from "./mongo-checks.ts";
import type { PlacementGroupPlan, PlannedHost } from "./model.ts";

/** mongos listens here, on 127.0.0.1 only, on every app and parser host (MongoDB's default port). */
export const MONGOS_PORT = 27017;
/** The cluster administrator (clusterAdmin + userAdminAnyDatabase), created by the bootstraps. */
export const MONGO_ADMIN_USER = "bulwark-admin";
/** The services' user (readWrite on MONGO_APP_DB only), created by the cluster bootstrap. */
export const MONGO_APP_USER = "bulwark-app";
/** The services' database (services/store/mongo-store.ts MONGO_DB). */
export const MONGO_APP_DB = "bulwark";
/** The bootstrap member gets this priority, the others 1 (see `replicaSet` below). */
const BOOTSTRAP_MEMBER_PRIORITY = 2;
const MEMBER_PRIORITY = 1;

interface MongoMember {
  /** Replica set member `_id`: the member's position in the set, fixed for its lifetime. */
  readonly id: number;
  readonly host: string;
  /** `ip:port`, exactly as it appears in the replica set config and the seed lists. */
  readonly address: string;
  readonly priority: number;
  readonly votes: 1;
}

export interface MongoReplicaSet {
  readonly name: string;
  readonly kind: "config" | "shard";
  readonly clusterRole: "configsvr" | "shardsvr";
  readonly port: number;
  /** In config order: what replSetInitiate sends (`_id`, host = address, priority, votes). */
  readonly members: readonly MongoMember[];
  /** The member that runs this set's bootstrap (initiate, wait for primary, first user). */
  readonly bootstrapHost: string;
  /** `name/ip:port,ip:port,...`: configDB of mongos, or the addShard argument. */
  readonly seedList: string;
}

export interface MongoPlan {
  /** Every replica set: the config-server set first, then the shards in order. */
  readonly replicaSets: readonly MongoReplicaSet[];
  /** App and parser hosts: each runs a mongos on 127.0.0.1:MONGOS_PORT. */
  readonly routers: readonly string[];
  /** The mongos host that runs the cluster bootstrap (admin user, addShard, balancer, app user). */
  readonly clusterBootstrapHost: string;
  /** What the services connect to: the local mongos, majority writes, retryable writes. */
  readonly serviceUrl: { readonly host: string; readonly port: number; readonly options: string };
}

/** The replica sets by membership, in host order (config hosts come before shard hosts). */
function replicaSetHosts(hosts: readonly PlannedHost[]): ReplicaSetHosts[] {
  const sets = new Map<string, ReplicaSetHosts & { members: string[] }>();
  for (const h of hosts) {
    if (h.replicaSet === undefined) continue;
    const kind = h.component === "mongo-config" ? "config" : "shard";
    const set = sets.get(h.replicaSet) ?? { name: h.replicaSet, kind, port: kind === "config" ? MONGO_CONFIG_PORT : MONGO_SHARD_PORT, members: [] };
    set.members.push(h.name);
    sets.set(h.replicaSet, set);
  }
  return [...sets.values()];
}

/**
 * The first member of a set bootstraps it and has priority 2, so once elected it stays primary
 * while it is up: the localhost exception (first user) only works on the primary, through
 * localhost. The others have priority 1; every member votes.
 */
function replicaSet(hosts: readonly PlannedHost[], rs: ReplicaSetHosts): MongoReplicaSet {
  const members = rs.members.map((name, i) => ({
    id: i,
    host: name,
    address: `${hosts.find((h) => h.name === name)!.privateIp}:${rs.port}`,
    priority: i === 0 ? BOOTSTRAP_MEMBER_PRIORITY : MEMBER_PRIORITY,
    votes: 1 as const,
  }));
  return {
    name: rs.name,
    kind: rs.kind,
    clusterRole: rs.kind === "config" ? "configsvr" : "shardsvr",
    port: rs.port,
    members,
    bootstrapHost: members[0]!.host,
    seedList: `${rs.name}/${members.map((m) => m.address).join(",")}`,
  };
}

/** The cluster, from the planned hosts and placement groups. Throws the Mongo plan checks' errors. */
export function planMongo(hosts: readonly PlannedHost[], placementGroups: readonly PlacementGroupPlan[]): MongoPlan {
  const sets = replicaSetHosts(hosts);
  const routers = hosts.filter((h) => h.role === "app" || h.role === "parser").map((h) => h.name);
  const errors = checkMongoPlan({ replicaSets: sets, routers }, hosts, placementGroups);
  if (errors.length > 0) throw new UserErrors(errors);
  const ordered = [...sets.filter((s) => s.kind === "config"), ...sets.filter((s) => s.kind === "shard")];
  return {
    replicaSets: ordered.map((rs) => replicaSet(hosts, rs)),
    routers,
    clusterBootstrapHost: routers[0]!,
    serviceUrl: { host: "127.0.0.1", port: MONGOS_PORT, options: `authSource=admin&w=majority&retryWrites=true` },
  };
}

/** The config-server replica set (the checks guarantee exactly one). */
export function configSetOf(mongo: MongoPlan): MongoReplicaSet {
  return mongo.replicaSets.find((s) => s.kind === "config")!;
}

/** The shard replica sets, in order. */
export function shardsOf(mongo: MongoPlan): MongoReplicaSet[] {
  return mongo.replicaSets.filter((s) => s.kind === "shard");
}

/** The replica set a mongo host belongs to. */
export function replicaSetOf(mongo: MongoPlan, hostName: string): MongoReplicaSet {
  const found = mongo.replicaSets.find((s) => s.members.some((m) => m.host === hostName));
  if (!found) throw new Error(`plan/mongo: ${hostName} is in no replica set; only mongo-config and mongo-shard hosts are`);
  return found;
}
