/**
 * The rollout lab: `cdktf deploy`'s Day-2 chain (constructs/rollout.ts) run by the real
 * terraform binary against hosts booted from their user-data, with real sshd, systemd, haproxy,
 * keepalived and the mail API on them, while a client sends a GET through the Floating IP every
 * 20 ms. The Terraform stack here holds the rollout chain only (no provider can be downloaded
 * here), with the lab's addresses and host keys: the same construct, bundles and agent as the
 * real stack.
 *
 *   client (198.19.0.2) ── router (emulator) ── public bridge ── lb-1, lb-2
 *   private bridge (10.0.1.0/24) ── lb-1, lb-2, app-1, app-2, artifact server, deployer (10.0.1.249)
 *   terraform runs in the deployer namespace and connects to every host's private address, as a
 *   runner inside the network would. Not through lb-1 as a bastion: Terraform 1.11 checks a
 *   bastion against the target's host key (hashicorp/terraform#6263, fixed by #38318 in 2026), so
 *   with two pinned keys it cannot connect; docs/day2.md says which Terraform that mode needs.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { HostRollout } from "../constructs/rollout.ts";
import type { Plan } from "../plan/model.ts";
import { DEPLOY_VALUES } from "../render/deploy-values.ts";
import { renderHost, type RenderedHost } from "../render/host.ts";
import { DIST_SERVICES } from "../services/build.ts";
import { prepare } from "../synth/pipeline.ts";
import { SEED_TOPOLOGY } from "../topology/defaults.ts";
import { spread, round } from "../measure/stats.ts";
import { parseRecords, type ClientRecord } from "./client.ts";
import type { EmulatorState } from "./hcloud-emulator.ts";
import { NOT_IN_DEBIAN } from "./lb-lab.ts";
import { publicSide, startClient, startEmulator } from "./entry.ts";
import { LabNetwork } from "./net.ts";
import { LabHost } from "./nspawn.ts";
import { LAB_PUBLIC, labOverrides, labPlan, labServicesPlan, labUserData, sshKeyPair, type LabOverrides } from "./overrides.ts";
import { ensureRootfs, imagePackages } from "./rootfs.ts";
import { sleep, type LabRun } from "./run.ts";
import { labArtifactBaseUrl, startArtifactServer } from "./services-scenario.ts";

const execFileP = promisify(execFile);
const CLIENT_INTERVAL_MS = 20;
const CLIENT_TIMEOUT_MS = 1000;
/** The hosts this lab boots: the entry and the app tier. */
export const ROLLOUT_LAB_HOSTS = ["lb-1", "lb-2", "app-1", "app-2"] as const;
/** Where terraform runs: an address of the private subnet no role uses (plan/catalog.ts blocks end at 249; the artifact server is 250). */
const DEPLOYER_OFFSET_ADDRESS = "10.0.1.249";
/** The lab's app gate bound (lab/overrides.ts item 7): a failing canary stops the apply in seconds. */
const LAB_APP_GATE_S = 30;

interface Node {
  readonly name: string;
  readonly ns: string;
  readonly privateIp: string;
  readonly publicIp?: string;
  readonly serverId: number;
  readonly hostKey: { readonly private: string; readonly public: string };
  host?: LabHost;
}

export interface ApplyResult {
  readonly ok: boolean;
  readonly seconds: number;
  /** The last lines terraform printed (the error, when it failed). */
  readonly tail: string;
  /** Hosts whose step ran (terraform_data created), in order. */
  readonly stepsRun: string[];
}

export interface ScenarioResult {
  readonly name: string;
  readonly apply_ok: boolean;
  readonly apply_s: number;
  readonly requests: number;
  readonly failed_gets: number;
  /** Longest run of consecutive failed GETs, in ms (0 when none failed). */
  readonly longest_gap_ms: number;
  readonly floating_ip_moves: number;
  readonly steps_run: string[];
  readonly note?: string;
}

export class RolloutLab {
  private applies = 0;

  private constructor(
    private readonly run: LabRun,
    private readonly net: LabNetwork,
    private readonly dir: string,
    readonly basePlan: Plan,
    private readonly nodes: Map<string, Node>,
    private readonly overrides: LabOverrides,
    private readonly adminKeyFile: string,
    private readonly deployerNs: string,
    private readonly clientFile: string,
    private readonly stateFile: string,
    private readonly artifactDir: string,
    private readonly adminPublicKey: string,
  ) {}

