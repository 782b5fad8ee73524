/**
 * SMTP ingress benchmark:  npm run bench:ingress   (npx tsx scripts/bench-ingress.ts [--quick])
 *
 * Measures the SMTP receiver (services/ingress, the bundled ingress/main.mjs as deployed, run as
 * its own node process) against Postfix as the baseline, in the same run and the same way:
 * acknowledged messages/s and the p50/p99 time from the final `.` of DATA to the 250 reply (and
 * from MAIL FROM to that 250), for 2 KB and 200 KB messages at 1 and 20 concurrent senders. Both
 * servers write to a temp dir on local disk (BENCH_TMPDIR, else the OS temp dir): the ingress's
 * spool, Postfix's queue. Postfix keeps its defaults for writing queue files (it fsyncs each
 * before the 250); see postfixMainCf in measure/ingress-bench.ts for the rest of its main.cf.
 *
 * Isolation: a network namespace `bench-ingress-<pid>` (loopback only); the ingress, a Postfix
 * instance of its own (config, queue and data directories under the temp dir, started with
 * `postfix -c <dir> start`) and the sender (this script with --sender: one node:net SMTP
 * connection per sender, no pipelining, MAIL/RCPT/DATA/dot per message on the same connection)
 * all run in it through `ip netns exec`; nothing listens on the machine's own interfaces.
 *
 * Each repetition sends a fixed number of messages per sender (a single sender sends 5 times as
 * many, so its runs last long enough to time); the two servers alternate which goes first.
 * Before the timed runs, every case runs once untimed on each server. Between runs the spool
 * and the queue are emptied and `sync` runs, outside the timing. Each run also records the CPU
 * time of the server's processes and of the sender (/proc/<pid>/stat). Besides: what the disk
 * costs (2 KB files from node: the ingress's write, fsync, rename, fsync of new/; and one fsync
 * alone), and the receiver's VmRSS with 500 idle connections (each has read its banner), fresh
 * and again after the runs.
 *
 * Environment: BENCH_REPS (5), BENCH_MSGS_SMALL (200 per sender), BENCH_MSGS_LARGE (50 per
 * sender), BENCH_SENDERS (20), BENCH_IDLE_CONNECTIONS (500), BENCH_TMPDIR, BENCH_POSTFIX_QUEUE
 * (hold | defer; default hold), BENCH_INGRESS_UV_THREADPOOL_SIZE (diagnostic: the ingress
 * process's UV_THREADPOOL_SIZE; unset: node's default, as deployed). --quick: 1 repetition,
 * 20 and 5 messages per sender.
 *
 * Needs root (ip netns) and Postfix; when postfix is missing and this runs as root, it installs
 * the Debian package (apt-get, "No configuration") and stops the system's default instance if
 * the install started one. Writes reports/ingress.json; the last line is `RESULT ingress <json>`.
 * Every loop and wait is bounded; the namespace, the processes this run started (by pid), the
 * Postfix instance (by its own stop command) and the temp dir are removed on every exit path,
 * Ctrl-C included.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, constants, openSync, readFileSync } from "node:fs";
import { access, chmod, copyFile, mkdir, mkdtemp, open, readdir, readFile, readlink, rename, rm, unlink, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  benchMessage,
  latency,
  percentile,
  postfixMainCf,
  procTimes,
  roundedSpread,
  treeTicks,
  vmRssKb,
  type PostfixQueueMode,
  type ProcTimes,
} from "../measure/ingress-bench.ts";
import { writeReport } from "../measure/report.ts";
import { countFromEnv, round, spread } from "../measure/stats.ts";
import { SmtpClient, type MessageTiming } from "../measure/smtp-client.ts";
import { cmd } from "../synth/cmd.ts";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const SELF = fileURLToPath(import.meta.url);

const HOST = "127.0.0.1";
const INGRESS_PORT = 2525;
const POSTFIX_PORT = 25;
const DOMAIN = "bench.test";
const FROM = "sender@sender.test";
const RCPT = `rcpt@${DOMAIN}`;
/** Bound on each SMTP reply. */
const REPLY_TIMEOUT_MS = 30_000;

