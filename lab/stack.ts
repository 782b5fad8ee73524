/**
 * The booted stack the rollout and stack labs run on: the 9 non-Mongo hosts of the seed (lb-1/2,
 * app-1/2, parser-1/2, storage-1..3) booted from their rendered user-data, with real sshd,
 * systemd, haproxy, keepalived, glusterd, the gluster FUSE mounts, the mail API, the SMTP receiver
 * and the parser on them; the router with the Hetzner API emulator, the artifact server, an
 * internet-side client namespace, and a deployer namespace where the real terraform binary
 * applies `cdktf deploy`'s Day-2 chain (constructs/rollout.ts). The Terraform stack here holds the
 * rollout chain only (no provider can be downloaded here), with the lab's addresses and host
 * keys: the same construct, bundles and agent as the real stack.
 *
 *   client (198.19.0.2) ── router (emulator) ── public bridge ── lb-1, lb-2
 *   private bridge (10.0.1.0/24) ── lb-1, lb-2, app-1, app-2, parser-1, parser-2,
 *     storage-1..3 (a brick each), artifact server, deployer (10.0.1.249)
 *   terraform runs in the deployer namespace and connects to every host's private address, as a
 *   runner inside the network would. Not through lb-1 as a bastion: Terraform 1.11 checks a
 *   bastion against the target's host key (hashicorp/terraform#6263, fixed by #38318 in 2026), so
 *   with two pinned keys it cannot connect; docs/day2.md says which Terraform that mode needs.
 *
 * A replacement is what `npm run replace` does, on lab parts: `bulwark-host retire` over SSH
 * with the pinned key (synth/replace.ts retireArgv), the container stopped, a new one booted from
 * the same user-data with a fresh root (nspawn's volatile overlay) and, for a storage host, the
 * same brick directory; the new server id replaces the host's step.
 */
import { cmdOutput, cmdSync } from "../synth/cmd.ts";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { rename as renameAsync, writeFile as writeFileAsync } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { HostRollout, RolloutAccess } from "../constructs/rollout.ts";
import { cleanCorpus } from "../measure/mail-corpus.ts";
import type { Plan } from "../plan/model.ts";
import { ROLLOUT_PATHS } from "../plan/rollout.ts";
import { DEPLOY_VALUES } from "../render/deploy-values.ts";
import { renderHost, type RenderedHost } from "../render/host.ts";
import { STORAGE_SERVER_PATHS } from "../render/storage-server.ts";
import { DIST_SERVICES } from "../services/build.ts";
import { prepare } from "../synth/pipeline.ts";
import { knownHostsLine, retireArgv } from "../synth/replace.ts";
import { SEED_TOPOLOGY } from "../topology/defaults.ts";
import { round } from "../measure/stats.ts";
import { parseRecords, type ClientRecord } from "./client.ts";
import type { EmulatorState } from "./hcloud-emulator.ts";
import { NOT_IN_DEBIAN } from "./lb-lab.ts";
import { publicSide, startClient, startEmulator } from "./entry.ts";
import { bricksOnline, healSummary, peersConnected } from "./gluster.ts";
import { LabNetwork, type Link } from "./net.ts";
import { LabHost } from "./nspawn.ts";
import { LAB_PUBLIC, labOverrides, labPlan, labServicesPlan, labUserData, sshKeyPair, type LabOverrides } from "./overrides.ts";
import { ensureRootfs, imagePackages } from "./rootfs.ts";
import { sleep, type LabRun } from "./run.ts";
import { labArtifactBaseUrl, startArtifactServer } from "./services-scenario.ts";
import { contentKey, spoolAccess, type BatchAudit } from "./spool.ts";
import { checkWrites, mountChecksums, startWriter, stopWriters, type WriteCheck, type Writer } from "./storage-writer.ts";

/** The nftables table of a partition drill (lab-owned, beside the host firewall's own table). */
const PARTITION_TABLE = "bulwark_lab_partition";
export const CLIENT_INTERVAL_MS = 20;
export const CLIENT_TIMEOUT_MS = 1000;
/** The hosts this lab boots: every role but Mongo (no MongoDB here: the services use the fs store). */
export const STACK_LAB_HOSTS = ["lb-1", "lb-2", "app-1", "app-2", "parser-1", "parser-2", "storage-1", "storage-2", "storage-3"] as const;
/** Where terraform runs: an address of the private subnet no role uses (plan/catalog.ts blocks end at 249; the artifact server is 250). */
const DEPLOYER_OFFSET_ADDRESS = "10.0.1.249";
/** The lab's app gate bound (lab/overrides.ts item 7): a failing canary stops the apply in seconds. */
const LAB_APP_GATE_S = 30;
/** Boot: cloud-init on 9 hosts at once on 2 cores, then the bootstrap builds the volume. */
const BOOT_TIMEOUT_MS = 420_000;
const VOLUME_TIMEOUT_MS = 600_000;
/** Scenario c: emails delivered into the spool while the parser build rolls out, one every this many ms. */
export const EMAIL_INTERVAL_MS = 40;
const DRAIN_TIMEOUT_MS = 300_000;
/** The rollout lab's background email load: one message this often, all along. */
export const FEED_INTERVAL_MS = 500;
/** The feed's corpus seed (scenario c's batch uses another, so no message is in both). */
const FEED_SEED = 104_729;
/** Scenario d and e: each client writes and reads back a checksummed file this often. */
export const WRITER = {
  periodS: 0.1,
  maxS: 3600,
  maxOps: 60_000,
  stopFile: "/run/bulwark-lab-writer.stop",
  bytes: { min: 1024, max: 16384 },
} as const;

interface Node {
  readonly name: string;
  readonly ns: string;
  readonly privateIp: string;
  readonly publicIp?: string;
  /** The emulator's id of an lb (constant: Hetzner's id of the server the Floating IP is routed to). */
  readonly emulatorId: number;
  /** What the rollout step's trigger holds: a replacement gives a new one. */
  serverId: number;
  /** 0 for the first server of this name, then one more per replacement. */
  generation: number;
  readonly binds: readonly string[];
  readonly hostKey: { readonly private: string; readonly public: string };
  /** Its link to the private bridge (cut to make it unreachable). */
  readonly privateLink: Link;
  /** An lb's link to the public bridge. */
  readonly publicLink?: Link;
  host?: LabHost;
}

