/**
 * Mongo rules that need the planned hosts: every replica set keeps a majority through one loss
 * only if its members are on distinct physical hosts (a spread placement group of its own), and
 * has an odd number of voters from 3 to 7. Run by `planMongo` (plan/mongo.ts) inside buildPlan,
 * so a violation is a plan-time error and nothing Mongo is rendered from a bad cluster.
 */
import { UserError } from "../topology/errors.ts";
import { MAX_VOTERS, type NamedCheck } from "../topology/rules.ts";
import type { PlacementGroupPlan, PlannedHost } from "./model.ts";

/** A replica set by membership: host names in member order, before ids and addresses are given. */
export interface ReplicaSetHosts {
  readonly name: string;
  readonly kind: "config" | "shard";
  readonly port: number;
  readonly members: readonly string[];
}

/** The cluster's shape as the checks see it: the sets and the mongos hosts. */
export interface MongoMembership {
  readonly replicaSets: readonly ReplicaSetHosts[];
  readonly routers: readonly string[];
}

/** What checkMongoPlan demands, as the README's rules table lists it. */
export const MONGO_PLAN_CHECK: NamedCheck = {
  id: "mongo-cluster",
  description:
    `The Mongo cluster has one config-server replica set, at least one shard and at least one mongos host (app or parser); ` +
    `each replica set has an odd number of voters from 3 to ${MAX_VOTERS}, on distinct hosts with distinct addresses, ` +
    `alone in a spread placement group of its own.`,
};

const fieldOf = (kind: "config" | "shard") => (kind === "config" ? "roles.mongo.configServers" : "roles.mongo.membersPerShard");

export function checkMongoPlan(
  mongo: MongoMembership,
  allHosts: readonly PlannedHost[],
  placementGroups: readonly PlacementGroupPlan[],
): UserError[] {
  const errors: UserError[] = [];
  const sets = mongo.replicaSets;
  if (sets.filter((s) => s.kind === "config").length !== 1) {
    errors.push(
      new UserError(
        "roles.mongo.configServers",
        "the cluster needs exactly one config-server replica set",
        sets.filter((s) => s.kind === "config").map((s) => s.name),
        "set roles.mongo.configServers to 3",
      ),
    );
  }
  if (sets.filter((s) => s.kind === "shard").length === 0) {
    errors.push(new UserError("roles.mongo.shards", "the cluster needs at least one shard", 0, "set roles.mongo.shards to 1 or more"));
  }
  if (mongo.routers.length === 0) {
    errors.push(
      new UserError("roles.app.count", "mongos runs on the app and parser hosts, and there are none", 0, "keep at least one app or parser host"),
    );
  }
  for (const rs of sets) {
    const field = fieldOf(rs.kind);
    const n = rs.members.length;
    if (n < 3 || n > MAX_VOTERS || n % 2 === 0) {
      errors.push(
        new UserError(field, `replica set ${rs.name} has ${n} voting members; it needs an odd number from 3 to ${MAX_VOTERS}`, n, "use 3, 5 or 7"),
      );
    }
    const hosts = allHosts.filter((h) => rs.members.includes(h.name));
    const groups = [...new Set(hosts.map((h) => h.placementGroup))];
    const expected = `pg-mongo-${rs.name}`;
    if (groups.length !== 1 || groups[0] !== expected) {
      errors.push(
        new UserError(
          `placementGroups.${expected}`,
          `the members of replica set ${rs.name} must all sit in spread placement group ${expected}, so no two share a physical host`,
          groups,
          "keep one spread placement group per replica set (plan/plan.ts placementGroupNames)",
        ),
      );
      continue;
    }
    const group = placementGroups.find((g) => g.name === expected);
    const strangers = (group?.hosts ?? []).filter((h) => !rs.members.includes(h));
    if (strangers.length > 0) {
      errors.push(
        new UserError(
          `placementGroups.${expected}`,
          `holds hosts outside replica set ${rs.name}`,
          strangers,
          `give ${rs.name} a placement group of its own`,
        ),
      );
    }
    const ips = hosts.map((h) => h.privateIp);
    if (new Set(ips).size !== ips.length || hosts.length !== n) {
      errors.push(
        new UserError(
          field,
          `the members of replica set ${rs.name} must be distinct hosts with distinct addresses`,
          ips,
          "give every member its own host",
        ),
      );
    }
  }
  return errors;
}