const progress = (msg: string) => process.stdout.write(`[bench-ingress ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the sender (runs in the namespace)

interface RunRequest {
  op: "run";
  port: number;
  senders: number;
  messages: number;
  bytes: number;
}
interface RunResult {
  seconds: number;
  acked: number;
  ackMs: number[];
  totalMs: number[];
}
interface IdleRequest {
  op: "idle";
  port: number;
  connections: number;
}
interface ProbeRequest {
  op: "probe";
  port: number;
  timeoutMs: number;
}
type SenderRequest = RunRequest | IdleRequest | ProbeRequest | { op: "release" } | { op: "exit" };

/**
 * `senders` connections (banner and EHLO before the clock starts), then each sends `messages`
 * messages of `bytes` bytes one after another; the clock stops at the last 250. Then QUIT.
 */
async function senderRun(req: RunRequest): Promise<RunResult> {
  const message = benchMessage(req.bytes);
  const clients = await Promise.all(
    Array.from({ length: req.senders }, () => SmtpClient.open(HOST, req.port, { timeoutMs: REPLY_TIMEOUT_MS, helo: "sender.test" })),
  );
  const timings: MessageTiming[] = [];
  try {
    const t0 = performance.now();
    await Promise.all(
      clients.map(async ({ client }) => {
        for (let i = 0; i < req.messages; i++) timings.push(await client.send(FROM, RCPT, message));
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, acked: timings.length, ackMs: timings.map((t) => t.ackMs), totalMs: timings.map((t) => t.totalMs) };
  } finally {
    await Promise.all(clients.map(({ client }) => client.quit()));
  }
}

async function senderMain(): Promise<void> {
  let idle: SmtpClient[] = [];
  const reply = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "") continue;
    const req = JSON.parse(line) as SenderRequest;
    try {
      if (req.op === "run") reply({ ok: true, result: await senderRun(req) });
      else if (req.op === "idle") {
        // In batches of 50, so the server's accept queue never overflows.
        for (let i = 0; i < req.connections; i += 50) {
          const n = Math.min(50, req.connections - i);
          idle.push(...(await Promise.all(Array.from({ length: n }, () => SmtpClient.openIdle(HOST, req.port, REPLY_TIMEOUT_MS)))));
        }
        reply({ ok: true, result: { opened: idle.length } });
      } else if (req.op === "release") {
        for (const c of idle) c.destroy();
        idle = [];
        reply({ ok: true, result: {} });
      } else if (req.op === "probe") {
        const deadline = Date.now() + req.timeoutMs;
        let last = "";
        let banner: string | null = null;
        for (let i = 0; i < 1000 && Date.now() < deadline && banner === null; i++) {
          try {
            const { client, banner: b } = await SmtpClient.open(HOST, req.port, { timeoutMs: 5_000, helo: "sender.test" });
            await client.quit();
            banner = b.lines.join(" ");
          } catch (err) {
            last = (err as Error).message;
            await sleep(100);
          }
        }
        reply(
          banner !== null
            ? { ok: true, result: { banner } }
            : { ok: false, error: `no SMTP banner on ${HOST}:${req.port} within ${req.timeoutMs} ms: ${last}` },
        );
      } else if (req.op === "exit") {
        reply({ ok: true, result: {} });
        break;
      }
    } catch (err) {
      for (const c of idle) c.destroy();
      idle = [];
      reply({ ok: false, error: (err as Error).message });
    }
  }
  process.exit(0);
}

// ---------------------------------------------------------------- the driver (host side)

/** Cleanup steps, unwound in reverse on success, failure and signals (once). */
class Cleanup {
  private readonly steps: { what: string; fn: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;
  defer(what: string, fn: () => Promise<void> | void): void {
    this.steps.push({ what, fn });
  }
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.fn();
        } catch (err) {
          process.stderr.write(`bench-ingress: cleanup of ${step.what} failed: ${(err as Error).message}\n`);
        }
      }
    })();
    return this.running;
  }
}

/** Runs a command through zx (synth/cmd.ts): quoted, bounded, and an error that names it. */
const exec = cmd;

async function commandExists(cmd: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      await access(join(dir, cmd));
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/**
 * Postfix for the baseline: installed when missing and this runs as root (Debian package, "No
 * configuration"). If the package started the system's default instance, it is stopped with
 * postfix's own stop command, so no MTA is left on the machine's interfaces.
 */
async function ensurePostfix(): Promise<string[]> {
  const notes: string[] = [];
  if (await commandExists("postfix")) return notes;
  if (process.getuid?.() !== 0)
    throw new Error("postfix is not installed: install the Debian package postfix (as root: apt-get install postfix), or run this bench as root");
  progress('postfix is missing: installing the Debian package postfix (apt-get, --no-install-recommends, debconf "No configuration")');
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await exec("debconf-set-selections", [], { input: "postfix postfix/main_mailer_type select No configuration\n", env });
  const install = () => exec("apt-get", ["install", "-y", "-q", "--no-install-recommends", "--no-remove", "postfix"], { env, timeoutMs: 600_000 });
  try {
    await install();
  } catch (err) {
    progress(`apt-get install failed (${(err as Error).message.split("\n").at(-1)}); running apt-get update and trying once more`);
    await exec("apt-get", ["update", "-q"], { env, timeoutMs: 600_000 });
    await install();
  }
  notes.push("postfix was installed by this run (Debian package, No configuration)");
  // The package's own instance (config /etc/postfix): running only if the install started it.
  const status = await exec("postfix", ["status"], { timeoutMs: 30_000 }).then(
    () => true,
    () => false,
  );
  if (status) {
    progress("the postfix package started the system's default instance; stopping it with `postfix stop` (nothing else is touched)");
    await exec("postfix", ["stop"], { timeoutMs: 60_000 });
    notes.push("the install started the default postfix instance; it was stopped with `postfix stop`");
  } else {
    progress("postfix installed; the system's default instance is not running (nothing to stop)");
  }
  return notes;
}

/** The long-lived sender process in the namespace, driven over JSON lines. */
class Sender {
  private readonly lines: AsyncIterator<string>;
  constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }
  async call<T>(req: SenderRequest, timeoutMs: number): Promise<T> {
    this.child.stdin!.write(`${JSON.stringify(req)}\n`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`sender: no answer to ${req.op} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const next = await Promise.race([this.lines.next(), timeout]);
      if (next.done) throw new Error(`sender exited while answering ${req.op}`);
      const r = JSON.parse(next.value) as { ok: boolean; result?: T; error?: string };
      if (!r.ok) throw new Error(`sender: ${req.op} failed: ${r.error}`);
      return r.result as T;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Ends a child this run started, by its pid: SIGTERM, then SIGKILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await Promise.race([exited, sleep(graceMs + 2_000)]);
  clearTimeout(timer);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(intervalMs);
  }
  throw new Error(`bench-ingress: timed out after ${timeoutMs} ms waiting for ${what}`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** File system type and source of `dir` (findmnt), e.g. "ext4 /dev/vda". */
async function fsOf(dir: string): Promise<string> {
  try {
    return (await exec("findmnt", ["-n", "-o", "FSTYPE,SOURCE", "--target", dir])).trim().replace(/\s+/g, " ");
  } catch {
    return (await exec("stat", ["-f", "-c", "%T", dir]).catch(() => "unknown")).trim();
  }
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  const walk = async (d: string, depth: number) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isFile()) n++;
      else if (e.isDirectory() && depth < 4) await walk(join(d, e.name), depth + 1);
    }
  };
  await walk(dir, 0);
  return n;
}