export interface ApplyResult {
  readonly ok: boolean;
  readonly seconds: number;
  /** The last lines terraform printed (the error, when it failed). */
  readonly tail: string;
  /** Hosts whose step ran (terraform_data created), in order. */
  readonly stepsRun: string[];
  /** The agent's report of each step that completed (its last JSON line), by construct id. */
  readonly reports: Record<string, { health?: Record<string, unknown>; actions?: unknown[]; seconds?: number }>;
}

export interface ApplyOptions {
  /**
   * Pins this host's key as some other key (the deployer's): the connection must be refused.
   * @default - every host's own key
   */
  readonly wrongHostKey?: string;
  /**
   * A change to the rendered files on top of the plan's (kept ones: LabStack.keep).
   * @default - none
   */
  readonly tweak?: RenderedTweak;
  /**
   * Runs the apply with TF_VAR_rollout_accept_drift=true.
   * @default false
   */
  readonly acceptDrift?: boolean;
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

/** One scenario's share of the background email load, audited once the spool has drained. */
interface FeedAudit extends Omit<BatchAudit, "drain_s"> {
  /** Messages the parsers completed more than once (the processed logs). */
  readonly parsed_twice: number;
  /** Deliveries that failed (the mount stalled or refused) and were made again on a later tick. */
  readonly deliveries_retried: number;
}

/** The background email load of a lab (LabStack.startEmailFeed). */
export interface EmailFeed {
  /** Names the messages delivered from now on after `tag` (the scenario running). */
  tag(tag: string): void;
  /** Stops the load, waits for the spool to drain (bounded, timed) and audits each tag's messages. */
  stop(): Promise<{ perScenario: Record<string, FeedAudit>; drainS: number }>;
}

export interface StackOptions {
  /**
   * Turns the SMTP receiver on (topology `mail.ingress`) for these domains.
   * @default undefined - off, as in the seed topology
   */
  readonly ingressDomains?: readonly string[];
}

/** What the rendered files of a host get in a lab-only edit (a template edit, as a user would make one). */
export type RenderedTweak = (r: RenderedHost) => RenderedHost;

export class LabStack {
  private applies = 0;
  /** Template edits made by earlier scenarios: every later apply keeps them (else it would undo them). */
  private readonly tweaks: RenderedTweak[] = [];

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
    private readonly root: string,
    private readonly options: StackOptions,
    /** The internet-side namespace the client (and the stack lab's SMTP sender) run in. */
    readonly clientNs: string,
    /** The mail API token, in a file (0600) the client and the sender read. */
    readonly tokenFile: string,
  ) {}

