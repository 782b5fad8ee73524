/**
 * The bootstrap script (templates/mongo/mongo-bootstrap.js.hbs) as rendered for the seed, run in
 * a node:vm sandbox: its pure decisions against observed states, and the whole script against
 * scripted server responses (a small fake of the replies of hello, replSetInitiate, createUser,
 * listShards, addShard, balancerStatus/Start and usersInfo, with the localhost exception).
 * The fake encodes this project's reading of MongoDB's documented behaviour; no MongoDB server
 * ran these tests (none can be installed here: docs/facts.md#the-build-and-test-machines).
 */
import { createContext, Script, type Context } from "node:vm";
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { configSetOf, shardsOf, type MongoPlan } from "../../plan/mongo.ts";
import {
  clusterBootstrapConfig,
  renderBootstrapScript,
  replicaSetBootstrapConfig,
  BOOTSTRAP_BUDGET,
  type BootstrapConfig,
} from "../../render/mongo-bootstrap.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

type Json = Record<string, any>;
/** The seed's Mongo section of the plan: what the rendered scripts send. */
const mongo: MongoPlan = buildPlan(validateTopology(withInput({})), TEST_PLAN_INPUTS).mongo;
const configSet = configSetOf(mongo);
const shardSets = shardsOf(mongo);
const cfgConfig = replicaSetBootstrapConfig(configSet);
const shardConfig = replicaSetBootstrapConfig(shardSets[0]!);
const clusterConfig = clusterBootstrapConfig(mongo);
const ADMIN_PW = "AdminPassword0123456789abcdefXYZ";
const APP_PW = "AppPassword0123456789abcdefghXYZ";

/** The rendered script's functions, loaded without running its entry point. */
function load(config: BootstrapConfig): Context {
  const ctx = createContext({ BULWARK_BOOTSTRAP_LOAD_ONLY: true });
  new Script(renderBootstrapScript(config)).runInContext(ctx);
  return ctx;
}

// ------------------------------------------------------------------ the fake servers --

interface FakeSet {
  name: string;
  members: { address: string; priority: number }[];
  config?: { members: { host: string; priority: number }[] };
  primary?: string;
  users: Map<string, string>;
}

/** Replica sets and a mongos, answering the commands the bootstrap sends. */
class FakeCluster {
  readonly sets = new Map<string, FakeSet>();
  readonly down = new Set<string>();
  readonly log: { address: string; command: string; auth: boolean }[] = [];
  readonly shards: { _id: string; host: string }[] = [];
  balancer = "off";
  clock = 0;
  /** Elections happen when time passes (the script sleeps), like a real set after initiate. */
  electOnSleep = true;

  constructor(
    readonly local: string,
    readonly mongos: boolean,
  ) {
    for (const s of [configSet, ...shardSets]) {
      this.sets.set(s.name, { name: s.name, members: s.members.map((m) => ({ address: m.address, priority: m.priority })), users: new Map() });
    }
  }

  /** Every set initiated with a primary (its first member) and the admin user; mongos users on cfg. */
  built(): this {
    for (const set of this.sets.values()) {
      set.config = { members: set.members.map((m) => ({ host: m.address, priority: m.priority })) };
      set.primary = set.members[0]!.address;
      set.users.set("bulwark-admin", ADMIN_PW);
    }
    this.sets.get("cfg")!.users.set("bulwark-app", APP_PW);
    for (const s of shardSets) this.shards.push({ _id: s.name, host: s.seedList });
    this.balancer = "full";
    return this;
  }

  writes(): string[] {
    return this.log
      .filter((l) => !["hello", "connectionStatus", "listShards", "balancerStatus", "usersInfo"].includes(l.command))
      .map((l) => l.command);
  }

  private setOf(address: string): FakeSet | undefined {
    return [...this.sets.values()].find((s) => s.members.some((m) => m.address === address));
  }

