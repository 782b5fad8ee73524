/**
 * Mongo error cases: topology rules, plan checks, config schema, and the bootstrap's refusals
 * (states it must not "fix"). Each asserts the message a user or an operator reads.
 */
import { createContext, Script } from "node:vm";
import { describe, expect, it } from "vitest";
import type { PlannedHost } from "../../plan/model.ts";
import { planMongo, shardsOf } from "../../plan/mongo.ts";
import { buildPlan } from "../../plan/plan.ts";
import { clusterBootstrapConfig, renderBootstrapScript, replicaSetBootstrapConfig, type BootstrapConfig } from "../../render/mongo-bootstrap.ts";
import { checkedMongoConfig } from "../../render/mongo-schema.ts";
import { UserErrors } from "../../topology/errors.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

type Json = Record<string, any>;
const topology = validateTopology(withInput({}));
const plan = buildPlan(topology, TEST_PLAN_INPUTS);
const shardConfig = replicaSetBootstrapConfig(shardsOf(plan.mongo)[0]!);
const clusterConfig = clusterBootstrapConfig(plan.mongo);

/** The messages of the UserErrors `f` throws (it must throw them). */
function userErrors(f: () => unknown): string[] {
  try {
    f();
  } catch (err) {
    if (err instanceof UserErrors) return err.errors.map((e) => e.message);
    throw err;
  }
  throw new Error("expected UserErrors, nothing was thrown");
}

function load(config: BootstrapConfig): Json {
  const ctx = createContext({ BULWARK_BOOTSTRAP_LOAD_ONLY: true });
  new Script(renderBootstrapScript(config)).runInContext(ctx);
  return ctx;
}

describe("Mongo topology rules", () => {
  it.each([
    [
      "Arm mongo hosts on Debian",
      { roles: { mongo: { serverType: "cax21" } } },
      /^roles\.mongo\.serverType: is an Arm \(cax\) type, but MongoDB publishes its debian-13 packages for amd64 only; got "cax21"\. Fix: use an x86 type \(cx, cpx or ccx\), or set roles\.mongo\.image: ubuntu-24\.04$/,
    ],
    [
      "Arm app hosts (mongos) on Debian 12",
      { image: "debian-12", roles: { app: { serverType: "cax11" } } },
      /^roles\.app\.serverType: .*debian-12 packages for amd64 only/,
    ],
    [
      "more than 7 config servers",
      { roles: { mongo: { configServers: 9 } } },
      /^roles\.mongo\.configServers: .*odd number of voting members from 3 to 7.*got 9/,
    ],
  ])("GIVEN %s WHEN validated THEN the error names the field, the value and the fix", (_name, patch, message) => {
    expect(() => validateTopology(withInput(patch))).toThrow(message);
  });
});