  static async start(run: LabRun): Promise<RolloutLab> {
    const dir = mkdtempSync(join(tmpdir(), `${run.prefix}-rollout-`));
    run.defer("the lab's files", () => rmSync(dir, { recursive: true, force: true }));
    const overrides = labOverrides();

    // The run's own admin key and SSH source range (lab/overrides.ts item 7).
    const adminKeyFile = join(dir, "admin-key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${run.prefix}-admin`, "-f", adminKeyFile]);
    const adminPublicKey = readFileSync(`${adminKeyFile}.pub`, "utf8").trim();
    const artifactDir = join(dir, "artifacts");
    mkdirSync(artifactDir);
    for (const f of ["mail-api.tar.gz", "parser.tar.gz"]) copyFileSync(join(DIST_SERVICES, f), join(artifactDir, f));
    const plan = labRolloutPlan(adminPublicKey, overrides, [LAB_PUBLIC.clientSubnet, `${DEPLOYER_OFFSET_ADDRESS}/32`]);

    const root = await ensureRootfs(run, imagePackages(["lb", "app"], NOT_IN_DEBIAN));
    const net = await LabNetwork.create(run);
    const { router, client } = await publicSide(run, net);
    const deployer = await net.addNamespace(`${run.prefix}-dp`);
    await net.connect(deployer, "brpriv", "eth0", `${DEPLOYER_OFFSET_ADDRESS}/24`);
    await startArtifactServer(run, net, plan, { bridge: "brpriv", directory: artifactDir });

    const nodes = new Map<string, Node>();
    for (const name of ROLLOUT_LAB_HOSTS) {
      const h = plan.hosts.find((x) => x.name === name)!;
      const ns = await net.addNamespace(`${run.prefix}-${name}`);
      const lbIndex = plan.lb.hosts.indexOf(name);
      const publicIp = lbIndex >= 0 ? LAB_PUBLIC.lb(lbIndex + 1) : undefined;
      if (publicIp) {
        await net.connect(ns, "brpub", "pub0", `${publicIp}/24`);
        await net.connect(ns, "brpriv", "priv0", `${h.privateIp}/24`);
        await net.ip(ns, ["route", "add", "default", "via", LAB_PUBLIC.router]);
      } else {
        await net.connect(ns, "brpriv", "priv0", `${h.privateIp}/24`);
      }
      const [hostKey, hostKeyPublic] = sshKeyPair(name);
      nodes.set(name, {
        name,
        ns,
        privateIp: h.privateIp,
        ...(publicIp ? { publicIp } : {}),
        serverId: 101 + [...nodes.keys()].length,
        // Its own key, without a comment, as the tls provider makes it.
        hostKey: { private: hostKey, public: hostKeyPublic },
      });
    }

    const lbs = plan.lb.hosts.map((n) => nodes.get(n)!);
    const stateFile = await startEmulator(
      run,
      router,
      dir,
      overrides.deployValues[DEPLOY_VALUES.failoverToken.name]!,
      lbs.map((lb) => ({ id: lb.serverId, name: plan.hosts.find((h) => h.name === lb.name)!.serverName, routeVia: lb.publicIp! })),
    );

    const clientFile = join(dir, "client.csv");
    const lab = new RolloutLab(run, net, dir, plan, nodes, overrides, adminKeyFile, deployer, clientFile, stateFile, artifactDir, adminPublicKey);
    // The app hosts' shared volume (lab/overrides.ts item 7), with the store the parser would create.
    const shared = join(dir, "shared");
    mkdirSync(join(shared, "store"), { recursive: true });
    const t0 = Date.now();
    await Promise.all(
      [...nodes.values()].map(async (n) => {
        const rendered = renderHost(plan, plan.hosts.find((h) => h.name === n.name)!);
        const userData = labUserData(rendered, overrides, lab.hostValues(n.name));
        n.host = await LabHost.boot(run, { name: n.name, ns: n.ns, root, userData, binds: n.publicIp ? [] : [`${shared}:${plan.services.sharedMount}`] });
        const status = await n.host.waitForCloudInit(180_000);
        run.log(`${n.name}: cloud-init finished (${status.split("\n")[0]}) ${((Date.now() - t0) / 1000).toFixed(1)} s after boot`);
      }),
    );
    const tokenFile = join(dir, "api-token");
    writeFileSync(tokenFile, `${overrides.deployValues[DEPLOY_VALUES.mailApiToken.name]!}\n`, { mode: 0o600 });
    startClient(run, client, CLIENT_INTERVAL_MS, CLIENT_TIMEOUT_MS, clientFile, tokenFile);
    return lab;
  }

  /** The plan again with other admin SSH ranges (every host's firewall changes), keeping `like`'s service builds. */
  withAdminRanges(like: Plan, ranges: readonly string[]): Plan {
    const plan = labRolloutPlan(this.adminPublicKey, this.overrides, [...ranges, `${DEPLOYER_OFFSET_ADDRESS}/32`]);
    return { ...plan, services: like.services, lb: like.lb };
  }

  /** The host's own deploy values: its SSH host key pair. */
  hostValues(host: string): Record<string, string> {
    const n = this.nodes.get(host)!;
    return { [DEPLOY_VALUES.sshHostKey.name]: n.hostKey.private, [DEPLOY_VALUES.sshHostKeyPublic.name]: n.hostKey.public };
  }

  emulator(): EmulatorState {
    return JSON.parse(readFileSync(this.stateFile, "utf8")) as EmulatorState;
  }

  records(): ClientRecord[] {
    return existsSync(this.clientFile) ? parseRecords(readFileSync(this.clientFile, "utf8")) : [];
  }

  /** The Floating IP is routed to the VRRP MASTER, the client is answered: the state every scenario starts from. */
  async steady(what: string, timeoutMs = 90_000): Promise<void> {
    await this.run.waitFor(`a steady entry (${what})`, () => {
      const states = [...this.nodes.values()].filter((n) => n.publicIp).map((n) => n.host?.read("/run/bulwark/vrrp-state")?.trim());
      const master = [...this.nodes.values()].find((n) => n.host?.read("/run/bulwark/vrrp-state")?.trim() === "MASTER");
      if (states.sort().join(",") !== "BACKUP,MASTER" || !master || this.emulator().holder !== master.serverId) return undefined;
      const last = this.records().slice(-10);
      return last.length === 10 && last.every((r) => r.ok) ? true : undefined;
    }, timeoutMs, 200);
  }

  /**
   * Synthesizes the lab's rollout stack for `plan` (the chain only, the lab's addresses and
   * keys) and runs `terraform apply` from the deployer namespace. `wrongHostKey` pins a key that
   * is not the host's, for the host-key refusal.
   */
  async apply(plan: Plan, options: { wrongHostKey?: string } = {}): Promise<ApplyResult> {
    const outdir = join(this.dir, "cdktf.out");
    const app = new App({ outdir });
    const stack = new TerraformStack(app, "rollout");
    new LocalBackend(stack, { path: join(this.dir, "terraform.tfstate") });
    const rendered: RenderedHost[] = plan.rollout.steps.map((s) => renderHost(plan, plan.hosts.find((h) => h.name === s.host)!));
    const wrong = options.wrongHostKey ? readFileSync(`${this.adminKeyFile}.pub`, "utf8").trim() : undefined;
    new HostRollout(stack, "HostRollout", {
      plan,
      rendered,
      targets: new Map(
        plan.rollout.steps.map((s) => {
          const n = this.nodes.get(s.host)!;
          return [s.host, { address: n.privateIp, hostKey: s.host === options.wrongHostKey ? wrong! : n.hostKey.public, serverId: String(n.serverId) }];
        }),
      ),
      valueFor: (host, name, base64) => {
        const value = this.hostValues(host)[name] ?? this.overrides.deployValues[name];
        return value === undefined ? undefined : base64 ? Buffer.from(value).toString("base64") : value;
      },
      // The hosts are up already: a refused key should stop the apply in seconds (Terraform retries
      // a host-key mismatch until this timeout: hashicorp/terraform#38881 is still open).
      connection: { user: plan.admin.user, privateKey: readFileSync(this.adminKeyFile, "utf8"), timeout: "20s" },
    });
    app.synth();
    const stackDir = join(outdir, "stacks", "rollout");
    // terraform prints the provisioners' output (the agent's lines) on stdout, its errors on stderr: keep both.
    const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/root", TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1", TF_CLI_CONFIG_FILE: "/dev/null" };
    const tf = (args: string[], timeoutMs: number): Promise<{ ok: boolean; out: string }> =>
      execFileP("ip", ["netns", "exec", this.deployerNs, "terraform", `-chdir=${stackDir}`, ...args], { env, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }).then(
        (r) => ({ ok: true, out: r.stdout + r.stderr }),
        (err: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, out: `${err.stdout ?? ""}${err.stderr ?? err.message}` }),
      );
    if (this.applies++ === 0) {
      const init = await tf(["init", "-input=false", "-no-color"], 120_000);
      if (!init.ok) throw new Error(`terraform init failed: ${init.out.slice(-2000)}`);
    }
    const t0 = Date.now();
    const { ok, out } = await tf(["apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=1"], 20 * 60_000);
    const seconds = (Date.now() - t0) / 1000;
    writeFileSync(join(this.dir, `apply-${this.applies}.log`), out);
    const stepsRun = [...out.matchAll(/terraform_data\.HostRollout_([A-Za-z0-9]+)_[0-9A-F]+: Creation complete/g)].map((m) => m[1]!);
    const tail = out.trim().split("\n").filter((l) => /^\s*(Error:|with terraform_data)|\(remote-exec\): bulwark-host: host|handshake|key mismatch/.test(l)).slice(-10).join("\n");
    this.run.log(`terraform apply ${ok ? "completed" : "FAILED"} in ${seconds.toFixed(1)} s; steps run: ${stepsRun.join(", ") || "none"}${ok ? "" : `\n${tail}`}`);
    return { ok, seconds, tail, stepsRun };
  }

  /** Runs `change` (an apply) under the client's load and measures what the client saw. */
  async scenario(name: string, plan: Plan, options: { wrongHostKey?: string; note?: string } = {}): Promise<ScenarioResult & { tail: string }> {
    await this.steady(`before ${name}`);
    const moves0 = this.emulator().assignments.length;
    const t0 = Date.now();
    const result = await this.apply(plan, options);
    await sleep(CLIENT_TIMEOUT_MS + 300);
    const records = this.records().filter((r) => r.t >= t0 && r.t <= t0 + result.seconds * 1000);
    const failed = records.filter((r) => !r.ok);
    const out = {
      name,
      apply_ok: result.ok,
      apply_s: round(result.seconds),
      requests: records.length,
      failed_gets: failed.length,
      longest_gap_ms: longestGap(records),
      floating_ip_moves: this.emulator().assignments.length - moves0,
      steps_run: result.stepsRun,
      tail: result.tail,
      ...(options.note ? { note: options.note } : {}),
    };
    this.run.log(`${name}: apply ${result.ok ? "ok" : "failed"} in ${out.apply_s} s, ${out.failed_gets} of ${out.requests} GETs failed (longest gap ${out.longest_gap_ms} ms), Floating IP moved ${out.floating_ip_moves}x`);
    return out;
  }

  /** A new build of the mail API: the current tarball with one more file, served under `/<tag>/`. */
  newBuild(plan: Plan, tag: string, options: { broken?: boolean } = {}): Plan {
    const work = mkdtempSync(join(this.dir, `build-${tag}-`));
    execFileSync("tar", ["-xzf", join(DIST_SERVICES, "mail-api.tar.gz"), "-C", work]);
    writeFileSync(join(work, "mail-api", "BUILD"), `${tag}\n`);
    // The canary: a build that exits at start, so the unit never becomes active and /healthz never answers.
    if (options.broken) writeFileSync(join(work, "mail-api", "main.mjs"), "process.stderr.write('canary build: refusing to start\\n');\nprocess.exit(1);\n");
    mkdirSync(join(this.artifactDir, tag), { recursive: true });
    const tarball = join(this.artifactDir, tag, "mail-api.tar.gz");
    execFileSync("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", tarball, "-C", work, "mail-api"]);
    copyFileSync(join(DIST_SERVICES, "parser.tar.gz"), join(this.artifactDir, tag, "parser.tar.gz"));
    const sha256 = createHash("sha256").update(readFileSync(tarball)).digest("hex");
    return {
      ...plan,
      services: {
        ...plan.services,
        artifactBaseUrl: `${labArtifactBaseUrl(plan)}${tag}/`,
        artifacts: { ...plan.services.artifacts, "mail-api": { ...plan.services.artifacts["mail-api"], sha256 } },
      },
    };
  }

  /** What a host's mail API unit runs now (its ExecStart names the installed build). */
  async execStart(host: string): Promise<string> {
    const props = await this.nodes.get(host)!.host!.unitProperties("bulwark-mail-api.service", ["ExecStart", "ActiveState"]);
    return `${props["ActiveState"]} ${/path=([^ ;]+)/.exec(props["ExecStart"] ?? "")?.[1] ?? ""} ${/argv\[\]=[^ ]+ ([^ ;]+)/.exec(props["ExecStart"] ?? "")?.[1] ?? ""}`;
  }

  async versions(): Promise<Record<string, string>> {
    const first = (s: string) => s.split("\n")[0]!.trim();
    const lb = this.nodes.get("lb-1")!.host!;
    return {
      terraform: first(await this.net.inNs(this.deployerNs, "terraform", ["version"])),
      haproxy: first(await lb.exec("haproxy", ["-v"])),
      openssh: first(await lb.exec("sh", ["-c", "ssh -V 2>&1"], { allowFail: true })),
      python: first(await lb.exec("python3", ["--version"])),
      systemd: first(await lb.exec("systemctl", ["--version"])),
      node: process.version,
    };
  }
}

