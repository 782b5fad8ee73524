/**
 * The stack lab: the whole non-Mongo stack (lab/stack.ts: 9 hosts booted from their user-data,
 * the SMTP receiver on) loses each host in turn while a user's traffic flows end to end:
 *
 *   GET and SMTP through the Floating IP → haproxy → app hosts → spool on gluster → parser
 *   hosts → store (the fs store on gluster: no MongoDB runs here) → mail API → back out.
 *
 * Traffic, for the whole run: the client GETs a stored document every 20 ms; the sender
 * (lab/smtp-sender.ts) delivers a new message every 200 ms through the Floating IP and retries
 * deferrals like an MTA; its reader GETs each acknowledged message's document until it exists.
 *
 * Drills, one after the other, each measured over its own window:
 * - per host: a hard loss (links cut, processes frozen for `lossS`, then back), then a clean
 *   restart (poweroff, boot from the user-data; the lab's roots are volatile, so the host also
 *   loses its root disk, see LabStack.restart);
 * - one storage server's private link down while its processes run;
 * - a partition of {lb-1, app-1, storage-1} from the rest for 30 s;
 * - long cuts of one storage server's links (3 min; and 10 min at full counts);
 * - a storage quorum loss (two servers' links cut): the receiver must answer 451 and acknowledge
 *   nothing it could not store.
 *
 * Each window records failed GETs and the longest gap, SMTP deferrals and retries,
 * acknowledged against stored (lost) and duplicates, how long until every acknowledged message
 * was a document, the longest pause in the flow of new documents, and how long until the host
 * was back in service, beside the failure analysis's prediction for that host. A quiet window
 * before the first drill is the baseline.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { analyzeFailures } from "../plan/failure.ts";
import { round, spread } from "../measure/stats.ts";
import { splitBrainEntries } from "./gluster.ts";
import { LAB_PUBLIC } from "./overrides.ts";
import { sleep, type LabRun } from "./run.ts";
import { parseSenderRecords, type SenderConfig, type SenderRecord } from "./smtp-sender.ts";
import { CLIENT_INTERVAL_MS, LabStack, moreThanOnce, STACK_LAB_HOSTS } from "./stack.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The domain the receiver accepts mail for in the lab (topology mail.domains). */
const LAB_DOMAIN = "example.net";
/** One new message every this many ms (5/s). */
const SMTP_INTERVAL_MS = 200;
/** Bound of the wait for a host to be back in service after a drill. */
const RECOVERY_TIMEOUT_MS = 600_000;
/** Bound of the wait for every message acknowledged in a window to be a document. */
const DOCUMENTS_TIMEOUT_MS = 180_000;
/** Goal: a lost lb costs at most this long a gap in the GETs. */
const LB_GAP_GOAL_MS = 1000;
/** Goal: no drill stops the flow of documents for longer than the storage stall bound (10 s, plan/storage.ts). */
const FLOW_GAP_GOAL_MS = 10_000;
/**
 * What the lab requires of that flow: the goal plus the reader's period (250 ms) and as much
 * again. (A first version of the reader waited for a whole batch of GETs, so one GET hung on a
 * frozen app host held every read for its 10 s timeout: a 10.1 s "gap" that was the reader's.)
 */
const FLOW_GAP_REQUIRED_MS = FLOW_GAP_GOAL_MS + 500;
/** Goal: a brick is online again this soon after its server's links come back, whatever the cut's length. */
const BRICK_BACK_GOAL_S = 30;

export interface StackLabCounts {
  /** How long a hard loss lasts, in seconds. */
  readonly lossS: number;
  /** Clean restarts: of every host, or of the first host of each role. */
  readonly restarts: "all" | "one-per-role";
  /** Long cuts of one storage server's links, in seconds each. */
  readonly longCutsS: readonly number[];
  /**
   * The hosts that get the per-host drills, in this order.
   * @default every booted host (STACK_LAB_HOSTS); fewer only to look at one part (the report says which)
   */
  readonly hosts?: readonly string[];
}

export const ACCEPTANCE_COUNTS: StackLabCounts = { lossS: 30, restarts: "all", longCutsS: [180, 600] };
/** CI: every host still lost once, one restart per role, the 3-minute cut only. */
export const CI_COUNTS: StackLabCounts = { lossS: 30, restarts: "one-per-role", longCutsS: [180] };

