import { readFileSync, statSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic, writeFileAtomicSync } from "./atomic-file.ts";
import { canonicalJson } from "./canonical-json.ts";
import {
  assertKey,
  DocumentTooLargeError,
  summarize,
  type AttachmentStore,
  type DocumentStore,
  type MessageDocument,
  type MessageStore,
  type MessageSummary,
} from "./types.ts";

/**
 * Largest document the filesystem store writes: 16 MiB of canonical JSON, the same number as
 * MongoDB's document limit. A file has no such limit, but (1) the labs and tests run on this
 * store while production runs on MongoDB, and the same number makes them quarantine about the
 * same messages (the measures differ: JSON bytes here, BSON bytes there, so a document near
 * the limit can land on different sides), and (2) the mail API reads and parses a whole
 * document per request, so a document is bounded by what one request may load. With the
 * 12 MiB message limit only amplification (huge recipient lists, JSON escapes) gets there.
 */
const FS_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * Filesystem document store.
 * Layout: <root>/messages/<key[0..2]>/<key>.json, canonical JSON, written temp+rename.
 * A rewrite of an existing key with identical bytes is skipped. A document over
 * `maxDocumentBytes` (canonical JSON bytes) throws DocumentTooLargeError before anything is
 * written.
 */
export class FsDocumentStore implements DocumentStore {
  readonly sizeMeasure = "canonical-json" as const;
  constructor(
    private readonly root: string,
    readonly maxDocumentBytes: number = FS_MAX_DOCUMENT_BYTES,
  ) {
    if (!Number.isSafeInteger(maxDocumentBytes) || maxDocumentBytes <= 0) {
      throw new Error(`FsDocumentStore maxDocumentBytes=${maxDocumentBytes} is invalid: use a positive integer`);
    }
  }

  /** Throws DocumentTooLargeError when `json` is over the limit. */
  assertFits(key: string, json: Uint8Array): void {
    if (json.byteLength > this.maxDocumentBytes) throw new DocumentTooLargeError(key, json.byteLength, this.maxDocumentBytes, this.sizeMeasure);
  }

  /** Path of the document file for `key`. */
  pathFor(key: string): string {
    assertKey(key);
    return join(this.root, "messages", key.slice(0, 2), `${key}.json`);
  }

  async putDocument(doc: MessageDocument): Promise<void> {
    await this.putSerialized(doc.key, Buffer.from(canonicalJson(doc), "utf8"));
  }

  async putSerialized(key: string, json: Uint8Array): Promise<void> {
    const path = this.pathFor(key);
    this.assertFits(key, json);
    const bytes = Buffer.from(json.buffer, json.byteOffset, json.byteLength);
    const existing = await readFile(path).catch(() => null);
    if (existing?.equals(bytes)) return;
    await writeFileAtomic(path, bytes);
  }

  /** putSerialized with synchronous calls (a parse worker writes the document itself). */
  putSerializedSync(key: string, json: Uint8Array): void {
    const path = this.pathFor(key);
    this.assertFits(key, json);
    const bytes = Buffer.from(json.buffer, json.byteOffset, json.byteLength);
    let existing: Buffer | null = null;
    try {
      existing = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (existing?.equals(bytes)) return;
    writeFileAtomicSync(path, bytes);
  }

  async getDocument(key: string): Promise<MessageDocument | null> {
    const raw = await readFile(this.pathFor(key), "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null;
      throw err;
    });
    return raw === null ? null : (JSON.parse(raw) as MessageDocument);
  }

  /** All stored keys, sorted. */
  async listKeys(): Promise<string[]> {
    const base = join(this.root, "messages");
    const shards = await readdir(base).catch(() => [] as string[]);
    const keys: string[] = [];
    for (const shard of shards.sort()) {
      const files = await readdir(join(base, shard)).catch(() => [] as string[]);
      for (const f of files) if (f.endsWith(".json") && f.length === 69) keys.push(f.slice(0, 64));
    }
    return keys.sort();
  }

  async listDocuments(limit: number): Promise<MessageSummary[]> {
    const keys = (await this.listKeys()).slice(0, Math.max(0, limit));
    const out: MessageSummary[] = [];
    for (const key of keys) {
      const doc = await this.getDocument(key);
      if (doc) out.push(summarize(doc));
    }
    return out;
  }

  /** One stat of the store's root: it is mounted and a directory. */
  async ping(): Promise<void> {
    const st = await stat(this.root);
    if (!st.isDirectory()) throw new Error(`document store ${this.root} is not a directory`);
  }

  async close(): Promise<void> {}
}

/**
 * Filesystem attachment store, content addressed.
 * Layout: <root>/attachments/<sha[0..2]>/<sha>. Existing blobs of the right size are kept.
 */
export class FsAttachmentStore implements AttachmentStore {
  constructor(private readonly root: string) {}

  /** Path of the blob for `sha256`. */
  pathFor(sha256: string): string {
    assertKey(sha256, "attachment sha256");
    return join(this.root, "attachments", sha256.slice(0, 2), sha256);
  }

  async putAttachment(sha256: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathFor(sha256);
    const st = await stat(path).catch(() => null);
    if (st && st.size === bytes.byteLength) return;
    await writeFileAtomic(path, bytes);
  }

  /** putAttachment with synchronous calls (for a parse worker). */
  putAttachmentSync(sha256: string, bytes: Uint8Array): void {
    const path = this.pathFor(sha256);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && st.size === bytes.byteLength) return;
    writeFileAtomicSync(path, bytes);
  }

  async getAttachment(sha256: string): Promise<Uint8Array | null> {
    return readFile(this.pathFor(sha256)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null;
      throw err;
    });
  }
}

/** Filesystem store for both documents and attachments under one root (labs, tests). */
export function createFsStore(root: string): MessageStore {
  const documents = new FsDocumentStore(root);
  return { documents, attachments: new FsAttachmentStore(root), close: () => documents.close() };
}