/** The lab's plan: the seed with the run's admin key and ranges, the lab's overrides, the booted hosts' steps only. */
function labRolloutPlan(adminPublicKey: string, overrides: LabOverrides, ranges: readonly string[]): Plan {
  const topology = { ...SEED_TOPOLOGY, admin: { ...SEED_TOPOLOGY.admin, sshKeys: [{ name: "lab", publicKey: adminPublicKey }], sshSourceCidrs: [...ranges] } };
  const plan0 = labPlan(prepare({ kind: "object", topology }).plan, overrides);
  const plan = labServicesPlan(plan0, labArtifactBaseUrl(plan0));
  return {
    ...plan,
    rollout: {
      ...plan.rollout,
      steps: plan.rollout.steps.filter((s) => (ROLLOUT_LAB_HOSTS as readonly string[]).includes(s.host)),
      gates: { ...plan.rollout.gates, app: { ...plan.rollout.gates.app, timeoutS: LAB_APP_GATE_S } },
    },
  };
}

function longestGap(records: readonly ClientRecord[]): number {
  let longest = 0;
  let start: number | undefined;
  for (const r of records) {
    if (!r.ok) start ??= r.t;
    else if (start !== undefined) {
      longest = Math.max(longest, r.t - start);
      start = undefined;
    }
  }
  if (start !== undefined) longest = Math.max(longest, (records.at(-1)?.t ?? start) - start);
  return Math.round(longest);
}