/** Every process's CPU times, by pid (processes that vanish while being read are skipped). */
async function allProcTimes(): Promise<Map<number, ProcTimes>> {
  const out = new Map<number, ProcTimes>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      out.set(Number(name), procTimes(await readFile(`/proc/${name}/stat`, "utf8")));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * What the spool's disk costs, from node: `count` times create a 2 KB file in tmp/, write,
 * fsync, close and, with `renameAndSyncDir` (the ingress's sequence), rename it into new/ and
 * fsync new/; without, the file's fsync alone (one fsync per message, as Postfix's queue file).
 * ms per message.
 */
async function fsyncProbe(dir: string, count: number, renameAndSyncDir: boolean): Promise<number[]> {
  await mkdir(join(dir, "tmp"), { recursive: true });
  await mkdir(join(dir, "new"), { recursive: true });
  const data = Buffer.alloc(2048, 120);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const fh = await open(join(dir, "tmp", `p${i}`), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o640);
    await fh.write(data);
    await fh.sync();
    await fh.close();
    if (renameAndSyncDir) {
      await rename(join(dir, "tmp", `p${i}`), join(dir, "new", `p${i}`));
      const d = await open(join(dir, "new"), constants.O_RDONLY | constants.O_DIRECTORY);
      await d.sync();
      await d.close();
    }
    out.push(performance.now() - t0);
  }
  await rm(dir, { recursive: true, force: true });
  return out;
}

type ServerName = "bulwark" | "postfix";

interface Case {
  readonly name: string;
  readonly bytes: number;
  readonly senders: number;
  readonly messages: number;
  readonly warmup: number;
}

