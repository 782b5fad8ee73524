import type { AttachmentBlob } from "./parse-message.ts";

/** Task posted to a parse worker. `buf` is transferred (moved), not copied. */
export interface ParseTask {
  buf: ArrayBuffer;
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
  /** Return the sha256 of the written document (for the processed log). */
  wantDocSha256?: boolean;
  /**
   * One Int32 on a SharedArrayBuffer (shared, not copied): the worker sets it to
   * PHASE_WRITING when parsing is done and it starts writing, so the pool can tell a store
   * that stalls past the timeout (release for retry) from a message that hangs (quarantine).
   */
  phase?: Int32Array;
}

/** `task.phase[0]` while the worker writes output. */
export const PHASE_WRITING = 1;

/**
 * What a worker returns: the message key and either its canonical JSON document as UTF-8
 * bytes (serialized in the worker, so the main thread only writes bytes) or, with
 * `documentsRoot`, `written: true`; or an error it caught.
 */
export type ParseTaskResult =
  | { ok: true; key: string; written: false; docBytes: Uint8Array; attachments: AttachmentBlob[] }
  | { ok: true; key: string; written: true; docSha256?: string; attachments: [] }
  | { ok: false; kind: "parse-error" | "store-error"; detail: string };
