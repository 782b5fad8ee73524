/**
 * The HA-entry lab: both lb hosts booted by systemd-nspawn from their rendered user-data, two
 * app backends running the mail API, a router that routes the Floating IP to its holder and
 * serves the Hetzner API emulator, and a client sending a request through the Floating IP
 * every 20 ms. Then the HA entry's failure scenarios (the README's lb lab table), each measured.
 *
 *   client (198.19.0.2) ── router (198.19.0.1 | 198.18.0.1, emulator :8080) ── public bridge
 *   public bridge ── lb-1 (198.18.0.11), lb-2 (198.18.0.12); Floating IP 198.18.100.10 routed to the holder
 *   private bridge (the plan's 10.0.1.0/24) ── lb-1, lb-2, app-1, app-2
 */
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plan } from "../plan/model.ts";
import { DEPLOY_VALUES } from "../render/deploy-values.ts";
import { renderAll } from "../render/host.ts";
import { prepare } from "../synth/pipeline.ts";
import { parseRecords, type ClientRecord } from "./client.ts";
import type { EmulatorState } from "./hcloud-emulator.ts";
import { publicSide, startClient, startEmulator } from "./entry.ts";
import { LabNetwork, type Link } from "./net.ts";
import { LabHost } from "./nspawn.ts";
import { LAB_PUBLIC, labOverrides, labPlan, labUserData, lbLabPlan } from "./overrides.ts";
import type { ProbeResult } from "./probe.ts";
import { ensureRootfs, imagePackages } from "./rootfs.ts";
import { round, spread } from "../measure/stats.ts";
import { sleep, type LabRun } from "./run.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** MongoDB's packages come from MongoDB's repository, not Debian's; the lab image goes without. */
export const NOT_IN_DEBIAN = ["mongodb-org-server", "mongodb-mongosh", "mongodb-org-mongos"];
const CLIENT_INTERVAL_MS = 20;
const CLIENT_TIMEOUT_MS = 1000;

interface LbNode {
  readonly name: string;
  readonly serverId: number;
  readonly ns: string;
  readonly userData: string;
  readonly links: Link[];
  host: LabHost;
}

interface AppNode {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  pid?: number;
  stop?: () => Promise<void>;
}

export class LbLab {
  private constructor(
    private readonly run: LabRun,
    private readonly net: LabNetwork,
    private readonly root: string,
    readonly plan: Plan,
    private readonly lbs: LbNode[],
    private readonly apps: AppNode[],
    private readonly dir: string,
    private readonly stateFile: string,
    private readonly clientFile: string,
    private readonly clientNs: string,
    /** The mail API's bearer token (a lab value), root-only, for the apps and the client. */
    private readonly tokenFile: string,
  ) {}

  static async start(run: LabRun): Promise<LbLab> {
    const overrides = labOverrides();
    const plan = lbLabPlan(labPlan(prepare({ kind: "seed" }).plan, overrides));
    const rendered = renderAll(plan);
    const root = await ensureRootfs(run, imagePackages(["lb", "app", "parser", "storage"], NOT_IN_DEBIAN));
    const dir = mkdtempSync(join(tmpdir(), `${run.prefix}-lb-`));
    run.defer("the lab's files", () => rmSync(dir, { recursive: true, force: true }));
    const net = await LabNetwork.create(run);

    const { router, client } = await publicSide(run, net);

    const lbs: LbNode[] = [];
    for (const [i, name] of plan.lb.hosts.entries()) {
      const h = plan.hosts.find((x) => x.name === name)!;
      const ns = await net.addNamespace(`${run.prefix}-${name}`);
      const pub = await net.connect(ns, "brpub", "pub0", `${LAB_PUBLIC.lb(i + 1)}/24`);
      const priv = await net.connect(ns, "brpriv", "priv0", `${h.privateIp}/24`);
      await net.ip(ns, ["route", "add", "default", "via", LAB_PUBLIC.router]);
      const userData = labUserData(rendered.find((r) => r.host.name === name)!, overrides);
      lbs.push({ name, serverId: 101 + i, ns, userData, links: [pub, priv], host: undefined as unknown as LabHost });
    }
    const apps: AppNode[] = [];
    for (const b of plan.lb.backends) {
      const ns = await net.addNamespace(`${run.prefix}-${b.name}`);
      await net.connect(ns, "brpriv", "priv0", `${b.address}/24`);
      apps.push({ name: b.name, ns, ip: b.address });
    }

    const stateFile = await startEmulator(
      run,
      router,
      dir,
      overrides.deployValues[DEPLOY_VALUES.failoverToken.name]!,
      lbs.map((lb, i) => ({ id: lb.serverId, name: plan.hosts.find((h) => h.name === lb.name)!.serverName, routeVia: LAB_PUBLIC.lb(i + 1) })),
    );

    const clientFile = join(dir, "client.csv");
    const tokenFile = join(dir, "api-token");
    writeFileSync(tokenFile, `${overrides.deployValues[DEPLOY_VALUES.mailApiToken.name]!}\n`, { mode: 0o600 });
    const lab = new LbLab(run, net, root, plan, lbs, apps, dir, stateFile, clientFile, client, tokenFile);
    await Promise.all(apps.map((a) => lab.startApp(a)));
    await lab.bootLbs();
    startClient(run, client, CLIENT_INTERVAL_MS, CLIENT_TIMEOUT_MS, clientFile, tokenFile);
    await lab.steady("start");
    return lab;
  }