interface ServerRuns {
  msgsPerS: number[];
  ackP50: number[];
  ackP99: number[];
  totalP50: number[];
  totalP99: number[];
  /** CPU of the server's processes per second of the run (1 = one core busy). */
  cpuCores: number[];
  cpuMsPerMsg: number[];
  senderCpuCores: number[];
}
const emptyRuns = (): ServerRuns => ({
  msgsPerS: [],
  ackP50: [],
  ackP99: [],
  totalP50: [],
  totalP99: [],
  cpuCores: [],
  cpuMsPerMsg: [],
  senderCpuCores: [],
});

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const REPS = countFromEnv("BENCH_REPS", quick ? 1 : 5);
  const SMALL = countFromEnv("BENCH_MSGS_SMALL", quick ? 20 : 200);
  const LARGE = countFromEnv("BENCH_MSGS_LARGE", quick ? 5 : 50);
  const SENDERS = countFromEnv("BENCH_SENDERS", 20);
  const SINGLE_FACTOR = 5;
  const IDLE = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 500);
  if (!Number.isInteger(IDLE) || IDLE < 1 || IDLE > 5000)
    throw new Error(`BENCH_IDLE_CONNECTIONS=${process.env.BENCH_IDLE_CONNECTIONS}: use a whole number from 1 to 5000`);
  // Diagnostic only: libuv's thread pool size for the ingress process (unset: node's default, 4, as deployed).
  const UV_POOL = process.env.BENCH_INGRESS_UV_THREADPOOL_SIZE ?? "";
  if (UV_POOL !== "" && !/^([1-9]|[1-9]\d|1[01]\d|12[0-8])$/.test(UV_POOL))
    throw new Error(`BENCH_INGRESS_UV_THREADPOOL_SIZE=${UV_POOL}: use a whole number from 1 to 128`);
  const mode = (process.env.BENCH_POSTFIX_QUEUE ?? "hold") as PostfixQueueMode;
  if (mode !== "hold" && mode !== "defer") throw new Error(`BENCH_POSTFIX_QUEUE=${mode}: use hold or defer`);
  if (process.getuid?.() !== 0) throw new Error("bench-ingress needs root: it creates a network namespace (ip netns) and runs a Postfix instance");

  const started = Date.now();
  const deadlineMs = 45 * 60_000;
  const cleanup = new Cleanup();
  const onSignal = (sig: NodeJS.Signals) => {
    progress(`${sig}: cleaning up`);
    void cleanup.run().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const overall = setTimeout(() => {
    progress(`still running after ${deadlineMs / 60_000} minutes: giving up, cleaning up`);
    void cleanup.run().finally(() => process.exit(1));
  }, deadlineMs);
  overall.unref();

  try {
    const installNotes = await ensurePostfix();
    const postfixVersion = (await exec("postconf", ["-d", "-h", "mail_version"])).trim();

    const tmpRoot = process.env.BENCH_TMPDIR || tmpdir();
    const base = await mkdtemp(join(tmpRoot, "bulwark-ingress-bench-"));
    cleanup.defer(`temp dir ${base}`, () => rm(base, { recursive: true, force: true }));
    // Postfix's daemons (user postfix) must be able to reach its queue and data directories.
    await chmod(base, 0o755);
    const fsType = await fsOf(base);
    if (/^tmpfs|^ramfs/.test(fsType)) progress(`warning: ${base} is on ${fsType}, not a local disk; fsync costs nothing there`);

    // ---- namespace
    const ns = `bench-ingress-${process.pid}`;
    const stale = (await exec("ip", ["netns", "list"]))
      .split("\n")
      .filter((l) => l.startsWith("bench-ingress-"))
      .map((l) => l.split(" ")[0]!);
    if (stale.length) progress(`note: namespaces of earlier runs still exist (${stale.join(", ")}); left alone`);
    await exec("ip", ["netns", "add", ns]);
    cleanup.defer(`namespace ${ns}`, async () => {
      await exec("ip", ["netns", "del", ns]);
    });
    await exec("ip", ["-n", ns, "link", "set", "lo", "up"]);
    progress(`namespace ${ns}: loopback only; temp dir ${base} (${fsType})`);

    // ---- the ingress (the bundled artifact, as deployed)
    progress("bundling services/ingress/main.ts");
    const { stageService } = await import("../services/build.ts");
    const entry = join(await stageService("ingress", join(base, "stage")), "main.mjs");
    const spool = join(base, "spool");
    await mkdir(join(spool, "tmp"), { recursive: true });
    await mkdir(join(spool, "new"), { recursive: true });
    const ingressLog = join(base, "ingress.log");
    const logFd = openSync(ingressLog, "a");
    const receiver = spawn("ip", ["netns", "exec", ns, process.execPath, entry], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        INGRESS_DOMAINS: DOMAIN,
        INGRESS_LISTEN_HOST: HOST,
        INGRESS_LISTEN_PORT: String(INGRESS_PORT),
        INGRESS_SPOOL_DIR: spool,
        INGRESS_HOST_NAME: `mx.${DOMAIN}`,
        INGRESS_MAX_CLIENTS: String(Math.max(600, IDLE + 100)),
        ...(UV_POOL ? { UV_THREADPOOL_SIZE: UV_POOL } : {}),
      },
      stdio: ["ignore", logFd, logFd],
    });
    closeSync(logFd);
    cleanup.defer(`ingress pid ${receiver.pid}`, () => stopChild(receiver));
    let receiverExit: string | null = null;
    receiver.once("exit", (code, sig) => (receiverExit = `exit ${code ?? sig}`));
    await waitFor(
      "the ingress to listen",
      async () => {
        const log = await readFile(ingressLog, "utf8");
        if (receiverExit !== null) throw new Error(`the ingress ended (${receiverExit}) before listening; its log:\n${log.slice(-2000)}`);
        return log.includes("listening on") || undefined;
      },
      20_000,
    );
    // `ip netns exec` execs the command in its own process; the pid is node's (else its only child).
    let receiverPid = receiver.pid!;
    if (!(await readlink(`/proc/${receiverPid}/exe`)).includes("node")) {
      const kids = (await readFile(`/proc/${receiverPid}/task/${receiverPid}/children`, "utf8")).trim().split(/\s+/).map(Number);
      if (kids.length !== 1) throw new Error(`cannot tell the ingress's node process under pid ${receiverPid}`);
      receiverPid = kids[0]!;
    }
    const rss = async () => vmRssKb(await readFile(`/proc/${receiverPid}/status`, "utf8"));

    // ---- Postfix, its own instance
    const pf = join(base, "postfix");
    const conf = join(pf, "etc");
    const queue = join(pf, "queue");
    const data = join(pf, "data");
    for (const d of [conf, queue, data]) await mkdir(d, { recursive: true });
    await chmod(pf, 0o755);
    // The master's lock file and the daemons' data live in data_directory, owned by mail_owner.
    const owner = (await exec("postconf", ["-d", "-h", "mail_owner"])).trim() || "postfix";
    await exec("chown", [`${owner}:`, data]);
    await writeFile(
      join(conf, "main.cf"),
      postfixMainCf({
        configDir: conf,
        queueDir: queue,
        dataDir: data,
        logFile: join(pf, "log", "maillog"),
        listenHost: HOST,
        domain: DOMAIN,
        hostName: `mx.${DOMAIN}`,
        mode,
      }),
    );
    await mkdir(join(pf, "log"), { recursive: true });
    await chmod(join(pf, "log"), 0o755);
    const masterSrc = ["/usr/share/postfix/master.cf.dist", "/etc/postfix/master.cf"];
    let copied = false;
    for (const src of masterSrc) {
      try {
        await copyFile(src, join(conf, "master.cf"));
        copied = true;
        break;
      } catch {
        // next
      }
    }
    if (!copied) throw new Error(`no master.cf to start from (looked for ${masterSrc.join(", ")}): is the postfix package complete?`);
    // No chroot: a chroot under the temp dir would need copies of /etc files; it changes nothing about queue writes.
    await exec("postconf", ["-c", conf, "-F", "*/*/chroot = n"]);
    const postfix = (args: string[], timeoutMs = 60_000) => exec("ip", ["netns", "exec", ns, "postfix", "-c", conf, ...args], { timeoutMs });
    const masterPid = async () => Number((await readFile(join(queue, "pid", "master.pid"), "utf8").catch(() => "")).trim()) || 0;
    cleanup.defer(`postfix instance ${conf}`, async () => {
      const pid = await masterPid();
      if (!pid || !pidAlive(pid)) return;
      await postfix(["stop"]).catch((err: Error) => progress(`postfix stop: ${err.message}`));
      const gone = await waitFor("postfix to stop", () => (pidAlive(pid) ? undefined : true), 20_000, 100).catch(() => false);
      if (!gone) await postfix(["abort"]).catch((err: Error) => progress(`postfix abort: ${err.message}`));
    });
    await postfix(["start"]);
    progress(
      `postfix ${postfixVersion}: own instance (config ${conf}), accepted ` +
        `mail ${mode === "hold" ? "put on hold" : "deferred"}; master pid ${await masterPid()}`,
    );

    // ---- the sender
    const senderChild = spawn("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", SELF, "--sender"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_OPTIONS: "" },
      stdio: ["pipe", "pipe", "inherit"],
    });
    cleanup.defer(`sender pid ${senderChild.pid}`, () => stopChild(senderChild));
    const sender = new Sender(senderChild);
    const bulwarkBanner = (await sender.call<{ banner: string }>({ op: "probe", port: INGRESS_PORT, timeoutMs: 20_000 }, 30_000)).banner;
    const postfixBanner = (await sender.call<{ banner: string }>({ op: "probe", port: POSTFIX_PORT, timeoutMs: 20_000 }, 30_000)).banner;
    progress(`banners: ingress "${bulwarkBanner}", postfix "${postfixBanner}"`);
    const ports: Record<ServerName, number> = { bulwark: INGRESS_PORT, postfix: POSTFIX_PORT };

    // ---- RSS with idle connections
    const idleRss = async (label: string) => {
      const before = await rss();
      const { opened } = await sender.call<{ opened: number }>({ op: "idle", port: INGRESS_PORT, connections: IDLE }, 120_000);
      await sleep(2_000);
      const at = await rss();
      await sender.call({ op: "release" }, 30_000);
      progress(
        `ingress RSS (${label}): ${before} kB with no connection, ${at} kB ` +
          `with ${opened} idle connections (${round((at - before) / opened, 1)} kB each)`,
      );
      return {
        rss_kb_no_connections: before,
        rss_kb_idle_connections: at,
        idle_connections: opened,
        kb_per_connection: round((at - before) / opened, 2),
      };
    };
    await sleep(1_000);
    const rssFresh = await idleRss("fresh process");

    // ---- clearing between runs
    const clear = async (server: ServerName, acked: number) => {
      if (server === "bulwark") {
        const names = await readdir(join(spool, "new"));
        if (names.length !== acked) throw new Error(`the ingress acknowledged ${acked} messages but new/ holds ${names.length}`);
        for (const n of names) await unlink(join(spool, "new", n));
        const left = await readdir(join(spool, "tmp"));
        if (left.length) throw new Error(`tmp/ of the spool holds ${left.length} files after a run`);
      } else {
        // The queue manager may be moving files between queues (defer mode): count until it settles.
        let queued = -1;
        await waitFor(
          `postfix's queue to hold the ${acked} acknowledged messages`,
          async () => {
            queued = (await Promise.all(["incoming", "active", "deferred", "hold"].map((q) => countFiles(join(queue, q))))).reduce(
              (a, b) => a + b,
              0,
            );
            return queued === acked || undefined;
          },
          15_000,
          200,
        ).catch(() => {
          throw new Error(`postfix acknowledged ${acked} messages but its queue holds ${queued}`);
        });
        await exec("postsuper", ["-c", conf, "-d", "ALL"], { timeoutMs: 120_000 });
      }
      await exec("sync", [], { timeoutMs: 120_000 });
    };

    // One sender sends SINGLE_FACTOR times the per-sender count, so that its runs last long enough to time.
    const cases: Case[] = [
      { name: "2kb_x1", bytes: 2048, senders: 1, messages: SMALL * SINGLE_FACTOR, warmup: Math.max(5, Math.ceil(SMALL / 2)) },
      { name: `2kb_x${SENDERS}`, bytes: 2048, senders: SENDERS, messages: SMALL, warmup: Math.max(2, Math.ceil(SMALL / 10)) },
      { name: "200kb_x1", bytes: 200 * 1024, senders: 1, messages: LARGE * SINGLE_FACTOR, warmup: Math.max(3, Math.ceil(LARGE / 2)) },
      { name: `200kb_x${SENDERS}`, bytes: 200 * 1024, senders: SENDERS, messages: LARGE, warmup: Math.max(1, Math.ceil(LARGE / 10)) },
    ];
    const runTimeout = (c: Case, n: number) => 60_000 + c.senders * n * (c.bytes > 100_000 ? 200 : 50);
    const clockTicks = Number((await exec("getconf", ["CLK_TCK"])).trim()) || 100;
    const rootPid: Record<ServerName, number> = { bulwark: receiverPid, postfix: await masterPid() };
    const senderPid = senderChild.pid!;
    const runOnce = async (server: ServerName, c: Case, n: number) => {
      const before = await allProcTimes();
      const r = await sender.call<RunResult>({ op: "run", port: ports[server], senders: c.senders, messages: n, bytes: c.bytes }, runTimeout(c, n));
      const after = await allProcTimes();
      if (r.acked !== c.senders * n) throw new Error(`${server} ${c.name}: ${r.acked} of ${c.senders * n} messages acknowledged`);
      const cpuS = (treeTicks(rootPid[server], after) - treeTicks(rootPid[server], before)) / clockTicks;
      const senderCpuS = (treeTicks(senderPid, after) - treeTicks(senderPid, before)) / clockTicks;
      await clear(server, r.acked);
      if (receiverExit !== null) throw new Error(`the ingress ${receiverExit} during the run`);
      return { ...r, cpuS, senderCpuS };
    };

    const probeN = quick ? 50 : 200;
    const probeSeq = await fsyncProbe(join(base, "fsync-probe"), probeN, true);
    const probeOne = await fsyncProbe(join(base, "fsync-probe"), probeN, false);
    const p5099 = (xs: number[]) => ({ p50_ms: round(percentile(xs, 50), 3), p99_ms: round(percentile(xs, 99), 3), count: xs.length });
    const disk = { ingress_sequence: p5099(probeSeq), file_fsync_only: p5099(probeOne) };
    progress(
      `spool disk, 2 KB files from node: create + write + fsync + close + rename + fsync ` +
        `dir p50 ${disk.ingress_sequence.p50_ms} ms, p99 ${disk.ingress_sequence.p99_ms} ms; ` +
        `create + write + fsync + close p50 ${disk.file_fsync_only.p50_ms} ms, p99 ${disk.file_fsync_only.p99_ms} ms (${probeN} files each)`,
    );
    progress(`warm-up: every case once on each server (${cases.map((c) => `${c.name} ${c.warmup}/sender`).join(", ")})`);
    for (const c of cases) for (const s of ["bulwark", "postfix"] as const) await runOnce(s, c, c.warmup);

    const runs: Record<string, Record<ServerName, ServerRuns>> = {};
    for (const c of cases) runs[c.name] = { bulwark: emptyRuns(), postfix: emptyRuns() };
    const loadStart = loadavg()[0]!;
    for (let rep = 0; rep < REPS; rep++) {
      for (const [ci, c] of cases.entries()) {
        const order: ServerName[] = (rep + ci) % 2 === 0 ? ["bulwark", "postfix"] : ["postfix", "bulwark"];
        const line: string[] = [];
        for (const s of order) {
          const r = await runOnce(s, c, c.messages);
          const ack = latency(r.ackMs);
          const total = latency(r.totalMs);
          const x = runs[c.name]![s];
          x.msgsPerS.push(r.acked / r.seconds);
          x.ackP50.push(ack.p50);
          x.ackP99.push(ack.p99);
          x.totalP50.push(total.p50);
          x.totalP99.push(total.p99);
          // CPU is read just before and after the sender's call, so the window is a little longer than the run.
          x.cpuCores.push(r.cpuS / r.seconds);
          x.cpuMsPerMsg.push((r.cpuS * 1000) / r.acked);
          x.senderCpuCores.push(r.senderCpuS / r.seconds);
          line.push(
            `${s} ${round(r.acked / r.seconds, 1)} msg/s (250 after dot p50 ${round(ack.p50, 2)} ` +
              `ms, p99 ${round(ack.p99, 2)} ms; CPU ${round(r.cpuS / r.seconds, 2)} cores)`,
          );
        }
        progress(`rep ${rep + 1}/${REPS} ${c.name} (${c.senders * c.messages} messages): ${line.join("; ")}; load ${loadavg()[0]!.toFixed(2)}`);
      }
    }
    const loadEnd = loadavg()[0]!;
    const rssAfter = await idleRss("after the runs");

    // ---- report
    const serverReport = (x: ServerRuns) => ({
      msgs_per_s: roundedSpread(x.msgsPerS, 1),
      ack_p50_ms: roundedSpread(x.ackP50),
      ack_p99_ms: roundedSpread(x.ackP99),
      total_p50_ms: roundedSpread(x.totalP50),
      total_p99_ms: roundedSpread(x.totalP99),
      server_cpu_cores: roundedSpread(x.cpuCores, 2),
      server_cpu_ms_per_msg: roundedSpread(x.cpuMsPerMsg),
      sender_cpu_cores: roundedSpread(x.senderCpuCores, 2),
      runs_msgs_per_s: x.msgsPerS.map((v) => round(v, 1)),
    });
    const caseReports = cases.map((c) => {
      const b = runs[c.name]!.bulwark;
      const p = runs[c.name]!.postfix;
      const perRep = b.msgsPerS.map((v, i) => v / p.msgsPerS[i]!);
      return {
        case: c.name,
        message_bytes: c.bytes,
        senders: c.senders,
        messages_per_sender: c.messages,
        messages_per_run: c.senders * c.messages,
        bulwark: serverReport(b),
        postfix: serverReport(p),
        ratio_msgs_per_s: round(spread(b.msgsPerS).median / spread(p.msgsPerS).median, 3),
        ratio_per_rep: roundedSpread(perRep),
      };
    });
    const ratios = Object.fromEntries(caseReports.map((c) => [c.case, c.ratio_msgs_per_s]));
    const osRelease = (() => {
      try {
        return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "unknown";
      } catch {
        return "unknown";
      }
    })();
    const version = (pkg: string) =>
      (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
    const report = {
      cases: caseReports,
      ratios_bulwark_over_postfix: ratios,
      ratio_min: round(Math.min(...Object.values(ratios)), 3),
      target_ratio: 1.0,
      target_met: Object.values(ratios).every((r) => r >= 1.0),
      ingress_rss: {
        fresh: rssFresh,
        after_runs: rssAfter,
        note:
          "VmRSS of the ingress's node process, 2 s after the idle connections (each has read its 220 banner) are open; " +
          "fresh: right after start; after_runs: the same process after all runs, whose heap still holds garbage of the runs " +
          "(a collection between the two readings can make the difference negative), so only fresh gives a per-connection cost",
      },
      conditions: {
        measured:
          "msgs_per_s: messages acknowledged (250 after the final dot) per second of wall time, from the " +
          "first MAIL FROM to the last 250, connections already open (banner and EHLO before the clock); " +
          "ack_*: from handing the final '.' line to the kernel to its 250; total_*: from MAIL FROM to " +
          "that 250; p50/p99 (nearest rank) of each run's messages, then median/min/max over the runs",
        reps: REPS,
        warmup: "each case once per server before the timed runs, with fewer messages per sender",
        order: "the two servers alternate which goes first, per repetition and case",
        between_runs: "spool new/ and the postfix queue emptied, then sync, outside the timing; the count of files is checked against the 250s",
        sender:
          "one node process (this script with --sender) in the namespace: one connection per sender, no " +
          "pipelining, EHLO once, MAIL/RCPT/DATA/message/dot per message, QUIT at the end; TCP_NODELAY",
        network: `network namespace with loopback only; both servers on ${HOST} there (ingress :${INGRESS_PORT}, postfix :${POSTFIX_PORT})`,
        ingress:
          `the bundled services/ingress/main.ts (ingress/main.mjs), its own node process; defaults except ` +
          `INGRESS_MAX_CLIENTS=${Math.max(600, IDLE + 100)}; stderr to a file; ` +
          `spool in the temp dir: fsync file, rename to new/, fsync new/, then 250`,
        ingress_uv_threadpool_size: UV_POOL === "" ? "node default (4)" : Number(UV_POOL),
        postfix:
          `own instance (postfix -c <dir> start), queue and data directories in the temp dir, default durability ` +
          `(queue file fsynced before 250), no chroot, relay_domains=${DOMAIN}, accepted mail ${
            mode === "hold"
              ? "put on the hold queue (smtpd_data_restrictions = check_client_access static:HOLD): the queue manager never opens it"
              : "left to the queue manager, which defers it (defer_transports)"
          }; log to a file through postlogd`,
        postfix_queue_mode: mode,
        spool_dir_fs: fsType,
        spool_disk_2kb_ms: disk,
        cpu:
          "server_cpu_cores: CPU time of the server's processes (the ingress's node process; Postfix's master and every " +
          "process under it, exited ones included) per second of the run; sender_cpu_cores: the same for the sender process",
        temp_root: tmpRoot,
        cores: cpus().length,
        cpu_model: cpus()[0]?.model ?? "unknown",
        kernel: release(),
        os: osRelease,
        loadavg_1m_at_start: round(loadStart, 2),
        loadavg_1m_at_end: round(loadEnd, 2),
        counts: Object.fromEntries(
          cases.map((c) => [c.name, { bytes: c.bytes, senders: c.senders, messages_per_sender: c.messages, warmup_per_sender: c.warmup }]),
        ),
        idle_connections: IDLE,
        quick,
        install_notes: installNotes,
        date: new Date().toISOString(),
        seconds: Math.round((Date.now() - started) / 1000),
      },
      versions: { node: process.version, postfix: postfixVersion, "smtp-server": version("smtp-server") },
    };
    await sender.call({ op: "exit" }, 10_000).catch(() => undefined);
    writeReport("ingress", report);
    progress(`wrote reports/ingress.json in ${report.conditions.seconds} s`);
    for (const c of caseReports) {
      progress(
        `${c.case.padEnd(10)} bulwark ${c.bulwark.msgs_per_s.median} msg/s ` +
          `(p50 ${c.bulwark.ack_p50_ms.median} ms, p99 ${c.bulwark.ack_p99_ms.median} ms)  ` +
          `postfix ${c.postfix.msgs_per_s.median} msg/s (p50 ${c.postfix.ack_p50_ms.median} ` +
          `ms, p99 ${c.postfix.ack_p99_ms.median} ms)  ratio ${c.ratio_msgs_per_s}`,
      );
    }
    process.stdout.write(`RESULT ingress ${JSON.stringify(report)}\n`);
  } finally {
    clearTimeout(overall);
    await cleanup.run();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const run = process.argv.includes("--sender") ? senderMain : main;
  run().catch((err) => {
    process.stderr.write(`bench-ingress failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
