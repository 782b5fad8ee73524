/**
 * The stack lab's mail traffic: an SMTP sender that behaves like a real MTA, and a reader that
 * checks each acknowledged message becomes a document. It runs in the client namespace and
 * speaks to the Floating IP only.
 *
 * Sender: a new message every `intervalMs`, each on its own connection (EHLO, MAIL, RCPT, DATA,
 * QUIT). A 250 after the final dot is an acknowledgement. A 4xx reply, a refused, reset or
 * timed-out connection is a deferral: the message is queued and retried after a backoff that
 * doubles from `retryMinMs` to `retryMaxMs` (an MTA retries after minutes; the lab compresses
 * the same behaviour into seconds). A 5xx reply is a refusal and is not retried. A deferral after
 * the final dot (no reply, the connection dropped) may be a lost 250: the retry then delivers
 * the same bytes again, which must end up as one document (the key is the content hash).
 *
 * Reader: for every acknowledged message not yet seen, GET /api/messages/<sha256 of its bytes>
 * through the Floating IP (each on its own, `readTimeoutMs` each), at most `readBatch` at once,
 * started every `readEveryMs`, until it answers 200.
 *
 * One line per event, times in ms since the epoch:
 *   N <t> <id> <key>                  a new message
 *   A <t> <id> <attempt> <ms>         attempt acknowledged (250), ms from connect to the 250
 *   D <t> <id> <attempt> <why>        attempt deferred: a 4xx code, or drop:<step>
 *   F <t> <id> <attempt> <code>       attempt refused (5xx), not retried
 *   S <t> <id>                        the document answered 200 through the API
 *   DONE <t> <queued> <unseen>        the sender stopped
 *
 * Bounded: new messages stop after `maxSeconds` or on SIGTERM; then it keeps retrying and reading
 * for at most `drainSeconds`, and exits.
 *
 * Run: ip netns exec <client ns> node --import tsx lab/smtp-sender.ts <config.json>
 */
import { createHash } from "node:crypto";
import { createWriteStream, readFileSync } from "node:fs";
import { request } from "node:http";
import { SmtpClient, SmtpReplyError } from "../measure/smtp-client.ts";

export interface SenderConfig {
  readonly host: string;
  readonly port: number;
  readonly apiBase: string;
  readonly tokenFile: string;
  readonly from: string;
  readonly to: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly readEveryMs: number;
  /** Timeout of one document GET (the client's: a hung answer counts as none). */
  readonly readTimeoutMs: number;
  readonly readBatch: number;
  readonly maxSeconds: number;
  readonly drainSeconds: number;
  readonly out: string;
  /** Prefix of the message ids (the run's), so two runs never share a key. */
  readonly tag: string;
}

export type SenderRecord =
  | { readonly kind: "N"; readonly t: number; readonly id: string; readonly key: string }
  | { readonly kind: "A"; readonly t: number; readonly id: string; readonly attempt: number; readonly ms: number }
  | { readonly kind: "D"; readonly t: number; readonly id: string; readonly attempt: number; readonly why: string }
  | { readonly kind: "F"; readonly t: number; readonly id: string; readonly attempt: number; readonly code: number }
  | { readonly kind: "S"; readonly t: number; readonly id: string };

export function parseSenderRecords(text: string): SenderRecord[] {
  const out: SenderRecord[] = [];
  for (const line of text.split("\n")) {
    const w = line.split(" ");
    const t = Number(w[1]);
    const id = w[2] ?? "";
    if (w[0] === "N") out.push({ kind: "N", t, id, key: w[3] ?? "" });
    else if (w[0] === "A") out.push({ kind: "A", t, id, attempt: Number(w[3]), ms: Number(w[4]) });
    else if (w[0] === "D") out.push({ kind: "D", t, id, attempt: Number(w[3]), why: w[4] ?? "" });
    else if (w[0] === "F") out.push({ kind: "F", t, id, attempt: Number(w[3]), code: Number(w[4]) });
    else if (w[0] === "S") out.push({ kind: "S", t, id });
  }
  return out;
}

/** The message with sequence number `seq`: plain text, CRLF lines, nothing to dot-stuff. */
export function labMessage(tag: string, seq: number, from: string, to: string): Buffer {
  const id = `${tag}-${String(seq).padStart(6, "0")}`;
  const lines = [
    `From: Lab sender <${from}>`,
    `To: <${to}>`,
    `Subject: stack lab message ${id}`,
    `Message-ID: <${id}@lab.invalid>`,
    "Date: Sun, 29 Nov 2026 00:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    `This is message ${id} of the stack lab.`,
    "It is delivered through the Floating IP and must become exactly one document.",
    "",
  ];
  return Buffer.from(lines.join("\r\n"), "utf8");
}