  // ---- the pieces --------------------------------------------------------------------------

  private async bootLbs(): Promise<void> {
    const t0 = Date.now();
    await Promise.all(
      this.lbs.map(async (lb) => {
        lb.host = await LabHost.boot(this.run, { name: lb.name, ns: lb.ns, root: this.root, userData: lb.userData });
        const status = await lb.host.waitForCloudInit(120_000);
        this.run.log(`${lb.name}: cloud-init finished (${status.split("\n")[0]}) ${((Date.now() - t0) / 1000).toFixed(1)} s after boot`);
      }),
    );
  }

  private async startApp(app: AppNode): Promise<void> {
    const store = mkdtempSync(join(this.dir, `${app.name}-store-`));
    const child = this.run.start(
      "ip",
      [
        "netns",
        "exec",
        app.ns,
        "env",
        "MAILAPI_LISTEN_HOST=0.0.0.0",
        `MAILAPI_LISTEN_PORT=${this.plan.lb.appPort}`,
        "MAILAPI_STORE_KIND=fs",
        `MAILAPI_STORE_DIR=${store}`,
        `MAILAPI_STATIC_DIR=${store}`,
        `MAILAPI_HOST_NAME=${app.name}`,
        `MAILAPI_TOKEN_FILE=${this.tokenFile}`,
        process.execPath,
        "--import",
        "tsx",
        join(ROOT, "services/mail-api/main.ts"),
      ],
      createWriteStream(join(this.dir, `${app.name}.log`), { flags: "a" }),
    );
    app.pid = child.pid;
    app.stop = () => this.run.stop(child, 2000);
    await this.run.waitFor(
      `${app.name} to listen`,
      async () => ((await this.net.inNs(app.ns, "ss", ["-Hltn", `sport = :${this.plan.lb.appPort}`], { allowFail: true })).trim() ? true : undefined),
      30_000,
      100,
    );
  }

  /** The VRRP state each lb's notify script last recorded. */
  states(): Record<string, string> {
    return Object.fromEntries(
      this.lbs.map((lb) => [lb.name, (lb.host.running ? lb.host.read("/run/bulwark/vrrp-state") : undefined)?.trim() ?? "DOWN"]),
    );
  }

  masters(): LbNode[] {
    const states = this.states();
    return this.lbs.filter((lb) => states[lb.name] === "MASTER");
  }

  emulator(): EmulatorState {
    return JSON.parse(readFileSync(this.stateFile, "utf8")) as EmulatorState;
  }

  records(): ClientRecord[] {
    return existsSync(this.clientFile) ? parseRecords(readFileSync(this.clientFile, "utf8")) : [];
  }

