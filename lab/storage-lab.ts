/**
 * The storage lab: the seed's 3 storage hosts and 2 clients (the first app and the first parser
 * host), each a systemd-nspawn container booted from its rendered user-data in its own network
 * namespace on one private bridge (the plan's 10.0.1.0/24). cloud-init runs the storage layer as
 * on Hetzner: glusterd on every server, the bootstrap on storage-1, the clients' mount from the
 * kept volume file. Then the storage scenarios (the README's storage lab table), with both
 * clients writing and reading checksummed files throughout:
 *
 *   a. SIGKILL one brick process: the longest I/O stall a client sees.
 *   b. Cut one server's link (no goodbye): the same.
 *   c. Mount from a client while the first volfile server is cut off: the time to mount.
 *   d. Partition one server and heal it, N times, while writing: split-brain entries, heal,
 *      every file's checksum.
 *   e. Rerun the bootstrap on the built cluster: nothing may change.
 *
 * With `services` the second parser host boots as a third client, the services install from the
 * run's artifact server, and the services scenarios run on the volume afterwards
 * (f1 install and sandbox, f2 two parsers on one spool, f3 kill -9: lab/services-scenario.ts).
 *
 *   private bridge ── storage-1 (10.0.1.20), storage-2, storage-3: glusterd, a brick each
 *                  ├─ app-1 (10.0.1.100), parser-1 (10.0.1.175): FUSE mount on /srv/shared
 *                  ├─ parser-2 (10.0.1.176), with `services`: FUSE mount, parser
 *                  └─ artifacts (10.0.1.250:8000), with `services`: dist/services over http
 *
 * The storage lab's overrides, all of them (the general ones are in lab/overrides.ts: deploy
 * values, no package installation, the image):
 * 1. The brick: a directory of this run on the machine, bound at the brick mount point, in place
 *    of the Hetzner volume (bulwark-brick-prepare sees a mounted brick and leaves it alone).
 * 2. /dev/fuse is bound into the client containers (a Hetzner server has it).
 */
import { round, spread } from "../measure/stats.ts";
import { cmdSync } from "../synth/cmd.ts";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PlannedHost } from "../plan/model.ts";
import { renderAll } from "../render/host.ts";
import { mountUnitName } from "../render/storage-client.ts";
import { STORAGE_SERVER_PATHS } from "../render/storage-server.ts";
import { prepare } from "../synth/pipeline.ts";
import { LabNetwork, type Link } from "./net.ts";
import { LabHost } from "./nspawn.ts";
import { labOverrides, labPlan, labServicesPlan, labUserData } from "./overrides.ts";
import { labArtifactBaseUrl, runServicesScenario, startArtifactServer, type ServicesReport } from "./services-scenario.ts";
import { ensureRootfs, imagePackages } from "./rootfs.ts";
import { sleep, type LabRun } from "./run.ts";
import { bricksOnline, healEntries, splitBrainEntries } from "./gluster.ts";
import { checkWrites, longestStall, mountChecksums, startWriter, stopWriters, writtenFiles, type Writer } from "./storage-writer.ts";

/** MongoDB's packages come from MongoDB's repository, not Debian's; the lab image goes without. */
const NOT_IN_DEBIAN = ["mongodb-org-server", "mongodb-mongosh", "mongodb-org-mongos"];

/** The acceptance counts: every scenario 5 times, 20 partitions. */
export const ACCEPTANCE_COUNTS = { runs: 5, partitions: 20 } as const;

/** The storage scenarios' acceptance requirements, checked against the report. */
export const STORAGE_REQUIREMENTS = { brick_kill_max_stall_s: 0.5, host_loss_max_stall_s: 10, mount_first_down_s: 5 } as const;

export interface StorageLabOptions {
  readonly runs: number;
  readonly partitions: number;
  /** Also time one mount with backup-volfile-servers while the first server is cut (about a minute). */
  readonly baseline: boolean;
  /**
   * Also boot the second parser host, install the services from the run's artifact server and
   * play the services scenarios on the volume (lab/services-scenario.ts; about 3 minutes).
   */
  readonly services: boolean;
}

