/**
 * Bench-only piscina worker: raw postal-mime on one message and nothing else (no hashing,
 * no JSON, no I/O). `npm run bench:parser` runs it in 2 workers to measure how far two
 * cores scale postal-mime alone: the ceiling for any 2-worker parser. Never part of a
 * service artifact.
 */
import PostalMime from "postal-mime";
import { POSTAL_MIME_OPTIONS } from "../services/parser/parse-message.ts";

/** Parses `task.buf`; returns the number of attachments (so the parse cannot be optimised away). */
export default async function rawParse(task: { buf: ArrayBuffer }): Promise<number> {
  const email = await PostalMime.parse(new Uint8Array(task.buf), POSTAL_MIME_OPTIONS);
  return email.attachments.length;
}
