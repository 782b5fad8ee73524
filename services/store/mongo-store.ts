import { BSON, MongoClient, type MongoClientOptions } from "mongodb";
import { assertKey, DocumentTooLargeError, summarize, type DocumentStore, type MessageDocument, type MessageSummary } from "./types.ts";

/** Stored shape: the message document plus `_id` = message key. */
export type MongoMessageRecord = MessageDocument & { _id: string };

/**
 * The few collection operations the store uses. The real driver's Collection satisfies
 * it; tests inject a recorder so the filter/update documents can be checked without a
 * server.
 */
export interface MessageCollection {
  replaceOne(filter: { _id: string }, replacement: MongoMessageRecord, options: { upsert: true }): Promise<unknown>;
  findOne(filter: { _id: string }): Promise<MongoMessageRecord | null>;
  find(
    filter: Record<string, never>,
    options: { sort: { _id: 1 }; limit: number; projection: Record<string, 0 | 1> },
  ): { toArray(): Promise<MongoMessageRecord[]> };
}

/** Default database/collection names. */
const MONGO_DB = "bulwark";
const MONGO_COLLECTION = "messages";

/**
 * Client options for the production connection: majority write concern with a bounded
 * wait, retryable writes and reads, and short server selection so an unreachable mongos
 * surfaces quickly as an error rather than a hang.
 */
export function buildMongoClientOptions(): MongoClientOptions {
  return {
    writeConcern: { w: "majority", wtimeoutMS: 10_000 },
    retryWrites: true,
    retryReads: true,
    serverSelectionTimeoutMS: 5_000,
    appName: "bulwark-parser",
  };
}

/** Validates a MongoDB URL before handing it to the driver. */
export function assertMongoUrl(url: string): void {
  if (!/^mongodb(\+srv)?:\/\//.test(url)) {
    throw new Error(`invalid MongoDB URL ${JSON.stringify(url)}: expected mongodb://host:port (e.g. mongodb://127.0.0.1:27017)`);
  }
  if (/[?&]retryWrites=false/i.test(url) || /[?&]w=(?!majority)/i.test(url)) {
    throw new Error(`MongoDB URL ${JSON.stringify(url)} weakens durability (retryWrites=false or w!=majority): remove those parameters`);
  }
}

/** MongoDB's maximum BSON document size (`maxBsonObjectSize` in `hello`): 16 MiB. */
const MONGO_MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;

/**
 * Margin kept below MONGO_MAX_BSON_OBJECT_SIZE. A stored document travels inside larger
 * envelopes that the server caps at 16 MiB + 16 KiB (the update command, its oplog entry,
 * change-stream events carrying the full document), and the server may measure a little
 * differently from the driver. 64 KiB (0.4 % of the limit) keeps every such envelope inside
 * its cap; a document within 64 KiB of 16 MiB is pathological mail anyway.
 */
const MONGO_DOCUMENT_MARGIN_BYTES = 64 * 1024;

/** Largest record (BSON bytes, `_id` included) the Mongo store inserts: 16 MiB - 64 KiB = 16,711,680. */
export const MONGO_MAX_DOCUMENT_BYTES = MONGO_MAX_BSON_OBJECT_SIZE - MONGO_DOCUMENT_MARGIN_BYTES;

/** The server's BSONObjectTooLarge error code (a backstop: the size is checked before the write). */
const BSON_OBJECT_TOO_LARGE = 10334;

/**
 * BSON size of the record exactly as the driver will serialize it: the driver's own
 * `calculateObjectSize`, with `ignoreUndefined: false` as in the driver's default
 * serialization (an undefined field is written as null).
 */
export function mongoRecordSize(record: MongoMessageRecord): number {
  return BSON.calculateObjectSize(record, { ignoreUndefined: false });
}

/** Returns true for a duplicate-key error, which a concurrent upsert on the same _id can raise. */
function isDuplicateKey(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 11000;
}

/**
 * MongoDB document store: one record per message, `_id` = message key, written with an
 * upsert (replaceOne) so a double completion writes the same record.
 */