  /**
   * Ready for the next failure: one MASTER with the Floating IP routed to it, the other lb a
   * healthy BACKUP (haproxy up, every backend up in its haproxy too), and the client's last 10
   * requests answered.
   */
  async steady(what: string, timeoutMs = 45_000): Promise<LbNode> {
    return this.run.waitFor(
      `a steady state (${what})`,
      async () => {
        const states = Object.values(this.states()).sort().join(",");
        const masters = this.masters();
        if (states !== "BACKUP,MASTER" || this.emulator().holder !== masters[0]!.serverId) return undefined;
        if (this.lbs.some((lb) => lb.host.read("/run/bulwark/haproxy-down")?.trim() !== "0")) return undefined;
        for (const lb of this.lbs) {
          for (const app of this.apps) if ((await this.serverState(lb, "api", app.name).catch(() => undefined)) !== 2) return undefined;
        }
        const last = this.records().slice(-10);
        return last.length === 10 && last.every((r) => r.ok) ? masters[0] : undefined;
      },
      timeoutMs,
      100,
    );
  }

  /** Client requests sent from `from` to `to` (ms since the epoch), once all have completed. */
  async window(from: number, to: number): Promise<ClientRecord[]> {
    await sleep(Math.max(0, to + CLIENT_TIMEOUT_MS + 200 - Date.now()));
    return this.records().filter((r) => r.t >= from && r.t <= to);
  }

  private async haproxyPid(lb: LbNode): Promise<number> {
    const out = await lb.host.exec("systemctl", ["show", "-p", "MainPID", "--value", "haproxy.service"]);
    const pid = Number(out.trim());
    if (!pid) throw new Error(`${lb.name}: haproxy is not running`);
    return pid;
  }