  static async start(run: LabRun, options: StackOptions = {}): Promise<LabStack> {
    const dir = mkdtempSync(join(tmpdir(), `${run.prefix}-stack-`));
    run.defer("the lab's files", () => rmSync(dir, { recursive: true, force: true }));
    const overrides = labOverrides();

    // The run's own admin key and SSH source range (lab/overrides.ts item 7).
    const adminKeyFile = join(dir, "admin-key");
    cmdSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${run.prefix}-admin`, "-f", adminKeyFile]);
    const adminPublicKey = readFileSync(`${adminKeyFile}.pub`, "utf8").trim();
    const artifactDir = join(dir, "artifacts");
    mkdirSync(artifactDir);
    for (const f of ["mail-api.tar.gz", "parser.tar.gz", "ingress.tar.gz"]) copyFileSync(join(DIST_SERVICES, f), join(artifactDir, f));
    const plan = labStackPlan(adminPublicKey, overrides, [LAB_PUBLIC.clientSubnet, `${DEPLOYER_OFFSET_ADDRESS}/32`], options);

    const root = await ensureRootfs(run, imagePackages(["lb", "app", "parser", "storage"], NOT_IN_DEBIAN));
    const net = await LabNetwork.create(run);
    const { router, client } = await publicSide(run, net);
    const deployer = await net.addNamespace(`${run.prefix}-dp`);
    await net.connect(deployer, "brpriv", "eth0", `${DEPLOYER_OFFSET_ADDRESS}/24`);
    await startArtifactServer(run, net, plan, { bridge: "brpriv", directory: artifactDir });
    const bricks = join(dir, "bricks");

    const nodes = new Map<string, Node>();
    for (const name of STACK_LAB_HOSTS) {
      const h = plan.hosts.find((x) => x.name === name)!;
      const ns = await net.addNamespace(`${run.prefix}-${name}`);
      const lbIndex = plan.lb.hosts.indexOf(name);
      const publicIp = lbIndex >= 0 ? LAB_PUBLIC.lb(lbIndex + 1) : undefined;
      let privateLink: Link;
      let publicLink: Link | undefined;
      if (publicIp) {
        publicLink = await net.connect(ns, "brpub", "pub0", `${publicIp}/24`);
        privateLink = await net.connect(ns, "brpriv", "priv0", `${h.privateIp}/24`);
        await net.ip(ns, ["route", "add", "default", "via", LAB_PUBLIC.router]);
      } else {
        privateLink = await net.connect(ns, "brpriv", "priv0", `${h.privateIp}/24`);
      }
      // A storage host's brick: a directory of the run at the brick mount point (it outlives a
      // replacement, as the Hetzner volume does); the clients get /dev/fuse (storage lab overrides).
      let binds: string[] = [];
      if (h.role === "storage") {
        mkdirSync(join(bricks, name), { recursive: true });
        binds = [`${join(bricks, name)}:${plan.storage.brickMountPoint}`];
      } else if (h.role === "app" || h.role === "parser") binds = ["/dev/fuse"];
      const [hostKey, hostKeyPublic] = sshKeyPair(name);
      const id = 101 + nodes.size;
      nodes.set(name, {
        name,
        ns,
        privateIp: h.privateIp,
        ...(publicIp ? { publicIp } : {}),
        emulatorId: id,
        serverId: id,
        generation: 0,
        binds,
        privateLink,
        ...(publicLink ? { publicLink } : {}),
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
      lbs.map((lb) => ({ id: lb.emulatorId, name: plan.hosts.find((h) => h.name === lb.name)!.serverName, routeVia: lb.publicIp! })),
    );

    const clientFile = join(dir, "client.csv");
    const tokenFile = join(dir, "api-token");
    const lab = new LabStack(
      run,
      net,
      dir,
      plan,
      nodes,
      overrides,
      adminKeyFile,
      deployer,
      clientFile,
      stateFile,
      artifactDir,
      adminPublicKey,
      root,
      options,
      client,
      tokenFile,
    );
    const t0 = Date.now();
    run.log(`boot: ${nodes.size} hosts from their rendered user-data (the Mongo hosts are not booted: the services use the fs store)`);
    await Promise.all([...nodes.values()].map((n) => lab.boot(n, t0)));
    await lab.volumeReady(VOLUME_TIMEOUT_MS);
    run.log(`storage: volume ${plan.storage.volume} started, every brick online, ${((Date.now() - t0) / 1000).toFixed(1)} s after boot`);
    await lab.processedLog();
    writeFileSync(tokenFile, `${overrides.deployValues[DEPLOY_VALUES.mailApiToken.name]!}\n`, { mode: 0o600 });
    // The client reads one document that exists, as a user would. (Until /healthz stopped listing
    // the store, the list endpoint's cost, O(documents) on the fs store over gluster, made every
    // health check fail once a few hundred documents were there; its time is reported after c.)
    const key = await lab.seedDocument();
    startClient(run, client, CLIENT_INTERVAL_MS, CLIENT_TIMEOUT_MS, clientFile, tokenFile, `/api/messages/${key}`);
    return lab;
  }

  private async boot(n: Node, t0: number): Promise<void> {
    const rendered = renderHost(this.basePlan, this.basePlan.hosts.find((h) => h.name === n.name)!);
    const userData = labUserData(rendered, this.overrides, this.hostValues(n.name));
    n.host = await LabHost.boot(this.run, { name: n.name, ns: n.ns, root: this.root, userData, binds: n.binds, generation: n.generation });
    const status = await n.host.waitForCloudInit(BOOT_TIMEOUT_MS);
    this.run.log(`${n.name}: cloud-init finished (${status.split("\n")[0]}) ${((Date.now() - t0) / 1000).toFixed(1)} s after boot`);
  }

  /** Delivers one email into the spool and waits until a parser has stored it; returns its key. */
  private async seedDocument(): Promise<string> {
    const via = spoolAccess(this.basePlan, this.host("app-1"));
    const message = cleanCorpus(4, 1).find((m) => m.length <= 64 * 1024)!;
    via.deliverOne("seed-0000", message);
    const key = contentKey(message);
    await this.run.waitFor("the seed email to be stored as a document", () => (existsSync(via.docPath(key)) ? true : undefined), 120_000, 250);
    this.run.log(`client: GET /api/messages/${key.slice(0, 12)}… (the seed email's document) every ${CLIENT_INTERVAL_MS} ms`);
    return key;
  }

  /** How long app-1's mail API takes to answer the list endpoint (directly, not through haproxy), in ms; -1 if it failed. */
  async listMs(): Promise<number> {
    const svc = this.basePlan.services;
    const api = svc.hosts["app-1"]!;
    const token = this.overrides.deployValues[DEPLOY_VALUES.mailApiToken.name]!;
    const out = await this.host("app-1").exec(
      "curl",
      [
        "-fsS",
        "-o",
        "/dev/null",
        "-w",
        "%{time_total}",
        "--max-time",
        "60",
        "-H",
        `Authorization: Bearer ${token}`,
        `http://${api.listenHost}:${api.listenPort}/api/messages`,
      ],
      { allowFail: true, timeoutMs: 70_000 },
    );
    return out ? Math.round(Number(out) * 1000) : -1;
  }

  host(name: string): LabHost {
    return this.nodes.get(name)!.host!;
  }

  /** How many bricks of the volume are online, as `on`'s glusterd sees it (0 when it does not answer). */
  async bricksOnline(on: string, timeoutMs = 30_000): Promise<number> {
    const out = await this.host(on).exec("gluster", ["--mode=script", "volume", "status", this.basePlan.storage.volume, "detail"], {
      allowFail: true,
      timeoutMs,
    });
    return bricksOnline(out);
  }

  /** The volume is started and every brick online, as storage-1's glusterd sees it. */
  async volumeReady(timeoutMs: number): Promise<void> {
    const st = this.basePlan.storage;
    await this.run.waitFor(
      `volume ${st.volume} started with ${st.bricks.length} bricks online`,
      async () => {
        return (await this.bricksOnline(st.bootstrap.host)) === st.bricks.length ? true : undefined;
      },
      timeoutMs,
      2000,
    );
  }

  /**
   * Lab override 8 (lab/overrides.ts): each parser appends a line per message it completes to a
   * log of its own on the volume (PARSER_PROCESSED_LOG, a drop-in the bundles do not manage), so
   * a message parsed twice is seen across the restarts a rollout makes.
   */
  private async processedLog(): Promise<void> {
    const svc = this.basePlan.services;
    const unit = svc.artifacts.parser.unit;
    for (const name of this.parsers()) {
      const dropin = `[Service]\nEnvironment=PARSER_PROCESSED_LOG=${processedLogPath(this.basePlan, name)}\n`;
      const dirOf = `/etc/systemd/system/${unit}.d`;
      await this.host(name).exec("sh", [
        "-c",
        `mkdir -p '${dirOf}' && printf '%s' '${dropin}' > '${dirOf}/lab-processed-log.conf' && systemctl daemon-reload`,
      ]);
      await this.run.waitFor(
        `${unit} on ${name} to be active`,
        async () => ((await this.host(name).unitProperties(unit, ["ActiveState"]))["ActiveState"] === "active" ? true : undefined),
        300_000,
        1000,
      );
      await this.host(name).exec("systemctl", ["restart", unit]);
    }
  }

  parsers(): string[] {
    return this.basePlan.hosts.filter((h) => h.role === "parser" && this.nodes.has(h.name)).map((h) => h.name);
  }

  /** The plan again with other admin SSH ranges (every host's firewall changes), keeping `like`'s service builds. */
  withAdminRanges(like: Plan, ranges: readonly string[]): Plan {
    const plan = labStackPlan(this.adminPublicKey, this.overrides, [...ranges, `${DEPLOYER_OFFSET_ADDRESS}/32`], this.options);
    return { ...plan, services: like.services, lb: like.lb, storage: like.storage };
  }

  /** The host's own deploy values: its SSH host key pair. */
  hostValues(host: string): Record<string, string> {
    const n = this.nodes.get(host)!;
    return { [DEPLOY_VALUES.sshHostKey.name]: n.hostKey.private, [DEPLOY_VALUES.sshHostKeyPublic.name]: n.hostKey.public };
  }

  emulator(): EmulatorState {
    return JSON.parse(readFileSync(this.stateFile, "utf8")) as EmulatorState;
  }

  /** The lb the Floating IP is routed to, by name (null: unassigned). */
  holderName(state: EmulatorState = this.emulator()): string | null {
    return [...this.nodes.values()].find((n) => n.publicIp && n.emulatorId === state.holder)?.name ?? null;
  }

  records(): ClientRecord[] {
    return existsSync(this.clientFile) ? parseRecords(readFileSync(this.clientFile, "utf8")) : [];
  }

  /** The lb in VRRP MASTER state, if one is. */
  master(): string | undefined {
    return [...this.nodes.values()].find((n) => n.publicIp && n.host?.running && n.host.read("/run/bulwark/vrrp-state")?.trim() === "MASTER")?.name;
  }

  /** The Floating IP is routed to the VRRP MASTER, the client is answered: the state every scenario starts from. */
  async steady(what: string, timeoutMs = 90_000): Promise<void> {
    await this.run.waitFor(
      `a steady entry (${what})`,
      () => {
        const lbs = [...this.nodes.values()].filter((n) => n.publicIp);
        const states = lbs.map((n) => n.host?.read("/run/bulwark/vrrp-state")?.trim());
        const master = lbs.find((n) => n.host?.read("/run/bulwark/vrrp-state")?.trim() === "MASTER");
        if (states.sort().join(",") !== "BACKUP,MASTER" || !master || this.emulator().holder !== master.emulatorId) return undefined;
        const last = this.records().slice(-10);
        return last.length === 10 && last.every((r) => r.ok) ? true : undefined;
      },
      timeoutMs,
      200,
    );
  }

  /**
   * Synthesizes the lab's rollout stack for `plan` (the chain only, the lab's addresses and
   * keys) and runs `terraform apply` from the deployer namespace. `wrongHostKey` pins a key that
   * is not the host's, for the host-key refusal; `tweak` edits hosts' rendered files.
   */
  async apply(plan: Plan, options: ApplyOptions = {}): Promise<ApplyResult> {
    const outdir = join(this.dir, "cdktf.out");
    const app = new App({ outdir });
    const stack = new TerraformStack(app, "rollout");
    new LocalBackend(stack, { path: join(this.dir, "terraform.tfstate") });
    const tweaks = [...this.tweaks, ...(options.tweak ? [options.tweak] : [])];
    const tweak = (r: RenderedHost) => tweaks.reduce((acc, t) => t(acc), r);
    const rendered: RenderedHost[] = plan.rollout.steps.map((s) => tweak(renderHost(plan, plan.hosts.find((h) => h.name === s.host)!)));
    const wrong = options.wrongHostKey ? readFileSync(`${this.adminKeyFile}.pub`, "utf8").trim() : undefined;
    new HostRollout(stack, "HostRollout", {
      plan,
      rendered,
      targets: new Map(
        plan.rollout.steps.map((s) => {
          const n = this.nodes.get(s.host)!;
          return [
            s.host,
            { address: n.privateIp, hostKey: s.host === options.wrongHostKey ? wrong! : n.hostKey.public, serverId: String(n.serverId) },
          ];
        }),
      ),
      valueFor: (host, name, base64) => {
        const value = this.hostValues(host)[name] ?? this.overrides.deployValues[name];
        return value === undefined ? undefined : base64 ? Buffer.from(value).toString("base64") : value;
      },
      // The hosts are up already: a refused key should stop the apply in seconds (Terraform retries
      // a host-key mismatch until this timeout: hashicorp/terraform#38881 is still open).
      connection: { user: plan.admin.user, privateKey: readFileSync(this.adminKeyFile, "utf8"), timeout: "20s" },
      // The stack's own variable, so the override is TF_VAR_rollout_accept_drift as in production.
      acceptDrift: new RolloutAccess(stack, "RolloutAccess", { bastionHost: "lb-1" }).acceptDrift,
    });
    app.synth();
    const stackDir = join(outdir, "stacks", "rollout");
    // terraform prints the provisioners' output (the agent's lines) on stdout, its errors on stderr: keep both.
    const env = {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: process.env["HOME"] ?? "/root",
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      TF_CLI_CONFIG_FILE: "/dev/null",
      ...(options.acceptDrift ? { TF_VAR_rollout_accept_drift: "true" } : {}),
    };
    const tf = (args: string[], timeoutMs: number): Promise<{ ok: boolean; out: string }> =>
      cmdOutput("ip", ["netns", "exec", this.deployerNs, "terraform", `-chdir=${stackDir}`, ...args], { env, replaceEnv: true, timeoutMs }).then(
        (r) => ({
          ok: r.ok,
          out: r.ok ? r.stdout + r.stderr : `${r.stdout}${r.stderr}\n${r.failure!.split("\n")[0]}`,
        }),
      );
    if (this.applies++ === 0) {
      const init = await tf(["init", "-input=false", "-no-color"], 120_000);
      if (!init.ok) throw new Error(`terraform init failed: ${init.out.slice(-2000)}`);
    }
    const t0 = Date.now();
    const { ok, out } = await tf(["apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=1"], 30 * 60_000);
    const seconds = (Date.now() - t0) / 1000;
    writeFileSync(join(this.dir, `apply-${this.applies}.log`), out);
    const stepsRun = [...out.matchAll(/terraform_data\.HostRollout_([A-Za-z0-9]+)_[0-9A-F]+: Creation complete/g)].map((m) => m[1]!);
    const reports: ApplyResult["reports"] = {};
    for (const m of out.matchAll(/terraform_data\.HostRollout_([A-Za-z0-9]+)_[0-9A-F]+ \(remote-exec\): (\{"actions".*\})\s*$/gm)) {
      try {
        reports[m[1]!] = JSON.parse(m[2]!) as ApplyResult["reports"][string];
      } catch {
        // a line terraform wrapped: the report is then missing for that host
      }
    }
    const tail = out
      .trim()
      .split("\n")
      .filter((l) =>
        /^\s*(Error:|with terraform_data)|\(remote-exec\): bulwark-host: host|handshake|key mismatch|dial tcp|timeout - last error/.test(l),
      )
      .slice(-10)
      .join("\n");
    this.run.log(
      `terraform apply ${ok ? "completed" : "FAILED"} in ${seconds.toFixed(1)} s; ` +
        `steps run: ${stepsRun.join(", ") || "none"}${ok ? "" : `\n${tail}`}`,
    );
    return { ok, seconds, tail, stepsRun, reports };
  }

  /** Cuts (or restores) a host's private link: the deployer cannot reach it. */
  async setReachable(name: string, up: boolean): Promise<void> {
    await this.net.setLink(this.nodes.get(name)!.privateLink, up);
  }

  /** Cuts (or restores) every link of a host: the private one, and an lb's public one. */
  async setLinks(name: string, up: boolean): Promise<void> {
    const n = this.nodes.get(name)!;
    await this.net.setLink(n.privateLink, up);
    if (n.publicLink) await this.net.setLink(n.publicLink, up);
  }

  /**
   * A hard loss (`true`): every link cut, then every process frozen, as a server that hangs and
   * drops off the network; `false` thaws it and restores its links. Its peers see no FIN or RST:
   * only timeouts tell them.
   */
  async setLost(name: string, lost: boolean): Promise<void> {
    if (lost) {
      await this.setLinks(name, false);
      this.host(name).freeze(true);
    } else {
      this.host(name).freeze(false);
      await this.setLinks(name, true);
    }
  }

  /**
   * A clean restart: the host powers off (systemd stops its units in order), then boots from the
   * same user-data. The lab's root is volatile, so the host also comes back without its root disk
   * (a stricter case than a reboot: cloud-init runs again, a storage server rejoins from its kept
   * brick as after a replacement). Returns the boot's seconds until cloud-init finished.
   */
  async restart(name: string): Promise<number> {
    const n = this.nodes.get(name)!;
    await n.host!.shutdown();
    // A container name (and cgroup) of its own, as a replacement gets: the stopped one's cgroup
    // may still be going away. Its server id, and so its rollout step, stay the same.
    n.generation++;
    const t0 = Date.now();
    await this.boot(n, t0);
    return (Date.now() - t0) / 1000;
  }

  /**
   * A partition (`on`): `side` cannot reach the other booted hosts, nor they it (nftables rules in
   * each of `side`'s namespaces drop packets to and from the others' addresses, both lbs' public
   * ones included); the router, the client and the emulator stay reachable from both sides.
   */
  async partition(side: readonly string[], on: boolean): Promise<void> {
    const others = [...this.nodes.values()].filter((n) => !side.includes(n.name));
    const addresses = others.flatMap((n) => [n.privateIp, ...(n.publicIp ? [n.publicIp] : [])]);
    for (const name of side) {
      const ns = this.nodes.get(name)!.ns;
      if (!on) {
        await this.net.inNs(ns, "nft", ["delete", "table", "inet", PARTITION_TABLE], { allowFail: true });
        continue;
      }
      const file = join(this.dir, `partition-${name}.nft`);
      writeFileSync(
        file,
        [
          `table inet ${PARTITION_TABLE} {`,
          `  set others { type ipv4_addr; elements = { ${addresses.join(", ")} }; }`,
          "  chain in {",
          "    type filter hook input priority -300; policy accept;",
          "    ip saddr @others drop",
          "  }",
          "  chain out {",
          "    type filter hook output priority -300; policy accept;",
          "    ip daddr @others drop",
          "  }",
          "}",
          "",
        ].join("\n"),
      );
      this.run.defer(`partition rules of ${name}`, () =>
        this.net.inNs(ns, "nft", ["delete", "table", "inet", PARTITION_TABLE], { allowFail: true }).then(() => undefined),
      );
      await this.net.inNs(ns, "nft", ["-f", file]);
    }
  }

  /**
   * What keeps `name` from being back in service (empty when it is): an lb is MASTER or BACKUP
   * with haproxy active and one MASTER holds the Floating IP; an app host's backends are UP in the
   * MASTER's haproxy; a parser's unit is active; a storage server's
   * peers are connected, every brick is online and nothing is left to heal.
   */
  async inService(name: string): Promise<string[]> {
    const n = this.nodes.get(name)!;
    if (!n.host?.running) return [`${name} is not running`];
    const role = this.basePlan.hosts.find((h) => h.name === name)!.role;
    const h = n.host;
    const problems: string[] = [];
    const active = async (unit: string) => (await h.exec("systemctl", ["is-active", unit], { allowFail: true })).trim() === "active";
    if (role === "lb") {
      const state = h.read("/run/bulwark/vrrp-state")?.trim();
      if (state !== "MASTER" && state !== "BACKUP") problems.push(`keepalived is ${state ?? "not up"}`);
      if (!(await active("haproxy.service"))) problems.push("haproxy is not active");
      const master = this.master();
      if (!master) problems.push("no MASTER");
      else if (this.emulator().holder !== this.nodes.get(master)!.emulatorId) problems.push(`the Floating IP is not on the MASTER ${master}`);
    } else if (role === "app") {
      const master = this.master();
      if (!master) return ["no MASTER lb to ask"];
      const rows = await this.haproxyServers(master);
      const mine = rows.filter((r) => r.server === name);
      if (mine.length === 0) problems.push(`${master}'s haproxy lists no server ${name}`);
      for (const r of mine) if (!r.status.startsWith("UP")) problems.push(`${r.backend}/${name} is ${r.status} in ${master}'s haproxy`);
    } else if (role === "parser") {
      const unit = this.basePlan.services.artifacts.parser.unit;
      if (!(await active(unit))) problems.push(`${unit} is not active`);
    } else if (role === "storage") {
      const st = this.basePlan.storage;
      const peer = st.servers.find((s) => s !== name && this.nodes.get(s)?.host?.running)!;
      const on = this.host(peer);
      const gl = (args: string[]) => on.exec("gluster", ["--mode=script", ...args], { allowFail: true, timeoutMs: 60_000 });
      const online = await this.bricksOnline(peer, 60_000);
      if (online < st.bricks.length) problems.push(`${online} of ${st.bricks.length} bricks online (as ${peer} sees it)`);
      const connected = peersConnected(await h.exec("gluster", ["--mode=script", "peer", "status"], { allowFail: true, timeoutMs: 60_000 }));
      if (connected < st.servers.length - 1) problems.push(`${name} sees ${connected} of ${st.servers.length - 1} peers connected`);
      const heal = healSummary(await gl(["volume", "heal", st.volume, "info", "summary"]));
      if (heal.bricks < st.bricks.length) problems.push("heal info does not report every brick");
      if (heal.pending > 0) problems.push(`${heal.pending} heal entries pending`);
      if (heal.splitBrain > 0) problems.push(`${heal.splitBrain} entries in split-brain`);
    }
    return problems;
  }

  /** Every server row of `lb`'s haproxy (`show stat` on its admin socket): backend, server, status. */
  async haproxyServers(lb: string): Promise<{ backend: string; server: string; status: string }[]> {
    const py =
      "import socket\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(5)\ns.connect('/run/haproxy/admin.sock')\n" +
      "s.sendall(b'show stat\\n')\nb=b''\nwhile True:\n  c=s.recv(65536)\n  if not c: break\n  b+=c\nprint(b.decode())";
    const out = await this.host(lb).exec("python3", ["-c", py], { allowFail: true, timeoutMs: 15_000 });
    const lines = out.split("\n").filter((l) => l && !l.startsWith("#"));
    return lines
      .map((l) => l.split(","))
      .filter((c) => c[1] !== "FRONTEND" && c[1] !== "BACKEND" && c.length > 17)
      .map((c) => ({ backend: c[0]!, server: c[1]!, status: c[17]! }));
  }

  /** Private address of a booted host. */
  privateIp(name: string): string {
    return this.nodes.get(name)!.privateIp;
  }

  /** A file in the run's directory (removed at cleanup). */
  file(name: string): string {
    return join(this.dir, name);
  }

  /** What the client saw from `t0` (ms since the epoch) until `t1`. */
  gets(
    t0: number,
    t1: number,
  ): { requests: number; failed_gets: number; longest_gap_ms: number; failed: { at_s: number; status: number; ms: number }[] } {
    const records = this.records().filter((r) => r.t >= t0 && r.t <= t1);
    const failed = records.filter((r) => !r.ok);
    return {
      requests: records.length,
      failed_gets: failed.length,
      longest_gap_ms: longestGap(records),
      // When each failed, from t0, with its status (0: no answer within the client's timeout) and duration: the first 20.
      failed: failed.slice(0, 20).map((r) => ({ at_s: round((r.t - t0) / 1000), status: r.status, ms: Math.round(r.ms) })),
    };
  }

  /** Keeps a scenario's template edit in every later apply. */
  keep(tweak: RenderedTweak): void {
    this.tweaks.push(tweak);
  }

  /** What the client saw from `t0` for `seconds`. */
  private seen(t0: number, seconds: number, moves0: number) {
    const records = this.records().filter((r) => r.t >= t0 && r.t <= t0 + seconds * 1000);
    return {
      requests: records.length,
      failed_gets: records.filter((r) => !r.ok).length,
      longest_gap_ms: longestGap(records),
      floating_ip_moves: this.emulator().assignments.length - moves0,
    };
  }

  /** Runs `change` (an apply) under the client's load and measures what the client saw. */
  async scenario(
    name: string,
    plan: Plan,
    options: ApplyOptions & { note?: string } = {},
  ): Promise<ScenarioResult & { tail: string; reports: ApplyResult["reports"] }> {
    await this.steady(`before ${name}`);
    const moves0 = this.emulator().assignments.length;
    const t0 = Date.now();
    const result = await this.apply(plan, options);
    await sleep(CLIENT_TIMEOUT_MS + 300);
    const out = {
      name,
      apply_ok: result.ok,
      apply_s: round(result.seconds),
      ...this.seen(t0, result.seconds, moves0),
      steps_run: result.stepsRun,
      tail: result.tail,
      reports: result.reports,
      ...(options.note ? { note: options.note } : {}),
    };
    this.run.log(
      `${name}: apply ${result.ok ? "ok" : "failed"} in ${out.apply_s} s, ` +
        `${out.failed_gets} of ${out.requests} GETs failed (longest gap ${out.longest_gap_ms} ms), Floating IP moved ${out.floating_ip_moves}x`,
    );
    return out;
  }

  /**
   * Replaces `name` as `npm run replace` does: `bulwark-host retire` over SSH with its pinned key
   * (from the deployer namespace), the server stopped, a new one booted from the same user-data
   * with a fresh root (and the same brick), then the apply, whose step for it runs again (new
   * server id) and waits for its gate. Measures the client over all of it.
   */
  async replace(
    name: string,
    plan: Plan,
  ): Promise<ScenarioResult & { tail: string; retire: string; reports: ApplyResult["reports"]; boot_s: number }> {
    await this.steady(`before replacing ${name}`);
    const n = this.nodes.get(name)!;
    const moves0 = this.emulator().assignments.length;
    const t0 = Date.now();
    const known = join(this.dir, `known-${name}`);
    const target = { user: plan.admin.user, address: n.privateIp, hostKey: n.hostKey.public, agent: ROLLOUT_PATHS.agent };
    writeFileSync(known, knownHostsLine(target), { mode: 0o600 });
    const retire = (
      await this.net.inNs(this.deployerNs, "ssh", retireArgv(target, known, ["-i", this.adminKeyFile, "-o", "IdentitiesOnly=yes"]), {
        allowFail: true,
        timeoutMs: 90_000,
      })
    ).trim();
    this.run.log(`replace ${name}: retire said ${retire || "(nothing: it failed)"}`);
    await n.host!.shutdown();
    n.serverId += 100;
    n.generation++;
    const b0 = Date.now();
    await this.boot(n, b0);
    const bootS = (Date.now() - b0) / 1000;
    const result = await this.apply(plan);
    const seconds = (Date.now() - t0) / 1000;
    await sleep(CLIENT_TIMEOUT_MS + 300);
    const out = {
      name: `replace ${name}`,
      apply_ok: result.ok,
      apply_s: round(result.seconds),
      ...this.seen(t0, seconds, moves0),
      steps_run: result.stepsRun,
      tail: result.tail,
      reports: result.reports,
      retire,
      boot_s: round(bootS),
    };
    this.run.log(
      `replace ${name}: boot ${out.boot_s} s, apply ${result.ok ? "ok" : "failed"} in ${out.apply_s} s; ` +
        `over ${round(seconds)} s ${out.failed_gets} of ${out.requests} GETs failed ` +
        `(longest gap ${out.longest_gap_ms} ms), Floating IP moved ${out.floating_ip_moves}x`,
    );
    return out;
  }

  /**
   * A new build of `service`: the current tarball with one more file, served under `/<tag>/`.
   * Only that artifact's file name (its URL) and sha256 change, so only its hosts get the change.
   */
  newBuild(plan: Plan, tag: string, options: { broken?: boolean; service?: "mail-api" | "parser" } = {}): Plan {
    const service = options.service ?? "mail-api";
    const work = mkdtempSync(join(this.dir, `build-${tag}-`));
    cmdSync("tar", ["-xzf", join(DIST_SERVICES, `${service}.tar.gz`), "-C", work]);
    writeFileSync(join(work, service, "BUILD"), `${tag}\n`);
    // The canary: a build that starts and listens where the mail API does, but whose /healthz
    // answers 503: the unit is active, the health check fails.
    if (options.broken)
      writeFileSync(
        join(work, service, "main.mjs"),
        [
          'import { createServer } from "node:http";',
          "const e = process.env;",
          'createServer((req, res) => res.writeHead(req.url === "/healthz" ? 503 : 404).end())',
          '  .listen(Number(e.MAILAPI_LISTEN_PORT ?? 8080), e.MAILAPI_LISTEN_HOST ?? "127.0.0.1");',
          'process.stderr.write("canary build: /healthz answers 503\\n");',
          "",
        ].join("\n"),
      );
    mkdirSync(join(this.artifactDir, tag), { recursive: true });
    const file = `${tag}/${service}.tar.gz`;
    const tarball = join(this.artifactDir, file);
    cmdSync("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", tarball, "-C", work, service]);
    const sha256 = createHash("sha256").update(readFileSync(tarball)).digest("hex");
    return {
      ...plan,
      services: { ...plan.services, artifacts: { ...plan.services.artifacts, [service]: { ...plan.services.artifacts[service], file, sha256 } } },
    };
  }

