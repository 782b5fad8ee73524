/**
 * Pure pieces of the SMTP ingress bench (scripts/bench-ingress.ts): the SMTP reply parser its
 * client uses, percentiles of per-message latencies, the test messages, VmRSS from
 * /proc/<pid>/status, CPU time of a process tree from /proc/<pid>/stat and the Postfix
 * baseline's main.cf. No I/O here, so each can be unit-tested.
 */
import { round, spread, type Spread } from "./stats.ts";

/** One complete SMTP reply: the code and the text of each line (without the code and separator). */
export interface SmtpReply {
  readonly code: number;
  readonly lines: readonly string[];
}

/** Longest reply line accepted (RFC 5321 §4.5.3.1.5 allows 512 octets; servers send less). */
const MAX_REPLY_LINE = 4096;
/** Most lines of one multi-line reply (an EHLO reply has a dozen). */
const MAX_REPLY_LINES = 100;

/**
 * Incremental SMTP reply parser (RFC 5321 §4.2): feed it what the socket delivers, in any
 * pieces; it returns each reply once its last line (`ddd ` or `ddd` alone) has arrived.
 * A line that is not `ddd`, `ddd-...` or `ddd ...`, a continuation line with another code,
 * a line over 4096 bytes or a reply over 100 lines throws: the bench stops rather than
 * measure a server that does not speak SMTP.
 */
export class SmtpReplyParser {
  private buf = "";
  private lines: string[] = [];
  private code = 0;

  /** Adds received text; returns the replies it completed, in order. */
  push(chunk: string): SmtpReply[] {
    this.buf += chunk;
    const out: SmtpReply[] = [];
    for (;;) {
      const nl = this.buf.indexOf("\n");
      if (nl < 0) break;
      const line = this.buf.slice(0, nl).replace(/\r$/, "");
      this.buf = this.buf.slice(nl + 1);
      const m = /^([2-5]\d\d)([ -]|$)(.*)$/.exec(line);
      if (!m) throw new Error(`SMTP: malformed reply line ${JSON.stringify(line.slice(0, 80))}`);
      const code = Number(m[1]);
      if (this.lines.length > 0 && code !== this.code) throw new Error(`SMTP: reply line with code ${code} inside a ${this.code} reply`);
      this.code = code;
      this.lines.push(m[3]!);
      if (this.lines.length > MAX_REPLY_LINES) throw new Error(`SMTP: reply of more than ${MAX_REPLY_LINES} lines`);
      if (m[2] !== "-") {
        out.push({ code, lines: this.lines });
        this.lines = [];
        this.code = 0;
      }
    }
    if (this.buf.length > MAX_REPLY_LINE) throw new Error(`SMTP: reply line over ${MAX_REPLY_LINE} bytes without a line end`);
    return out;
  }

  /** True when nothing of an unfinished reply is buffered. */
  get idle(): boolean {
    return this.buf === "" && this.lines.length === 0;
  }
}

/**
 * The `p`-th percentile (0 < p <= 100) of `values` by the nearest-rank method: the smallest
 * value with at least p% of the values at or below it (so p99 of 200 values is the 198th).
 * NaN for an empty set.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new Error(`percentile: p=${p}: use 0 < p <= 100`);
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** p50 and p99 of one run's latencies (ms). */
export interface Latency {
  readonly p50: number;
  readonly p99: number;
}