  /** Asks haproxy's runtime API on `lb` (through the container's /run). */
  private runtime(lb: LbNode, command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(`/proc/${lb.host.leader}/root/run/haproxy/admin.sock`);
      let out = "";
      socket.setTimeout(2000, () => socket.destroy(new Error("runtime API timeout")));
      socket.on("connect", () => socket.end(`${command}\n`));
      socket.on("data", (d) => (out += d.toString()));
      socket.on("end", () => resolve(out));
      socket.on("error", reject);
    });
  }

  /** haproxy's operational state of `server` in `backend` (0 down, 2 up). */
  private async serverState(lb: LbNode, backend: string, server: string): Promise<number | undefined> {
    const out = await this.runtime(lb, `show servers state ${backend}`);
    const line = out.split("\n").find((l) => l.split(" ")[3] === server);
    return line ? Number(line.split(" ")[5]) : undefined;
  }

  // ---- the scenarios -----------------------------------------------------------------------

  /** One request from the internet side (lab/probe.ts); `tokenFile` "-" sends no token. */
  private async probe(path: string, tokenFile: string): Promise<ProbeResult> {
    const out = await this.run.exec("ip", [
      "netns",
      "exec",
      this.clientNs,
      process.execPath,
      "--import",
      "tsx",
      join(ROOT, "lab/probe.ts"),
      `http://${LAB_PUBLIC.floatingIp}${path}`,
      "3000",
      tokenFile,
    ]);
    return JSON.parse(out.trim().split("\n").at(-1)!) as ProbeResult;
  }

  /**
   * What a stranger on the internet gets from the entry: the API refuses a request without the
   * token and with a wrong one, answers one with it; /healthz says "ok" and nothing more; no
   * response names a backend; 443 is closed (the seed has TLS off).
   */
  async publicSurface() {
    await this.steady("before the public-surface checks");
    const wrongToken = join(this.dir, "wrong-token");
    writeFileSync(wrongToken, `${"0".repeat(48)}\n`, { mode: 0o600 });
    const noToken = await this.probe("/api/messages", "-");
    const wrong = await this.probe("/api/messages", wrongToken);
    const unknownRoute = await this.probe("/api/admin", "-");
    const withToken = await this.probe("/api/messages", this.tokenFile);
    const health = await this.probe("/healthz", "-");
    const answers = [noToken, wrong, unknownRoute, withToken, health];
    const https = await this.net.inNs(this.clientNs, "timeout", ["3", "bash", "-c", `exec 3<>/dev/tcp/${LAB_PUBLIC.floatingIp}/443 && echo open`], {
      allowFail: true,
    });
    const result = {
      no_token_status: noToken.status ?? 0,
      wrong_token_status: wrong.status ?? 0,
      unknown_api_route_status: unknownRoute.status ?? 0,
      with_token_status: withToken.status ?? 0,
      healthz_status: health.status ?? 0,
      healthz_body: health.body ?? "",
      x_served_by_seen: answers.filter((a) => a.headers?.["x-served-by"] !== undefined).length,
      message_data_without_token: [noToken, wrong, unknownRoute].filter((a) => (a.body ?? "").includes("messages")).length,
      https_open: https.trim() === "open",
    };
    this.run.log(`public surface: ${JSON.stringify(result)}`);
    return result;
  }

  /**
   * Watches a failover from `t0` for `ms`: when the peer became MASTER (its notify script's
   * record) and when the emulator re-routed the Floating IP, both in seconds after `t0`.
   */
  private async watchFailover(t0: number, peer: LbNode, ms: number): Promise<{ peerMasterS?: number; routedS?: number }> {
    let peerMasterS: number | undefined;
    for (let i = 0; Date.now() < t0 + ms && i < ms; i++) {
      if (peerMasterS === undefined && peer.host.read("/run/bulwark/vrrp-state")?.trim() === "MASTER") peerMasterS = (Date.now() - t0) / 1000;
      await sleep(5);
    }
    const routed = this.emulator().assignments.find((a) => a.at >= t0 && a.server === peer.serverId);
    return { ...(peerMasterS !== undefined ? { peerMasterS } : {}), ...(routed ? { routedS: (routed.at - t0) / 1000 } : {}) };
  }

  private peerOf(lb: LbNode): LbNode {
    return this.lbs.find((x) => x !== lb)!;
  }

  /** a. SIGKILL haproxy's master process on the MASTER. */
  async haproxyKill(): Promise<Outage> {
    const master = await this.steady("before haproxy kill");
    const pid = await this.haproxyPid(master);
    const t0 = Date.now();
    await master.host.exec("kill", ["-KILL", String(pid)]);
    const steps = await this.watchFailover(t0, this.peerOf(master), 3000);
    const outage = { ...analyse(await this.window(t0 - CLIENT_TIMEOUT_MS, t0 + 4000), t0), ...steps };
    const next = await this.steady("after haproxy kill");
    this.run.log(
      `haproxy kill on ${master.name}: answered again after ${outage.recoveryS.toFixed(3)} s ` +
        `(peer MASTER ${steps.peerMasterS ?? "-"} s, IP routed ${steps.routedS ?? "-"} s), ${outage.failed} failed; MASTER now ${next.name}`,
    );
    return outage;
  }

  /** b. Cut every link of the MASTER, with no goodbye; then restore them. */
  async hostLoss(): Promise<Outage> {
    const master = await this.steady("before host loss");
    const t0 = Date.now();
    await Promise.all(master.links.map((l) => this.net.setLink(l, false)));
    const steps = await this.watchFailover(t0, this.peerOf(master), 4000);
    const outage = { ...analyse(await this.window(t0 - CLIENT_TIMEOUT_MS, t0 + 5000), t0), ...steps };
    await Promise.all(master.links.map((l) => this.net.setLink(l, true)));
    const next = await this.steady("after host loss");
    this.run.log(
      `host loss of ${master.name}: answered again after ${outage.recoveryS.toFixed(3)} s ` +
        `(peer MASTER ${steps.peerMasterS ?? "-"} s, IP routed ${steps.routedS ?? "-"} s), ${outage.failed} failed; MASTER now ${next.name}`,
    );
    return outage;
  }

  /** c. SIGKILL one app backend; time until the MASTER's haproxy marks it down. */
  async backendKill(n: number): Promise<{ failed: number; markdownS: number }> {
    const master = await this.steady("before backend kill");
    const app = this.apps[n % this.apps.length]!;
    await this.run.waitFor(
      `${app.name} up in haproxy`,
      async () => ((await this.serverState(master, "api", app.name)) === 2 ? true : undefined),
      10_000,
      50,
    );
    const t0 = Date.now();
    process.kill(app.pid!, "SIGKILL");
    const markdown = await this.run.waitFor(
      `${app.name} marked down`,
      async () => ((await this.serverState(master, "api", app.name)) === 0 ? Date.now() : undefined),
      10_000,
      10,
    );
    const records = await this.window(t0 - CLIENT_TIMEOUT_MS, t0 + 2000);
    await app.stop!();
    await this.startApp(app);
    await this.run.waitFor(
      `${app.name} up again`,
      async () => ((await this.serverState(master, "api", app.name)) === 2 ? true : undefined),
      15_000,
      50,
    );
    const failed = records.filter((r) => !r.ok).length;
    this.run.log(`backend kill of ${app.name}: marked down after ${((markdown - t0) / 1000).toFixed(3)} s, ${failed} failed GETs`);
    return { failed, markdownS: (markdown - t0) / 1000 };
  }

  /** d. `count` haproxy reloads on the MASTER under load. */
  async reloads(count: number): Promise<{ failed: number; requests: number }> {
    const master = await this.steady("before reloads");
    const t0 = Date.now();
    for (let i = 0; i < count; i++) {
      await master.host.exec("systemctl", ["reload", "haproxy.service"], { timeoutMs: 30_000 });
      await sleep(100);
    }
    const records = await this.window(t0, Date.now());
    const failed = records.filter((r) => !r.ok).length;
    this.run.log(`${count} reloads on ${master.name}: ${failed} of ${records.length} requests failed`);
    return { failed, requests: records.length };
  }

  /** e. Block VRRP between the lbs for `holdMs`, heal, and watch the election settle. */
  async partition(holdMs: number): Promise<{ dualMasterS: number; holders: number; flipsAfterSettle: number; failed: number }> {
    await this.steady("before partition");
    const t0 = Date.now();
    await Promise.all(this.lbs.map((lb) => this.block(lb, true)));
    await sleep(holdMs);
    const healed = Date.now();
    await Promise.all(this.lbs.map((lb) => this.block(lb, false)));
    const single = await this.run.waitFor("one MASTER after the heal", () => (this.masters().length === 1 ? Date.now() : undefined), 10_000, 5);
    const master = await this.steady("after partition");
    const settled = this.emulator().assignments.length;
    await sleep(3000);
    const after = this.emulator();
    const masters = this.masters();
    const holders = new Set(after.assignments.slice(settled).map((a) => a.server)).size || 1;
    const ok = masters.length === 1 && after.holder === masters[0]!.serverId && after.holder === master.serverId;
    const failed = (await this.window(t0, Date.now())).filter((r) => !r.ok).length;
    const dual = (single - healed) / 1000;
    this.run.log(
      `partition: one MASTER ${dual.toFixed(3)} s after the heal, holder ${ok ? "is" : "is NOT"} the MASTER, ` +
        `${after.assignments.length - settled} moves after settling, ${failed} failed`,
    );
    return { dualMasterS: dual, holders: ok ? holders : holders + 1, flipsAfterSettle: after.assignments.length - settled, failed };
  }

  private async block(lb: LbNode, on: boolean): Promise<void> {
    if (on) {
      await lb.host.exec("nft", ["add", "table", "inet", "labpartition"]);
      await lb.host.exec("nft", ["add", "chain", "inet", "labpartition", "input", "{ type filter hook input priority -10; }"]);
      await lb.host.exec("nft", ["add", "rule", "inet", "labpartition", "input", "ip", "protocol", "vrrp", "drop"]);
    } else {
      await lb.host.exec("nft", ["delete", "table", "inet", "labpartition"]);
    }
  }

  /** f. Power both lbs off together and boot both again. */
  async doubleRestart(): Promise<{ holders: number; settleS: number }> {
    await this.steady("before double restart");
    await Promise.all(this.lbs.map((lb) => lb.host.shutdown()));
    const t0 = Date.now();
    await this.bootLbs();
    const master = await this.steady("after double restart", 90_000);
    const state = this.emulator();
    const holders = this.masters().length === 1 && state.holder === master.serverId ? 1 : 2;
    this.run.log(
      `double restart: MASTER ${master.name}, Floating IP on server ${state.holder}, settled ${((Date.now() - t0) / 1000).toFixed(1)} s after boot`,
    );
    return { holders, settleS: (Date.now() - t0) / 1000 };
  }

  async versions(): Promise<Record<string, string>> {
    const lb = this.lbs[0]!.host;
    const first = (s: string) => s.split("\n")[0]!.trim();
    return {
      haproxy: first(await lb.exec("haproxy", ["-v"])),
      keepalived:
        first(await lb.exec("keepalived", ["--version"], { allowFail: true })) || first(await lb.exec("sh", ["-c", "keepalived --version 2>&1"])),
      systemd: first(await lb.exec("systemctl", ["--version"])),
      cloud_init:
        first(await lb.exec("cloud-init", ["--version"], { allowFail: true })) || first(await lb.exec("sh", ["-c", "cloud-init --version 2>&1"])),
      image: `debian ${first(lb.read("/etc/debian_version") ?? "?")}`,
      node: process.version,
    };
  }

  get unauthorizedRequests(): number {
    return this.emulator().unauthorized;
  }
}