  private elect(): void {
    for (const set of this.sets.values()) {
      if (!set.config || (set.primary && !this.down.has(set.primary))) continue;
      const up = set.members.filter((m) => !this.down.has(m.address));
      set.primary = up.length * 2 > set.members.length ? up.sort((a, b) => b.priority - a.priority)[0]!.address : undefined;
    }
  }

  io(env: Json): Json {
    return {
      connect: (uri: string) => this.connect(uri),
      sleep: (ms: number) => {
        this.clock += ms;
        if (this.electOnSleep) this.elect();
      },
      now: () => this.clock,
      log: (line: string) => this.lines.push(line),
      env,
    };
  }

  readonly lines: string[] = [];

  private connect(uri: string): Json {
    const m = /^mongodb:\/\/(?:([^:@]+):([^@]+)@)?([0-9.]+:\d+)\/admin\?/.exec(uri);
    if (!m) throw new Error(`fake: unexpected URI ${uri}`);
    const [, user, pwd, target] = m;
    const viaLocalhost = target!.startsWith("127.0.0.1:");
    const isMongos = this.mongos && target === `127.0.0.1:27017`;
    const address = viaLocalhost && !isMongos ? `${this.local}:${target!.split(":")[1]}` : target!;
    if (!isMongos && (this.down.has(address) || !this.setOf(address))) {
      throw Object.assign(new Error(`connect ECONNREFUSED ${target}`), { name: "MongoServerSelectionError" });
    }
    const users = isMongos ? this.sets.get("cfg")!.users : this.setOf(address)!.users;
    if (user !== undefined && users.get(decodeURIComponent(user)) !== decodeURIComponent(pwd!)) {
      throw Object.assign(new Error("Authentication failed."), { name: "MongoServerError", code: 18, codeName: "AuthenticationFailed" });
    }
    let closed = false;
    const run = (cmd: Json) => {
      if (closed) throw new Error("fake: command on a closed connection");
      const name = Object.keys(cmd)[0]!;
      this.log.push({ address: isMongos ? "mongos" : address, command: name, auth: user !== undefined });
      return isMongos
        ? this.mongosCommand(name, cmd, user !== undefined, viaLocalhost)
        : this.mongodCommand(address, name, cmd, user !== undefined, viaLocalhost);
    };
    return { getSiblingDB: () => ({ runCommand: run }), getMongo: () => ({ close: () => (closed = true) }) };
  }

  private mongodCommand(address: string, name: string, cmd: Json, authed: boolean, viaLocalhost: boolean): Json {
    const set = this.setOf(address)!;
    if (name === "hello") {
      if (!set.config)
        return { ok: 1, isWritablePrimary: false, secondary: false, isreplicaset: true, info: "Does not have a valid replica set config" };
      return {
        ok: 1,
        setName: set.name,
        isWritablePrimary: set.primary === address,
        hosts: set.config.members.map((x) => x.host),
        ...(set.primary ? { primary: set.primary } : {}),
      };
    }
    if (name === "connectionStatus") return { ok: 1 };
    const exception = viaLocalhost && set.users.size === 0;
    if (!authed && !exception) return { ok: 0, code: 13, codeName: "Unauthorized", errmsg: `command ${name} requires authentication` };
    if (name === "replSetInitiate") {
      if (set.config) return { ok: 0, code: 23, codeName: "AlreadyInitialized", errmsg: "already initialized" };
      const down = set.members.filter((m) => this.down.has(m.address));
      if (down.length > 0) return { ok: 0, code: 74, codeName: "NodeNotFound", errmsg: "replSetInitiate quorum check failed" };
      set.config = { members: (cmd["replSetInitiate"].members as Json[]).map((x) => ({ host: x["host"], priority: x["priority"] })) };
      return { ok: 1 };
    }
    if (name === "createUser") {
      if (set.primary !== address) return { ok: 0, code: 10107, codeName: "NotWritablePrimary", errmsg: "not primary" };
      if (set.users.has(cmd["createUser"])) return { ok: 0, code: 51003, codeName: "Location51003", errmsg: "User already exists" };
      set.users.set(cmd["createUser"], cmd["pwd"]);
      return { ok: 1 };
    }
    return { ok: 0, code: 59, codeName: "CommandNotFound", errmsg: `no such command: ${name}` };
  }

