/**
 * The services on the storage lab's cluster: app-1 runs the mail API, parser-1 and parser-2 the
 * parser, each installed at first boot by cloud-init from the run's artifact server (the sha256
 * checked as on Hetzner) and run by its hardened systemd unit, with the spool and the store on
 * the real gluster volume. After the storage scenarios:
 *
 *   f1. install: each service installed from its artifact, active, running as its own user,
 *       unable to write outside its ReadWritePaths (probed inside the running service's own
 *       mount namespace, as its uid).
 *   f2. shared spool: a batch delivered Maildir-style (tmp/ then rename into new/) is drained by
 *       the two parser hosts; every message stored exactly once, none parsed twice (the sum of
 *       both hosts' parse counters), none quarantined; the mail API lists them and serves one.
 *   f3. kill -9: a second batch; the parser on parser-1 is SIGKILLed mid-batch, systemd restarts
 *       it (Restart=always), the claims it held are reclaimed when their lease runs out; every
 *       message stored exactly once, none lost.
 *
 * Deliveries and the audit read and write the volume through /proc/<container init>/root, i.e.
 * through the FUSE mount inside the container. Every wait is bounded.
 */
import { API_TOKEN_CREDENTIAL } from "../services/mail-api/auth.ts";
import { readdirSync } from "node:fs";
import { cleanCorpus } from "../measure/mail-corpus.ts";
import { round } from "../measure/stats.ts";
import type { Plan } from "../plan/model.ts";
import type { ServiceName } from "../plan/services.ts";
import { DIST_SERVICES, serviceArtifacts } from "../services/build.ts";
import { hostAddress, parseIpv4Cidr } from "../topology/cidr.ts";
import type { LabNetwork } from "./net.ts";
import type { LabHost } from "./nspawn.ts";
import { LAB_ARTIFACTS } from "./overrides.ts";
import { sleep, type LabRun } from "./run.ts";
import { contentKey, spoolAccess, type BatchAudit } from "./spool.ts";

/** The lab's counts: messages per batch (each at most MAX_MESSAGE_BYTES), and the waits' bounds. */
const SERVICES_COUNTS = { batch: 200, crashBatch: 200 } as const;
/** Corpus messages larger than this are left out: the lab measures the spool protocol, not parse speed. */
const MAX_MESSAGE_BYTES = 256 * 1024;
const DRAIN_TIMEOUT_MS = 300_000;
const ACTIVE_TIMEOUT_MS = 180_000;

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** The artifact server's base URL for `plan` (a fixed address of the private subnet). */
export function labArtifactBaseUrl(plan: Plan): string {
  return `http://${artifactAddress(plan)}:${LAB_ARTIFACTS.port}/`;
}

function artifactAddress(plan: Plan): string {
  const cidr = parseIpv4Cidr(plan.network.subnet);
  if (!cidr) throw new Error(`lab: private subnet ${plan.network.subnet} is not an IPv4 CIDR`);
  const address = hostAddress(cidr, LAB_ARTIFACTS.offset);
  const taken = plan.hosts.find((h) => h.privateIp === address);
  if (taken) throw new Error(`lab: the artifact server's address ${address} is ${taken.name}'s; change LAB_ARTIFACTS.offset in lab/overrides.ts`);
  return address;
}

/**
 * Serves dist/services/ (built now if stale; their sha256 must be the ones `plan` carries, which
 * the user-data's install scripts check) over http from a namespace of the run on the private
 * bridge. Ended by pid at cleanup.
 */
export async function startArtifactServer(
  run: LabRun,
  net: LabNetwork,
  plan: Plan,
  options: { bridge?: string; directory?: string } = {},
): Promise<string> {
  const digests = serviceArtifacts();
  for (const a of Object.values(plan.services.artifacts)) {
    if (digests[a.name].sha256 !== a.sha256)
      throw new Error(
        `lab: dist/services/${a.file} has sha256 ${digests[a.name].sha256}, but the plan carries ${a.sha256}; ` +
          `plan with the build's digests (synth/pipeline.ts prepare)`,
      );
  }
  const address = artifactAddress(plan);
  const prefix = parseIpv4Cidr(plan.network.subnet)!.prefix;
  const ns = await net.addNamespace(`${run.prefix}-artifacts`);
  await net.connect(ns, options.bridge ?? "private", "eth1", `${address}/${prefix}`);
  run.start("ip", [
    "netns",
    "exec",
    ns,
    "python3",
    "-m",
    "http.server",
    String(LAB_ARTIFACTS.port),
    "--bind",
    address,
    "--directory",
    options.directory ?? DIST_SERVICES,
  ]);
  await run.waitFor(
    "the artifact server to listen",
    async () => ((await net.inNs(ns, "ss", ["-Hltn", `sport = :${LAB_ARTIFACTS.port}`], { allowFail: true })).trim() ? true : undefined),
    15_000,
    100,
  );
  run.log(
    `artifacts: ${Object.values(digests)
      .map((d) => `${d.file} (sha256 ${d.sha256.slice(0, 12)}…)`)
      .join(", ")} served at ${labArtifactBaseUrl(plan)}`,
  );
  return labArtifactBaseUrl(plan);
}