/** Writer: a write and a read-back every 50 ms, files of 1 to 16 KiB (a 15-minute run writes ~35k files). */
const WRITER_PERIOD_S = 0.05;
const WRITER_BYTES = { min: 1024, max: 16384 } as const;
const WRITER_MAX_S = 3 * 3600;
const WRITER_MAX_OPS = 1_000_000;
const WRITER_STOP_FILE = "/run/bulwark-lab-writer.stop";
const PROBE_MOUNT = "/run/bulwark-lab-probe";
/** How long a healthy cluster is watched for false disconnects under load, at least. */
const BASELINE_S = 20;
/** The extra load of the baseline: each client streams this many MiB to the volume. */
const LOAD_MB = 512;
/** How long after a brick kill the clients are watched. */
const BRICK_KILL_WINDOW_S = 4;
/** While heal entries remain, the lab asks for a heal again this often. */
const HEAL_RETRIGGER_S = 10;
/** How long a partition lasts: longer than the ping-timeout, so the clients do disconnect. */
const PARTITION_S = 8;

const now = () => Number(process.hrtime.bigint()) / 1e9;
const median = (xs: readonly number[]) => spread(xs).median;
const round3 = (x: number) => round(x);
/** A scenario's stalls: the longest, the median and the shortest, how many, and each. */
const stallStats = (xs: readonly number[]) => ({
  max_stall_s: round3(Math.max(...xs)),
  median_stall_s: round3(median(xs)),
  min_stall_s: round3(Math.min(...xs)),
  runs: xs.length,
  stalls_s: xs.map(round3),
});
const stats = (xs: readonly number[]) => {
  const s = spread(xs);
  return { median: round(s.median), min: round(s.min), max: round(s.max) };
};

interface Node {
  readonly planned: PlannedHost;
  readonly ns: string;
  readonly link: Link;
  readonly userData: string;
  host?: LabHost;
}

