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
}

/**
 * What a worker returns: the message key and its canonical JSON document as UTF-8 bytes
 * (serialized in the worker, so the main thread only writes bytes), or an error it caught.
 */
export type ParseTaskResult =
  | { ok: true; key: string; docBytes: Uint8Array; attachments: AttachmentBlob[] }
  | { ok: false; kind: "parse-error" | "store-error"; detail: string };