  /** What a host's mail API unit runs now (its ExecStart names the installed build). */
  async execStart(host: string): Promise<string> {
    const props = await this.host(host).unitProperties("bulwark-mail-api.service", ["ExecStart", "ActiveState"]);
    return (
      `${props["ActiveState"]} ${/path=([^ ;]+)/.exec(props["ExecStart"] ?? "")?.[1] ?? ""} ` +
      `${/argv\[\]=[^ ]+ ([^ ;]+)/.exec(props["ExecStart"] ?? "")?.[1] ?? ""}`
    );
  }

  /**
   * Scenario c's load: `count` emails delivered into the spool (through app-1's mount) one every
   * EMAIL_INTERVAL_MS while `during` runs, then the spool drained and audited: stored, lost,
   * quarantined, and parsed twice (a name in the parsers' processed logs more than once).
   */
  async emailsDuring<T>(
    tag: string,
    count: number,
    during: () => Promise<T>,
  ): Promise<{ result: T; emails: BatchAudit & { parsed_twice: number; processed_lines: number; delivered_during_apply: number } }> {
    const plan = this.basePlan;
    const via = spoolAccess(plan, this.host("app-1"));
    const messages = cleanCorpus(count * 2, 7_919)
      .filter((m) => m.length <= 256 * 1024)
      .slice(0, count);
    const names = messages.map((_, i) => `${tag}-${String(i).padStart(4, "0")}`);
    let delivered = 0;
    let applying = true;
    let duringApply = 0;
    const t0 = Date.now();
    const feeder = (async () => {
      for (let i = 0; i < messages.length; i++) {
        via.deliverOne(names[i]!, messages[i]!);
        delivered++;
        if (applying) duringApply++;
        await sleep(EMAIL_INTERVAL_MS);
      }
    })();
    await sleep(500);
    const result = await during();
    applying = false;
    await feeder;
    await this.run.waitFor(`the parsers to drain ${delivered} emails`, () => (via.spoolEmpty() ? true : undefined), DRAIN_TIMEOUT_MS, 250);
    const audit = via.audit(names, messages, (Date.now() - t0) / 1000);
    const mine = this.completions().filter((c) => c.file.startsWith(`${tag}-`));
    const emails = {
      ...audit,
      parsed_twice: moreThanOnce(mine.map((c) => c.file)),
      processed_lines: mine.length,
      delivered_during_apply: duringApply,
    };
    this.run.log(`${tag}: ${JSON.stringify(emails)}`);
    return { result, emails };
  }

