import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SEED_TOPOLOGY } from "../../topology/defaults.ts";
import { loadTopology } from "../../topology/load.ts";
import { MINIMAL, withInput } from "../support/fixtures.ts";

describe("loading a topology", () => {
  it("GIVEN no source WHEN loaded THEN the embedded seed comes back unchanged", () => {
    expect(loadTopology()).toEqual(SEED_TOPOLOGY);
  });

  it("GIVEN only the admin key WHEN loaded THEN every other field takes the seed's default", () => {
    const t = loadTopology({ kind: "object", topology: MINIMAL });
    expect(t.location).toBe("fsn1");
    expect(t.roles.storage).toMatchObject({ count: 3, replica: 3, arbiter: false, volumeSizeGb: 100 });
    expect(t.roles.mongo).toMatchObject({ configServers: 3, shards: 2, membersPerShard: 3 });
    expect(t.admin.sshKeys).toEqual(MINIMAL.admin!.sshKeys);
  });

  it("GIVEN an input object WHEN loaded THEN the caller's object is not modified", () => {
    const input = withInput({ roles: { app: { count: 3 } } });
    const before = JSON.stringify(input);
    loadTopology({ kind: "object", topology: input });
    expect(JSON.stringify(input)).toBe(before);
  });

  it("GIVEN the same topology as YAML and as JSON WHEN loaded THEN both give the same result", () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-load-"));
    const input = withInput({ name: "shop", roles: { app: { count: 4, serverType: "cx43" } } });
    writeFileSync(join(dir, "t.json"), JSON.stringify(input));
    writeFileSync(
      join(dir, "t.yaml"),
      `name: shop\nadmin:\n  sshKeys:\n    - name: ops\n      ` +
        `publicKey: ${MINIMAL.admin!.sshKeys![0]!.publicKey}\nroles:\n  app: { count: 4, serverType: cx43 }\n`,
    );
    const fromJson = loadTopology({ kind: "file", path: join(dir, "t.json") });
    const fromYaml = loadTopology({ kind: "file", path: join(dir, "t.yaml") });
    expect(fromYaml).toEqual(fromJson);
    expect(fromYaml.roles.app.count).toBe(4);
  });
});
