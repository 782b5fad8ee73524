/**
 * The hosts a topology asks for, named and grouped: the one place host names are made.
 * The plan adds addresses, groups and ports; the rules check the names.
 */
import type { Role, Topology } from "./model.ts";

/** A replica set (Mongo) or other group of hosts that must survive together. */
export interface HostSpec {
  readonly name: string;
  readonly role: Role;
  /** Finer than role: mongo hosts are `mongo-config` or `mongo-shard`. */
  readonly component: Component;
  /** Mongo replica set name (`cfg`, `shard1`, ...). */
  readonly replicaSet?: string;
  /** 1-based position within the role, for addressing. */
  readonly ordinal: number;
}

export type Component = "lb" | "app" | "parser" | "storage" | "mongo-config" | "mongo-shard";

/** Every host, in a fixed order: lb, app, parser, storage, mongo (config, then shards). */
export function hostSpecs(t: Topology): HostSpec[] {
  const simple = (role: "lb" | "app" | "parser" | "storage"): HostSpec[] =>
    Array.from({ length: t.roles[role].count }, (_, i) => ({
      name: `${t.roles[role].namePrefix}-${i + 1}`,
      role,
      component: role,
      ordinal: i + 1,
    }));
  const m = t.roles.mongo;
  const prefix = m.namePrefix;
  const mongo: HostSpec[] = [];
  for (let i = 1; i <= m.configServers; i++) {
    mongo.push({ name: `${prefix}-cfg-${i}`, role: "mongo", component: "mongo-config", replicaSet: "cfg", ordinal: mongo.length + 1 });
  }
  for (let s = 1; s <= m.shards; s++) {
    for (let i = 1; i <= m.membersPerShard; i++) {
      mongo.push({ name: `${prefix}-s${s}-${i}`, role: "mongo", component: "mongo-shard", replicaSet: `shard${s}`, ordinal: mongo.length + 1 });
    }
  }
  return [...simple("lb"), ...simple("app"), ...simple("parser"), ...simple("storage"), ...mongo];
}