export async function runStorageLab(run: LabRun, options: StorageLabOptions) {
  const started = Date.now();
  const overrides = labOverrides();
  const basePlan = labPlan(prepare({ kind: "seed" }).plan, overrides);
  const plan = options.services ? labServicesPlan(basePlan, labArtifactBaseUrl(basePlan)) : basePlan;
  const rendered = renderAll(plan);
  const storage = plan.storage;
  const byName = new Map(plan.hosts.map((h) => [h.name, h]));
  const servers = storage.servers.map((n) => byName.get(n)!);
  // The storage scenarios' clients (writers, load, mounts); the services scenarios add the second parser host.
  const clients = [plan.hosts.find((h) => h.role === "app")!, plan.hosts.find((h) => h.role === "parser")!];
  const parsers = plan.hosts.filter((h) => h.role === "parser").slice(0, 2);
  const extraClients = options.services ? parsers.filter((p) => !clients.includes(p)) : [];
  const mounting = [...clients, ...extraClients];
  const clientRendered = rendered.find((r) => r.host.name === clients[0]!.name)!;
  const mountUnit = clientRendered.files.find((f) => f.path === `/etc/systemd/system/${mountUnitName(storage.client.mountPoint)}`)!.content;
  const unitValue = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(mountUnit)![1]!;
  const mountConfig = { what: unitValue("What"), type: unitValue("Type"), options: unitValue("Options") };

  const root = await ensureRootfs(run, imagePackages(["storage", "app", "parser"], NOT_IN_DEBIAN));
  const net = await LabNetwork.create(run);
  if (options.services) await startArtifactServer(run, net, plan);
  const brickRoot = mkdtempSync(join(tmpdir(), `${run.prefix}-bricks-`));
  run.defer(`brick directories ${brickRoot}`, () => rmSync(brickRoot, { recursive: true, force: true }));

  run.log(`network: ${servers.length} storage hosts and ${mounting.length} clients on the private subnet ${plan.network.subnet}`);
  const nodes = new Map<string, Node>();
  for (const h of [...servers, ...mounting]) {
    const ns = await net.addNamespace(`${run.prefix}-${h.name}`);
    const link = await net.connect(ns, "private", "eth1", `${h.privateIp}/${plan.network.subnet.split("/")[1]}`);
    const r = rendered.find((x) => x.host.name === h.name)!;
    nodes.set(h.name, { planned: h, ns, link, userData: labUserData(r, overrides) });
  }
  const node = (name: string) => nodes.get(name)!;
  const host = (name: string) => node(name).host!;

  // Boot all at once: the clients' mount and the bootstrap must cope with any order.
  const bootStart = now();
  run.log(`boot: ${nodes.size} hosts from their rendered user-data`);
  await Promise.all(
    [...nodes.values()].map(async (n) => {
      const isServer = n.planned.role === "storage";
      const binds: string[] = [];
      if (isServer) {
        const dir = join(brickRoot, n.planned.name);
        mkdirSync(dir);
        binds.push(`${dir}:${storage.brickMountPoint}`);
      } else {
        binds.push("/dev/fuse");
      }
      n.host = await LabHost.boot(run, { name: n.planned.name, ns: n.ns, root, userData: n.userData, binds });
    }),
  );
  const cloudInit: Record<string, { status: string; s: number }> = {};
  await Promise.all(
    [...nodes.values()].map(async (n) => {
      await n.host!.waitForCloudInit(240_000);
      // result.json lists what failed (`cloud-init status` exits non-zero when degraded).
      const result = JSON.parse(n.host!.read("/var/lib/cloud/data/result.json") ?? "{}") as { v1?: { errors?: string[] } };
      const errors = result.v1?.errors ?? [];
      cloudInit[n.planned.name] = { status: errors.length === 0 ? "done" : `done with errors: ${errors.join("; ")}`, s: round3(now() - bootStart) };
      run.log(`boot: ${n.planned.name} cloud-init finished after ${cloudInit[n.planned.name]!.s} s (${cloudInit[n.planned.name]!.status})`);
    }),
  );

  const bootstrapHost = host(storage.bootstrap.host);
  const gl = (on: LabHost, args: readonly string[], timeoutMs = 60_000) => on.exec("gluster", ["--mode=script", ...args], { timeoutMs });
  const glOk = (on: LabHost, args: readonly string[], timeoutMs = 60_000) =>
    on.exec("gluster", ["--mode=script", ...args], { timeoutMs, allowFail: true });

  const unitState = (on: LabHost, unit: string) =>
    on.unitProperties(unit, ["ActiveState", "Result", "ExecMainStatus", "ExecMainExitTimestampMonotonic", "InvocationID"]);
  // journald may write a unit's last line a moment after the unit finished: wait for it (bounded).
  const bootstrapLog = (what: string, invocation: string) =>
    run
      .waitFor(
        what,
        async () => {
          const text = await journal(bootstrapHost, invocation);
          return /^changed=/m.test(text) ? text : undefined;
        },
        20_000,
        250,
      )
      .catch(() => "");
  const first = await run.waitFor(
    "the first bootstrap run to succeed",
    async () => {
      const s = await unitState(bootstrapHost, STORAGE_SERVER_PATHS.bootstrapUnit);
      return s["ExecMainExitTimestampMonotonic"] !== "0" && s["ActiveState"] !== "activating" && s["Result"] === "success" ? s : undefined;
    },
    600_000,
    500,
  );
  const firstLog = await bootstrapLog("the first bootstrap's last line in the journal", first["InvocationID"]!);
  // The containers share the machine's CLOCK_MONOTONIC: systemd's monotonic stamps are comparable.
  const volumeReadyS = round3(Number(first["ExecMainExitTimestampMonotonic"]) / 1e6 - bootStart);
  run.log(`bootstrap: volume ${storage.volume} created and started ${volumeReadyS} s after boot; ${lastLine(firstLog, /^changed=/)}`);

  const mountedAt: Record<string, number> = {};
  await Promise.all(
    mounting.map(async (c) => {
      await run.waitFor(
        `${c.name}: ${storage.client.mountPoint} mounted`,
        async () =>
          (await host(c.name).exec("findmnt", ["-n", "-o", "FSTYPE", storage.client.mountPoint], { allowFail: true })).trim() === "fuse.glusterfs"
            ? true
            : undefined,
        300_000,
        500,
      );
      const entered = (
        await host(c.name).exec("systemctl", ["show", "-p", "ActiveEnterTimestampMonotonic", "--value", mountUnitName(storage.client.mountPoint)])
      ).trim();
      mountedAt[c.name] = round3(Number(entered) / 1e6 - bootStart);
      run.log(`boot: ${c.name} mounted ${storage.client.mountPoint} (bulwark-storage-mount.service) ${mountedAt[c.name]} s after boot`);
    }),
  );

  // The kept volume file against the one glusterd generated for the volume it built.
  const generated = bootstrapHost.read(`/var/lib/glusterd/vols/${storage.volume}/${storage.volume}.tcp-fuse.vol`) ?? "";
  const kept = clientRendered.files.find((f) => f.path === storage.client.volfile)!.content;
  const volfileDiffs = compareVolfiles(parseVolfile(kept), parseVolfile(generated));
  run.log(
    `volfile: kept volume file ${volfileDiffs.length === 0 ? "matches" : "DIFFERS from"} ` +
      `glusterd's ${storage.volume}.tcp-fuse.vol${volfileDiffs.length ? `: ${volfileDiffs.join("; ")}` : ""}`,
  );

  const volumeStatus = await gl(bootstrapHost, ["volume", "status", storage.volume]);
  const brickPorts = [...volumeStatus.matchAll(/^Brick \S+\s+(\d+)\s+\d+\s+Y/gm)].map((m) => Number(m[1]));
  run.log(`bricks: ports ${brickPorts.join(", ")} (firewall range ${storage.brickPorts.first}-${storage.brickPorts.last})`);

  // Writers on both clients, for the whole run.
  const writers: Writer[] = clients.map((c) =>
    startWriter(run, host(c.name), c.name, storage.client.mountPoint, {
      periodS: WRITER_PERIOD_S,
      maxS: WRITER_MAX_S,
      maxOps: WRITER_MAX_OPS,
      stopFile: WRITER_STOP_FILE,
      bytes: WRITER_BYTES,
    }),
  );
  const allRecords = () => writers.flatMap((w) => w.records);
  const stallOf = (from: number, to: number) => Math.max(...writers.map((w) => longestStall(w.records, from, to)));
  const errorsIn = (from: number, to: number) => allRecords().filter((r) => r.kind === "E" && r.t1 >= from && r.t1 <= to).length;
  await run.waitFor(
    "both writers to complete a write",
    () => (writers.every((w) => w.records.some((r) => r.kind === "W")) ? true : undefined),
    30_000,
    100,
  );

  const cli = (except?: string) => host(servers.find((s) => s.name !== except)!.name);
  const disconnects = (c: string) =>
    (host(c).read(`/var/log/glusterfs/${storage.client.mountPoint.slice(1).replace(/\//g, "-")}.log`) ?? "")
      .split("\n")
      .filter((l) => /disconnected from/.test(l)).length;
  const onlineBricks = async (on: LabHost) => bricksOnline(await glOk(on, ["volume", "status", storage.volume, "detail"]));
  const healInfo = async (on: LabHost) => {
    const h = healEntries(await glOk(on, ["volume", "heal", storage.volume, "info"], 120_000));
    return { connected: h.connected, entries: h.entries, complete: h.connected === servers.length && h.bricks === servers.length };
  };
  /** After a fault is undone: every brick back online, then the heal done (bounded). */
  const recover = async (what: string): Promise<number> => {
    const t0 = now();
    const on = cli();
    await run.waitFor(`${what}: every brick online`, async () => ((await onlineBricks(on)) === servers.length ? true : undefined), 120_000, 500);
    // The self-heal daemons start an index heal when they see a brick come back; the lab also
    // asks for one (`volume heal`), again every HEAL_RETRIGGER_S while entries remain, since a
    // request made while a daemon is still reconnecting is refused. Progress is logged.
    let lastTrigger = 0;
    let lastLog = now();
    await run.waitFor(
      `${what}: heal to finish`,
      async () => {
        if (now() - lastTrigger >= HEAL_RETRIGGER_S) {
          const answer = await glOk(on, ["volume", "heal", storage.volume]);
          healTriggers.push(/successful/.test(answer));
          lastTrigger = now();
        }
        const h = await healInfo(on);
        if (h.complete && h.entries === 0) return true;
        if (now() - lastLog >= 15) {
          run.log(`${what}: heal pending: ${h.entries} entries, ${h.connected}/${servers.length} bricks connected`);
          lastLog = now();
        }
        return undefined;
      },
      300_000,
      1000,
    );
    return now() - t0;
  };
  const healTriggers: boolean[] = [];

  // Baseline: a healthy cluster under load: the writers, plus each client streaming a large file
  // (fsynced) at the same time. Disconnects counted here are false ones: every server is up.
  run.log(`baseline: every server up; each client streams ${LOAD_MB} MiB while the writers run (at least ${BASELINE_S} s)`);
  const disconnectsBefore = clients.map((c) => disconnects(c.name));
  const b0 = now();
  const loadTimes = await Promise.all([
    sleep(BASELINE_S * 1000).then(() => 0),
    ...clients.map(async (c) => {
      const t0 = now();
      await host(c.name).exec(
        "dd",
        ["if=/dev/zero", `of=${storage.client.mountPoint}/load-${c.name}`, "bs=1M", `count=${LOAD_MB}`, "conv=fsync", "status=none"],
        { timeoutMs: 300_000 },
      );
      return now() - t0;
    }),
  ]);
  const b1 = now();
  await Promise.all(clients.map((c) => host(c.name).exec("rm", ["-f", `${storage.client.mountPoint}/load-${c.name}`])));
  const baseline = {
    window_s: round3(b1 - b0),
    load: `${LOAD_MB} MiB streamed by each client with dd conv=fsync, concurrently with the writers`,
    load_mib_per_s: clients.map((c, i) => `${c.name} ${round3(LOAD_MB / loadTimes[i + 1]!)}`),
    max_stall_s: round3(stallOf(b0, b1)),
    false_disconnects: clients.reduce((sum, c, i) => sum + disconnects(c.name) - disconnectsBefore[i]!, 0),
    write_errors: errorsIn(b0, b1),
    operations: allRecords().filter((r) => r.kind !== "E" && r.t1 >= b0 && r.t1 <= b1).length,
  };
  run.log(
    `baseline: ${baseline.window_s} s, longest stall ${baseline.max_stall_s} s, ${baseline.false_disconnects} disconnects, ` +
      `${baseline.operations} operations; load ${baseline.load_mib_per_s.join(", ")} MiB/s`,
  );

  // a. Brick kill.
  const brickKill: number[] = [];
  let brickKillErrors = 0;
  for (let i = 0; i < options.runs; i++) {
    const s = servers[i % servers.length]!;
    const xml = await gl(host(s.name), ["volume", "status", storage.volume, `${s.privateIp}:${storage.brickDir}`, "--xml"]);
    const pid = /<pid>(\d+)<\/pid>/.exec(xml)?.[1];
    if (!pid || pid === "-1") throw new Error(`lab:storage: no brick pid on ${s.name}`);
    const t0 = now();
    await host(s.name).exec("kill", ["-KILL", pid]);
    await sleep(BRICK_KILL_WINDOW_S * 1000);
    const t1 = now();
    brickKill.push(stallOf(t0, t1));
    brickKillErrors += errorsIn(t0, t1);
    await gl(cli(), ["volume", "start", storage.volume, "force"]);
    const healS = await recover(`brick kill ${i + 1}`);
    run.log(
      `a. brick kill ${i + 1}/${options.runs} on ${s.name} (pid ${pid}): longest stall ${round3(brickKill[i]!)} s; healed in ${round3(healS)} s`,
    );
  }

  // b. Host loss: the link cut at the switch, no goodbye.
  const hostLoss: number[] = [];
  let hostLossErrors = 0;
  const hostLossWindowS = storage.pingTimeoutS * 2 + 5;
  for (let i = 0; i < options.runs; i++) {
    const s = servers[i % servers.length]!;
    const t0 = now();
    await net.setLink(node(s.name).link, false);
    await sleep(hostLossWindowS * 1000);
    const t1 = now();
    hostLoss.push(stallOf(t0, t1));
    hostLossErrors += errorsIn(t0, t1);
    await net.setLink(node(s.name).link, true);
    const healS = await recover(`host loss ${i + 1}`);
    run.log(`b. host loss ${i + 1}/${options.runs} of ${s.name}: longest stall ${round3(hostLoss[i]!)} s; back and healed in ${round3(healS)} s`);
  }

  // c. Mount while the first volfile server (the first brick's host) is cut off.
  const firstServer = servers[0]!;
  const mounter = host(clients[1]!.name);
  const mountOnce = async (source: string, extraOptions: string): Promise<number> => {
    await mounter.exec("mkdir", ["-p", PROBE_MOUNT]);
    const t0 = now();
    try {
      await mounter.exec(
        "mount",
        ["-t", mountConfig.type, "-o", extraOptions ? `${mountConfig.options},${extraOptions}` : mountConfig.options, source, PROBE_MOUNT],
        { timeoutMs: 180_000 },
      );
      await mounter.exec("stat", ["-f", PROBE_MOUNT]);
      await mounter.exec("ls", [PROBE_MOUNT]);
      const took = now() - t0;
      const log = mounter.read(`/var/log/glusterfs/${PROBE_MOUNT.slice(1).replace(/\//g, "-")}.log`) ?? "";
      mountLogs.push(
        log
          .split("\n")
          .filter((l) => /Connected|connect|going online|quorum|CHILD|disconnect|Started|Exhausted|transport/i.test(l))
          .slice(-40)
          .join("\n"),
      );
      return took;
    } finally {
      await mounter.exec("umount", [PROBE_MOUNT], { allowFail: true });
    }
  };
  const mountTimes: number[] = [];
  const mountLogs: string[] = [];
  for (let i = 0; i < options.runs; i++) {
    await net.setLink(node(firstServer.name).link, false);
    try {
      mountTimes.push(await mountOnce(mountConfig.what, ""));
    } finally {
      await net.setLink(node(firstServer.name).link, true);
    }
    const healS = await recover(`mount ${i + 1}`);
    run.log(
      `c. mount ${i + 1}/${options.runs} from ${mountConfig.what} with ${firstServer.name} cut off: ` +
        `${round3(mountTimes[i]!)} s; healed in ${round3(healS)} s`,
    );
  }
  let baselineBackupVolfile: number | null = null;
  if (options.baseline) {
    await net.setLink(node(firstServer.name).link, false);
    try {
      const backups = servers
        .slice(1)
        .map((s) => s.privateIp)
        .join(":");
      baselineBackupVolfile = round3(await mountOnce(`${firstServer.privateIp}:/${storage.volume}`, `backup-volfile-servers=${backups}`));
    } catch (err) {
      // The baseline is for comparison only: a mount that did not finish in 180 s is reported as such.
      run.log(`c. baseline mount failed: ${(err as Error).message.split("\n")[0]}`);
      baselineBackupVolfile = -1;
    } finally {
      await net.setLink(node(firstServer.name).link, true);
    }
    await recover("baseline mount");
    run.log(`c. baseline: mount from ${firstServer.privateIp} with backup-volfile-servers, ${firstServer.name} cut off: ${baselineBackupVolfile} s`);
  }

  // e. Bootstrap rerun on the built cluster, through its systemd unit as on a host.
  const clusterState = async () =>
    [
      await gl(bootstrapHost, ["volume", "info", storage.volume]),
      await gl(bootstrapHost, ["volume", "get", storage.volume, "all"]),
      (await gl(bootstrapHost, ["pool", "list"])).split("\n").sort().join("\n"),
    ].join("\n--\n");
  const reruns: { changed: boolean; exit: string; last: string }[] = [];
  for (let i = 0; i < options.runs; i++) {
    const before = await clusterState();
    await bootstrapHost.exec("systemctl", ["start", STORAGE_SERVER_PATHS.bootstrapUnit], { timeoutMs: 300_000, allowFail: true });
    const s = await unitState(bootstrapHost, STORAGE_SERVER_PATHS.bootstrapUnit);
    const log = await bootstrapLog("the bootstrap rerun's last line in the journal", s["InvocationID"]!);
    const after = await clusterState();
    const last = lastLine(log, /^changed=/);
    reruns.push({ changed: last !== "changed=0" || before !== after, exit: s["ExecMainStatus"] ?? "?", last });
    run.log(`e. bootstrap rerun ${i + 1}/${options.runs}: exit ${reruns[i]!.exit}, ${last}, state ${before === after ? "unchanged" : "CHANGED"}`);
  }

  // d. Partitions while writing.
  const healTimes: number[] = [];
  for (let i = 0; i < options.partitions; i++) {
    const s = servers[i % servers.length]!;
    await net.setLink(node(s.name).link, false);
    await sleep(PARTITION_S * 1000);
    await net.setLink(node(s.name).link, true);
    healTimes.push(await recover(`partition ${i + 1}`));
    run.log(`d. partition ${i + 1}/${options.partitions} of ${s.name} for ${PARTITION_S} s: healed in ${round3(healTimes[i]!)} s`);
  }

  // Stop the writers, let the last heal finish, then check everything that was written.
  await stopWriters(
    clients.map((c) => host(c.name)),
    writers,
    { stopFile: WRITER_STOP_FILE },
  );
  await recover("final heal");
  const splitBrainOut = await gl(cli(), ["volume", "heal", storage.volume, "info", "split-brain"], 120_000);
  const splitBrain = splitBrainEntries(splitBrainOut);
  const finalHeal = await healInfo(cli());

  const onMount = await mountChecksums(host(clients[0]!.name), storage.client.mountPoint, ["."], { timeoutMs: 900_000 });
  const written = checkWrites(allRecords(), onMount);
  const manifest = writtenFiles(allRecords());
  const { lost, mismatched, bad_reads: readBackBad } = written;
  let brickCopiesDiffering = 0;
  const dataBricks = storage.bricks.filter((b) => !b.arbiter);
  for (const [path, sum] of manifest) {
    const rel = path.slice(storage.client.mountPoint.length + 1);
    for (const b of dataBricks) {
      const copy = join(brickRoot, b.host, storage.brickDir.slice(storage.brickMountPoint.length + 1), rel);
      if (!existsSync(copy) || createHash("sha256").update(readFileSync(copy)).digest("hex") !== sum) {
        brickCopiesDiffering++;
        break;
      }
    }
  }
  run.log(
    `d. verify: ${manifest.size} files written; ${lost} lost, ${mismatched} checksum mismatches, ` +
      `${brickCopiesDiffering} with a brick copy differing, ${splitBrain} split-brain entries, ${readBackBad} bad read-backs`,
  );

  const firstDataBrick = storage.bricks.find((b) => !b.arbiter)!;
  const onBrick = (rel: string) => join(brickRoot, firstDataBrick.host, storage.brickDir.slice(storage.brickMountPoint.length + 1), rel);
  const services = options.services
    ? await runServicesScenario(run, { plan, host, app: clients[0]!.name, parsers: parsers.map((p) => p.name), onBrick })
    : null;

  const versions = {
    glusterfs: (await bootstrapHost.exec("glusterfs", ["--version"])).split("\n")[0]!.trim(),
    glusterfs_client: (await host(clients[0]!.name).exec("glusterfs", ["--version"])).split("\n")[0]!.trim(),
    debian: (bootstrapHost.read("/etc/debian_version") ?? "").trim(),
    cloud_init: (await bootstrapHost.exec("cloud-init", ["--version"], { allowFail: true })).trim(),
    systemd_in_host: (await bootstrapHost.exec("systemctl", ["--version"])).split("\n")[0]!.trim(),
    kernel: cmdSync("uname", ["-r"]).trim(),
    systemd_nspawn: cmdSync("systemd-nspawn", ["--version"]).split("\n")[0]!.trim(),
    node: process.version,
  };

  const scenarios = {
    brick_kill: { ...stallStats(brickKill), failed_operations: brickKillErrors },
    host_loss: { ...stallStats(hostLoss), failed_operations: hostLossErrors, window_s: hostLossWindowS },
    mount_first_down: {
      median_s: round3(median(mountTimes)),
      min_s: round3(Math.min(...mountTimes)),
      max_s: round3(Math.max(...mountTimes)),
      runs: mountTimes.length,
      times_s: mountTimes.map(round3),
      source: mountConfig.what,
      baseline_backup_volfile_servers_s: baselineBackupVolfile,
      baseline_note: "one mount from the first server with backup-volfile-servers=the others, the first cut off; -1: did not mount within 180 s",
      first_client_log: mountLogs[0] ?? "",
    },
    partitions: {
      split_brain: splitBrain,
      checksum_mismatches: mismatched,
      lost_files: lost,
      rounds: healTimes.length,
      partition_s: PARTITION_S,
      heal_s: healTimes.length ? stats(healTimes) : null,
      heal_complete: finalHeal.complete && finalHeal.entries === 0,
      files_written: manifest.size,
      brick_copies_differing: brickCopiesDiffering,
      bad_read_backs: readBackBad,
      failed_operations: allRecords().filter((r) => r.kind === "E").length,
      heal_requests: { made: healTriggers.length, accepted: healTriggers.filter(Boolean).length },
    },
    bootstrap_rerun: {
      changed: reruns.some((r) => r.changed),
      runs: reruns.length,
      errors: reruns.filter((r) => r.exit !== "0").length,
      last_lines: [...new Set(reruns.map((r) => r.last))],
    },
  };
  const pass = {
    brick_kill: scenarios.brick_kill.max_stall_s <= STORAGE_REQUIREMENTS.brick_kill_max_stall_s,
    host_loss: scenarios.host_loss.max_stall_s <= STORAGE_REQUIREMENTS.host_loss_max_stall_s,
    mount_first_down: scenarios.mount_first_down.max_s <= STORAGE_REQUIREMENTS.mount_first_down_s,
    partitions: splitBrain === 0 && mismatched === 0 && lost === 0 && scenarios.partitions.heal_complete,
    bootstrap_rerun: !scenarios.bootstrap_rerun.changed && scenarios.bootstrap_rerun.errors === 0,
    ...(services ? servicesPass(services) : {}),
  };
  return {
    scenarios,
    services,
    ping_timeout_s: storage.pingTimeoutS,
    baseline,
    volfile: { matches_glusterd: volfileDiffs.length === 0, differences: volfileDiffs, ignored: ["option volume-id (random per volume)"] },
    brick_ports: brickPorts,
    boot: {
      cloud_init: cloudInit,
      volume_started_s: volumeReadyS,
      mounted_s: mountedAt,
      first_bootstrap: {
        last_line: lastLine(firstLog, /^changed=/),
        waited_for_pool: /pool complete/.test(firstLog),
        log: firstLog.trim().split("\n"),
      },
    },
    conditions: {
      topology: "seed",
      servers: servers.map((s) => `${s.name} ${s.privateIp}`),
      clients: clients.map((c) => `${c.name} ${c.privateIp}`),
      service_hosts: options.services
        ? [clients[0]!, ...parsers].map((c) => `${c.name} ${c.privateIp} (${plan.services.hosts[c.name]!.service})`)
        : [],
      replica: storage.replica,
      arbiter: storage.arbiter,
      writer: `each client: write+fsync a 1-16 KiB file, read back an earlier one, every ${WRITER_PERIOD_S} s`,
      stall: "longest gap between completed operations of one client, over both clients",
      brick_kill_window_s: BRICK_KILL_WINDOW_S,
      fault: "brick: SIGKILL of the brick process; host loss and partition: the server's veth port at the switch set down",
      runs: options.runs,
      partitions: options.partitions,
      lab_overrides: [
        "brick: a directory bound at the brick mount point instead of the Hetzner volume",
        "/dev/fuse bound into the clients",
        "lab/overrides.ts: deploy values, no package installation, the image",
        ...(options.services
          ? ["lab/overrides.ts: service artifacts from the run's http server on the private bridge; documents in the fs store (no MongoDB)"]
          : []),
      ],
      duration_s: Math.round((Date.now() - started) / 1000),
    },
    versions,
    pass,
  };
}

