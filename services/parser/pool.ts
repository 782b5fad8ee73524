import { Piscina } from "piscina";
import { PHASE_PARSING, PHASE_READING, type ParseInput, type ParseTask, type ParseTaskResult } from "./worker-protocol.ts";
import type { AttachmentBlob } from "./parse-message.ts";

/** Why the pool failed a message in a way the same bytes will always repeat (quarantine). */
export type FailureKind = "crash" | "timeout" | "oom" | "too-large" | "parse-error" | "document-too-large";

/** Result of running one message through the pool. */
export type ParseOutcome =
  | { ok: true; key: string; written: false; docBytes: Uint8Array; attachments: AttachmentBlob[]; ms: number }
  | { ok: true; key: string; written: true; docSha256?: string; attachments: []; ms: number }
  | { ok: false; kind: FailureKind; detail: string; ms: number }
  | { ok: false; kind: "store-error"; detail: string; ms: number };

/** Pool settings. */
export interface ParsePoolOptions {
  /** Absolute path of the (built) worker module. */
  workerFile: string;
  threads: number;
  /** Per-message wall-clock limit, measured from when the task is handed to a worker. */
  timeoutMs: number;
  /** Worker old-generation heap limit. */
  heapMb: number;
  /** Filesystem attachment store root; when set, workers write attachment blobs themselves. */
  attachmentsRoot?: string;
  /** Filesystem document store root; when set, workers write the documents themselves. */
  documentsRoot?: string;
  /** With documentsRoot: workers return each document's sha256 (the processed log). */
  wantDocSha256?: boolean;
  /** With documentsRoot: the document store's limit (canonical JSON bytes; default the store's). */
  documentsMaxBytes?: number;
}

/**
 * Maps a piscina rejection to a failure kind. ERR_WORKER_OUT_OF_MEMORY => oom. A timeout
 * (piscina terminated the worker) => timeout while the worker was parsing (`phase`
 * PHASE_PARSING), but "store-error" while it was reading the message or writing the
 * output: a stalled spool or store, not the message's fault, so it is released for retry.
 * Anything else killed the worker => crash.
 */
export function classifyPoolError(
  err: unknown,
  timedOut: boolean,
  phase: number = PHASE_PARSING,
  timeoutMs?: number,
): { kind: FailureKind | "store-error"; detail: string } {
  const e = err as { name?: string; code?: string; message?: string };
  const detail = e?.message ? `${e.name ?? "Error"}${e.code ? ` ${e.code}` : ""}: ${e.message}` : String(err);
  if (e?.code === "ERR_WORKER_OUT_OF_MEMORY") return { kind: "oom", detail };
  if (timedOut && phase !== PHASE_PARSING) {
    const what = phase === PHASE_READING ? "reading the message" : "writing the output";
    const limit = timeoutMs === undefined ? "the timeout" : `${timeoutMs} ms`;
    return { kind: "store-error", detail: `${what} took over ${limit} (spool or store stalled?); released for retry` };
  }
  if (timedOut || e?.name === "AbortError") return { kind: "timeout", detail };
  return { kind: "crash", detail };
}

/**
 * A piscina pool running postal-mime with isolation. At most `threads` tasks are handed
 * to piscina at once (a small semaphore here), so the timeout clock starts when a worker
 * is free rather than while the task waits in piscina's queue.
 */
export class ParsePool {
  readonly piscina: Piscina<ParseTask, ParseTaskResult>;
  private running = 0;
  private readonly waiters: (() => void)[] = [];
  private closed = false;

  constructor(readonly options: ParsePoolOptions) {
    for (const [name, v] of [
      ["threads", options.threads],
      ["timeoutMs", options.timeoutMs],
      ["heapMb", options.heapMb],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`ParsePool ${name}=${v} is invalid: use a positive integer`);
    }
    const dmax = options.documentsMaxBytes;
    if (dmax !== undefined && (!Number.isSafeInteger(dmax) || dmax <= 0))
      throw new Error(`ParsePool documentsMaxBytes=${dmax} is invalid: use a positive integer`);
    this.piscina = new Piscina<ParseTask, ParseTaskResult>({
      filename: options.workerFile,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: 1_000_000_000,
      closeTimeout: 5_000,
      // A built worker (.mjs/.js) needs none of the parent's flags; dropping them keeps a
      // dev loader (tsx, vitest) out of the workers, which cuts worker start-up (and so
      // crash replacement) from ~150 ms to ~40 ms. A .ts worker keeps them (it needs tsx).
      execArgv: options.workerFile.endsWith(".ts") ? undefined : [],
      resourceLimits: { maxOldGenerationSizeMb: options.heapMb },
    });
    // Worker errors are delivered as task rejections; this keeps an 'error' event with no
    // pending task from crashing the host process.
    this.piscina.on("error", () => undefined);
  }

  /** Number of live worker threads. */
  get threadCount(): number {
    return this.piscina.threads.length;
  }

  /** True while the pool accepts work and has at least one thread. */
  get up(): boolean {
    return !this.closed && this.piscina.threads.length > 0;
  }

  private async acquire(): Promise<void> {
    if (this.running < this.options.threads) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.running--;
  }

  /**
   * Reads and parses one message in a worker. `input` is either `{ buf }`, which is
   * transferred (detached here after the call), or `{ fd, maxBytes }`, a descriptor the
   * caller opened on the message and closes after this promise settles (the worker reads
   * it, never closes it). Never rejects for per-message failures; returns { ok: false, kind }.
   * `onStart` is called when the task is handed to piscina (the timeout clock starts).
   */
  async parse(input: ParseInput, onStart?: () => void): Promise<ParseOutcome> {
    if (this.closed) throw new Error("ParsePool.parse called after close(): create a new pool");
    await this.acquire();
    const started = performance.now();
    onStart?.();
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort(new Error(`parse exceeded ${this.options.timeoutMs} ms`));
    }, this.options.timeoutMs);
    const { attachmentsRoot, documentsRoot, wantDocSha256, documentsMaxBytes } = this.options;
    const phase = new Int32Array(new SharedArrayBuffer(4));
    try {
      const task: ParseTask = {
        ...input,
        phase,
        ...(attachmentsRoot ? { attachmentsRoot } : {}),
        ...(documentsRoot
          ? { documentsRoot, ...(wantDocSha256 ? { wantDocSha256 } : {}), ...(documentsMaxBytes !== undefined ? { documentsMaxBytes } : {}) }
          : {}),
      };
      const r = await this.piscina.run(task, { transferList: "buf" in input ? [input.buf] : [], signal: ac.signal });
      const ms = performance.now() - started;
      if (r.ok) return { ...r, ms };
      return { ok: false, kind: r.kind, detail: r.detail, ms };
    } catch (err) {
      return { ok: false, ...classifyPoolError(err, timedOut, Atomics.load(phase, 0), this.options.timeoutMs), ms: performance.now() - started };
    } finally {
      clearTimeout(timer);
      this.release();
    }
  }

  /**
   * Closes the pool: waits up to `graceMs` for running tasks, then terminates the
   * workers (piscina's force-close would still wait for running tasks).
   */
  async close(graceMs = 5_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let t: NodeJS.Timeout | undefined;
    const closed = this.piscina.close().then(
      () => true,
      () => true,
    );
    const inTime = await Promise.race([closed, new Promise<boolean>((resolve) => (t = setTimeout(() => resolve(false), graceMs)))]);
    clearTimeout(t);
    if (!inTime) await this.piscina.destroy();
  }
}

/** Returns an ArrayBuffer holding exactly `bytes`, without copying when it already does. */
export function ownArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}