export class MongoDocumentStore implements DocumentStore {
  readonly sizeMeasure = "bson" as const;
  /** BSON bytes of the largest record inserted (default MONGO_MAX_DOCUMENT_BYTES). */
  readonly maxDocumentBytes: number;

  constructor(
    private readonly collection: MessageCollection,
    private readonly onClose: () => Promise<void> = async () => undefined,
    options: { maxDocumentBytes?: number } = {},
  ) {
    const max = options.maxDocumentBytes ?? MONGO_MAX_DOCUMENT_BYTES;
    if (!Number.isSafeInteger(max) || max <= 0 || max > MONGO_MAX_BSON_OBJECT_SIZE) {
      throw new Error(`MongoDocumentStore maxDocumentBytes=${max} is invalid: use a positive integer up to ${MONGO_MAX_BSON_OBJECT_SIZE}`);
    }
    this.maxDocumentBytes = max;
  }

  /**
   * Upserts the record. Its BSON size is checked first: over the limit throws
   * DocumentTooLargeError and nothing is sent (the same bytes would be refused on every retry).
   */
  async putDocument(doc: MessageDocument): Promise<void> {
    assertKey(doc.key);
    const record: MongoMessageRecord = { _id: doc.key, ...doc };
    const size = mongoRecordSize(record);
    if (size > this.maxDocumentBytes) throw new DocumentTooLargeError(doc.key, size, this.maxDocumentBytes, this.sizeMeasure);
    try {
      await this.replace(record);
    } catch (err) {
      // Two hosts upserting the same new _id at once: one insert wins, the loser gets
      // E11000; retrying turns it into a replace with identical content.
      if (!isDuplicateKey(err)) throw err;
      await this.replace(record);
    }
  }

  private async replace(record: MongoMessageRecord): Promise<void> {
    try {
      await this.collection.replaceOne({ _id: record._id }, record, { upsert: true });
    } catch (err) {
      // Backstop: if the server still finds the record too large, that is as permanent as
      // the check above, so it is reported the same way rather than retried for ever.
      if ((err as { code?: unknown })?.code === BSON_OBJECT_TOO_LARGE) {
        throw new DocumentTooLargeError(record._id, mongoRecordSize(record), this.maxDocumentBytes, this.sizeMeasure);
      }
      throw err;
    }
  }

  async putSerialized(key: string, json: Uint8Array): Promise<void> {
    const doc = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString("utf8")) as MessageDocument;
    if (doc.key !== key) throw new Error(`serialized document has key ${doc.key} but was stored as ${key}: pass the document's own key`);
    await this.putDocument(doc);
  }

  async getDocument(key: string): Promise<MessageDocument | null> {
    assertKey(key);
    const rec = await this.collection.findOne({ _id: key });
    if (!rec) return null;
    const { _id, ...doc } = rec;
    return doc;
  }

  async listDocuments(limit: number): Promise<MessageSummary[]> {
    const recs = await this.collection
      .find({}, { sort: { _id: 1 }, limit: Math.max(0, limit), projection: { text: 0, html: 0, headers: 0 } })
      .toArray();
    return recs.map((r) => summarize(r));
  }

  /** One indexed lookup of a key no message has: a round trip to the server, whatever it holds. */
  async ping(): Promise<void> {
    await this.collection.findOne({ _id: PING_KEY });
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}

/** Not a sha256 of anything stored: 64 characters outside the hex alphabet of real keys. */
const PING_KEY = "ping".repeat(16);

/** Connects to MongoDB (e.g. the local mongos) and returns a document store on it. */
export async function connectMongoDocumentStore(url: string): Promise<MongoDocumentStore> {
  assertMongoUrl(url);
  const client = new MongoClient(url, buildMongoClientOptions());
  await client.connect();
  const coll = client.db(MONGO_DB).collection<MongoMessageRecord>(MONGO_COLLECTION);
  return new MongoDocumentStore(coll as unknown as MessageCollection, () => client.close());
}
