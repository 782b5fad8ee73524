/**
 * Store contracts shared by the parser (writer) and the mail-api (reader).
 *
 * A message is keyed by the sha256 of its raw bytes ("message key"), so the key is
 * stable across hosts and reprocessing: two completions of the same input produce the
 * same key and, because the document is built deterministically, the same bytes. A spool
 * file written by the SMTP ingress starts with an envelope line that is not part of the
 * message: the key is computed without it (services/parser/envelope.ts), so a message
 * delivered twice with different envelopes is still one key, one document.
 */

/** One address as it appears in a parsed message (groups are flattened). */
export interface AddressEntry {
  name: string;
  address: string;
}

/** Attachment metadata kept in the document; the bytes live in the attachment store. */
export interface AttachmentMeta {
  filename: string | null;
  mimeType: string;
  size: number;
  sha256: string;
  contentId: string | null;
  disposition: string | null;
}

/**
 * The SMTP envelope of a message as the ingress received it (services/ingress/server.ts). It
 * comes from the spool file's first line and is not part of the message bytes or the key.
 */
export interface MessageEnvelope {
  /** MAIL FROM address; null for the null reverse-path `<>` (bounces). */
  mailFrom: string | null;
  /** RCPT TO addresses the ingress accepted, in the order given. */
  rcptTo: string[];
  /** The client's IP address: the one from the PROXY header when a load balancer sent one. */
  clientAddress: string;
  /** When the DATA phase began (ISO 8601, UTC). */
  receivedAt: string;
  /** Host name of the ingress that received it. */
  receivedBy: string;
}

/** The JSON document written for one parsed message. */
export interface MessageDocument {
  /** sha256 (hex) of the raw message bytes (without the spool's envelope line); the idempotency key. */
  key: string;
  /** Size of the raw message in bytes (without the spool's envelope line). */
  size: number;
  messageId: string | null;
  subject: string | null;
  date: string | null;
  from: AddressEntry[];
  to: AddressEntry[];
  cc: AddressEntry[];
  headers: { key: string; value: string }[];
  text: string | null;
  html: string | null;
  attachments: AttachmentMeta[];
  /**
   * The SMTP envelope, when the spool file carried one (absent for files delivered without it).
   * A message delivered twice is one document: it holds the envelope of whichever delivery was
   * stored last.
   */
  envelope?: MessageEnvelope;
}

/** What the list endpoint returns per message. */
export interface MessageSummary {
  key: string;
  messageId: string | null;
  subject: string | null;
  date: string | null;
  from: AddressEntry[];
  size: number;
}

/**
 * Thrown by a document store before it writes, when the document is over the store's size
 * limit. The same message bytes always build the same document, so this failure is the
 * message's fault: the parser quarantines the message ("document-too-large") instead of
 * releasing it for a retry that would fail the same way for ever.
 */
export class DocumentTooLargeError extends Error {
  /** Stable marker (the worker bundle and the main thread may hold different class copies). */
  readonly code = "EDOCUMENTTOOLARGE";
  constructor(
    readonly key: string,
    /** The document's size as the store measures it. */
    readonly size: number,
    readonly limit: number,
    /** How `size` was measured ("bson" or "canonical-json"). */
    readonly measure: DocumentSizeMeasure,
  ) {
    super(`document ${key} is ${size} bytes (${measure}) > store limit ${limit} bytes`);
    this.name = "DocumentTooLargeError";
  }
}

/** True for a DocumentTooLargeError (checked by its code, not by class identity). */
export function isDocumentTooLarge(err: unknown): err is DocumentTooLargeError {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "EDOCUMENTTOOLARGE";
}

/** How a store measures a document against its limit. */
export type DocumentSizeMeasure = "bson" | "canonical-json";

/** Stores message documents, keyed by message key. Writes must be idempotent. */
export interface DocumentStore {
  /**
   * Largest document the store accepts, in bytes as measured by `sizeMeasure`. Checked before
   * every write; a larger one throws DocumentTooLargeError and nothing is written.
   */
  readonly maxDocumentBytes: number;
  /** What `maxDocumentBytes` counts: BSON bytes of the stored record, or canonical JSON bytes. */
  readonly sizeMeasure: DocumentSizeMeasure;
  /** Writes (or rewrites with identical content) the document under `doc.key`; DocumentTooLargeError over the limit. */
  putDocument(doc: MessageDocument): Promise<void>;
  /**
   * Writes a document already serialized with canonicalJson, as UTF-8 (the parse worker does
   * that, so the main thread does not re-serialize); `key` must equal the document's key.
   */
  putSerialized(key: string, json: Uint8Array): Promise<void>;
  /** Returns the document for `key`, or null when there is none. */
  getDocument(key: string): Promise<MessageDocument | null>;
  /** Lists up to `limit` summaries ordered by key. */
  listDocuments(limit: number): Promise<MessageSummary[]>;
  /**
   * Throws when the store cannot be reached. Cheap whatever the store holds: health checks call it
   * several times a second (listing was O(documents) on the filesystem store, and over gluster a
   * few hundred documents made every /healthz miss haproxy's check timeout).
   */
  ping(): Promise<void>;
  /** Releases connections/handles. */
  close(): Promise<void>;
}

/** Stores attachment bytes, content-addressed by sha256 (hex). */
export interface AttachmentStore {
  /** Writes the bytes under `sha256`; a no-op when already present. */
  putAttachment(sha256: string, bytes: Uint8Array): Promise<void>;
  /** Returns the bytes for `sha256`, or null. */
  getAttachment(sha256: string): Promise<Uint8Array | null>;
}

/** The pair a service works with. */
export interface MessageStore {
  documents: DocumentStore;
  attachments: AttachmentStore;
  close(): Promise<void>;
}

/** Message keys and attachment ids are lowercase sha256 hex. */
export const KEY_PATTERN = /^[0-9a-f]{64}$/;

/** Throws a descriptive error when `key` is not a sha256 hex string. */
export function assertKey(key: string, what = "message key"): void {
  if (!KEY_PATTERN.test(key)) {
    throw new Error(`invalid ${what} ${JSON.stringify(key)}: expected 64 lowercase hex characters (sha256)`);
  }
}

/** Builds the summary view of a document. */
export function summarize(doc: MessageDocument): MessageSummary {
  return { key: doc.key, messageId: doc.messageId, subject: doc.subject, date: doc.date, from: doc.from, size: doc.size };
}