describe("Mongo plan checks (run by buildPlan, so they fail at plan time, before anything renders)", () => {
  /** A topology as buildPlan receives it, with validateTopology's rules skipped: only the plan checks stand. */
  const unvalidated = (roles: Record<string, Record<string, unknown>>) =>
    ({
      ...topology,
      roles: Object.fromEntries(Object.entries(topology.roles).map(([k, v]) => [k, { ...v, ...(roles[k] ?? {}) }])),
    }) as typeof topology;
  const moved = (host: string, group: string): PlannedHost[] => plan.hosts.map((h) => (h.name === host ? { ...h, placementGroup: group } : h));

  it("GIVEN shards of 4 that skipped the topology rules WHEN planned THEN buildPlan refuses each set with the voter rule", () => {
    expect(userErrors(() => buildPlan(unvalidated({ mongo: { membersPerShard: 4 } }), TEST_PLAN_INPUTS))).toEqual([
      "roles.mongo.membersPerShard: replica set shard1 has 4 voting members; it needs an odd number from 3 to 7; got 4. Fix: use 3, 5 or 7",
      "roles.mongo.membersPerShard: replica set shard2 has 4 voting members; it needs an odd number from 3 to 7; got 4. Fix: use 3, 5 or 7",
    ]);
  });

  it("GIVEN no app or parser hosts WHEN planned THEN buildPlan says mongos needs them, naming the field", () => {
    expect(userErrors(() => buildPlan(unvalidated({ app: { count: 0 }, parser: { count: 0 } }), TEST_PLAN_INPUTS))).toEqual([
      "roles.app.count: mongos runs on the app and parser hosts, and there are none; got 0. Fix: keep at least one app or parser host",
    ]);
  });

  it.each([
    ["no shard", { shards: 0 }, "roles.mongo.shards: the cluster needs at least one shard; got 0. Fix: set roles.mongo.shards to 1 or more"],
    [
      "no config server",
      { configServers: 0 },
      "roles.mongo.configServers: the cluster needs exactly one config-server replica set; got []. Fix: set roles.mongo.configServers to 3",
    ],
  ])("GIVEN %s WHEN planned THEN buildPlan refuses the cluster", (_name, mongo, message) => {
    expect(userErrors(() => buildPlan(unvalidated({ mongo }), TEST_PLAN_INPUTS))).toEqual([message]);
  });

  it(
    "GIVEN a shard member outside its set's spread placement group WHEN " + "the Mongo section is planned THEN the error names the group and the fix",
    () => {
      expect(userErrors(() => planMongo(moved("mongo-s1-2", "pg-mongo-shard2"), plan.placementGroups))).toEqual([
        "placementGroups.pg-mongo-shard1: the members of replica set shard1 must all sit in spread " +
          'placement group pg-mongo-shard1, so no two share a physical host; got ["pg-mongo-shard1","pg-mongo-shard2"]. ' +
          "Fix: keep one spread placement group per replica set (plan/plan.ts placementGroupNames)",
      ]);
    },
  );

  it("GIVEN a placement group that also holds another set's host WHEN the Mongo section is planned THEN the stranger is named", () => {
    const groups = plan.placementGroups.map((g) => (g.name === "pg-mongo-cfg" ? { ...g, hosts: [...g.hosts, "mongo-s1-1"] } : g));
    expect(userErrors(() => planMongo(plan.hosts, groups))).toEqual([
      'placementGroups.pg-mongo-cfg: holds hosts outside replica set cfg; got ["mongo-s1-1"]. Fix: give cfg a placement group of its own',
    ]);
  });

  it("GIVEN the seed WHEN the Mongo section is planned from its hosts and groups THEN it is the plan's own", () => {
    expect(planMongo(plan.hosts, plan.placementGroups)).toEqual(plan.mongo);
  });
});

describe("Mongo config schema", () => {
  const good =
    "net:\n  port: 27017\n  bindIp: 127.0.0.1\nsharding:\n  configDB: cfg/10.0.1.40:27019\nsecurity:\n  keyFile: /etc/bulwark/mongo-keyfile\n";

  it.each([
    [
      "a misspelt key",
      good.replace("bindIp", "bindIP"),
      /\/net: must have required property 'bindIp'; \/net: must NOT have additional properties \(bindIP\)/,
    ],
    ["a space in bindIp", good.replace("127.0.0.1", "127.0.0.1, 10.0.1.100"), /\/net\/bindIp: must match pattern/],
    [
      "authorization on mongos",
      good.replace("  keyFile:", "  authorization: enabled\n  keyFile:"),
      /\/security: must NOT have additional properties \(authorization\)/,
    ],
    ["a configDB without the set name", good.replace("cfg/", ""), /\/sharding\/configDB: must match pattern/],
    ["broken YAML", "net: [\n", /YAML: /],
  ])("GIVEN a mongos.conf with %s WHEN checked THEN it is refused, naming the file and the problem", (_name, text, message) => {
    expect(() => checkedMongoConfig("mongos", "app-1", text)).toThrow(message);
    expect(() => checkedMongoConfig("mongos", "app-1", text)).toThrow(
      /^render\/mongo: mongos\.conf of app-1 breaks mongo-schema\/mongos\.schema\.json: /,
    );
  });

  it("GIVEN a mongod.conf with an unknown cluster role WHEN checked THEN the enum is named", () => {
    const text =
      "systemLog:\n  destination: file\n  path: /var/log/mongodb/mongod.log\nstorage:\n  dbPath: " +
      "/var/lib/mongodb\nnet:\n  port: 27019\n  bindIp: 127.0.0.1\nreplication:\n  replSetName: " +
      "cfg\nsharding:\n  clusterRole: configserver\nsecurity:\n  keyFile: /k\n  authorization: enabled\n";
    expect(() => checkedMongoConfig("mongod", "mongo-cfg-1", text)).toThrow(/\/sharding\/clusterRole: must be equal to one of the allowed values/);
    expect(checkedMongoConfig("mongod", "mongo-cfg-1", text.replace("configserver", "configsvr"))).toContain("clusterRole: configsvr");
  });
});