  /**
   * Every message the parsers have completed, in each log's order (lab override 8: each parser
   * appends `<file> <key> <docSha256> <host>` to its processed log beside the spool), read
   * through app-1's mount: the spool file's name (without a claim suffix) and the content key.
   */
  completions(): { file: string; key: string }[] {
    const out: { file: string; key: string }[] = [];
    for (const p of this.parsers()) {
      for (const line of (this.host("app-1").read(processedLogPath(this.basePlan, p)) ?? "").split("\n")) {
        const [file, key] = line.split(" ");
        if (file && key) out.push({ file: file.split("#")[0]!, key });
      }
    }
    return out;
  }

  /**
   * An email load that runs beside the scenarios: one message every `intervalMs` into the spool
   * through app-1's mount, named `<tag>-<n>` after the scenario running, at most `max` messages.
   * The I/O is asynchronous, so a stalled mount holds the feed only, not the lab; a delivery that
   * fails is made again on the next tick and counted.
   */
  startEmailFeed(intervalMs: number, max: number): EmailFeed {
    const via = spoolAccess(this.basePlan, this.host("app-1"));
    const corpus = cleanCorpus(max * 2, FEED_SEED)
      .filter((m) => m.length <= 256 * 1024)
      .slice(0, max);
    const sent: Record<string, { names: string[]; messages: Buffer[]; retried: number }> = {};
    let tag = "start";
    let running = true;
    this.run.defer("stop the email feed", () => {
      running = false;
    });
    const loop = (async () => {
      let retried = 0;
      // Bounded: `max` messages, and at most 10 minutes of failing deliveries in a row.
      for (let i = 0; running && i < corpus.length && retried * intervalMs < 600_000; ) {
        sent[tag] ??= { names: [], messages: [], retried: 0 };
        const t = sent[tag];
        const name = `feed-${tag}-${String(i).padStart(5, "0")}`;
        try {
          await writeFileAsync(join(via.spool("tmp"), name), corpus[i]!);
          await renameAsync(join(via.spool("tmp"), name), join(via.spool("new"), name));
          t.names.push(name);
          t.messages.push(corpus[i]!);
          t.retried += retried;
          retried = 0;
          i++;
        } catch {
          retried++;
        }
        await sleep(intervalMs);
      }
    })();
    return {
      tag: (next) => {
        tag = next.replace(/[^A-Za-z0-9]+/g, "_").replace(/_$/, "");
      },
      stop: async () => {
        running = false;
        await loop;
        const t0 = Date.now();
        await this.run.waitFor("the parsers to drain the email feed", () => (via.spoolEmpty() ? true : undefined), DRAIN_TIMEOUT_MS, 250);
        const drainS = (Date.now() - t0) / 1000;
        const done = this.completions().filter((c) => c.file.startsWith("feed-"));
        const perScenario = Object.fromEntries(
          Object.entries(sent).map(([k, v]) => {
            const { drain_s: _, ...audit } = via.audit(v.names, v.messages, drainS);
            const twice = moreThanOnce(done.filter((c) => c.file.startsWith(`feed-${k}-`)).map((c) => c.file));
            return [k, { ...audit, parsed_twice: twice, deliveries_retried: v.retried }];
          }),
        );
        return { perScenario, drainS: round(drainS) };
      },
    };
  }