export interface Outage {
  /** Seconds from the failure until requests were answered again (0 when none failed). */
  readonly recoveryS: number;
  readonly failed: number;
  readonly requests: number;
  /** Seconds from the failure until the peer became MASTER. */
  readonly peerMasterS?: number;
  /** Seconds from the failure until the emulator re-routed the Floating IP to the peer. */
  readonly routedS?: number;
}

/** Recovery: the first success sent after the last failure, measured from the failure at `t0`. */
export function analyse(records: readonly ClientRecord[], t0: number): Outage {
  const failures = records.filter((r) => !r.ok);
  if (failures.length === 0) return { recoveryS: 0, failed: 0, requests: records.length };
  const last = failures.at(-1)!.t;
  const back = records.find((r) => r.ok && r.t > last);
  return { recoveryS: ((back?.t ?? last) - t0) / 1000, failed: failures.length, requests: records.length };
}

export interface LbLabCounts {
  /** Runs of scenarios a, b, c and f (the medians need at least 5). */
  readonly runs: number;
  /** Reloads in scenario d. */
  readonly reloads: number;
  /** Partitions in scenario e. */
  readonly partitions: number;
}

/** The acceptance counts: what `npm run lab:lb` and the lab tier run. */
export const ACCEPTANCE_COUNTS: LbLabCounts = { runs: 5, reloads: 50, partitions: 10 };