interface Window {
  readonly t0: number;
  readonly t1: number;
}

export interface DrillResult {
  readonly drill: string;
  readonly host: string | null;
  readonly kind: "baseline" | "hard loss" | "restart" | "network";
  /** The failure analysis's verdict for losing this host (review/TOPOLOGY.md). */
  readonly predicted: string | null;
  readonly seconds: number;
  /** From the host's return (links back, or the restart's power-off) until it was back in service; null if it never was within the bound. */
  readonly recovered_after_s: number | null;
  readonly recovery_problems: string[];
  readonly gets: ReturnType<LabStack["gets"]>;
  readonly floating_ip_moves: number;
  readonly smtp: SmtpWindow;
  readonly notes: string[];
}

export interface SmtpWindow {
  /** New messages in the window. */
  readonly messages: number;
  readonly acknowledged: number;
  /** Deferred attempts in the window, by reply code or drop. */
  readonly deferrals: Record<string, number>;
  /** Acknowledgements in the window that were a retry (attempt 2 or later). */
  readonly retries_acknowledged: number;
  /** Attempts refused with 5xx (must be 0: nothing the lab sends is refusable). */
  readonly refused: number;
  /** Messages of the window acknowledged more than once (a 250 lost on the way: the sender retried). */
  readonly acknowledged_twice: number;
  /** Acknowledged messages of the window never seen as a document: must be 0. */
  readonly lost: number;
  /** Messages of the window not acknowledged when the run ended (still being retried). */
  readonly unacknowledged: number;
  /** From the window's end until the last of its acknowledged messages was a document, in s. */
  readonly all_documents_after_s: number | null;
  /** From each acknowledgement to its document, in ms. */
  readonly ack_to_document_ms: { median: number; min: number; max: number } | null;
  /** Time to the 250 of acknowledged attempts, connect included, in ms. */
  readonly time_to_250_ms: { median: number; min: number; max: number } | null;
  /** Longest pause between two new documents in the window, in ms. */
  readonly longest_document_gap_ms: number;
}

function stat(xs: number[]) {
  if (xs.length === 0) return null;
  const { median, min, max } = spread(xs);
  return { median: round(median), min: round(min), max: round(max) };
}

/** The sender's records, grouped by message. */
function byMessage(records: readonly SenderRecord[]) {
  const m = new Map<string, { created: number; key: string; acks: { t: number; attempt: number; ms: number }[]; seen?: number }>();
  for (const r of records) {
    if (r.kind === "N") m.set(r.id, { created: r.t, key: r.key, acks: [] });
    else if (r.kind === "A") m.get(r.id)?.acks.push({ t: r.t, attempt: r.attempt, ms: r.ms });
    else if (r.kind === "S") {
      const e = m.get(r.id);
      if (e && e.seen === undefined) e.seen = r.t;
    }
  }
  return m;
}

/** What the sender saw in a window (messages created in it; attempts made in it). */
export function smtpWindow(records: readonly SenderRecord[], w: Window, final = false): SmtpWindow {
  const messages = byMessage(records);
  const inWindow = [...messages.values()].filter((m) => m.created >= w.t0 && m.created <= w.t1);
  const deferrals: Record<string, number> = {};
  let refused = 0;
  let retries = 0;
  for (const r of records) {
    if (r.t < w.t0 || r.t > w.t1) continue;
    if (r.kind === "D") deferrals[r.why] = (deferrals[r.why] ?? 0) + 1;
    else if (r.kind === "F") refused++;
    else if (r.kind === "A" && r.attempt > 1) retries++;
  }
  const acked = inWindow.filter((m) => m.acks.length > 0);
  const seen = acked.filter((m) => m.seen !== undefined);
  const docs = records
    .filter((r) => r.kind === "S" && r.t >= w.t0 && r.t <= w.t1)
    .map((r) => r.t)
    .sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < docs.length; i++) gap = Math.max(gap, docs[i]! - docs[i - 1]!);
  if (docs.length > 0) gap = Math.max(gap, docs[0]! - w.t0, w.t1 - docs.at(-1)!);
  else gap = w.t1 - w.t0;
  const lastSeen = seen.length === acked.length && seen.length > 0 ? Math.max(...seen.map((m) => m.seen!)) : null;
  return {
    messages: inWindow.length,
    acknowledged: acked.length,
    deferrals,
    retries_acknowledged: retries,
    refused,
    acknowledged_twice: acked.filter((m) => m.acks.length > 1).length,
    lost: final ? acked.length - seen.length : 0,
    unacknowledged: inWindow.length - acked.length,
    all_documents_after_s: lastSeen === null ? null : round(Math.max(0, lastSeen - w.t1) / 1000),
    ack_to_document_ms: stat(seen.map((m) => m.seen! - m.acks[0]!.t)),
    time_to_250_ms: stat(acked.flatMap((m) => m.acks.map((a) => a.ms))),
    longest_document_gap_ms: Math.round(gap),
  };
}