export type StorageReport = Awaited<ReturnType<typeof runStorageLab>>;

/** The services scenarios' requirements (the parser's, on the real volume). */
export function servicesPass(r: ServicesReport): { services_installed: boolean; shared_spool: boolean; crash_restart: boolean } {
  const installs = Object.values(r.install);
  return {
    services_installed:
      installs.length > 0 &&
      installs.every(
        (i) =>
          i.installed &&
          i.active &&
          i.healthz_ready &&
          i.no_new_privileges &&
          i.protect_system === "strict" &&
          i.write_outside_refused &&
          i.write_inside_ok !== false &&
          i.uid !== null &&
          i.uid !== 0,
      ),
    shared_spool:
      r.shared_spool.double_parsed === 0 &&
      r.shared_spool.lost === 0 &&
      r.shared_spool.quarantined === 0 &&
      r.shared_spool.duplicates === 0 &&
      r.shared_spool.stored === r.shared_spool.messages &&
      r.shared_spool.mail_api_get_ok,
    crash_restart:
      r.crash.restarted &&
      r.crash.lost === 0 &&
      r.crash.duplicates === 0 &&
      r.crash.quarantined === 0 &&
      r.crash.stored === r.crash.messages &&
      r.crash.reclaimed_not_held.length === 0 &&
      r.crash.reclaimed_twice === 0 &&
      r.crash.others_restarted === 0,
  };
}