interface InstallCheck {
  readonly service: string;
  readonly installed: boolean;
  readonly install_log: string;
  readonly active: boolean;
  readonly user: string;
  readonly uid: number | null;
  readonly no_new_privileges: boolean;
  readonly protect_system: string;
  /** Writes outside ReadWritePaths, even as root, in the service's mount namespace: refused as a read-only file system. */
  readonly write_outside_refused: boolean;
  /** A write inside ReadWritePaths succeeded (parser only; the mail API has none). */
  readonly write_inside_ok: boolean | null;
  /** GET /healthz on the host answered 200 {"status":"ready"} (the spool or store mounted, the pool up). */
  readonly healthz_ready: boolean;
}

export interface ServicesReport {
  readonly install: Record<string, InstallCheck>;
  readonly shared_spool: BatchAudit & {
    readonly parsed_total: number;
    readonly double_parsed: number;
    readonly by_host: Record<string, number>;
    readonly mail_api_listed: number;
    readonly mail_api_get_ok: boolean;
  };
  readonly crash: BatchAudit & {
    readonly completed_before_kill: number;
    readonly claims_at_kill: number;
    readonly restarted: boolean;
    readonly restart_s: number | null;
    /** Reclaims logged by both parser hosts after the kill, by host. */
    readonly reclaimed: Record<string, number>;
    /** Messages reclaimed more than once (by either host): a claim that was not exclusive. */
    readonly reclaimed_twice: number;
    /** The messages the killed process held, by name (from the brick at the kill). */
    readonly claims_at_kill_names: readonly string[];
    /** Both parsers' journal lines about leases, reclaims and failures since the kill (at most 200). */
    readonly journal: readonly string[];
    /** Reclaimed messages the killed process did not hold: a live claim taken over (must be none). */
    readonly reclaimed_not_held: readonly string[];
    /** Restarts of the other parsers' units during f3 (must be 0). */
    readonly others_restarted: number;
  };
}

export interface ServicesContext {
  readonly plan: Plan;
  readonly host: (name: string) => LabHost;
  readonly app: string;
  readonly parsers: readonly string[];
  /**
   * A path of the volume (relative to its root) in one data brick's directory on this machine:
   * what the servers hold, read without a client's caches (the claims at the moment of a kill).
   */
  readonly onBrick: (relative: string) => string;
}

