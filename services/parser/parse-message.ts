import { createHash } from "node:crypto";
import PostalMime, { type Address } from "postal-mime";
import type { AddressEntry, AttachmentMeta, MessageDocument } from "../store/types.ts";
import { splitEnvelope } from "./envelope.ts";

/** Attachment bytes produced by parsing, keyed by their sha256. */
export interface AttachmentBlob {
  sha256: string;
  content: Uint8Array;
}

/** A parsed message: the document to store and the attachment blobs it references. */
export interface ParsedMessage {
  doc: MessageDocument;
  attachments: AttachmentBlob[];
}

/**
 * postal-mime limits. Its defaults are already what we want (nesting 256 rejects the
 * 10,000-deep poison; 2 MiB of headers rejects the 10 MB header); they are spelled out
 * so a dependency upgrade cannot silently loosen them.
 */
export const POSTAL_MIME_OPTIONS = {
  maxNestingDepth: 256,
  maxHeadersSize: 2 * 1024 * 1024,
  maxRfc822NestingDepth: 10,
  attachmentEncoding: "arraybuffer",
} as const;

/** sha256 hex of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function flatten(list: Address[] | Address | undefined): AddressEntry[] {
  if (!list) return [];
  const arr = Array.isArray(list) ? list : [list];
  const out: AddressEntry[] = [];
  for (const a of arr) {
    if (a.group) for (const m of a.group) out.push({ name: m.name, address: m.address });
    else out.push({ name: a.name, address: a.address ?? "" });
  }
  return out;
}

function toBytes(content: ArrayBuffer | Uint8Array | string): Uint8Array {
  if (typeof content === "string") return Buffer.from(content, "utf8");
  return content instanceof Uint8Array ? content : new Uint8Array(content);
}

/**
 * Parses a spool file's bytes into the stored document. A leading envelope line (written by the
 * SMTP ingress, see envelope.ts) is split off first: the key, the size and postal-mime see only
 * the message after it, and the envelope is recorded in the document. Deterministic: the same
 * bytes give the same document (no clocks, hosts or random ids added here; the envelope's
 * time and host come from the file), which is what makes output idempotent across hosts and
 * reprocessing.
 */
export async function parseMessage(fileBytes: Uint8Array): Promise<ParsedMessage> {
  const { envelope, message: bytes } = splitEnvelope(fileBytes);
  const key = sha256Hex(bytes);
  const email = await PostalMime.parse(bytes, POSTAL_MIME_OPTIONS);
  const blobs = new Map<string, Uint8Array>();
  const attachments: AttachmentMeta[] = email.attachments.map((a) => {
    const content = toBytes(a.content);
    const sha256 = sha256Hex(content);
    blobs.set(sha256, content);
    return {
      filename: a.filename,
      mimeType: a.mimeType,
      size: content.byteLength,
      sha256,
      contentId: a.contentId ?? null,
      disposition: a.disposition,
    };
  });
  const doc: MessageDocument = {
    key,
    size: bytes.byteLength,
    messageId: email.messageId ?? null,
    subject: email.subject ?? null,
    date: email.date ?? null,
    from: flatten(email.from),
    to: flatten(email.to),
    cc: flatten(email.cc),
    headers: email.headers.map((h) => ({ key: h.key, value: h.value })),
    text: email.text ?? null,
    html: email.html ?? null,
    attachments,
    ...(envelope ? { envelope } : {}),
  };
  return { doc, attachments: [...blobs].map(([sha256, content]) => ({ sha256, content })) };
}