async function journal(on: LabHost, invocation: string): Promise<string> {
  return on.exec("journalctl", ["--no-pager", "-o", "cat", `_SYSTEMD_INVOCATION_ID=${invocation}`], { allowFail: true });
}

function lastLine(text: string, pattern: RegExp): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => pattern.test(l))
      .pop() ?? "(none)"
  );
}

type Graph = Map<string, { type: string; options: Map<string, string>; subvolumes: string }>;

/** A gluster volume file as a graph: translator name → type, options, subvolumes. */
export function parseVolfile(text: string): Graph {
  const graph: Graph = new Map();
  let current: { type: string; options: Map<string, string>; subvolumes: string } | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [word, ...rest] = line.split(/\s+/);
    if (word === "volume") {
      current = { type: "", options: new Map(), subvolumes: "" };
      graph.set(rest[0]!, current);
    } else if (word === "end-volume") current = undefined;
    else if (current && word === "type") current.type = rest[0]!;
    else if (current && word === "option") current.options.set(rest[0]!, rest.slice(1).join(" "));
    else if (current && word === "subvolumes") current.subvolumes = rest.join(" ");
  }
  return graph;
}

/** Differences between two graphs, ignoring option order and the random `volume-id`. */
export function compareVolfiles(kept: Graph, generated: Graph): string[] {
  const out: string[] = [];
  for (const name of new Set([...kept.keys(), ...generated.keys()])) {
    const a = kept.get(name);
    const b = generated.get(name);
    if (!a || !b) {
      out.push(`${name} only in the ${a ? "kept" : "generated"} file`);
      continue;
    }
    if (a.type !== b.type) out.push(`${name}: type ${a.type} vs ${b.type}`);
    if (a.subvolumes !== b.subvolumes) out.push(`${name}: subvolumes ${a.subvolumes} vs ${b.subvolumes}`);
    for (const key of new Set([...a.options.keys(), ...b.options.keys()])) {
      if (key === "volume-id") continue;
      if (a.options.get(key) !== b.options.get(key))
        out.push(`${name}: option ${key} ${a.options.get(key) ?? "(absent)"} vs ${b.options.get(key) ?? "(absent)"}`);
    }
  }
  return out;
}