export interface RolloutLabCounts {
  /** Repetitions of scenarios a (haproxy change) and b (new build); the medians need 5. */
  readonly runs: number;
}

export const ACCEPTANCE_COUNTS: RolloutLabCounts = { runs: 5 };

/** Starts the lab, plays every scenario, and returns the report. */
export async function runRolloutLab(run: LabRun, counts: RolloutLabCounts = ACCEPTANCE_COUNTS) {
  const started = Date.now();
  const lab = await RolloutLab.start(run);
  const base = lab.basePlan;

  // 0. The first deploy of the chain: every host gets the agent, records its files, passes its gate.
  await lab.steady("after boot");
  const fresh = lab.emulator();
  const first = await lab.scenario("first", base, { note: "first rollout after boot: agent installed, files recorded, gates" });
  // The baseline: an apply with nothing to change (terraform's own time, and the client's failure rate without a rollout).
  const baseline = await lab.scenario("baseline: nothing changed", base);

  // a. A haproxy setting, rolled over both lbs (a hitless reload each).
  const a: ScenarioResult[] = [];
  let plan = base;
  for (let i = 0; i < counts.runs; i++) {
    plan = { ...plan, lb: { ...plan.lb, connectTimeoutMs: plan.lb.connectTimeoutMs + 10 } };
    a.push(await lab.scenario(`a${i + 1} haproxy connect timeout ${plan.lb.connectTimeoutMs} ms`, plan));
  }
  // a2. A keepalived setting: a restart, so the MASTER hands the Floating IP to its peer first.
  plan = { ...plan, lb: { ...plan.lb, advertIntervalS: 0.2 } };
  const handoff = await lab.scenario("a2 keepalived advert 0.2 s (restart with handoff)", plan);

  // b. New mail-api builds, rolled over the app hosts one at a time, each drained first.
  const b: ScenarioResult[] = [];
  for (let i = 0; i < counts.runs; i++) {
    plan = lab.newBuild(plan, `v${i + 2}`);
    b.push(await lab.scenario(`b${i + 1} mail-api build v${i + 2}`, plan));
  }
  const goodBuild = plan;

  // g. A canary: a build that never becomes healthy. The apply stops at the first app host,
  // naming it and the gate; the second app host keeps the previous build and serves.
  const before = await lab.execStart("app-2");
  const broken = lab.newBuild(goodBuild, "broken", { broken: true });
  const canary = await lab.scenario("g canary: a build whose /healthz never answers", broken);
  const app2After = await lab.execStart("app-2");
  const fixed = lab.newBuild(goodBuild, "fixed");
  const resumed = await lab.scenario("g fixed build: the next apply resumes", fixed);

  // Bad input at the connection: a pinned host key that is not app-2's. app-1 gets the build,
  // the apply stops at app-2 before anything is sent to it.
  const rekeyed = lab.newBuild(fixed, "rekey");
  const badKey = await lab.scenario("bad host key on app-2", rekeyed, { wrongHostKey: "app-2" });

  // h. An in-place change on every booted host (the host firewall: one more admin range), which
  // also resumes app-2's step from the refused connection.
  const h = await lab.scenario("h every host: a host firewall change", lab.withAdminRanges(rekeyed, [LAB_PUBLIC.clientSubnet, "198.51.100.0/24"]));

  const stat = (xs: number[]) => {
    const { median, min, max } = spread(xs);
    return { median: round(median), min: round(min), max: round(max) };
  };
  const report = {
    scenarios: {
      fresh_pair: { floating_ip_assigned_by: fresh.assignments[0]?.from === null ? "keepalived (Terraform left it unassigned)" : "unknown", first_holder: fresh.assignments[0]?.server ?? null },
      first,
      baseline,
      a_haproxy_change: { runs: a, failed_gets: a.reduce((n, r) => n + r.failed_gets, 0), floating_ip_moves: a.reduce((n, r) => n + r.floating_ip_moves, 0), apply_s: stat(a.map((r) => r.apply_s)) },
      a2_keepalived_restart: handoff,
      b_new_build: { runs: b, failed_gets: b.reduce((n, r) => n + r.failed_gets, 0), apply_s: stat(b.map((r) => r.apply_s)), longest_gap_ms: Math.max(...b.map((r) => r.longest_gap_ms)) },
      g_canary: { ...canary, app2_before: before, app2_after: app2After, app2_untouched: before === app2After, resumed },
      bad_host_key: badKey,
      h_every_host: h,
    },
    conditions: {
      client: `GET /api/messages (with the token) through the Floating IP every ${CLIENT_INTERVAL_MS} ms, ${CLIENT_TIMEOUT_MS} ms timeout`,
      hosts: `${ROLLOUT_LAB_HOSTS.join(", ")}: systemd-nspawn containers booted from their rendered user-data (lab/overrides.ts), sshd with the host keys pinned; terraform connects from the private network, not through the bastion (Terraform 1.11 bug, see lab/rollout-lab.ts)`,
      terraform: "the real terraform binary applies the rollout chain (terraform_data + provisioners) of a lab stack holding only that chain",
      not_here: "parser and storage hosts (scenarios c, d, e), lb replacement (f) and MongoDB are not booted in this lab",
      counts,
      seconds: Math.round((Date.now() - started) / 1000),
    },
    versions: await lab.versions(),
  };
  const s = report.scenarios;
  const pass = {
    fresh_pair: s.fresh_pair.first_holder !== null && fresh.assignments[0]?.from === null,
    first: s.first.apply_ok && s.first.failed_gets === 0,
    baseline: s.baseline.apply_ok && s.baseline.steps_run.length === 0,
    a: s.a_haproxy_change.failed_gets === 0 && s.a_haproxy_change.floating_ip_moves === 0 && a.every((r) => r.apply_ok),
    // The handoff's promise is no failed request. The Floating IP moves once per handoff; a change
    // of VRRP timing (this one: the advert interval) can move it a second time while the two
    // nodes run different intervals (seen in 2 of 4 runs; README), so the moves are reported, not gated.
    a2: s.a2_keepalived_restart.apply_ok && s.a2_keepalived_restart.failed_gets === 0,
    b: s.b_new_build.failed_gets === 0 && b.every((r) => r.apply_ok),
    g: !canary.apply_ok && /app-1/.test(canary.tail) && /gate app/.test(canary.tail) && s.g_canary.app2_untouched && canary.failed_gets === 0 && resumed.apply_ok,
    bad_host_key: !badKey.apply_ok && /HostRollout_App2/.test(badKey.tail) && /key mismatch/.test(badKey.tail) && badKey.steps_run.join(",") === "App1",
  };
  return { ...report, pass };
}