  private mongosCommand(name: string, cmd: Json, authed: boolean, viaLocalhost: boolean): Json {
    const cfg = this.sets.get("cfg")!;
    if (name === "hello") return { ok: 1, isWritablePrimary: true, msg: "isdbgrid" };
    if (name === "connectionStatus") return { ok: 1 };
    const exception = viaLocalhost && cfg.users.size === 0;
    if (!authed && !exception) return { ok: 0, code: 13, codeName: "Unauthorized", errmsg: `command ${name} requires authentication` };
    if (!cfg.primary) return { ok: 0, code: 133, codeName: "FailedToSatisfyReadPreference", errmsg: "no primary in cfg" };
    switch (name) {
      case "createUser":
        if (cfg.users.has(cmd["createUser"])) return { ok: 0, code: 51003, errmsg: "User already exists" };
        cfg.users.set(cmd["createUser"], cmd["pwd"]);
        return { ok: 1 };
      case "listShards":
        return { ok: 1, shards: this.shards.map((s) => ({ ...s, state: 1 })) };
      case "addShard": {
        const set = this.sets.get(cmd["name"]);
        if (!set?.primary) return { ok: 0, code: 96, errmsg: "no primary" };
        this.shards.push({ _id: cmd["name"], host: cmd["addShard"] });
        return { ok: 1, shardAdded: cmd["name"] };
      }
      case "balancerStatus":
        return { ok: 1, mode: this.balancer, inBalancerRound: false };
      case "balancerStart":
        this.balancer = "full";
        return { ok: 1 };
      case "usersInfo":
        return { ok: 1, users: cfg.users.has(cmd["usersInfo"].user) ? [{ user: cmd["usersInfo"].user, db: "admin" }] : [] };
      default:
        return { ok: 0, code: 59, errmsg: `no such command: ${name}` };
    }
  }
}

const s1 = shardSets[0]!;
const ip = (address: string) => address.split(":")[0]!;

function runScript(
  config: BootstrapConfig,
  fake: FakeCluster,
  env: Json = { BULWARK_MONGO_ADMIN_PASSWORD: ADMIN_PW, BULWARK_MONGO_APP_PASSWORD: APP_PW },
): number {
  const ctx = load(config);
  return ctx["run"](config, fake.io(env)) as number;
}

// ------------------------------------------------------------------------ decisions --

