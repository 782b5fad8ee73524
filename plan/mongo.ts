/**
 * Mongo details derived from the plan, in one place: each replica set's members with explicit
 * `_id`s, priorities and `ip:port` addresses, the member that bootstraps each set, the mongos
 * that bootstraps the cluster, and the connection strings. Pure and deterministic; the render
 * layers, the bootstrap script and the tests read these and recompute nothing.
 */
import { UserErrors } from "../topology/errors.ts";
import { checkMongoPlan } from "./mongo-checks.ts";
import type { Plan, PlannedHost, ReplicaSetPlan } from "./model.ts";

/** mongos listens here, on 127.0.0.1 only, on every app and parser host (MongoDB's default port). */
export const MONGOS_PORT = 27017;
/** The cluster administrator (clusterAdmin + userAdminAnyDatabase), created by the bootstraps. */
export const MONGO_ADMIN_USER = "bulwark-admin";
/** The services' user (readWrite on MONGO_APP_DB only), created by the cluster bootstrap. */
export const MONGO_APP_USER = "bulwark-app";
/** The services' database (services/store/mongo-store.ts MONGO_DB). */
export const MONGO_APP_DB = "bulwark";
/** The bootstrap member gets this priority, the others 1 (see `designatedPriority` below). */
export const BOOTSTRAP_MEMBER_PRIORITY = 2;
export const MEMBER_PRIORITY = 1;

export interface MongoMember {
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
  readonly members: readonly MongoMember[];
  /** The member that runs this set's bootstrap (initiate, wait for primary, first user). */
  readonly bootstrapHost: string;
  /** `name/ip:port,ip:port,...`: configDB of mongos, or the addShard argument. */
  readonly seedList: string;
}

export interface MongoCluster {
  readonly configSet: MongoReplicaSet;
  readonly shards: readonly MongoReplicaSet[];
  /** App and parser hosts: each runs a mongos on 127.0.0.1:MONGOS_PORT. */
  readonly routers: readonly string[];
  /** The mongos host that runs the cluster bootstrap (admin user, addShard, balancer, app user). */
  readonly clusterBootstrapHost: string;
  /** What the services connect to: the local mongos, majority writes, retryable writes. */
  readonly serviceUrl: { readonly host: string; readonly port: number; readonly options: string };
}

function host(plan: Plan, name: string): PlannedHost {
  return plan.hosts.find((h) => h.name === name)!;
}

/**
 * The first member of a set bootstraps it and has priority 2, so once elected it stays primary
 * while it is up: the localhost exception (first user) only works on the primary, through
 * localhost. The others have priority 1; every member votes.
 */
function replicaSet(plan: Plan, rs: ReplicaSetPlan): MongoReplicaSet {
  const members = rs.members.map((name, i) => ({
    id: i,
    host: name,
    address: `${host(plan, name).privateIp}:${rs.port}`,
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

/** The cluster as the renderers and the bootstrap see it. Throws the Mongo plan checks' errors. */
export function mongoCluster(plan: Plan): MongoCluster {
  const errors = checkMongoPlan(plan);
  if (errors.length > 0) throw new UserErrors(errors);
  const sets = plan.mongo.replicaSets.map((rs) => replicaSet(plan, rs));
  return {
    configSet: sets.find((s) => s.kind === "config")!,
    shards: sets.filter((s) => s.kind === "shard"),
    routers: plan.mongo.routers,
    clusterBootstrapHost: plan.mongo.routers[0]!,
    serviceUrl: { host: "127.0.0.1", port: MONGOS_PORT, options: `authSource=admin&w=majority&retryWrites=true` },
  };
}

/** The replica set a mongo host belongs to. */
export function replicaSetOf(cluster: MongoCluster, hostName: string): MongoReplicaSet {
  const found = [cluster.configSet, ...cluster.shards].find((s) => s.members.some((m) => m.host === hostName));
  if (!found) throw new Error(`plan/mongo: ${hostName} is in no replica set; only mongo-config and mongo-shard hosts are`);
  return found;
}