/** Runs f1 to f3; returns what they measured. Throws only when the lab itself cannot go on. */
export async function runServicesScenario(run: LabRun, ctx: ServicesContext): Promise<ServicesReport> {
  const { plan, host } = ctx;
  const svc = plan.services;
  const parserUnit = svc.artifacts.parser.unit;
  const { spool, deliver, audit, spoolEmpty, storedCount } = spoolAccess(plan, host(ctx.app));

  // f1 ------------------------------------------------------------------------------------------
  const install: Record<string, InstallCheck> = {};
  for (const name of [ctx.app, ...ctx.parsers]) {
    install[name] = await checkInstall(run, host(name), plan, svc.hosts[name]!.service);
    run.log(`f1. ${name}: ${JSON.stringify(install[name])}`);
  }

  const metrics = async () => {
    const out: Record<string, { parsed: number; processed: number }> = {};
    for (const p of ctx.parsers) {
      const text = await host(p).exec("curl", ["-fsS", "--max-time", "5", `http://127.0.0.1:${svc.hosts[p]!.listenPort}/metrics`], {
        allowFail: true,
      });
      out[p] = { parsed: metricValue(text, "bulwark_parser_parse_seconds_count"), processed: metricValue(text, "bulwark_parser_processed_total") };
    }
    return out;
  };
  const drain = (what: string) => run.waitFor(what, () => (spoolEmpty() ? true : undefined), DRAIN_TIMEOUT_MS, 250);

  // f2 ------------------------------------------------------------------------------------------
  const batch = cleanCorpus(SERVICES_COUNTS.batch * 2, 31_337)
    .filter((m) => m.length <= MAX_MESSAGE_BYTES)
    .slice(0, SERVICES_COUNTS.batch);
  const before = await metrics();
  const t0 = now();
  const names = deliver("f2", batch);
  await drain("the two parsers to drain the shared spool");
  const drainS = now() - t0;
  await sleep(500); // the counters are bumped right after the claim file goes
  const after = await metrics();
  const byHost = Object.fromEntries(ctx.parsers.map((p) => [p, after[p]!.processed - before[p]!.processed]));
  const parsedTotal = ctx.parsers.reduce((s, p) => s + after[p]!.parsed - before[p]!.parsed, 0);
  const f2 = audit(names, batch, drainS);
  const firstKey = contentKey(batch[0]!);
  const apiBase = `http://${svc.hosts[ctx.app]!.listenHost}:${svc.hosts[ctx.app]!.listenPort}`;
  // The API's bearer token, as the host received it (root-only): every /api request needs it.
  const credential = svc.artifacts["mail-api"].credentials.find((c) => c.name === API_TOKEN_CREDENTIAL)!;
  const auth = ["-H", `Authorization: Bearer ${(host(ctx.app).read(credential.path) ?? "").trim()}`];
  const listed = JSON.parse(
    (await host(ctx.app).exec("curl", ["-fsS", "--max-time", "30", ...auth, `${apiBase}/api/messages?limit=${Math.min(batch.length, 100)}`], {
      allowFail: true,
    })) || "{}",
  ) as { count?: number };
  const one = JSON.parse(
    (await host(ctx.app).exec("curl", ["-fsS", "--max-time", "10", ...auth, `${apiBase}/api/messages/${firstKey}`], { allowFail: true })) || "{}",
  ) as { key?: string };
  const shared = {
    ...f2,
    parsed_total: parsedTotal,
    double_parsed: Math.max(0, parsedTotal - f2.stored),
    by_host: byHost,
    mail_api_listed: listed.count ?? 0,
    mail_api_get_ok: one.key === firstKey,
  };
  run.log(`f2. shared spool on gluster: ${JSON.stringify(shared)}`);

  // f3 ------------------------------------------------------------------------------------------
  const victim = host(ctx.parsers[0]!);
  const crashBatch = cleanCorpus(SERVICES_COUNTS.crashBatch * 2, 4_242)
    .filter((m) => m.length <= MAX_MESSAGE_BYTES)
    .slice(0, SERVICES_COUNTS.crashBatch);
  const show = () => victim.unitProperties(parserUnit, ["MainPID", "NRestarts", "ActiveState"]);
  const pre = await show();
  const t1 = now();
  const crashNames = deliver("f3", crashBatch);
  // Kill once a third has been claimed: one readdir of new/ per poll (checking each message's
  // document through the mount was slow enough that the batch sometimes finished first).
  const left = Math.floor((crashBatch.length * 2) / 3);
  await run.waitFor(
    "a third of the crash batch to be claimed",
    () => (readdirSync(spool("new")).length <= left ? true : undefined),
    DRAIN_TIMEOUT_MS,
    20,
  );
  await victim.exec("systemctl", ["kill", "--signal=SIGKILL", parserUnit]);
  const killedAt = now();
  // Counted just after the kill (the other parser goes on meanwhile, at about 20 messages/s).
  const completedBeforeKill = storedCount(crashBatch);
  const curOnBrick = ctx.onBrick(`${svc.spoolDir.slice(svc.sharedMount.length + 1)}/cur`);
  const heldAtKill = readdirSync(curOnBrick)
    .filter((n) => n.includes(`#${ctx.parsers[0]}#`))
    .map((n) => n.slice(0, n.indexOf("#")))
    .sort();
  const claimsAtKill = heldAtKill.length;
  // The other parsers must not notice the kill (each container has its own cgroups: lab/nspawn.ts).
  const restartsOf = async (name: string) => Number((await host(name).unitProperties(parserUnit, ["NRestarts"]))["NRestarts"]);
  const othersBefore = await Promise.all(ctx.parsers.slice(1).map(restartsOf));
  run.log(
    `f3. SIGKILL to ${parserUnit} on ${ctx.parsers[0]} (pid ${pre["MainPID"]}) ` +
      `after ${completedBeforeKill} of ${crashBatch.length} stored; it held ${claimsAtKill} claims`,
  );
  const restarted = await run
    .waitFor(
      `${parserUnit} on ${ctx.parsers[0]} to be restarted`,
      async () => {
        const s = await show();
        return s["ActiveState"] === "active" &&
          s["MainPID"] !== "0" &&
          s["MainPID"] !== pre["MainPID"] &&
          Number(s["NRestarts"]) > Number(pre["NRestarts"])
          ? now()
          : undefined;
      },
      ACTIVE_TIMEOUT_MS,
      100,
    )
    .catch(() => undefined);
  await drain("the spool to drain after the kill (the dead process's leases run out first)");
  const f3 = audit(crashNames, crashBatch, now() - t1);
  const reclaimed: Record<string, number> = {};
  const reclaimCount = new Map<string, number>();
  const journalLines: string[] = [];
  for (const p of ctx.parsers) {
    const text = await host(p).exec(
      "journalctl",
      ["-u", parserUnit, "-o", "cat", "--no-pager", `--since=@${Math.floor(Date.now() / 1000 - (now() - killedAt) - 5)}`],
      { allowFail: true },
    );
    const names = [...text.matchAll(/ reclaimed (f3-\d+) \(expired lease\)$/gm)].map((m) => m[1]!);
    reclaimed[p] = names.length;
    journalLines.push(
      ...text
        .split("\n")
        .filter((l) => /reclaim|lease|lost|fail|releas|quarantin/.test(l))
        .map((l) => `${p}: ${l}`),
    );
    for (const n of names) reclaimCount.set(n, (reclaimCount.get(n) ?? 0) + 1);
  }
  const reclaimedTwice = [...reclaimCount.values()].filter((c) => c > 1).length;
  const othersAfter = await Promise.all(ctx.parsers.slice(1).map(restartsOf));
  const crash = {
    ...f3,
    completed_before_kill: completedBeforeKill,
    claims_at_kill: claimsAtKill,
    claims_at_kill_names: heldAtKill,
    restarted: restarted !== undefined,
    restart_s: restarted === undefined ? null : round(restarted - killedAt),
    reclaimed,
    reclaimed_twice: reclaimedTwice,
    reclaimed_not_held: [...reclaimCount.keys()].filter((n) => !heldAtKill.includes(n)).sort(),
    others_restarted: othersAfter.reduce((a, n, i) => a + n - othersBefore[i]!, 0),
    journal: journalLines.slice(0, 200),
  };
  run.log(`f3. kill -9 mid-batch: ${JSON.stringify(crash)}`);
  return { install, shared_spool: shared, crash };
}