/** The lab's run of the whole stack: boots it, plays every drill, returns the report. */
export async function runStackLab(run: LabRun, counts: StackLabCounts = ACCEPTANCE_COUNTS) {
  const started = Date.now();
  const memory = sampleMemory();
  const lab = await LabStack.start(run, { ingressDomains: [LAB_DOMAIN] });
  const plan = lab.basePlan;
  const analysis = analyzeFailures(plan);
  const prediction = (host: string) => {
    const loss = analysis.losses.find((l) => l.host === host)!;
    return `${loss.survives ? "survives" : "STOPS THE SERVICE"}: ${loss.verdicts
      .filter((v) => v.affected)
      .map((v) => v.reason)
      .join("; ")}`;
  };
  await lab.steady("after boot", 600_000);

  // The sender and its reader, in the client namespace, for the whole run.
  const senderLog = lab.file("smtp.log");
  const config: SenderConfig = {
    host: LAB_PUBLIC.floatingIp,
    port: 25,
    apiBase: `http://${LAB_PUBLIC.floatingIp}`,
    tokenFile: lab.tokenFile,
    from: "sender@lab.invalid",
    to: `inbox@${LAB_DOMAIN}`,
    intervalMs: SMTP_INTERVAL_MS,
    timeoutMs: 10_000,
    retryMinMs: 2000,
    retryMaxMs: 16_000,
    readEveryMs: 250,
    readTimeoutMs: 1000,
    readBatch: 40,
    maxSeconds: 4 * 3600,
    drainSeconds: 240,
    out: senderLog,
    tag: run.prefix,
  };
  const configFile = lab.file("smtp-sender.json");
  writeFileSync(configFile, JSON.stringify(config));
  const sender = run.start("ip", ["netns", "exec", lab.clientNs, process.execPath, "--import", "tsx", join(ROOT, "lab/smtp-sender.ts"), configFile]);
  const senderRecords = () => (existsSync(senderLog) ? parseSenderRecords(readFileSync(senderLog, "utf8")) : []);
  await run.waitFor(
    "the first acknowledged message to be a document",
    () => (senderRecords().some((r) => r.kind === "S") ? true : undefined),
    120_000,
    500,
  );
  run.log(
    `smtp: a message every ${SMTP_INTERVAL_MS} ms to ${config.to} through ${config.host}:25; ` +
      `deferrals retried after ${config.retryMinMs / 1000} s, doubling to ${config.retryMaxMs / 1000} s`,
  );

  // Progress: the traffic counters every 20 s.
  const progress = setInterval(() => {
    const recs = senderRecords();
    const gets = lab.records();
    run.log(
      `traffic: GETs ${gets.length} (${gets.filter((r) => !r.ok).length} failed); smtp ${recs.filter((r) => r.kind === "N").length} sent, ` +
        `${recs.filter((r) => r.kind === "A").length} acknowledged, ${recs.filter((r) => r.kind === "D").length} deferred, ` +
        `${recs.filter((r) => r.kind === "S").length} documents seen`,
    );
  }, 20_000);
  run.defer("the progress line", () => clearInterval(progress));

  const results: DrillResult[] = [];
  const windows: Window[] = [];
  /** Waits until `hosts` are in service; returns the seconds from `since`, or null past the bound. */
  const recovered = async (hosts: readonly string[], since: number, problems: string[]): Promise<number | null> => {
    const deadline = Date.now() + RECOVERY_TIMEOUT_MS;
    let last: string[] = [];
    let lastLog = 0;
    while (Date.now() < deadline) {
      last = (await Promise.all(hosts.map((h) => lab.inService(h)))).flat();
      if (last.length === 0) return round((Date.now() - since) / 1000);
      if (Date.now() - lastLog > 15_000) {
        run.log(`waiting for ${hosts.join(", ")} to be back in service: ${last.join("; ")}`);
        lastLog = Date.now();
      }
      await sleep(1000);
    }
    problems.push(...last);
    return null;
  };
  /** Waits until every message acknowledged in `w` is a document (bounded). */
  const documentsOf = async (w: Window) => {
    await run
      .waitFor(
        "every acknowledged message of the drill to be a document",
        () => {
          const s = smtpWindow(senderRecords(), w);
          return s.all_documents_after_s !== null || s.acknowledged === 0 ? true : undefined;
        },
        DOCUMENTS_TIMEOUT_MS,
        1000,
      )
      .catch(() => undefined);
  };
  const drill = async (
    name: string,
    host: string | null,
    kind: DrillResult["kind"],
    body: (problems: string[], notes: string[]) => Promise<number | null>,
  ) => {
    await lab.steady(`before ${name}`, 300_000);
    run.log(`drill: ${name}`);
    const moves0 = lab.emulator().assignments.length;
    const problems: string[] = [];
    const notes: string[] = [];
    const t0 = Date.now();
    const recoveredAfter = await body(problems, notes);
    await sleep(2000);
    const w = { t0, t1: Date.now() };
    windows.push(w);
    await documentsOf(w);
    const r: DrillResult = {
      drill: name,
      host,
      kind,
      predicted: host ? prediction(host) : null,
      seconds: round((w.t1 - w.t0) / 1000),
      recovered_after_s: recoveredAfter,
      recovery_problems: problems,
      gets: lab.gets(w.t0, w.t1),
      floating_ip_moves: lab.emulator().assignments.length - moves0,
      smtp: smtpWindow(senderRecords(), w),
      notes,
    };
    results.push(r);
    run.log(
      `${name}: back in service after ${r.recovered_after_s ?? "NEVER"} s; ` +
        `${r.gets.failed_gets} of ${r.gets.requests} GETs failed (longest gap ${r.gets.longest_gap_ms} ms); ` +
        `smtp ${r.smtp.acknowledged} of ${r.smtp.messages} acknowledged, deferrals ${JSON.stringify(r.smtp.deferrals)}, ` +
        `${r.smtp.retries_acknowledged} retries acknowledged; ` +
        `every acknowledged message a document ` +
        `${r.smtp.all_documents_after_s === null ? "not yet (the run's end counts them)" : `${r.smtp.all_documents_after_s} s after`}; ` +
        `longest document gap ${r.smtp.longest_document_gap_ms} ms`,
    );
    return r;
  };

  // The baseline: a quiet window, nothing lost.
  await drill("baseline: nothing lost", null, "baseline", async () => {
    await sleep(30_000);
    return 0;
  });

  // Every host: a hard loss, then a clean restart.
  const firstOfRole = new Set(["lb-1", "app-1", "parser-1", "storage-1"]);
  for (const host of counts.hosts ?? STACK_LAB_HOSTS) {
    await drill(`hard loss of ${host} (${counts.lossS} s)`, host, "hard loss", async (problems) => {
      await lab.setLost(host, true);
      await sleep(counts.lossS * 1000);
      await lab.setLost(host, false);
      const back = Date.now();
      return recovered([host], back, problems);
    });
    if (counts.restarts === "all" || firstOfRole.has(host)) {
      await drill(`clean restart of ${host}`, host, "restart", async (problems, notes) => {
        const t = Date.now();
        const bootS = await lab.restart(host);
        notes.push(`cloud-init finished ${round(bootS)} s after the boot began (the root disk is fresh: see lab/stack.ts)`);
        return recovered([host], t, problems);
      });
    }
  }

  // Network drills.
  await drill("storage-3's private link down (30 s), its processes running", "storage-3", "network", async (problems, notes) => {
    notes.push("the lab's storage servers have no public link: the cut leaves every process running, unlike the hard loss");
    await lab.setLinks("storage-3", false);
    await sleep(30_000);
    await lab.setLinks("storage-3", true);
    return recovered(["storage-3"], Date.now(), problems);
  });

  const minority = ["lb-1", "app-1", "storage-1"];
  let partition:
    | { holder_before: string | null; moves_during: number; holder_during: string | null; holders_after: number; split_brain: number }
    | undefined;
  await drill(`partition of {${minority.join(", ")}} from the rest (30 s)`, null, "network", async (problems, notes) => {
    const before = lab.emulator();
    await lab.partition(minority, true);
    await sleep(30_000);
    // Both lbs are MASTER now; the witness (plan/lb.ts) lets only the majority side's claim it.
    const during = lab.emulator();
    await lab.partition(minority, false);
    const movesDuring = during.assignments.length - before.assignments.length;
    notes.push(`during the partition: the Floating IP moved ${movesDuring} times, from ${lab.holderName(before)} to ${lab.holderName(during)}`);
    const back = Date.now();
    const r = await recovered(minority, back, problems);
    const holder = lab.emulator().holder;
    const splitInfo = await lab
      .host("storage-2")
      .exec("gluster", ["--mode=script", "volume", "heal", plan.storage.volume, "info", "split-brain"], { allowFail: true, timeoutMs: 60_000 });
    // -1 when storage-2's glusterd gave no answer, so that the goal fails rather than reading 0.
    const split = splitInfo.includes("split-brain") ? splitBrainEntries(splitInfo) : -1;
    partition = {
      holder_before: lab.holderName(before),
      moves_during: movesDuring,
      holder_during: lab.holderName(during),
      holders_after: holder === null ? 0 : 1,
      split_brain: split,
    };
    notes.push(`after the heal: Floating IP on server ${holder}, MASTER ${lab.master() ?? "none"}, ${split} split-brain entries`);
    return r;
  });

  const longCuts: { seconds: number; brick_online_after_s: number | null; recovered_after_s: number | null }[] = [];
  for (const cutS of counts.longCutsS) {
    await drill(`long cut of storage-2's links (${cutS} s)`, "storage-2", "network", async (problems, notes) => {
      await lab.setLinks("storage-2", false);
      await sleep(cutS * 1000);
      await lab.setLinks("storage-2", true);
      const back = Date.now();
      // The brick first: online within BRICK_BACK_GOAL_S of the links' return, by itself.
      const brick = await run
        .waitFor(
          "storage-2's brick to be online",
          async () => ((await lab.bricksOnline("storage-1")) === plan.storage.bricks.length ? true : undefined),
          RECOVERY_TIMEOUT_MS,
          1000,
        )
        .then(() => round((Date.now() - back) / 1000))
        .catch(() => null);
      notes.push(`brick online ${brick ?? "NEVER"} s after the links came back`);
      const rec = await recovered(["storage-2"], back, problems);
      longCuts.push({ seconds: cutS, brick_online_after_s: brick, recovered_after_s: rec });
      return rec;
    });
  }

  // Storage quorum loss: two of three servers cut off. The receiver must defer (451), not acknowledge.
  const quorum = await drill("storage quorum loss: storage-2 and storage-3 cut off (20 s)", null, "network", async (problems, notes) => {
    notes.push("not a single-host failure: the service is expected to defer mail (451) and may fail GETs; nothing acknowledged may be lost");
    await lab.setLinks("storage-2", false);
    await lab.setLinks("storage-3", false);
    await sleep(20_000);
    await lab.setLinks("storage-2", true);
    await lab.setLinks("storage-3", true);
    return recovered(["storage-2", "storage-3"], Date.now(), problems);
  });

  // The end: stop new messages, let the sender retry and read out, then account for every message.
  clearInterval(progress);
  sender.kill("SIGTERM");
  await run.waitFor(
    "the sender to retry its deferred messages and read every document",
    () => (sender.exitCode !== null || sender.signalCode !== null ? true : undefined),
    (config.drainSeconds + 30) * 1000,
    1000,
  );
  const final = senderRecords();
  const finalResults = results.map((r, i) => ({ ...r, smtp: smtpWindow(final, windows[i]!, true) }));
  // The whole run: from the first message to the sender's last record.
  const times = final.map((r) => r.t);
  const whole = smtpWindow(final, { t0: Math.min(...times), t1: Math.max(...times) }, true);
  const processed = processedTwice(lab, final);
  memory.stop();

  const single = finalResults.filter((r) => r.kind === "hard loss" || r.kind === "restart");
  const roleOf = (h: string) => plan.hosts.find((x) => x.name === h)!.role;
  const report = {
    drills: finalResults,
    totals: { ...whole, parsed_more_than_once: processed },
    long_cuts: longCuts,
    partition,
    table: single.map((r) => ({
      host: r.host,
      drill: r.kind,
      predicted: r.predicted,
      failed_gets: r.gets.failed_gets,
      longest_gap_ms: r.gets.longest_gap_ms,
      lost: r.smtp.lost,
      recovered_after_s: r.recovered_after_s,
    })),
    conditions: {
      hosts:
        `${STACK_LAB_HOSTS.join(", ")}: systemd-nspawn containers booted from their rendered user-data (lab/overrides.ts), ` +
        `the SMTP receiver on (mail.domains ${LAB_DOMAIN}); the Mongo hosts are not booted: the services use the fs store on the gluster volume`,
      client: `GET of a stored document through the Floating IP every ${CLIENT_INTERVAL_MS} ms`,
      smtp:
        `a new message every ${SMTP_INTERVAL_MS} ms through the Floating IP on port 25, one connection each; ` +
        `4xx and dropped connections retried after ${config.retryMinMs / 1000} s doubling to ${config.retryMaxMs / 1000} s ` +
        `(an MTA waits minutes; the lab compresses it); ` +
        `the reader GETs each acknowledged message's document (each on its own, ${config.readTimeoutMs} ms timeout, ` +
        `started every ${config.readEveryMs} ms) until it exists`,
      hard_loss: `every link of the host cut and its processes frozen (cgroup freezer) for ${counts.lossS} s, then thawed and reconnected`,
      restart: "poweroff, then a boot from the same user-data with a fresh root (the lab's roots are volatile; a storage server keeps its brick)",
      counts,
      seconds: Math.round((Date.now() - started) / 1000),
      memory_used_mb: memory.result(),
      not_here: "MongoDB (the services use the fs store); real Hetzner servers, their reboot keeping the root disk, and Hetzner's network",
    },
  };
  const lbGap = Math.max(0, ...single.filter((r) => roleOf(r.host!) === "lb").map((r) => r.gets.longest_gap_ms));
  const ofRole = (role: string) => single.filter((r) => roleOf(r.host!) === role);
  const failedGets = (role: string) => ofRole(role).reduce((n, r) => n + r.gets.failed_gets, 0);
  // The issue's goals, each measured; `met: false` is reported, not hidden (README, "The whole stack").
  const quorumFinal = finalResults.find((r) => r.drill === quorum.drill)!;
  const goals = {
    no_acknowledged_message_lost: { goal: 0, measured: whole.lost, met: whole.lost === 0 },
    failed_gets_app_loss: { goal: 0, measured: failedGets("app"), met: failedGets("app") === 0 },
    failed_gets_parser_loss: { goal: 0, measured: failedGets("parser"), met: failedGets("parser") === 0 },
    failed_gets_storage_loss: { goal: 0, measured: failedGets("storage"), met: failedGets("storage") === 0 },
    lb_longest_gap_ms: { goal: LB_GAP_GOAL_MS, measured: lbGap, met: lbGap <= LB_GAP_GOAL_MS },
    longest_document_gap_ms: {
      goal: FLOW_GAP_GOAL_MS,
      measured: Math.max(0, ...single.map((r) => r.smtp.longest_document_gap_ms)),
      met: single.every((r) => r.smtp.longest_document_gap_ms <= FLOW_GAP_GOAL_MS),
    },
    partition: {
      goal: "one Floating IP holder, 0 split-brain entries, 0 lost",
      measured: partition ?? null,
      met: partition?.holders_after === 1 && partition.split_brain === 0,
    },
    // Not an issue goal: the witness's promise. The majority side holds the address for the whole
    // partition, after at most the one move that gives it there.
    partition_majority_holds_fip: {
      goal: `the Floating IP on the majority side's lb during the partition, at most 1 move`,
      measured: partition ? { moves: partition.moves_during, holder: partition.holder_during } : null,
      met: partition !== undefined && partition.moves_during <= 1 && partition.holder_during !== null && !minority.includes(partition.holder_during),
    },
    // Not an issue goal: once storage is back after the quorum loss (the last drill), the mail it
    // deferred is taken again while the sender retries (its drain after the drills).
    quorum_loss_mail_taken_again: {
      goal: `every message deferred in the quorum loss acknowledged within the sender's ${config.drainSeconds} s drain`,
      measured: { messages: quorumFinal.smtp.messages, unacknowledged: quorumFinal.smtp.unacknowledged },
      met: quorumFinal.smtp.unacknowledged === 0,
    },
    brick_back_after_cut_s: {
      goal: BRICK_BACK_GOAL_S,
      measured: longCuts.map((c) => c.brick_online_after_s),
      met: longCuts.every((c) => c.brick_online_after_s !== null && c.brick_online_after_s <= BRICK_BACK_GOAL_S),
    },
  };
  // What the lab requires (CI fails otherwise): every goal the design promises. Two goals are
  // bounds here instead: a GET already sent to an app host that hangs is lost (haproxy cannot take
  // it back), so those fail only while haproxy detects the loss; and in the lab the document GETs
  // read the fs store on gluster (production reads MongoDB), so a storage server's loss fails them
  // only while gluster stalls (within the storage stall bound).
  const APP_DETECTION_S = 2;
  const pass = {
    no_message_lost: finalResults.every((r) => r.smtp.lost === 0) && whole.lost === 0,
    nothing_refused: whole.refused === 0,
    every_host_lost:
      (counts.hosts ?? STACK_LAB_HOSTS).length === STACK_LAB_HOSTS.length &&
      STACK_LAB_HOSTS.every((h) => single.some((r) => r.host === h && r.kind === "hard loss")),
    every_host_back: single.every((r) => r.recovered_after_s !== null),
    no_failed_gets_parser: goals.failed_gets_parser_loss.met,
    app_loss_fails_only_in_flight: ofRole("app").every((r) => r.gets.failed.every((f) => f.at_s <= APP_DETECTION_S) && r.gets.failed_gets <= 10),
    storage_loss_fails_only_in_stall: ofRole("storage").every((r) => r.gets.longest_gap_ms <= FLOW_GAP_GOAL_MS),
    documents_flow_within_required_bound: single.every((r) => r.smtp.longest_document_gap_ms <= FLOW_GAP_REQUIRED_MS),
    lb_gap_within_1s: goals.lb_longest_gap_ms.met,
    partition_one_holder_no_split_brain: goals.partition.met,
    partition_majority_holds_fip: goals.partition_majority_holds_fip.met,
    long_cut_brick_back_within_30s:
      longCuts.length === counts.longCutsS.length && goals.brick_back_after_cut_s.met && longCuts.every((c) => c.recovered_after_s !== null),
    quorum_loss_defers: (quorum.smtp.deferrals["451"] ?? 0) > 0 && finalResults.at(-1)!.smtp.lost === 0,
  };
  return { ...report, goals, pass };
}

/** Sender messages whose key a parser completed more than once. */
function processedTwice(lab: LabStack, records: readonly SenderRecord[]): number {
  const keys = new Set(records.filter((r) => r.kind === "N").map((r) => (r as { key: string }).key));
  return moreThanOnce(
    lab
      .completions()
      .map((c) => c.key)
      .filter((k) => keys.has(k)),
  );
}

/** Samples the machine's memory in use (MemTotal - MemAvailable) every 5 s. */
function sampleMemory() {
  const used = () => {
    const info = readFileSync("/proc/meminfo", "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
    return (kb("MemTotal") - kb("MemAvailable")) / 1024;
  };
  const start = used();
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, used())), 5000);
  return {
    stop: () => clearInterval(timer),
    result: () => ({ at_start: Math.round(start), peak: Math.round(peak) }),
  };
}