describe("bootstrap refusals", () => {
  const { nextReplicaSetStep, run } = load(shardConfig) as Json;
  const hosts = shardConfig.initiate.members.map((m) => m.host);
  const up = (name: string, hello: Json) => ({ name, reachable: true, hello });

  it("GIVEN a member that belongs to another replica set WHEN decided THEN it stops with an error naming it", () => {
    const members = [up("mongo-s1-1", {}), up("mongo-s1-2", { setName: "shard2" }), up("mongo-s1-3", {})];
    expect(nextReplicaSetStep(shardConfig, { members, adminAuth: "unknown" })).toEqual({
      action: "error",
      reason: "mongo-s1-2 is in replica set shard2, not shard1",
    });
  });

  it("GIVEN an initiated set whose members differ from the plan WHEN decided THEN it refuses to reconfigure", () => {
    const members = shardConfig.members.map((m) =>
      up(m.name, { setName: "shard1", hosts: hosts.slice(0, 2), primary: hosts[0], isWritablePrimary: true }),
    );
    expect(nextReplicaSetStep(shardConfig, { members, adminAuth: "ok" })).toEqual({
      action: "error",
      reason: `members are ${hosts.slice(0, 2).join(",")}, the plan has ${hosts.join(",")}; reconfigure by hand, one voter at a time`,
    });
  });

  it("GIVEN a shard registered under another replica set name WHEN decided THEN it stops with an error", () => {
    const { nextClusterStep: step } = load(clusterConfig) as Json;
    const state = {
      mongos: { reachable: true },
      adminAuth: "ok",
      shards: [{ _id: "shard1", host: "other/10.0.1.43:27018" }],
      balancerMode: "full",
      appUser: true,
      shardPrimaries: {},
    };
    expect(step(clusterConfig, state)).toEqual({ action: "error", reason: "shard shard1 is registered as other/10.0.1.43:27018" });
  });

  /** A built shard set whose admin password is not the deployed one: auth fails, the localhost exception is closed. */
  function passwordMismatchIo(env: Json, lines: string[]): Json {
    const hello = { ok: 1, setName: "shard1", hosts, primary: hosts[0], isWritablePrimary: true };
    return {
      connect: (uri: string) => {
        if (uri.includes("@")) throw Object.assign(new Error("Authentication failed."), { code: 18 });
        return {
          getSiblingDB: () => ({ runCommand: (cmd: Json) => ("hello" in cmd ? hello : { ok: 0, code: 13, errmsg: "requires authentication" }) }),
          getMongo: () => ({ close: () => undefined }),
        };
      },
      sleep: () => undefined,
      now: () => 0,
      log: (line: string) => lines.push(line),
      env,
    };
  }

  it("GIVEN users exist and the deployed admin password does not authenticate WHEN the script runs THEN it exits 3 (no retry) and says why", () => {
    const lines: string[] = [];
    expect(run(shardConfig, passwordMismatchIo({ BULWARK_MONGO_ADMIN_PASSWORD: "NotTheRightPassword0123456789abc" }, lines))).toBe(3);
    expect(lines.at(-1)).toBe("replica set shard1: error: a user exists already and bulwark-admin does not authenticate with the deployed password");
  });

  it.each([
    ["missing", {}],
    ["not letters and digits", { BULWARK_MONGO_ADMIN_PASSWORD: "pass word with spaces and more" }],
  ])("GIVEN the admin password %s WHEN the script runs THEN it exits 3 before connecting and names the variable", (_name, env) => {
    const lines: string[] = [];
    const io = passwordMismatchIo(env, lines);
    io["connect"] = () => {
      throw new Error("must not connect");
    };
    expect(run(shardConfig, io)).toBe(3);
    expect(lines).toEqual([
      "replica set shard1: error: the unit's EnvironmentFile must set BULWARK_MONGO_ADMIN_PASSWORD (16-128 letters and digits)",
    ]);
  });
});