describe("replica set decisions (pure, observed state → step)", () => {
  const { nextReplicaSetStep } = load(shardConfig) as { nextReplicaSetStep: (c: unknown, s: unknown) => Json };
  const hosts = shardConfig.initiate.members.map((m) => m.host);
  const member = (name: string, hello: Json | null) => (hello === null ? { name, reachable: false } : { name, reachable: true, hello });
  const names = shardConfig.members.map((m) => m.name);
  const fresh = names.map((n) => member(n, {}));
  const initiated = (primary: string | undefined, selfPrimary: boolean) =>
    names.map((n, i) => member(n, { setName: "shard1", hosts, isWritablePrimary: i === 0 && selfPrimary, ...(primary ? { primary } : {}) }));

  it("GIVEN a fresh set, every member up WHEN decided THEN it initiates", () => {
    expect(nextReplicaSetStep(shardConfig, { members: fresh, adminAuth: "unknown" })).toEqual({ action: "initiate" });
  });

  it("GIVEN a fresh set with one member down WHEN decided THEN it waits and names the member (initiate needs all)", () => {
    const step = nextReplicaSetStep(shardConfig, { members: [fresh[0], fresh[1], member(names[2]!, null)], adminAuth: "unknown" });
    expect(step).toEqual({ action: "wait", reason: `replSetInitiate needs every member; down: ${names[2]}` });
  });

  it("GIVEN the local mongod is not up yet WHEN decided THEN it waits", () => {
    expect(nextReplicaSetStep(shardConfig, { members: [member(names[0]!, null), fresh[1], fresh[2]], adminAuth: "unknown" }).action).toBe("wait");
  });

  it("GIVEN a half-initiated set (config installed, no primary yet) WHEN decided THEN it waits for a primary", () => {
    expect(nextReplicaSetStep(shardConfig, { members: initiated(undefined, false), adminAuth: "failed" })).toEqual({
      action: "wait",
      reason: "no primary yet",
    });
  });

  it("GIVEN a set initiated from another member, not yet reaching this one WHEN decided THEN it waits instead of initiating again", () => {
    const members = [fresh[0], member(names[1]!, { setName: "shard1", hosts }), fresh[2]];
    expect(nextReplicaSetStep(shardConfig, { members, adminAuth: "unknown" })).toMatchObject({
      action: "wait",
      reason: expect.stringContaining(`initiated on ${names[1]}`),
    });
  });

  it("GIVEN an initiated set without users, this member primary WHEN decided THEN it creates the admin user", () => {
    expect(nextReplicaSetStep(shardConfig, { members: initiated(hosts[0], true), adminAuth: "failed" })).toEqual({ action: "createAdmin" });
  });

  it(
    "GIVEN an initiated set without users, another member primary WHEN " +
      "decided THEN it waits (the localhost exception needs this member primary)",
    () => {
      expect(nextReplicaSetStep(shardConfig, { members: initiated(hosts[1], false), adminAuth: "failed" }).action).toBe("wait");
    },
  );

  it("GIVEN a fully built set WHEN decided THEN it is done", () => {
    expect(nextReplicaSetStep(shardConfig, { members: initiated(hosts[0], true), adminAuth: "ok" })).toEqual({ action: "done" });
  });

  it("GIVEN a built set with one member down and the primary elsewhere WHEN decided THEN it is done (nothing to change)", () => {
    const members = initiated(hosts[1], false);
    members[2] = member(names[2]!, null);
    expect(nextReplicaSetStep(shardConfig, { members, adminAuth: "ok" })).toEqual({ action: "done" });
  });

  it("GIVEN the config set with a primary WHEN decided THEN it is done (its users are made through mongos)", () => {
    const { nextReplicaSetStep: cfgStep } = load(cfgConfig) as { nextReplicaSetStep: (c: unknown, s: unknown) => Json };
    const cfgHosts = cfgConfig.initiate.members.map((m) => m.host);
    const members = cfgConfig.members.map((m, i) =>
      member(m.name, { setName: "cfg", hosts: cfgHosts, isWritablePrimary: i === 0, primary: cfgHosts[0] }),
    );
    expect(cfgStep(cfgConfig, { members, adminAuth: "unknown" })).toEqual({ action: "done" });
  });
});