interface Pending {
  readonly id: string;
  readonly message: Buffer;
  readonly key: string;
  attempts: number;
  due: number;
}

function main(): void {
  const cfg = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as SenderConfig;
  const token = readFileSync(cfg.tokenFile, "utf8").trim();
  const stream = createWriteStream(cfg.out, { flags: "a" });
  const now = () => performance.timeOrigin + performance.now();
  const log = (line: string) => stream.write(`${line}\n`);
  const queue: Pending[] = [];
  const unseen = new Map<string, string>();
  let seq = 0;
  let inFlight = 0;
  let stopping = false;
  const began = Date.now();
  let stopAt = began + cfg.maxSeconds * 1000;

  const attempt = async (p: Pending) => {
    p.attempts++;
    inFlight++;
    const t0 = now();
    let step = "connect";
    try {
      const { client } = await SmtpClient.open(cfg.host, cfg.port, { timeoutMs: cfg.timeoutMs, helo: "sender.lab.invalid" });
      step = "transaction";
      try {
        await client.send(cfg.from, cfg.to, p.message);
      } finally {
        void client.quit();
      }
      log(`A ${now().toFixed(1)} ${p.id} ${p.attempts} ${(now() - t0).toFixed(1)}`);
      unseen.set(p.id, p.key);
    } catch (err) {
      const code = err instanceof SmtpReplyError ? err.code : 0;
      if (code >= 500) {
        log(`F ${now().toFixed(1)} ${p.id} ${p.attempts} ${code}`);
      } else {
        const why =
          code >= 400 ? String(code) : `drop:${step === "connect" ? "connect" : /final dot/.test(String(err)) ? "after-dot" : "transaction"}`;
        log(`D ${now().toFixed(1)} ${p.id} ${p.attempts} ${why}`);
        p.due = Date.now() + Math.min(cfg.retryMaxMs, cfg.retryMinMs * 2 ** (p.attempts - 1));
        queue.push(p);
      }
    } finally {
      inFlight--;
    }
  };

  const newMessage = () => {
    seq++;
    const id = `${cfg.tag}-${String(seq).padStart(6, "0")}`;
    const message = labMessage(cfg.tag, seq, cfg.from, cfg.to);
    const key = createHash("sha256").update(message).digest("hex");
    log(`N ${now().toFixed(1)} ${id} ${key}`);
    void attempt({ id, message, key, attempts: 0, due: 0 });
  };

  const get = (key: string) =>
    new Promise<number>((resolve) => {
      const req = request(
        `${cfg.apiBase}/api/messages/${key}`,
        { agent: false, timeout: cfg.readTimeoutMs, headers: { Connection: "close", Authorization: `Bearer ${token}` } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", () => resolve(0));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => resolve(0));
      req.end();
    });

  const sendTimer = setInterval(() => {
    if (stopping || Date.now() >= stopAt) {
      stopping = true;
      clearInterval(sendTimer);
      return;
    }
    newMessage();
  }, cfg.intervalMs);

  const retryTimer = setInterval(() => {
    const t = Date.now();
    for (let i = queue.length - 1; i >= 0; i--) {
      if (queue[i]!.due <= t) void attempt(queue.splice(i, 1)[0]!);
    }
  }, 100);

  // Each unseen message is read on its own: a GET that hangs (on an app host that just froze)
  // holds back only its own message, never the reading of the others.
  const reading = new Set<string>();
  const readTimer = setInterval(() => {
    const batch = [...unseen.entries()].filter(([id]) => !reading.has(id)).slice(0, Math.max(0, cfg.readBatch - reading.size));
    for (const [id, key] of batch) {
      reading.add(id);
      void get(key)
        .then((status) => {
          if (status === 200 && unseen.delete(id)) log(`S ${now().toFixed(1)} ${id}`);
        })
        .finally(() => reading.delete(id));
    }
  }, cfg.readEveryMs);

  const finishTimer = setInterval(() => {
    const drained = stopping && queue.length === 0 && inFlight === 0 && unseen.size === 0;
    if (drained || Date.now() > stopAt + cfg.drainSeconds * 1000) {
      for (const t of [sendTimer, retryTimer, readTimer, finishTimer]) clearInterval(t);
      log(`DONE ${now().toFixed(1)} ${queue.length + inFlight} ${unseen.size}`);
      stream.end(() => process.exit(0));
    }
  }, 200);

  const stop = () => {
    stopping = true;
    stopAt = Math.min(stopAt, Date.now());
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (process.argv[1]?.endsWith("smtp-sender.ts")) main();