/** The HA entry's acceptance requirements, checked against the report. */
export const LB_REQUIREMENTS = {
  haproxy_kill_median_s: 1.0,
  host_loss_median_s: 1.5,
  backend_kill_failed: 0,
  backend_markdown_s: 1.0,
  reload_failed: 0,
  holders: 1,
} as const;

export function stats(values: readonly number[]): { median_s: number; min_s: number; max_s: number } {
  const { median, min, max } = spread(values);
  return { median_s: round(median), min_s: round(min), max_s: round(max) };
}

/** Starts the lab, runs every scenario `counts` times, and returns the report. */
export async function runLbLab(run: LabRun, counts: LbLabCounts = ACCEPTANCE_COUNTS) {
  const started = Date.now();
  const lab = await LbLab.start(run);
  // Terraform leaves the Floating IP unassigned: the first MASTER's takeover must have taken it.
  const first = lab.emulator().assignments[0];
  const freshPair = { assigned_by_keepalived: first !== undefined && first.from === null, first_holder: first?.server ?? null };
  const versions = await lab.versions();
  const surface = await lab.publicSurface();

  const kills: Outage[] = [];
  for (let i = 0; i < counts.runs; i++) kills.push(await lab.haproxyKill());
  const losses: Outage[] = [];
  for (let i = 0; i < counts.runs; i++) losses.push(await lab.hostLoss());
  const backends: { failed: number; markdownS: number }[] = [];
  for (let i = 0; i < counts.runs; i++) backends.push(await lab.backendKill(i));
  const reloads = await lab.reloads(counts.reloads);
  const partitions: Awaited<ReturnType<LbLab["partition"]>>[] = [];
  for (let i = 0; i < counts.partitions; i++) partitions.push(await lab.partition(2000));
  const restarts: Awaited<ReturnType<LbLab["doubleRestart"]>>[] = [];
  for (let i = 0; i < counts.runs; i++) restarts.push(await lab.doubleRestart());

  const report = {
    scenarios: {
      haproxy_kill: { ...stats(kills.map((k) => k.recoveryS)), failed_requests: kills.reduce((n, k) => n + k.failed, 0), runs: kills },
      host_loss: { ...stats(losses.map((k) => k.recoveryS)), failed_requests: losses.reduce((n, k) => n + k.failed, 0), runs: losses },
      backend_kill: {
        failed_requests: backends.reduce((n, b) => n + b.failed, 0),
        markdown_median_s: stats(backends.map((b) => b.markdownS)).median_s,
        markdown_min_s: stats(backends.map((b) => b.markdownS)).min_s,
        markdown_max_s: stats(backends.map((b) => b.markdownS)).max_s,
      },
      reloads: { failed_requests: reloads.failed, reloads: counts.reloads, requests: reloads.requests },
      partition: {
        max_dual_master_s: Math.max(...partitions.map((p) => p.dualMasterS)),
        ...Object.fromEntries(Object.entries(stats(partitions.map((p) => p.dualMasterS))).map(([k, v]) => [`dual_master_${k}`, v])),
        holders_after_heal: Math.max(...partitions.map((p) => p.holders)),
        moves_after_settle: partitions.reduce((n, p) => n + p.flipsAfterSettle, 0),
        failed_requests: partitions.reduce((n, p) => n + p.failed, 0),
        partitions: counts.partitions,
      },
      public_surface: surface,
      fresh_pair: freshPair,
      double_restart: {
        holders: Math.max(...restarts.map((r) => r.holders)),
        ...Object.fromEntries(Object.entries(stats(restarts.map((r) => r.settleS))).map(([k, v]) => [`settle_${k}`, v])),
      },
    },
    requirements: LB_REQUIREMENTS,
    conditions: {
      client: `GET /api/messages through the Floating IP every ${CLIENT_INTERVAL_MS} ms, ${CLIENT_TIMEOUT_MS} ms timeout, one connection per request`,
      hosts:
        "lb-1, lb-2: systemd-nspawn containers booted from their rendered user-data (lab overrides: lab/overrides.ts); " +
        "app-1, app-2: the mail API in network namespaces",
      emulator: "lab/hcloud-emulator.ts re-routes the Floating IP at once; Hetzner's own propagation delay is not modelled",
      counts,
      unauthorized_api_requests: lab.unauthorizedRequests,
      seconds: Math.round((Date.now() - started) / 1000),
    },
    versions: { ...versions, kernel: (await run.exec("uname", ["-r"])).trim() },
  };
  const r = report.scenarios;
  const pass = {
    haproxy_kill: r.haproxy_kill.median_s <= LB_REQUIREMENTS.haproxy_kill_median_s,
    host_loss: r.host_loss.median_s <= LB_REQUIREMENTS.host_loss_median_s,
    backend_kill: r.backend_kill.failed_requests === 0 && r.backend_kill.markdown_max_s <= LB_REQUIREMENTS.backend_markdown_s,
    reloads: r.reloads.failed_requests === 0,
    partition: r.partition.holders_after_heal === 1,
    double_restart: r.double_restart.holders === 1,
    fresh_pair: r.fresh_pair.assigned_by_keepalived,
    public_surface:
      r.public_surface.no_token_status === 401 &&
      r.public_surface.wrong_token_status === 401 &&
      r.public_surface.unknown_api_route_status === 401 &&
      r.public_surface.with_token_status === 200 &&
      r.public_surface.healthz_status === 200 &&
      r.public_surface.healthz_body === "ok" &&
      r.public_surface.x_served_by_seen === 0 &&
      r.public_surface.message_data_without_token === 0 &&
      !r.public_surface.https_open,
  };
  return { ...report, pass };
}