/** The value of an unlabelled Prometheus sample (0 when absent). */
function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

async function checkInstall(run: LabRun, on: LabHost, plan: Plan, service: ServiceName): Promise<InstallCheck> {
  const svc = plan.services;
  const a = svc.artifacts[service];
  await run
    .waitFor(
      `${on.name}: ${a.unit} active`,
      async () => ((await on.exec("systemctl", ["is-active", a.unit], { allowFail: true })).trim() === "active" ? true : undefined),
      ACTIVE_TIMEOUT_MS,
      500,
    )
    .catch(() => undefined);
  const props = await on.unitProperties(a.unit, ["ActiveState", "MainPID", "User", "NoNewPrivileges", "ProtectSystem"]);
  const installLog =
    (await on.exec("journalctl", ["-u", a.installUnit, "-o", "cat", "--no-pager"], { allowFail: true }))
      .split("\n")
      .filter((l) => /installed|refusing/.test(l))
      .pop() ?? "";
  const pid = props["MainPID"] ?? "0";
  const status = pid !== "0" ? (on.read(`/proc/${pid}/status`) ?? "") : "";
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  // Probes in the running service's own mount namespace. Outside ReadWritePaths even root is
  // refused (ProtectSystem=strict mounts / read-only there; plain permissions would not stop
  // root); inside them the service's uid and gid may write.
  const probe = async (path: string, asService: boolean) => {
    if (pid === "0" || uid === undefined) return "no main pid";
    const as = asService ? ["-S", uid, "-G", uid] : [];
    return (
      await on.exec("nsenter", ["-t", pid, "-m", ...as, "sh", "-c", `touch '${path}' 2>&1 && rm -f '${path}' && echo written; exit 0`], {
        allowFail: true,
      })
    ).trim();
  };
  const outsideProbes = [await probe("/var/lib/.bulwark-lab-probe", false), await probe(`${svc.installRoot}/.bulwark-lab-probe`, false)];
  const outside = outsideProbes.every((o) => /Read-only file system/.test(o));
  const inside = a.readWritePaths.length > 0 ? (await probe(`${a.readWritePaths[0]}/.bulwark-lab-probe`, true)) === "written" : null;
  const hp = svc.hosts[on.name]!;
  const health = await on.exec("curl", ["-fsS", "--max-time", "5", `http://${hp.listenHost}:${hp.listenPort}/healthz`], { allowFail: true });
  const healthzReady = (() => {
    try {
      return (JSON.parse(health) as { status?: string }).status === "ready";
    } catch {
      return false;
    }
  })();
  return {
    service,
    installed: installLog.startsWith(`installed ${svc.artifactBaseUrl}${a.file} into `),
    install_log: installLog,
    active: props["ActiveState"] === "active",
    user: props["User"] ?? "",
    uid: uid === undefined ? null : Number(uid),
    no_new_privileges: props["NoNewPrivileges"] === "yes",
    protect_system: props["ProtectSystem"] ?? "",
    write_outside_refused: outside,
    write_inside_ok: inside,
    healthz_ready: healthzReady,
  };
}
