/**
 * The database part, as planned and rendered for the seed (and a few variants): hosts, replica
 * sets, member ids and priorities, the rendered mongod/mongos configs against their schemas,
 * the keyFile and secrets, the apt source, the service connection string, the bootstrap
 * placement and the synthesized secrets.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BulwarkStack } from "../../constructs/stack.ts";
import { buildPlan } from "../../plan/plan.ts";
import { configSetOf, shardsOf } from "../../plan/mongo.ts";
import { showDeployValues } from "../../render/deploy-values.ts";
import { renderAll, renderHost, type RenderedHost } from "../../render/host.ts";
import { MONGODB_KEY_FILE, MONGODB_KEY_FINGERPRINT, MONGODB_VERSION, mongodbSigningKey } from "../../render/mongo-apt.ts";
import { mongoConfigProblems } from "../../render/mongo-schema.ts";
import { armouredBlock, primaryKeyFingerprint } from "../../render/openpgp.ts";
import { prepare } from "../../synth/pipeline.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

type Json = Record<string, any>;
const planOf = (patch: Record<string, unknown> = {}) => buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS);
const plan = planOf();
const rendered = renderAll(plan);
const byName = new Map(rendered.map((r) => [r.host.name, r]));
const file = (host: string, path: string) => byName.get(host)!.files.find((f) => f.path === path);
const doc = (r: RenderedHost) => parse(r.userData) as Json;
const mongoHosts = plan.hosts.filter((h) => h.role === "mongo");
const routers = plan.hosts.filter((h) => h.role === "app" || h.role === "parser");

describe("Mongo hosts and replica sets", () => {
  it("GIVEN the default topology WHEN planned THEN there are 9 mongo hosts: a config set of 3 and 2 shards of 3, each with its role and set", () => {
    expect(mongoHosts.map((h) => [h.name, h.component, h.replicaSet])).toEqual([
      ["mongo-cfg-1", "mongo-config", "cfg"],
      ["mongo-cfg-2", "mongo-config", "cfg"],
      ["mongo-cfg-3", "mongo-config", "cfg"],
      ["mongo-s1-1", "mongo-shard", "shard1"],
      ["mongo-s1-2", "mongo-shard", "shard1"],
      ["mongo-s1-3", "mongo-shard", "shard1"],
      ["mongo-s2-1", "mongo-shard", "shard2"],
      ["mongo-s2-2", "mongo-shard", "shard2"],
      ["mongo-s2-3", "mongo-shard", "shard2"],
    ]);
  });

  it("GIVEN no Mongo fields WHEN validated THEN the config set has 3 members and there are 2 shards of 3", () => {
    expect(validateTopology(withInput({})).roles.mongo).toMatchObject({ configServers: 3, shards: 2, membersPerShard: 3 });
  });

  it("GIVEN the seed WHEN planned THEN plan.mongo gives members explicit _ids 0..2, the first has priority 2 and bootstraps the set", () => {
    const c = plan.mongo;
    expect(c.replicaSets.map((s) => s.name)).toEqual(["cfg", "shard1", "shard2"]);
    expect(configSetOf(c).members).toEqual([
      { id: 0, host: "mongo-cfg-1", address: "10.0.1.40:27019", priority: 2, votes: 1 },
      { id: 1, host: "mongo-cfg-2", address: "10.0.1.41:27019", priority: 1, votes: 1 },
      { id: 2, host: "mongo-cfg-3", address: "10.0.1.42:27019", priority: 1, votes: 1 },
    ]);
    expect(shardsOf(c).map((s) => [s.name, s.clusterRole, s.bootstrapHost, s.seedList])).toEqual([
      ["shard1", "shardsvr", "mongo-s1-1", "shard1/10.0.1.43:27018,10.0.1.44:27018,10.0.1.45:27018"],
      ["shard2", "shardsvr", "mongo-s2-1", "shard2/10.0.1.46:27018,10.0.1.47:27018,10.0.1.48:27018"],
    ]);
    expect([configSetOf(c).clusterRole, configSetOf(c).seedList, c.clusterBootstrapHost, c.routers]).toEqual([
      "configsvr",
      "cfg/10.0.1.40:27019,10.0.1.41:27019,10.0.1.42:27019",
      "app-1",
      ["app-1", "app-2", "parser-1", "parser-2"],
    ]);
    expect(c.serviceUrl).toEqual({ host: "127.0.0.1", port: 27017, options: "authSource=admin&w=majority&retryWrites=true" });
  });

  it(
    "GIVEN the seed WHEN the plan is serialized as review/plan.json THEN it shows " +
      "what the bootstrap sends: each set's members, seed list and bootstrap host",
    () => {
      const json = JSON.parse(JSON.stringify(plan)) as Json;
      expect(json["mongo"]["replicaSets"][1]).toEqual({
        name: "shard1",
        kind: "shard",
        clusterRole: "shardsvr",
        port: 27018,
        members: [
          { id: 0, host: "mongo-s1-1", address: "10.0.1.43:27018", priority: 2, votes: 1 },
          { id: 1, host: "mongo-s1-2", address: "10.0.1.44:27018", priority: 1, votes: 1 },
          { id: 2, host: "mongo-s1-3", address: "10.0.1.45:27018", priority: 1, votes: 1 },
        ],
        bootstrapHost: "mongo-s1-1",
        seedList: "shard1/10.0.1.43:27018,10.0.1.44:27018,10.0.1.45:27018",
      });
      expect(json["mongo"]["clusterBootstrapHost"]).toBe("app-1");
    },
  );

  it("GIVEN 3 shards of 5 WHEN planned THEN every set sits alone in its own spread group and _ids stay positional", () => {
    const p = planOf({ roles: { mongo: { shards: 3, membersPerShard: 5 } } });
    expect(shardsOf(p.mongo).map((s) => s.members.map((m) => m.id))).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
    ]);
    for (const rs of p.mongo.replicaSets)
      expect(p.placementGroups.find((g) => g.name === `pg-mongo-${rs.name}`)!.hosts).toEqual(rs.members.map((m) => m.host));
  });
});

describe("mongod.conf and mongos.conf", () => {
  it(
    "GIVEN every mongo host WHEN rendered THEN mongod.conf binds localhost and the private " +
      "IP, names its set and role, the keyFile and the data path, and passes its schema",
    () => {
      for (const h of mongoHosts) {
        const text = file(h.name, "/etc/mongod.conf")!.content;
        expect(mongoConfigProblems("mongod", text), h.name).toEqual([]);
        const conf = parse(text) as Json;
        expect(conf["net"], h.name).toEqual({ port: h.component === "mongo-config" ? 27019 : 27018, bindIp: `127.0.0.1,${h.privateIp}` });
        expect(conf["replication"]).toEqual({ replSetName: h.replicaSet });
        expect(conf["sharding"]).toEqual({ clusterRole: h.component === "mongo-config" ? "configsvr" : "shardsvr" });
        expect(conf["security"]).toEqual({ keyFile: "/etc/bulwark/mongo-keyfile", authorization: "enabled" });
        expect(conf["storage"]).toEqual({ dbPath: "/var/lib/mongodb" });
      }
    },
  );

  it(
    "GIVEN every app and parser host WHEN rendered THEN mongos.conf listens " +
      "on 127.0.0.1:27017 only, points at the config set, and passes its schema",
    () => {
      for (const h of routers) {
        const text = file(h.name, "/etc/mongos.conf")!.content;
        expect(mongoConfigProblems("mongos", text), h.name).toEqual([]);
        expect(parse(text)).toEqual({
          net: { port: 27017, bindIp: "127.0.0.1" },
          processManagement: { timeZoneInfo: "/usr/share/zoneinfo" },
          sharding: { configDB: "cfg/10.0.1.40:27019,10.0.1.41:27019,10.0.1.42:27019" },
          security: { keyFile: "/etc/bulwark/mongo-keyfile" },
        });
      }
    },
  );

  it("GIVEN the other roles WHEN rendered THEN no lb or storage host gets any Mongo file", () => {
    for (const r of rendered.filter((x) => x.host.role === "lb" || x.host.role === "storage")) {
      expect(
        r.files.filter((f) => /mongo/.test(f.path)).map((f) => f.path),
        r.host.name,
      ).toEqual([]);
    }
  });

  it("GIVEN the mongod unit WHEN rendered THEN it runs as mongodb with the config and waits for the private address first", () => {
    const unit = file("mongo-s1-2", "/etc/systemd/system/mongod.service")!.content;
    expect(unit).toContain("User=mongodb\n");
    expect(unit).toContain("ExecStartPre=/usr/local/sbin/bulwark-wait-private-ip\n");
    expect(unit).toContain("ExecStart=/usr/bin/mongod --config /etc/mongod.conf\n");
    expect(byName.get("mongo-s1-2")!.cloudConfig.runcmd.slice(-3)).toEqual([
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "mongod.service"],
      ["systemctl", "restart", "mongod.service"],
    ]);
  });
});

describe("installation from MongoDB's repository", () => {
  it.each([
    ["debian-13", "deb [arch=amd64 signed-by=$KEY_FILE] https://repo.mongodb.org/apt/debian bookworm/mongodb-org/8.0 main"],
    ["debian-12", "deb [arch=amd64 signed-by=$KEY_FILE] https://repo.mongodb.org/apt/debian bookworm/mongodb-org/8.0 main"],
    ["ubuntu-24.04", "deb [arch=amd64,arm64 signed-by=$KEY_FILE] https://repo.mongodb.org/apt/ubuntu noble/mongodb-org/8.0 multiverse"],
  ])(
    "GIVEN image %s WHEN a mongo host is rendered THEN the apt source is %s, with the armoured key kept in the repository (no keyserver)",
    (image, source) => {
      const p = planOf({ image });
      const d = doc(renderHost(p, p.hosts.find((h) => h.name === "mongo-cfg-1")!));
      expect(d["apt"]).toEqual({ sources: { "mongodb-org": { source, key: mongodbSigningKey() } } });
      expect(mongodbSigningKey()).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n[A-Za-z0-9+/=\n]+\n-----END PGP PUBLIC KEY BLOCK-----\n$/);
      expect(MONGODB_KEY_FINGERPRINT).toBe("4B0752C1BCA238C0B4EE14DC41DE058A4E7DCA05");
    },
  );

  it(
    "GIVEN the kept key WHEN its packet is parsed THEN its v4 fingerprint " + "is MongoDB's 8.0 key, and a changed byte or another key is refused",
    () => {
      const block = armouredBlock(readFileSync(MONGODB_KEY_FILE, "utf8"));
      expect(primaryKeyFingerprint(block)).toBe(MONGODB_KEY_FINGERPRINT);
      // One base64 character of the key material changed: the armour's CRC-24 no longer matches.
      const lines = block.split("\n");
      lines[5] = `${lines[5]![0] === "A" ? "B" : "A"}${lines[5]!.slice(1)}`;
      expect(() => primaryKeyFingerprint(lines.join("\n"))).toThrow(/CRC-24/);
      // A v4 key packet built here (old-format header, tag 6): its fingerprint is SHA-1 over 0x99, length and body.
      const body = Buffer.from([4, 0x65, 0xa0, 0x12, 0x1c, 1, 0, 8, 0xc3, 0, 8, 3]);
      const packet = Buffer.concat([Buffer.from([0x99, 0, body.length]), body]);
      const armoured = `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${packet.toString("base64")}\n-----END PGP PUBLIC KEY BLOCK-----\n`;
      expect(primaryKeyFingerprint(armoured)).toBe(createHash("sha1").update(packet).digest("hex").toUpperCase());
      expect(primaryKeyFingerprint(armoured)).not.toBe(MONGODB_KEY_FINGERPRINT);
    },
  );

  it(
    "GIVEN a mongo host WHEN rendered THEN it installs mongodb-org-server " + "and mongosh, held at the pinned version by an apt preferences file",
    () => {
      const r = byName.get("mongo-cfg-2")!;
      expect(r.cloudConfig.packages).toEqual(["openssh-server", "sudo", "nftables", "mongodb-org-server", "mongodb-mongosh"]);
      const pref = file("mongo-cfg-2", "/etc/apt/preferences.d/mongodb-org")!.content;
      expect(pref).toContain(`Package: mongodb-org-server mongodb-org-mongos\nPin: version ${MONGODB_VERSION}\nPin-Priority: 1001\n`);
      expect(MONGODB_VERSION).toMatch(/^8\.0\.\d+$/);
    },
  );

  it("GIVEN a router WHEN rendered THEN runcmd installs mongos, creates the mongodb user, hands it the keyFile, then starts mongos", () => {
    expect(byName.get("parser-1")!.cloudConfig.runcmd.slice(-5)).toEqual([
      ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "--yes", "--no-install-recommends", "mongodb-org-mongos"],
      ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "mongodb"],
      ["chown", "mongodb:mongodb", "/etc/bulwark/mongo-keyfile"],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "mongos.service"],
    ]);
  });
});

describe("secrets", () => {
  it(
    "GIVEN a mongo host WHEN rendered THEN the keyFile is the deploy-time " + "secret, mode 0400, owned by mongodb, written after packages (defer)",
    () => {
      const d = doc(byName.get("mongo-s2-3")!);
      const key = (d["write_files"] as Json[]).find((f) => f["path"] === "/etc/bulwark/mongo-keyfile");
      expect(key).toEqual({
        path: "/etc/bulwark/mongo-keyfile",
        content: "@@deploy:mongo_keyfile@@\n",
        permissions: "0400",
        owner: "mongodb:mongodb",
        defer: true,
      });
      expect((d["write_files"] as Json[]).find((f) => f["path"] === "/etc/mongod.conf")!["defer"]).toBe(true);
    },
  );

  it("GIVEN every rendered file holding a secret marker WHEN listed THEN each is mode 0400 or 0600", () => {
    const holders = rendered.flatMap((r) =>
      r.files.filter((f) => /@@deploy:mongo_/.test(f.content)).map((f) => [r.host.name, f.path, f.permissions]),
    );
    expect(holders.length).toBeGreaterThanOrEqual(18);
    for (const [host, path, mode] of holders) expect(["0400", "0600"], `${host}:${path}`).toContain(mode);
  });

  it("GIVEN the review WHEN secrets are shown THEN only placeholders appear, never a marker", () => {
    const env = showDeployValues(file("app-1", "/etc/bulwark/mongo-bootstrap.env")!.content);
    expect(env).toContain("BULWARK_MONGO_ADMIN_PASSWORD=<secret set at deploy: mongo_admin_password>\n");
    expect(env).toContain("BULWARK_MONGO_APP_PASSWORD=<secret set at deploy: mongo_app_password>\n");
    for (const r of rendered) expect(showDeployValues(r.userData), r.host.name).not.toMatch(/@@deploy:mongo/);
  });

  it("GIVEN the stack WHEN synthesized THEN the keyFile and both passwords are random-provider references in user_data", () => {
    const prepared = prepare({ kind: "seed" });
    const tf = JSON.parse(
      Testing.synth(new BulwarkStack(Testing.app(), prepared.plan.name, { plan: prepared.plan, rendered: prepared.rendered })),
    ) as Json;
    expect(Object.values(tf["resource"]["random_bytes"]).map((b: any) => b.length)).toEqual([756]);
    const passwords = Object.entries(tf["resource"]["random_password"] as Json).filter(([id]) => id.startsWith("DeploySecrets_Mongo"));
    expect(passwords.map(([, p]: [string, any]) => [p.length, p.special])).toEqual([
      [32, false],
      [32, false],
    ]);
    const app1 = Object.values(tf["resource"]["hcloud_server"] as Json).find((s: any) => s.name === "bulwark-app-1") as Json;
    expect(app1["user_data"]).toMatch(
      /BULWARK_MONGO_URL=mongodb:\/\/bulwark-app:\$\{random_password\.DeploySecrets_MongoAppPassword_[0-9A-F]+\.result\}@127\.0\.0\.1:27017/,
    );
    expect(app1["user_data"]).toMatch(/\$\{random_bytes\.DeploySecrets_MongoKeyFile_[0-9A-F]+\.base64\}/);
  });
});

describe("connection string and bootstrap placement", () => {
  it(
    "GIVEN an app or parser host WHEN rendered THEN /etc/bulwark/mongo.env " +
      "points at the local mongos with w=majority and retryWrites=true, mode 0600",
    () => {
      for (const h of routers) {
        const env = file(h.name, "/etc/bulwark/mongo.env")!;
        expect(env.permissions).toBe("0600");
        expect(env.content).toContain(
          "BULWARK_MONGO_URL=mongodb://bulwark-app:@@deploy:mongo_app_password@@@127.0.0.1:27017/bulwark" +
            "?authSource=admin&w=majority&retryWrites=true\n",
        );
      }
    },
  );

  it("GIVEN the seed WHEN rendered THEN the bootstrap is on cfg-1, s1-1, s2-1 and app-1 only, started without blocking cloud-init", () => {
    const withBootstrap = rendered.filter((r) => r.files.some((f) => f.path === "/usr/local/lib/bulwark/mongo-bootstrap.js")).map((r) => r.host.name);
    expect(withBootstrap).toEqual(["app-1", "mongo-cfg-1", "mongo-s1-1", "mongo-s2-1"]);
    for (const name of withBootstrap)
      expect(byName.get(name)!.cloudConfig.runcmd.at(-1)).toEqual(["systemctl", "enable", "--now", "--no-block", "bulwark-mongo-bootstrap.service"]);
  });

  it("GIVEN the bootstrap units WHEN rendered THEN only hosts that need a secret read an env file, and exit 3 is never retried", () => {
    const unit = (h: string) => file(h, "/etc/systemd/system/bulwark-mongo-bootstrap.service")!.content;
    expect(unit("mongo-cfg-1")).not.toContain("EnvironmentFile=");
    expect(file("mongo-cfg-1", "/etc/bulwark/mongo-bootstrap.env")).toBeUndefined();
    expect(unit("mongo-s1-1")).toContain("EnvironmentFile=/etc/bulwark/mongo-bootstrap.env\n");
    expect(unit("app-1")).toContain("Requires=mongos.service\n");
    for (const h of ["mongo-cfg-1", "app-1"]) expect(unit(h)).toContain("RestartPreventExitStatus=3\n");
    expect(file("mongo-s1-1", "/etc/bulwark/mongo-bootstrap.env")!.permissions).toBe("0400");
  });

  it("GIVEN a plan whose Mongo section is edited WHEN rendered THEN the files follow plan.mongo (the renderers recompute nothing)", () => {
    const edited = {
      ...plan,
      mongo: {
        ...plan.mongo,
        clusterBootstrapHost: "parser-2",
        replicaSets: plan.mongo.replicaSets.map((rs) =>
          rs.name === "shard1" ? { ...rs, members: rs.members.map((m) => ({ ...m, priority: m.id === 0 ? 3 : 1 })) } : rs,
        ),
      },
    };
    const filesOf = (name: string) => renderHost(edited, edited.hosts.find((h) => h.name === name)!).files;
    const script = filesOf("mongo-s1-1").find((f) => f.path === "/usr/local/lib/bulwark/mongo-bootstrap.js")!.content;
    expect(script).toContain('"priority": 3');
    expect(filesOf("parser-2").some((f) => f.path === "/usr/local/lib/bulwark/mongo-bootstrap.js")).toBe(true);
    expect(filesOf("app-1").some((f) => f.path === "/usr/local/lib/bulwark/mongo-bootstrap.js")).toBe(false);
  });

  it("GIVEN the seed rendered twice WHEN compared THEN every Mongo file is byte-identical", () => {
    const again = renderAll(planOf());
    expect(again.map((r) => r.userData)).toEqual(rendered.map((r) => r.userData));
  });
});
