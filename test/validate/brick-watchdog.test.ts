/**
 * The rendered brick watchdog run by sh against a scripted `gluster` (first on PATH) and a real
 * process standing in for a stale brick. The script is the rendered one; the test moves only its
 * pidfile into a temp directory and its confirmation sleep to 0 s. What it does not prove: that
 * glusterd 11 brings a brick back on `volume start force` (the rollout lab does).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { renderHost } from "../../render/host.ts";
import { BRICK_WATCHDOG, brickPidFile, STORAGE_SERVER_PATHS } from "../../render/storage-server.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const plan = buildPlan(validateTopology(withInput({})), TEST_PLAN_INPUTS);
const host = plan.hosts.find((h) => h.name === "storage-1")!;
const rendered = renderHost(plan, host);
const file = (path: string) => rendered.files.find((f) => f.path === path)!;
const self = host.privateIp;
const dir = mkdtempSync(join(tmpdir(), "bulwark-watchdog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (address: string, port: string, online: string) => `Brick ${address}:${plan.storage.brickDir}`.padEnd(44) + `${port.padEnd(10)}0          ${online.padEnd(8)}417`;
const status = (port: string, online: string) =>
  ["Status of volume: shared", "Gluster process                             TCP Port  RDMA Port  Online  Pid", "-".repeat(78), line(self, port, online), line("10.0.1.21", "49197", "Y"), line("10.0.1.22", "49212", "Y")].join("\n") + "\n";
const pool = (connected: number) =>
  ["UUID\t\t\t\t\tHostname \tState", ...plan.storage.peers.map((p, i) => `0000000${i}-0000-4000-8000-000000000000\t${p.address === self ? "localhost" : p.address}\t${i < connected ? "Connected" : "Disconnected"}`)].join("\n") + "\n";

function run(): { status: number | null; out: string; calls: string[] } {
  const script = file(STORAGE_SERVER_PATHS.watchdogScript)
    .content.replace(`pidfile="${brickPidFile(plan.storage, self)}"`, `pidfile="${join(dir, "brick.pid")}"`)
    .replaceAll(`sleep ${BRICK_WATCHDOG.confirmS}`, "sleep 0");
  writeFileSync(join(dir, "watchdog"), script, { mode: 0o755 });
  writeFileSync(join(dir, "calls"), "");
  const r = spawnSync("sh", [join(dir, "watchdog")], { encoding: "utf8", timeout: 30_000, env: { ...process.env, PATH: `${dir}:${process.env["PATH"]}` } });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, calls: readFileSync(join(dir, "calls"), "utf8").trim().split("\n").filter(Boolean) };
}

describe("brick watchdog against a scripted gluster", () => {
  beforeEach(() => {
    // The fake: answers from files; `volume start force` records the call and turns the brick's status to `status-after`.
    writeFileSync(
      join(dir, "gluster"),
      `#!/bin/sh
shift
case "$*" in
  "pool list") cat ${dir}/pool ;;
  "volume info shared") printf 'Volume Name: shared\\nStatus: Started\\n' ;;
  "volume status shared") cat ${dir}/status ;;
  "volume start shared force") echo "start force" >> ${dir}/calls; cp ${dir}/status-after ${dir}/status; echo "volume start: shared: success" ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
`,
      { mode: 0o755 },
    );
    rmSync(join(dir, "brick.pid"), { force: true });
    writeFileSync(join(dir, "pool"), pool(3));
    writeFileSync(join(dir, "status-after"), status("49210", "Y"));
  });

  it("GIVEN the brick online with a port WHEN the watchdog runs THEN it does nothing", () => {
    writeFileSync(join(dir, "status"), status("49190", "Y"));
    const r = run();
    expect(r.status, r.out).toBe(0);
    expect(r.calls).toEqual([]);
  });

  it("GIVEN the brick online in name but with no port (a stale process) WHEN the watchdog runs with quorum THEN it ends the process and starts the brick", () => {
    writeFileSync(join(dir, "status"), status("N/A", "Y"));
    // Not this process's child (its parent shell exits at once), as a brick is not the watchdog's.
    const pid = Number(spawnSync("sh", ["-c", "sleep 60 >/dev/null 2>&1 & echo $!"], { encoding: "utf8" }).stdout.trim());
    writeFileSync(join(dir, "brick.pid"), `${pid}\n`);
    const t0 = Date.now();
    const r = run();
    expect(r.status, r.out).toBe(0);
    expect(r.calls).toEqual(["start force"]);
    expect(r.out).toMatch(new RegExp(`its process ${pid} runs: ending it`));
    expect(r.out).toMatch(/is online again/);
    expect(Date.now() - t0, "TERM was enough: no wait for KILL").toBeLessThan(BRICK_WATCHDOG.killWaitS * 1000);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it("GIVEN the brick offline and only this host connected (no quorum) WHEN the watchdog runs THEN it leaves the brick stopped and says why", () => {
    writeFileSync(join(dir, "status"), status("N/A", "N"));
    writeFileSync(join(dir, "pool"), pool(1));
    const r = run();
    expect(r.status, r.out).toBe(0);
    expect(r.calls).toEqual([]);
    expect(r.out).toMatch(/no server quorum \(1 of 3 connected\)/);
  });

  it("GIVEN a brick that stays offline WHEN the watchdog runs THEN it exits 1 so the next run tries again", () => {
    writeFileSync(join(dir, "status"), status("N/A", "N"));
    writeFileSync(join(dir, "status-after"), status("N/A", "N"));
    const r = run();
    expect(r.status).toBe(1);
    expect(r.calls).toEqual(["start force"]);
    expect(existsSync(join(dir, "brick.pid"))).toBe(false);
  });

  it("GIVEN a brick name gluster wraps onto two lines WHEN the brick is online THEN it is read from the next line", () => {
    const wrapped = status("49190", "Y").replace(line(self, "49190", "Y"), `Brick ${self}:${plan.storage.brickDir}\n${"".padEnd(44)}49190     0          Y       417`);
    writeFileSync(join(dir, "status"), wrapped);
    expect(run().calls).toEqual([]);
  });

  it("GIVEN the rendered units THEN the timer runs the service every interval and a rollout enables it", () => {
    expect(file(STORAGE_SERVER_PATHS.watchdogTimer).content).toContain(`OnUnitInactiveSec=${BRICK_WATCHDOG.intervalS}s`);
    expect(file(STORAGE_SERVER_PATHS.watchdogTimer).action).toEqual({ kind: "run", argv: ["systemctl", "enable", "--now", STORAGE_SERVER_PATHS.watchdogTimerUnit] });
    expect(file(STORAGE_SERVER_PATHS.watchdogService).content).toContain(`ExecStart=${STORAGE_SERVER_PATHS.watchdogScript}`);
    expect(file(STORAGE_SERVER_PATHS.glusterdDropin).content).toMatch(/^KillMode=process$/m);
  });
});