describe("cluster decisions (pure, observed state → step)", () => {
  const { nextClusterStep } = load(clusterConfig) as { nextClusterStep: (c: unknown, s: unknown) => Json };
  const allShards = shardSets.map((s) => ({ _id: s.name, host: s.seedList }));
  const built = { mongos: { reachable: true }, adminAuth: "ok", shards: allShards, balancerMode: "full", appUser: true, shardPrimaries: {} };

  it("GIVEN mongos not answering WHEN decided THEN it waits", () => {
    expect(nextClusterStep(clusterConfig, { mongos: { reachable: false }, adminAuth: "unknown", shardPrimaries: {} }).action).toBe("wait");
  });

  it("GIVEN no cluster user yet WHEN decided THEN it creates the admin through mongos's localhost exception", () => {
    expect(nextClusterStep(clusterConfig, { mongos: { reachable: true }, adminAuth: "failed", shardPrimaries: {} })).toEqual({
      action: "createAdmin",
    });
  });

  it("GIVEN both shards missing and both with a primary WHEN decided THEN it adds shard1 first, by its explicit name", () => {
    expect(nextClusterStep(clusterConfig, { ...built, shards: [], shardPrimaries: { shard1: true, shard2: true } })).toEqual({
      action: "addShard",
      shard: "shard1",
    });
  });

  it("GIVEN shard1 added and shard2 missing WHEN decided THEN it adds only shard2", () => {
    expect(nextClusterStep(clusterConfig, { ...built, shards: [allShards[0]], shardPrimaries: { shard2: true } })).toEqual({
      action: "addShard",
      shard: "shard2",
    });
  });

  it("GIVEN a missing shard without a primary WHEN decided THEN it waits and names it", () => {
    expect(nextClusterStep(clusterConfig, { ...built, shards: [allShards[0]], shardPrimaries: { shard2: false } })).toEqual({
      action: "wait",
      reason: "no primary yet in shard2",
    });
  });

  it("GIVEN every shard added and the balancer off WHEN decided THEN it starts the balancer", () => {
    expect(nextClusterStep(clusterConfig, { ...built, balancerMode: "off" })).toEqual({ action: "startBalancer" });
  });

  it("GIVEN the services' user missing WHEN decided THEN it creates it", () => {
    expect(nextClusterStep(clusterConfig, { ...built, appUser: false })).toEqual({ action: "createAppUser" });
  });

  it("GIVEN a fully built cluster WHEN decided THEN it is done", () => {
    expect(nextClusterStep(clusterConfig, built)).toEqual({ action: "done" });
  });
});

// --------------------------------------------------------- the script, end to end --