  /** Starts the checksummed writers on app-1 and parser-1 (the storage lab's workload). */
  startWriters(): Writer[] {
    const mount = this.basePlan.storage.client.mountPoint;
    return ["app-1", "parser-1"].map((c) => startWriter(this.run, this.host(c), `rollout-${c}`, mount, WRITER));
  }

  /** Stops the writers, then checks every file they wrote against what app-1's mount holds now. */
  async stopWriters(writers: Writer[]): Promise<WriteCheck> {
    await stopWriters(
      ["app-1", "parser-1"].map((c) => this.host(c)),
      writers,
      WRITER,
    );
    const mount = this.basePlan.storage.client.mountPoint;
    const onMount = await mountChecksums(this.host("app-1"), mount, ["rollout-app-1", "rollout-parser-1"], { timeoutMs: 600_000, allowFail: true });
    return checkWrites(
      writers.flatMap((w) => w.records),
      onMount,
    );
  }

  /**
   * The brick watchdog on each storage server: its last run's result, how many runs ended, and
   * the lines it logged (it is silent while its brick is fine).
   */
  async watchdogs(): Promise<Record<string, { result: string; status: string; runs: number; lines: string[] }>> {
    const out: Record<string, { result: string; status: string; runs: number; lines: string[] }> = {};
    for (const name of this.basePlan.storage.servers) {
      const h = this.host(name);
      const p = await h.unitProperties(STORAGE_SERVER_PATHS.watchdogUnit, ["Result", "ExecMainStatus"]);
      const journal = await h.exec("journalctl", ["-u", STORAGE_SERVER_PATHS.watchdogUnit, "-o", "cat", "--no-pager"], { allowFail: true });
      out[name] = {
        result: p["Result"] ?? "",
        status: p["ExecMainStatus"] ?? "",
        runs: (journal.match(/^Finished bulwark-brick-watchdog|Deactivated successfully/gm) ?? []).length,
        lines: journal
          .split("\n")
          .filter((l) => l.startsWith("bulwark-brick-watchdog:"))
          .slice(-20),
      };
    }
    return out;
  }

