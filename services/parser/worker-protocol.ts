import type { AttachmentBlob } from "./parse-message.ts";

/**
 * Where a task's message bytes come from: bytes in memory (transferred, i.e. moved, not
 * copied), or a file descriptor the main thread opened on the claimed file. File
 * descriptors are per process, so the worker reads the claimed file itself: `fstat` for
 * the size limit, then positional reads (`pread`, which never moves a file offset). The
 * main thread owns the descriptor and closes it after the task; the worker never closes it.
 */
export type ParseInput = { buf: ArrayBuffer } | { fd: number; maxBytes: number };

/** Task posted to a parse worker. */
export type ParseTask = ParseInput & ParseTaskOptions;

/** What a task asks of the worker besides its input. */
interface ParseTaskOptions {
  /**
   * Root of the filesystem attachment store. When set, the worker writes attachment
   * blobs itself (content addressed, idempotent) and returns none, so no attachment bytes
   * are copied back to the main thread.
   */
  attachmentsRoot?: string;
  /**
   * Root of the filesystem document store. When set, the worker also writes the document
   * (canonical JSON, temp + fsync + rename, skipped when identical bytes are there) and
   * returns no bytes: the main thread only claims, renames and unlinks.
   */
  documentsRoot?: string;
  /**
   * With `documentsRoot`: the document store's limit (canonical JSON bytes). A larger document
   * is "document-too-large", found before anything (attachments included) is written.
   */
  documentsMaxBytes?: number;
  /** Return the sha256 of the written document (for the processed log). */
  wantDocSha256?: boolean;
  /**
   * One Int32 on a SharedArrayBuffer (shared, not copied) holding the task's phase
   * (PHASE_*), set by the worker as it goes. A timeout while reading the claimed file or
   * writing the output is a stalled spool or store (a gluster brick away for
   * `network.ping-timeout`): the pool reports it as "store-error" (release for retry),
   * not as a message that hangs (quarantine).
   */
  phase?: Int32Array;
}

/** `task.phase[0]` until the message bytes are in memory (the initial value). */
export const PHASE_READING = 0;
/** `task.phase[0]` while postal-mime runs and the document is built. */
export const PHASE_PARSING = 1;
/** `task.phase[0]` while the worker writes output. */
export const PHASE_WRITING = 2;

/**
 * What a worker returns: the message key and either its canonical JSON document as UTF-8
 * bytes (serialized in the worker, so the main thread only writes bytes) or, with
 * `documentsRoot`, `written: true`; or an error it caught.
 */
export type ParseTaskResult =
  | { ok: true; key: string; written: false; docBytes: Uint8Array; attachments: AttachmentBlob[] }
  | { ok: true; key: string; written: true; docSha256?: string; attachments: [] }
  | { ok: false; kind: "parse-error" | "store-error" | "too-large" | "document-too-large"; detail: string };
