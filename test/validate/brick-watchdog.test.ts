/**
 * The rendered brick watchdog run by sh against a scripted `gluster` (first on PATH) that answers
 * `get-state` only (the commands that take the cluster lock are refused), and a real process
 * standing in for a stale brick. The script is the rendered one; the test moves only its pidfile
 * and state directory into a temp directory and its confirmation sleep to 0 s. What it does not prove: that
 * glusterd 11 brings a brick back on `volume start force` (the rollout lab does).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

/** glusterd's local state as `gluster get-state` writes it: this brick's status, port and registration, and the peers. */
const state = (brickStatus: string, port: string, registered: string, connected = 2) =>
  `${[
    "[Global]",
    ...plan.storage.peers
      .filter((p) => p.address !== self)
      .map((p, i) => `Peer${i + 1}.primary_hostname: ${p.address}\nPeer${i + 1}.connected: ${i < connected ? "Connected" : "Disconnected"}`),
    "Volume1.name: shared",
    "Volume1.status: Started",
    ...plan.storage.peers.map((p, i) =>
      [
        `Volume1.Brick${i + 1}.path: ${p.address}:${plan.storage.brickDir}`,
        `Volume1.Brick${i + 1}.hostname: ${p.address}`,
        ...(p.address === self
          ? [
              `Volume1.Brick${i + 1}.port: ${port}`,
              `Volume1.Brick${i + 1}.port_registered: ${registered}`,
              `Volume1.Brick${i + 1}.status: ${brickStatus}`,
            ]
          : []),
      ].join("\n"),
    ),
  ].join("\n")}\n`;

function run(): { status: number | null; out: string; calls: string[] } {
  const script = file(STORAGE_SERVER_PATHS.watchdogScript)
    .content.replace(`pidfile="${brickPidFile(plan.storage, self)}"`, `pidfile="${join(dir, "brick.pid")}"`)
    .replace(`state_dir="/run/gluster"`, `state_dir="${join(dir, "run")}"`)
    .replaceAll(`sleep ${BRICK_WATCHDOG.confirmS}`, "sleep 0");
  writeFileSync(join(dir, "watchdog"), script, { mode: 0o755 });
  writeFileSync(join(dir, "calls"), "");
  const r = spawnSync("sh", [join(dir, "watchdog")], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, PATH: `${dir}:${process.env["PATH"]}` },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, calls: readFileSync(join(dir, "calls"), "utf8").trim().split("\n").filter(Boolean) };
}

describe("brick watchdog against a scripted gluster", () => {
  beforeEach(() => {
    // The fake: answers from files; `volume start force` records the call and turns the brick's status to `status-after`.
    // The fake: get-state copies `state` to the file asked for; `volume start force` records the
    // call and turns the state into `state-after`. Any command that takes the cluster lock (volume
    // status, pool list) is refused: the watchdog must not use them.
    writeFileSync(
      join(dir, "gluster"),
      `#!/bin/sh
shift
case "$*" in
  "get-state glusterd odir "*) set -- $*; cp ${dir}/state "$4/$6" ;;
  "volume start shared force") echo "start force" >> ${dir}/calls; cp ${dir}/state-after ${dir}/state; echo "volume start: shared: success" ;;
  *) echo "unexpected: $*" >&2; echo "unexpected: $*" >> ${dir}/calls; exit 9 ;;
esac
`,
      { mode: 0o755 },
    );
    mkdirSync(join(dir, "run"), { recursive: true });
    rmSync(join(dir, "brick.pid"), { force: true });
    writeFileSync(join(dir, "state-after"), state("Started", "49210", "1"));
  });

  it("GIVEN the brick online with a port WHEN the watchdog runs THEN it does nothing", () => {
    writeFileSync(join(dir, "state"), state("Started", "49190", "1"));
    const r = run();
    expect(r.status, r.out).toBe(0);
    expect(r.calls).toEqual([]);
  });

  it(
    "GIVEN the brick online in name but with no port (a stale process) WHEN " +
      "the watchdog runs with quorum THEN it ends the process and starts the brick",
    () => {
      writeFileSync(join(dir, "state"), state("Started", "0", "0"));
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
    },
  );

  it("GIVEN the brick offline and only this host connected (no quorum) WHEN the watchdog runs THEN it leaves the brick stopped and says why", () => {
    writeFileSync(join(dir, "state"), state("Stopped", "0", "0", 0));
    const r = run();
    expect(r.status, r.out).toBe(0);
    expect(r.calls).toEqual([]);
    expect(r.out).toMatch(/no majority of the pool \(1 of 3 connected\)/);
  });

  it("GIVEN a brick that stays offline WHEN the watchdog runs THEN it exits 1 so the next run tries again", () => {
    writeFileSync(join(dir, "state"), state("Stopped", "0", "0"));
    writeFileSync(join(dir, "state-after"), state("Stopped", "0", "0"));
    const r = run();
    expect(r.status).toBe(1);
    expect(r.calls).toEqual(["start force"]);
    expect(existsSync(join(dir, "brick.pid"))).toBe(false);
  });

  it("GIVEN glusterd not answering WHEN the watchdog runs THEN it does nothing and says so", () => {
    writeFileSync(join(dir, "gluster"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const r = run();
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/glusterd does not answer: nothing to do/);
  });

  it("GIVEN the rendered units THEN the timer runs the service every interval and a rollout enables it", () => {
    expect(file(STORAGE_SERVER_PATHS.watchdogTimer).content).toContain(`OnUnitInactiveSec=${BRICK_WATCHDOG.intervalS}s`);
    expect(file(STORAGE_SERVER_PATHS.watchdogTimer).action).toEqual({
      kind: "run",
      argv: ["systemctl", "enable", "--now", STORAGE_SERVER_PATHS.watchdogTimerUnit],
    });
    expect(file(STORAGE_SERVER_PATHS.watchdogService).content).toContain(`ExecStart=${STORAGE_SERVER_PATHS.watchdogScript}`);
    expect(file(STORAGE_SERVER_PATHS.glusterdDropin).content).toMatch(/^KillMode=process$/m);
  });
});