export function latency(ms: readonly number[]): Latency {
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

/** A spread (stats.ts) rounded for the report. */
export function roundedSpread(values: readonly number[], digits = 3): Spread {
  const s = spread(values);
  return { median: round(s.median, digits), min: round(s.min, digits), max: round(s.max, digits) };
}

/**
 * A test message of exactly `bytes` bytes (at least 512): a few headers, a blank line and a
 * body of 76-character base64-alphabet lines, every line ending in CRLF. No line starts with
 * a dot (so nothing needs dot-stuffing) and every line is far below 998 octets.
 */
export function benchMessage(bytes: number, tag = "bench"): Buffer {
  if (!Number.isInteger(bytes) || bytes < 512) throw new Error(`benchMessage: ${bytes} bytes: use a whole number >= 512`);
  const head =
    `From: Bench Sender <sender@sender.test>\r\n` +
    `To: Bench Recipient <rcpt@bench.test>\r\n` +
    `Subject: ingress bench ${tag} ${bytes} bytes\r\n` +
    `Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n` +
    `Message-ID: <${tag}.${bytes}@sender.test>\r\n` +
    `MIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n` +
    `\r\n`;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const out = Buffer.alloc(bytes);
  let i = out.write(head, "latin1");
  if (i + 3 > bytes) throw new Error(`benchMessage: ${bytes} bytes is too small for the headers`);
  let k = 0;
  while (i < bytes) {
    // A line of up to 76 characters plus CRLF; the last one is shorter, but never empty.
    const left = bytes - i - 2;
    const len = left > 78 ? 76 : left;
    for (let c = 0; c < len; c++) out[i++] = alphabet.charCodeAt(k++ % 64);
    out[i++] = 13;
    out[i++] = 10;
  }
  return out;
}

/** VmRSS in kB from the text of /proc/<pid>/status. */
export function vmRssKb(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error("no VmRSS line in /proc/<pid>/status (process gone?)");
  return Number(m[1]);
}

/** CPU times (clock ticks) and parent of a process, from the text of /proc/<pid>/stat. */
export interface ProcTimes {
  readonly ppid: number;
  /** utime + stime: the process's own CPU time, all its threads. */
  readonly self: number;
  /** cutime + cstime: CPU time of its children that have exited and been waited for. */
  readonly reapedChildren: number;
}

export function procTimes(stat: string): ProcTimes {
  // The command name (field 2) is in parentheses and may contain spaces or parentheses itself.
  const f = stat
    .slice(stat.lastIndexOf(")") + 2)
    .trim()
    .split(/\s+/);
  if (f.length < 15) throw new Error(`/proc/<pid>/stat: ${f.length + 2} fields, expected at least 17`);
  const n = (i: number) => {
    const v = Number(f[i]);
    if (!Number.isSafeInteger(v)) throw new Error(`/proc/<pid>/stat: field ${i + 3} is ${JSON.stringify(f[i])}, not a number`);
    return v;
  };
  return { ppid: n(1), self: n(11) + n(12), reapedChildren: n(13) + n(14) };
}

/**
 * CPU ticks of the process tree under `root` (in a map pid -> times of every process): each
 * member's own time plus what its exited children left in cutime/cstime. The difference of two
 * readings is the CPU the tree used in between, processes that came and went included (once
 * their parent in the tree has waited for them).
 */
export function treeTicks(root: number, procs: ReadonlyMap<number, ProcTimes>): number {
  const children = new Map<number, number[]>();
  for (const [pid, t] of procs) {
    const list = children.get(t.ppid);
    if (list) list.push(pid);
    else children.set(t.ppid, [pid]);
  }
  let ticks = 0;
  const seen = new Set<number>();
  const stack = procs.has(root) ? [root] : [];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const t = procs.get(pid)!;
    ticks += t.self + t.reapedChildren;
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return ticks;
}

/** How the Postfix baseline keeps accepted mail from being delivered. */
export type PostfixQueueMode = "hold" | "defer";

/** Settings of the Postfix baseline instance (see postfixMainCf). */
export interface PostfixInstance {
  readonly configDir: string;
  readonly queueDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly listenHost: string;
  readonly domain: string;
  readonly hostName: string;
  readonly mode: PostfixQueueMode;
}

/**
 * main.cf of the Postfix baseline: its own directories; listens on `listenHost` only; accepts
 * mail for `domain` (as a relay domain: any local part, like the ingress) and refuses every
 * other destination, from any client; no local delivery. Accepted mail stays in the queue:
 * `hold` puts each message on the hold queue as it is accepted (the queue manager never opens
 * it, so nothing runs besides the receiving side, as with the ingress), `defer` leaves it in
 * incoming/ for the queue manager, which defers it (defer_transports). defer_transports is set
 * in both modes, so nothing is ever delivered. Everything about queue file writing (the fsync
 * before 250 included) is Postfix's default.
 */
export function postfixMainCf(p: PostfixInstance): string {
  const lines = [
    "# Postfix baseline of the ingress bench (scripts/bench-ingress.ts); removed with its directory.",
    "compatibility_level = 3.6",
    `queue_directory = ${p.queueDir}`,
    `data_directory = ${p.dataDir}`,
    `myhostname = ${p.hostName}`,
    `mydomain = ${p.domain}`,
    "myorigin = $myhostname",
    "mydestination =",
    `relay_domains = ${p.domain}`,
    "relay_recipient_maps =",
    "local_recipient_maps =",
    "alias_maps =",
    "alias_database =",
    `inet_interfaces = ${p.listenHost}`,
    "inet_protocols = ipv4",
    // Like the ingress: the recipient domain decides, whatever the client's address.
    "smtpd_relay_restrictions = reject_unauth_destination",
    "smtpd_recipient_restrictions =",
    ...(p.mode === "hold" ? ["smtpd_data_restrictions = check_client_access static:HOLD"] : []),
    "defer_transports = smtp, relay, local, virtual, lmtp, error, retry",
    "smtpd_banner = $myhostname ESMTP",
    "biff = no",
    `maillog_file = ${p.logFile}`,
    `maillog_file_prefixes = ${p.logFile.slice(0, p.logFile.lastIndexOf("/")) || "/"}`,
  ];
  return `${lines.join("\n")}\n`;
}
