/**
 * Single-host failure analysis over a plan: for the loss of each host, apply every role's
 * availability rule to the plan minus that host and say what keeps working and why.
 *
 * The rules:
 * - lb: 1 of the 2 load balancers (keepalived moves the entry address to the survivor);
 * - app, parser: at least 1 host left;
 * - storage: every gluster replica set keeps client quorum (2 of its 3 bricks);
 * - mongo: every replica set keeps a majority of its voters.
 */
import type { NamedCheck } from "../topology/rules.ts";
import type { Plan, PlannedHost } from "./model.ts";

/** The gate synth applies to this analysis (synth/pipeline.ts), as the README's rules table lists it. */
export const FAILURE_GATE: NamedCheck = {
  id: "failure-gate",
  description:
    "Losing any single host keeps every role available (lb 1 of 2; app and parser at least 1; gluster client " +
    "quorum; a majority in every Mongo replica set), unless `allowSinglePointsOfFailure` gives a reason.",
};

interface RoleVerdict {
  /** What the rule is about (`lb`, `storage`, `mongo shard1`, ...). */
  readonly subject: string;
  /** The topology field that sizes the subject (where a fix goes). */
  readonly field: string;
  /** How many hosts the subject has with nothing lost. */
  readonly size: number;
  readonly ok: boolean;
  /** True when the lost host is one of the subject's members (the rule is affected). */
  readonly affected: boolean;
  /** Why, in one sentence with the numbers. */
  readonly reason: string;
}

interface HostLoss {
  readonly host: string;
  readonly role: string;
  /** True when every rule holds without this host. */
  readonly survives: boolean;
  readonly verdicts: readonly RoleVerdict[];
}

export interface FailureAnalysis {
  readonly losses: readonly HostLoss[];
  /** Hosts whose loss stops the service. */
  readonly singlePointsOfFailure: readonly string[];
}

/** Bricks per gluster replica set: 3 data, or 2 data + 1 arbiter. */
const BRICKS_PER_SET = 3;

export function analyzeFailures(plan: Plan): FailureAnalysis {
  const losses = plan.hosts.map((lost) => analyzeLoss(plan, lost));
  return { losses, singlePointsOfFailure: losses.filter((l) => !l.survives).map((l) => l.host) };
}

function analyzeLoss(plan: Plan, lost: PlannedHost): HostLoss {
  const alive = (names: readonly string[]) => names.filter((n) => n !== lost.name);
  const byRole = (role: string) => plan.hosts.filter((h) => h.role === role).map((h) => h.name);
  const verdicts: RoleVerdict[] = [];

  const lbs = alive(plan.lb.hosts);
  verdicts.push({
    subject: "lb",
    field: "roles.lb.count",
    size: plan.lb.hosts.length,
    ok: lbs.length >= 1,
    affected: lbs.length < plan.lb.hosts.length,
    reason:
      lbs.length >= 1
        ? `${lbs.length} of ${plan.lb.hosts.length} load balancers left; ` +
          `${lost.role === "lb" ? `keepalived moves the entry address to ${lbs.join(", ")}` : "the entry address stays where it is"}`
        : "no load balancer left to hold the entry address",
  });

  for (const role of ["app", "parser"] as const) {
    const all = byRole(role);
    const left = alive(all);
    verdicts.push({
      subject: role,
      field: `roles.${role}.count`,
      size: all.length,
      ok: left.length >= 1,
      affected: left.length < all.length,
      reason:
        left.length >= 1
          ? `${left.length} of ${all.length} ${role} hosts left${role === "app" ? "; haproxy's health checks take the dead one out" : ""}`
          : `no ${role} host left`,
    });
  }

  const servers = plan.storage.servers;
  for (let i = 0; i < servers.length; i += BRICKS_PER_SET) {
    const set = servers.slice(i, i + BRICKS_PER_SET);
    const left = alive(set).length;
    const quorum = Math.floor(set.length / 2) + 1;
    verdicts.push({
      subject: servers.length > BRICKS_PER_SET ? `storage set ${i / BRICKS_PER_SET + 1}` : "storage",
      field: "roles.storage.count",
      size: set.length,
      ok: left >= quorum,
      affected: left < set.length,
      reason:
        `${left} of ${set.length} bricks up (${set.join(", ")}); client quorum ` +
        `needs ${quorum}${plan.storage.arbiter ? " (the arbiter counts)" : ""}`,
    });
  }

  for (const rs of plan.mongo.replicaSets) {
    const left = alive(rs.members.map((m) => m.host)).length;
    const majority = Math.floor(rs.members.length / 2) + 1;
    verdicts.push({
      subject: `mongo ${rs.name}`,
      field: rs.kind === "config" ? "roles.mongo.configServers" : "roles.mongo.membersPerShard",
      size: rs.members.length,
      ok: left >= majority,
      affected: left < rs.members.length,
      reason: `${left} of ${rs.members.length} voters left; a primary needs ${majority}`,
    });
  }

  return { host: lost.name, role: lost.role, survives: verdicts.every((v) => v.ok), verdicts };
}
