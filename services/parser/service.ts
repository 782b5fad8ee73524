import { appendFile, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { isDocumentTooLarge, type MessageStore } from "../store/types.ts";
import { createParserMetrics, type ParserMetrics } from "./metrics.ts";
import { ParsePool, type ParseOutcome } from "./pool.ts";
import { displayName, Spool, type Claim, type QuarantineKind } from "./spool.ts";

/** Random order, so hosts sharing a spool do not all race for the same names first. */
function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Names taken from one readdir of new/. */
const NEW_LISTING_BATCH = 256;

/** After a non-message failure (store/I-O), claiming pauses this long so a down store is not hammered. */
const FAILURE_BACKOFF_MS = 1_000;

/** Settings of one parser instance. */
export interface ParserServiceOptions {
  spoolDir: string;
  hostId: string;
  leaseMs: number;
  maxMessageBytes: number;
  threads: number;
  timeoutMs: number;
  heapMb: number;
  workerFile: string;
  store: MessageStore;
  /** Idle poll interval for new/ (ms). */
  pollMs?: number;
  /**
   * Root of the filesystem attachment store (the same dir the store's attachments use).
   * When set, workers write attachment blobs directly; otherwise they are returned to
   * the main thread and written through `store.attachments`.
   */
  attachmentsRoot?: string;
  /**
   * Root of the filesystem document store (the same dir as the store's documents). When set,
   * workers write the documents and the main thread only claims, renames and unlinks.
   */
  documentsRoot?: string;
  /** Optional file name that must exist in the spool root for /healthz to be ready. */
  sentinel?: string;
  /** Optional per-process log: one line "<file> <key> <docSha256> <host>" per completed message. */
  processedLog?: string;
  /** Log sink for one-line events. */
  log?: (line: string) => void;
  /** Instrumentation hook (bench, tests): called with per-message events. */
  onEvent?: (event: ServiceEvent) => void;
}

/** Per-message events for instrumentation; `t` is performance.now(). */
export type ServiceEvent =
  | { type: "parse-start"; name: string; t: number }
  | { type: "stored"; name: string; key: string; t: number }
  | { type: "quarantined"; name: string; reason: string; t: number }
  | { type: "lost-lease"; name: string; t: number };

/** Readiness as reported by /healthz. */
export interface Health {
  ready: boolean;
  reason: string;
}

/**
 * The parser: claims messages from the spool, parses them in the pool, writes output to
 * the store, completes or quarantines the claim, renews leases of held claims and
 * reclaims expired ones.
 */
export class ParserService {
  readonly spool: Spool;
  readonly pool: ParsePool;
  readonly metrics: ParserMetrics;
  private readonly held = new Set<Claim>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly capacity: number;
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private lastReclaim = 0;
  private pauseUntil = 0;
  private pending: string[] = [];
  private readonly log: (line: string) => void;

  constructor(readonly opts: ParserServiceOptions) {
    if (!Number.isInteger(opts.maxMessageBytes) || opts.maxMessageBytes <= 0) {
      throw new Error(`maxMessageBytes=${opts.maxMessageBytes} is invalid: use a positive integer`);
    }
    this.spool = new Spool(opts.spoolDir, opts.hostId, opts.leaseMs);
    this.pool = new ParsePool({
      workerFile: opts.workerFile,
      threads: opts.threads,
      timeoutMs: opts.timeoutMs,
      heapMb: opts.heapMb,
      attachmentsRoot: opts.attachmentsRoot,
      documentsRoot: opts.documentsRoot,
      wantDocSha256: opts.processedLog !== undefined,
      // Workers writing documents check them against the store's limit before any write.
      ...(opts.documentsRoot ? { documentsMaxBytes: opts.store.documents.maxDocumentBytes } : {}),
    });
    this.metrics = createParserMetrics(
      () => this.spool.queueDepth(),
      () => this.pool.threadCount,
      {
        bytes: opts.store.documents.maxDocumentBytes,
        measure: opts.store.documents.sizeMeasure,
      },
    );
    // Names too long to claim are quarantined by the spool itself, without a claim.
    this.spool.onUnclaimedQuarantine = (e) => this.recordQuarantine(e.name, e.quarantineName, e.reason, e.detail);
    // Claims held at once: enough to keep every worker busy while the main thread reads
    // and writes files, small enough that a dead host strands few messages.
    this.capacity = opts.threads * 4;
    this.log = opts.log ?? (() => undefined);
  }

  /** Claims currently held by this instance. */
  get heldCount(): number {
    return this.held.size;
  }

  /** Ready when new/ is a directory (and the sentinel exists, if configured) and the pool is up. */
  async health(): Promise<Health> {
    const st = await stat(this.spool.newDir).catch(() => null);
    if (!st?.isDirectory()) return { ready: false, reason: `spool ${this.spool.newDir} is missing or not a directory (is the spool mounted?)` };
    if (this.opts.sentinel) {
      const s = await stat(`${this.opts.spoolDir}/${this.opts.sentinel}`).catch(() => null);
      if (!s) return { ready: false, reason: `sentinel ${this.opts.sentinel} missing in ${this.opts.spoolDir} (spool not mounted?)` };
    }
    if (!this.pool.up) return { ready: false, reason: "parse pool is not running" };
    if (!this.running) return { ready: false, reason: "service is not running (starting or shutting down)" };
    return { ready: true, reason: "ok" };
  }

  /** Starts claiming. */
  async start(): Promise<void> {
    await this.spool.ensureWorkDirs();
    this.running = true;
    const every = Math.max(50, Math.floor(this.opts.leaseMs / 3));
    this.renewTimer = setInterval(() => void this.renewAll(), every);
    this.loopDone = this.loop();
  }

  private async renewAll(): Promise<void> {
    for (const c of [...this.held]) {
      if (c.state !== "held") continue;
      const ok = await this.spool.renew(c).catch((err) => {
        this.log(`renew ${c.name} failed: ${(err as Error).message}`);
        return true;
      });
      if (!ok && (c.state as Claim["state"]) === "lost") this.log(`lease lost for ${c.name} (reclaimed by another host)`);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 250;
    while (this.running) {
      let started = 0;
      try {
        const free = Date.now() < this.pauseUntil ? 0 : this.capacity - this.held.size;
        if (free > 0 && Date.now() - this.lastReclaim >= Math.min(1000, this.opts.leaseMs / 2)) {
          this.lastReclaim = Date.now();
          for (const c of await this.spool.reclaimExpired(free)) {
            this.log(`reclaimed ${c.name} (expired lease)`);
            this.begin(c);
            started++;
          }
        }
        const room = Date.now() < this.pauseUntil ? 0 : this.capacity - this.held.size;
        if (room > 0 && this.running) {
          // One readdir of new/ feeds many claims: names are taken from a cached listing
          // (refilled when used up); a name another host claimed first just fails to claim.
          if (this.pending.length === 0) this.pending = shuffle(await this.spool.listNew(NEW_LISTING_BATCH));
          while (this.pending.length > 0 && this.running && this.held.size < this.capacity) {
            const c = await this.spool.claim(this.pending.shift()!);
            if (c) {
              this.begin(c);
              started++;
            }
          }
        }
      } catch (err) {
        this.log(`spool scan failed: ${(err as Error).message}`);
      }
      if (!this.running) break;
      // Sleep until a slot frees up (wake) or the poll interval passes.
      await this.sleep(started > 0 && this.held.size < this.capacity ? 0 : pollMs);
    }
  }

  private begin(c: Claim): void {
    this.held.add(c);
    const p = this.process(c)
      .catch((err) => {
        this.metrics.failed.inc();
        this.pauseUntil = Date.now() + FAILURE_BACKOFF_MS;
        this.log(`processing ${displayName(c.name)} failed: ${(err as Error).message}; releasing it for retry`);
        return this.spool.release(c).then(
          () => undefined,
          () => undefined,
        );
      })
      .finally(() => {
        this.held.delete(c);
        this.inflight.delete(p);
        this.wake?.();
      });
    this.inflight.add(p);
  }

  /** Counts, reports and logs one quarantined entry. */
  private recordQuarantine(name: string, quarantineName: string, reason: QuarantineKind, detail: string): void {
    this.metrics.quarantined.inc({ reason });
    this.opts.onEvent?.({ type: "quarantined", name, reason, t: performance.now() });
    const as = quarantineName === name ? "" : ` as ${quarantineName}`;
    this.log(`quarantined ${displayName(name)}${as}: ${reason}: ${detail}`);
  }

  private async quarantineClaim(c: Claim, reason: QuarantineKind, detail: string): Promise<void> {
    if (await this.spool.quarantine(c, reason, detail)) this.recordQuarantine(c.name, c.quarantineName ?? c.name, reason, detail);
  }

  private async process(c: Claim): Promise<void> {
    // Only a regular file is opened for reading (O_NOFOLLOW | O_NONBLOCK, fstat); a symlink,
    // FIFO, socket, directory or device node is quarantined with its type, never read.
    const opened = await this.spool.openClaimed(c);
    if (!opened.ok) {
      await this.quarantineClaim(c, opened.reason, opened.detail);
      return;
    }
    // The worker reads the file through this descriptor (size check first: over the limit
    // is quarantined "too-large" unread), so no message bytes pass through this thread.
    const fh = opened.fh;
    let outcome: ParseOutcome;
    try {
      const onEvent = this.opts.onEvent;
      outcome = await this.pool.parse(
        { fd: fh.fd, maxBytes: this.opts.maxMessageBytes },
        onEvent && (() => onEvent({ type: "parse-start", name: c.name, t: performance.now() })),
      );
    } finally {
      await fh.close().catch((err: Error) => this.log(`closing ${c.name} failed: ${err.message}`));
    }
    if (c.state !== "held") return; // released on shutdown or lost: another host owns it now
    if (!outcome.ok && outcome.kind === "store-error") throw new Error(outcome.detail);
    if (!outcome.ok) {
      await this.quarantineClaim(c, outcome.kind, outcome.detail);
      return;
    }
    this.metrics.parseSeconds.observe(outcome.ms / 1000);
    const { store } = this.opts;
    if (!outcome.written) {
      for (const a of outcome.attachments) await store.attachments.putAttachment(a.sha256, a.content);
      try {
        await store.documents.putSerialized(outcome.key, outcome.docBytes);
      } catch (err) {
        // Over the store's limit (checked before the write): the same bytes always build the
        // same document, so this is the message's fault, not a store failure to retry.
        if (!isDocumentTooLarge(err)) throw err;
        await this.quarantineClaim(c, "document-too-large", err.message);
        return;
      }
    }
    if (await this.spool.complete(c)) {
      this.metrics.processed.inc();
      this.opts.onEvent?.({ type: "stored", name: c.name, key: outcome.key, t: performance.now() });
      if (this.opts.processedLog) {
        const docSha = outcome.written ? outcome.docSha256! : createHash("sha256").update(outcome.docBytes).digest("hex");
        await appendFile(this.opts.processedLog, `${c.name} ${outcome.key} ${docSha} ${this.opts.hostId}\n`);
      }
    } else {
      this.opts.onEvent?.({ type: "lost-lease", name: c.name, t: performance.now() });
      this.log(`completed ${c.name} after losing its lease; output is keyed by content so the store is unchanged`);
    }
  }

  /**
   * Graceful stop: no new claims; in-flight work gets `graceMs` to finish; claims still
   * held after that are released back to new/; the pool is closed.
   * Returns how many claims were released.
   */
  async stop(graceMs: number): Promise<number> {
    this.running = false;
    this.wake?.();
    await this.loopDone;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise<void>((r) => (t = setTimeout(r, graceMs)))]);
    clearTimeout(t);
    if (this.renewTimer) clearInterval(this.renewTimer);
    let released = 0;
    for (const c of [...this.held]) if (await this.spool.release(c).catch(() => false)) released++;
    await this.pool.close(1_000);
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise<void>((r) => (t = setTimeout(r, 2_000)))]);
    clearTimeout(t);
    return released;
  }
}