describe("bootstrap script against scripted server responses", () => {
  it(
    "GIVEN a fresh shard set WHEN the script runs on its designated member THEN " +
      "it initiates once, waits for the primary, creates the admin once and exits 0",
    () => {
      const fake = new FakeCluster(ip(s1.members[0]!.address), false);
      expect(runScript(shardConfig, fake)).toBe(0);
      expect(fake.writes()).toEqual(["replSetInitiate", "createUser"]);
      expect(fake.sets.get("shard1")!.config!.members).toEqual([
        { host: s1.members[0]!.address, priority: 2 },
        { host: s1.members[1]!.address, priority: 1 },
        { host: s1.members[2]!.address, priority: 1 },
      ]);
      expect(fake.log.filter((l) => l.command === "createUser")).toEqual([{ address: s1.members[0]!.address, command: "createUser", auth: false }]);
      expect(fake.sets.get("shard1")!.users.get("bulwark-admin")).toBe(ADMIN_PW);
    },
  );

  it("GIVEN the fully built shard set WHEN the script runs again THEN it exits 0 and sends no write", () => {
    const fake = new FakeCluster(ip(s1.members[0]!.address), false).built();
    expect(runScript(shardConfig, fake)).toBe(0);
    expect(fake.writes()).toEqual([]);
    expect(fake.clock).toBe(0);
  });

  it("GIVEN a half-initiated set (initiated, no users) WHEN the script runs THEN it only creates the admin user", () => {
    const fake = new FakeCluster(ip(s1.members[0]!.address), false);
    const set = fake.sets.get("shard1")!;
    set.config = { members: set.members.map((m) => ({ host: m.address, priority: m.priority })) };
    expect(runScript(shardConfig, fake)).toBe(0);
    expect(fake.writes()).toEqual(["createUser"]);
  });

  it("GIVEN a fresh set with one member down WHEN the script runs THEN it never initiates and gives up within its budget (exit 1)", () => {
    const fake = new FakeCluster(ip(s1.members[0]!.address), false);
    fake.down.add(s1.members[2]!.address);
    expect(runScript(shardConfig, fake)).toBe(1);
    expect(fake.writes()).toEqual([]);
    expect(fake.clock).toBeLessThanOrEqual(BOOTSTRAP_BUDGET.seconds * 1000 + BOOTSTRAP_BUDGET.waitMs);
    expect(fake.lines.at(-1)).toMatch(/gave up after 180 rounds or 900 s/);
  });

  it("GIVEN the built set with one member down WHEN the script runs THEN it exits 0 and sends no write", () => {
    const fake = new FakeCluster(ip(s1.members[0]!.address), false).built();
    fake.down.add(s1.members[1]!.address);
    expect(runScript(shardConfig, fake)).toBe(0);
    expect(fake.writes()).toEqual([]);
  });

  it("GIVEN a fresh config set WHEN the script runs THEN it initiates with configsvr: true and creates no user", () => {
    const fake = new FakeCluster(ip(configSet.members[0]!.address), false);
    expect(runScript(cfgConfig, fake, {})).toBe(0);
    expect(fake.writes()).toEqual(["replSetInitiate"]);
    expect(cfgConfig.initiate).toMatchObject({ _id: "cfg", configsvr: true });
  });

  it(
    "GIVEN built replica sets and a fresh cluster WHEN the script runs on the " +
      "designated mongos THEN admin, both shards, balancer and app user are made once each",
    () => {
      const fake = new FakeCluster("127.0.0.1", true).built();
      fake.sets.get("cfg")!.users.clear();
      fake.shards.length = 0;
      fake.balancer = "off";
      expect(runScript(clusterConfig, fake)).toBe(0);
      expect(fake.writes()).toEqual(["createUser", "addShard", "addShard", "balancerStart", "createUser"]);
      expect(fake.shards).toEqual(shardSets.map((s) => ({ _id: s.name, host: s.seedList })));
      expect(fake.log.filter((l) => l.command === "createUser").map((l) => l.auth)).toEqual([false, true]);
      expect(fake.sets.get("cfg")!.users.get("bulwark-app")).toBe(APP_PW);
    },
  );

  it("GIVEN a cluster with shard2 missing WHEN the script runs THEN it adds only shard2", () => {
    const fake = new FakeCluster("127.0.0.1", true).built();
    fake.shards.splice(1, 1);
    expect(runScript(clusterConfig, fake)).toBe(0);
    expect(fake.writes()).toEqual(["addShard"]);
    expect(fake.shards.map((s) => s._id)).toEqual(["shard1", "shard2"]);
  });

  it("GIVEN a shard whose set has no primary yet WHEN the script runs THEN it waits, and adds the shard once a primary is elected", () => {
    const fake = new FakeCluster("127.0.0.1", true).built();
    fake.shards.splice(1, 1);
    fake.sets.get("shard2")!.primary = undefined;
    expect(runScript(clusterConfig, fake)).toBe(0);
    expect(fake.writes()).toEqual(["addShard"]);
    expect(fake.clock).toBe(BOOTSTRAP_BUDGET.waitMs);
  });

  it("GIVEN the fully built cluster WHEN the script runs again THEN it exits 0 and sends no write", () => {
    const fake = new FakeCluster("127.0.0.1", true).built();
    expect(runScript(clusterConfig, fake)).toBe(0);
    expect(fake.writes()).toEqual([]);
  });

  it("GIVEN the rendered script WHEN run as mongosh would (no load-only flag) THEN it calls quit with the run's exit code", () => {
    const fake = new FakeCluster("127.0.0.1", true).built();
    const io = fake.io({});
    const quit: number[] = [];
    const ctx = createContext({
      connect: io["connect"],
      sleep: io["sleep"],
      print: (line: string) => fake.lines.push(line),
      quit: (code: number) => quit.push(code),
      process: { env: { BULWARK_MONGO_ADMIN_PASSWORD: ADMIN_PW, BULWARK_MONGO_APP_PASSWORD: APP_PW } },
    });
    new Script(renderBootstrapScript(clusterConfig)).runInContext(ctx);
    expect(quit).toEqual([0]);
    expect(fake.lines).toContain("bulwark-mongo-bootstrap: cluster: round 1: done");
  });
});