  /** Each storage server's UUID as storage-1's pool sees it, and whether it is connected. */
  async peers(): Promise<string> {
    return (await this.host("storage-1").exec("gluster", ["--mode=script", "pool", "list"], { allowFail: true })).trim();
  }

  async versions(): Promise<Record<string, string>> {
    const first = (s: string) => s.split("\n")[0]!.trim();
    const lb = this.host("lb-1");
    return {
      terraform: first(await this.net.inNs(this.deployerNs, "terraform", ["version"])),
      haproxy: first(await lb.exec("haproxy", ["-v"])),
      glusterfs: first(await this.host("storage-1").exec("glusterfs", ["--version"])),
      openssh: first(await lb.exec("sh", ["-c", "ssh -V 2>&1"], { allowFail: true })),
      python: first(await lb.exec("python3", ["--version"])),
      systemd: first(await lb.exec("systemctl", ["--version"])),
      node: process.version,
    };
  }
}

/** How many distinct ids occur more than once in the list. */
export function moreThanOnce(ids: readonly string[]): number {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return [...seen.values()].filter((n) => n > 1).length;
}

/** Where a parser host logs the messages it completes (lab override 8): beside the spool's directories. */
function processedLogPath(plan: Plan, host: string): string {
  return `${plan.services.spoolDir}/processed-${host}.log`;
}

/** The lab's plan: the seed with the run's admin key and ranges, the lab's overrides, the booted hosts' steps only. */
function labStackPlan(adminPublicKey: string, overrides: LabOverrides, ranges: readonly string[], options: StackOptions): Plan {
  const mail = options.ingressDomains ? { ...SEED_TOPOLOGY.mail, ingress: true, domains: [...options.ingressDomains] } : SEED_TOPOLOGY.mail;
  const topology = {
    ...SEED_TOPOLOGY,
    mail,
    admin: { ...SEED_TOPOLOGY.admin, sshKeys: [{ name: "lab", publicKey: adminPublicKey }], sshSourceCidrs: [...ranges] },
  };
  const plan0 = labPlan(prepare({ kind: "object", topology }).plan, overrides);
  const plan = labServicesPlan(plan0, labArtifactBaseUrl(plan0));
  return {
    ...plan,
    rollout: {
      ...plan.rollout,
      steps: plan.rollout.steps.filter((s) => (STACK_LAB_HOSTS as readonly string[]).includes(s.host)),
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
