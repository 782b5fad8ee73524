/**
 * Validate tier, Mongo: every mongod.conf and mongos.conf in the review bundles of the seed and
 * of a variant (Ubuntu 24.04, 3 shards of 5) is parsed as YAML and checked against its JSON
 * Schema; every bootstrap script passes `node --check` (mongosh runs the same JavaScript
 * syntax); the variant's user-data passes `cloud-init schema`. Each check is first shown a
 * broken input, so a check that cannot fail would be caught. mongod and mongosh themselves
 * cannot run here (docs/facts.md#the-build-and-test-machines): these are the checks that can.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mongoConfigProblems } from "../../render/mongo-schema.ts";
import { synthesize } from "../../synth/pipeline.ts";
import { listFiles } from "../support/files.ts";
import { withInput } from "../support/fixtures.ts";
import { haveTool } from "../support/tools.ts";

const tmp = mkdtempSync(join(tmpdir(), "bulwark-mongo-validate-"));
synthesize({ kind: "seed" }, join(tmp, "seed-out"), join(tmp, "seed"));
synthesize(
  { kind: "object", topology: withInput({ name: "mongovariant", image: "ubuntu-24.04", roles: { mongo: { shards: 3, membersPerShard: 5 } } }) },
  join(tmp, "variant-out"),
  join(tmp, "variant"),
);
const all = [...listFiles(join(tmp, "seed")), ...listFiles(join(tmp, "variant"))];
const rel = (f: string) => f.slice(tmp.length + 1);
const mongod = all.filter((f) => f.endsWith("/etc/mongod.conf"));
const mongos = all.filter((f) => f.endsWith("/etc/mongos.conf"));
const scripts = all.filter((f) => f.endsWith("/mongo-bootstrap.js"));

describe("Mongo configs found", () => {
  it(
    "GIVEN the seed (9 mongo, 4 routers) and the variant (18 mongo, 4 routers) " +
      "WHEN listed THEN every host has its config and each set one bootstrap",
    () => {
      expect([mongod.length, mongos.length]).toEqual([9 + 18, 4 + 4]);
      expect(scripts.length).toBe(3 + 1 + 4 + 1);
    },
  );
});

describe("Mongo configs against their schemas", () => {
  it("GIVEN a mongod.conf with a misspelt option WHEN checked THEN it is refused", () => {
    const broken = readFileSync(mongod[0]!, "utf8").replace("replSetName", "replSet");
    expect(mongoConfigProblems("mongod", broken)).toContain("/replication: must have required property 'replSetName'");
  });

  it.each(mongod.map((f) => [rel(f), f]))("GIVEN %s WHEN parsed and checked THEN it passes mongo-schema/mongod.schema.json", (_name, f) => {
    expect(mongoConfigProblems("mongod", readFileSync(f, "utf8"))).toEqual([]);
  });

  it.each(mongos.map((f) => [rel(f), f]))("GIVEN %s WHEN parsed and checked THEN it passes mongo-schema/mongos.schema.json", (_name, f) => {
    expect(mongoConfigProblems("mongos", readFileSync(f, "utf8"))).toEqual([]);
  });
});

describe("bootstrap scripts", () => {
  const check = (f: string) => spawnSync(process.execPath, ["--check", f], { encoding: "utf8", timeout: 30_000 });

  it("GIVEN a script with a syntax error WHEN checked with node --check THEN node refuses it", () => {
    const bad = join(tmp, "bad.js");
    writeFileSync(bad, "function (\n");
    expect(check(bad).status).not.toBe(0);
  });

  it.each(scripts.map((f) => [rel(f), f]))("GIVEN %s WHEN checked with node --check THEN it parses, with no template left in it", (_name, f) => {
    const r = check(f);
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
    expect(readFileSync(f, "utf8")).not.toMatch(/\{\{|@@deploy/);
  });
});

describe.runIf(haveTool("cloud-init", "cloud-init"))("cloud-init schema of the Mongo variant", () => {
  const userData = all.filter((f) => f.includes("/variant/") && /\/(mongo-cfg-1|mongo-s3-5|app-1|parser-2)\/user-data\.yaml$/.test(f));

  it.each(userData.map((f) => [rel(f), f]))(
    "GIVEN %s WHEN checked THEN it is valid cloud-config (apt source with the kept key, deferred files)",
    (_name, f) => {
      const r = spawnSync("cloud-init", ["schema", "--config-file", f], { encoding: "utf8", timeout: 60_000 });
      expect(`${r.stdout}${r.stderr}`).toContain("Valid cloud-config");
      expect(r.status).toBe(0);
    },
  );

  it("GIVEN the variant WHEN listed THEN four user-data files were checked", () => {
    expect(userData).toHaveLength(4);
  });
});
