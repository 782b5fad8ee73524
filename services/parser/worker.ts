/**
 * Piscina worker entry: parses one message. Errors thrown by the parser are returned as
 * a "parse-error" result; anything that kills the worker (crash, OOM) or a hang (aborted
 * by the pool's timeout) is classified by the pool on the main thread.
 *
 * This file contains no test triggers; the test worker under test/services/fixtures wraps it.
 */
import { canonicalJson } from "../store/canonical-json.ts";
import { FsAttachmentStore } from "../store/fs-store.ts";
import { parseMessage } from "./parse-message.ts";
import type { ParseTask, ParseTaskResult } from "./worker-protocol.ts";

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
  // A store error is not the message's fault: it is reported as "store-error" and the
  // service releases the message for retry instead of quarantining it.
  if (task.attachmentsRoot) {
    const store = new FsAttachmentStore(task.attachmentsRoot);
    try {
      for (const a of parsed.attachments) await store.putAttachment(a.sha256, a.content);
    } catch (err) {
      return { ok: false, kind: "store-error", detail: `writing attachments under ${task.attachmentsRoot}: ${(err as Error).message}` };
    }
  }
  return {
    ok: true,
    key: parsed.doc.key,
    docBytes: Buffer.from(canonicalJson(parsed.doc), "utf8"),
    attachments: task.attachmentsRoot ? [] : parsed.attachments,
  };
}
