/**
 * Piscina worker entry: parses one message. Errors thrown by the parser are returned as
 * a "parse-error" result; anything that kills the worker (crash, OOM) or a hang (aborted
 * by the pool's timeout) is classified by the pool on the main thread.
 *
 * With `attachmentsRoot` / `documentsRoot` the worker writes the output itself, with
 * synchronous calls: it runs one task at a time, so blocking costs no concurrency, and the
 * main thread is left with the spool's renames.
 *
 * This file contains no test triggers; the test worker under test/services/fixtures wraps it.
 */
import { canonicalJson } from "../store/canonical-json.ts";
import { FsAttachmentStore, FsDocumentStore } from "../store/fs-store.ts";
import { parseMessage, sha256Hex } from "./parse-message.ts";
import { PHASE_WRITING, type ParseTask, type ParseTaskResult } from "./worker-protocol.ts";

/** Parses `task.buf`; never throws for malformed input. */
export default async function parseTask(task: ParseTask): Promise<ParseTaskResult> {
  if (!(task?.buf instanceof ArrayBuffer)) {
    return { ok: false, kind: "parse-error", detail: "task.buf is not an ArrayBuffer: the pool must post { buf: ArrayBuffer }" };
  }
  let parsed;
  try {
    parsed = await parseMessage(new Uint8Array(task.buf));
  } catch (err) {
    return { ok: false, kind: "parse-error", detail: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  const docBytes = Buffer.from(canonicalJson(parsed.doc), "utf8");
  if (task.phase) Atomics.store(task.phase, 0, PHASE_WRITING);
  // A store error is not the message's fault: it is reported as "store-error" and the
  // service releases the message for retry instead of quarantining it.
  if (task.attachmentsRoot) {
    const store = new FsAttachmentStore(task.attachmentsRoot);
    try {
      for (const a of parsed.attachments) store.putAttachmentSync(a.sha256, a.content);
    } catch (err) {
      return { ok: false, kind: "store-error", detail: `writing attachments under ${task.attachmentsRoot}: ${(err as Error).message}` };
    }
  }
  if (task.documentsRoot) {
    try {
      new FsDocumentStore(task.documentsRoot).putSerializedSync(parsed.doc.key, docBytes);
    } catch (err) {
      return { ok: false, kind: "store-error", detail: `writing the document under ${task.documentsRoot}: ${(err as Error).message}` };
    }
    return { ok: true, key: parsed.doc.key, written: true, ...(task.wantDocSha256 ? { docSha256: sha256Hex(docBytes) } : {}), attachments: [] };
  }
  return { ok: true, key: parsed.doc.key, written: false, docBytes, attachments: task.attachmentsRoot ? [] : parsed.attachments };
}
