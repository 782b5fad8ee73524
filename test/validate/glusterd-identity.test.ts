/**
 * The rendered glusterd identity script (ExecStartPre of glusterd on every storage host) run with
 * sh against a directory standing in for /var/lib/glusterd and the brick: the script is the
 * rendered one with only its paths moved into a temp directory. What it does not prove: that
 * glusterd accepts the records it writes (the rollout lab's replace scenario runs real glusterd).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { deployMarker } from "../../render/deploy-values.ts";
import { renderHost } from "../../render/host.ts";
import { STORAGE_SERVER_PATHS } from "../../render/storage-server.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const plan = buildPlan(validateTopology(withInput({})), TEST_PLAN_INPUTS);
const storage2 = renderHost(plan, plan.hosts.find((h) => h.name === "storage-2")!);
const file = (path: string) => storage2.files.find((f) => f.path === path)!;
const UUIDS = ["11111111-2222-4333-8444-555555555501", "11111111-2222-4333-8444-555555555502", "11111111-2222-4333-8444-555555555503"];
const poolLine = plan.storage.peers.map((p, i) => `${p.address}=${UUIDS[i]}`).join(" ");
const self = plan.storage.peers[1]!.address;

const root = mkdtempSync(join(tmpdir(), "bulwark-glusterd-identity-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const gd = join(root, "glusterd");
const brick = join(root, "brick");
const pool = join(root, "pool");

function run(): { status: number | null; out: string } {
  const P = STORAGE_SERVER_PATHS;
  const script = file(P.identityScript)
    .content.replace(`glusterd_dir="${P.glusterdDir}"`, `glusterd_dir="${gd}"`)
    .replace(`pool_file="${P.poolFile}"`, `pool_file="${pool}"`)
    .replace(`brick_dir="${plan.storage.brickDir}"`, `brick_dir="${brick}"`);
  writeFileSync(join(root, "identity.sh"), script, { mode: 0o755 });
  // A scripted glusterfs (first on PATH) for the installed version.
  writeFileSync(join(root, "glusterfs"), "#!/bin/sh\necho 'glusterfs 11.1'\necho 'Repository revision: git://git.gluster.org/glusterfs.git'\n", {
    mode: 0o755,
  });
  const r = spawnSync("sh", [join(root, "identity.sh")], {
    encoding: "utf8",
    timeout: 10_000,
    env: { ...process.env, PATH: `${root}:${process.env["PATH"]}` },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
const info = () => readFileSync(join(gd, "glusterd.info"), "utf8");

describe("glusterd identity", () => {
  beforeEach(() => {
    rmSync(gd, { recursive: true, force: true });
    rmSync(brick, { recursive: true, force: true });
    mkdirSync(gd);
    mkdirSync(brick);
    writeFileSync(pool, `${poolLine}\n`);
  });

  it("GIVEN the rendered files THEN the pool file holds the deploy marker and the drop-in runs the script first", () => {
    expect(file(STORAGE_SERVER_PATHS.poolFile).content).toBe(`${deployMarker("glusterdPoolUuids")}\n`);
    expect(file(STORAGE_SERVER_PATHS.glusterdDropin).content).toContain(`ExecStartPre=${STORAGE_SERVER_PATHS.identityScript}`);
    expect(file(STORAGE_SERVER_PATHS.identityScript).action.kind).toBe("none");
  });

  it(
    "GIVEN a glusterd that never ran WHEN the script runs THEN it takes this host's " +
      "planned UUID and the installed glusterd's highest op-version, and writes no peer",
    () => {
      const r = run();
      expect(r.status, r.out).toBe(0);
      // With the installed glusterd's highest op-version: without it glusterd ran at 31002.
      expect(info()).toBe(`UUID=${UUIDS[1]}\noperating-version=110000\n`);
      expect(existsSync(join(gd, "peers"))).toBe(false);
    },
  );

  it("GIVEN a fresh glusterd with a random UUID and an op-version WHEN the script runs THEN the UUID is replaced and the rest kept", () => {
    writeFileSync(join(gd, "glusterd.info"), "UUID=deadbeef-0000-4000-8000-000000000000\noperating-version=110000\n");
    expect(run().status).toBe(0);
    expect(info()).toBe(`UUID=${UUIDS[1]}\noperating-version=110000\n`);
  });

  it("GIVEN a glusterd in a pool with another UUID WHEN the script runs THEN nothing changes and it says why", () => {
    writeFileSync(join(gd, "glusterd.info"), "UUID=deadbeef-0000-4000-8000-000000000000\n");
    mkdirSync(join(gd, "peers"));
    writeFileSync(join(gd, "peers", "x"), "uuid=x\n");
    const r = run();
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/in a pool already: left as it is/);
    expect(info()).toBe("UUID=deadbeef-0000-4000-8000-000000000000\n");
  });

  it(
    "GIVEN a replaced server (empty glusterd, kept brick) WHEN the script runs " +
      "THEN it writes its UUID and a 'Peer in Cluster' record per other server",
    () => {
      mkdirSync(join(brick, ".glusterfs"));
      const r = run();
      expect(r.status, r.out).toBe(0);
      expect(r.out).toMatch(/rejoining the pool/);
      expect(info()).toBe(`UUID=${UUIDS[1]}\noperating-version=110000\n`);
      expect(readdirSync(join(gd, "peers")).sort()).toEqual([UUIDS[0], UUIDS[2]]);
      expect(readFileSync(join(gd, "peers", UUIDS[0]!), "utf8")).toBe(`uuid=${UUIDS[0]}\nstate=3\nhostname1=${plan.storage.peers[0]!.address}\n`);
    },
  );

  it("GIVEN a pool file without this host WHEN the script runs THEN glusterd keeps its identity and still starts", () => {
    writeFileSync(pool, `10.9.9.9=${UUIDS[0]}\n`);
    const r = run();
    expect(r.status).toBe(0);
    expect(r.out).toContain(`no UUID for ${self}`);
    expect(existsSync(join(gd, "glusterd.info"))).toBe(false);
  });
});
