import { MongoClient, type MongoClientOptions } from "mongodb";
import { assertKey, summarize, type DocumentStore, type MessageDocument, type MessageSummary } from "./types.ts";

/** Stored shape: the message document plus `_id` = message key. */
export type MongoMessageRecord = MessageDocument & { _id: string };

/**
 * The few collection operations the store uses. The real driver's Collection satisfies
 * it; tests inject a recorder so the filter/update documents can be checked without a
 * server.
 */
export interface MessageCollection {
  replaceOne(
    filter: { _id: string },
    replacement: MongoMessageRecord,
    options: { upsert: true },
  ): Promise<unknown>;
  findOne(filter: { _id: string }): Promise<MongoMessageRecord | null>;
  find(
    filter: Record<string, never>,
    options: { sort: { _id: 1 }; limit: number; projection: Record<string, 0 | 1> },
  ): { toArray(): Promise<MongoMessageRecord[]> };
}

/** Default database/collection names. */
export const MONGO_DB = "bulwark";
export const MONGO_COLLECTION = "messages";

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
    throw new Error(
      `invalid MongoDB URL ${JSON.stringify(url)}: expected mongodb://host:port (e.g. mongodb://127.0.0.1:27017)`,
    );
  }
  if (/[?&]retryWrites=false/i.test(url) || /[?&]w=(?!majority)/i.test(url)) {
    throw new Error(
      `MongoDB URL ${JSON.stringify(url)} weakens durability (retryWrites=false or w!=majority): remove those parameters`,
    );
  }
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
  constructor(
    private readonly collection: MessageCollection,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {}

  async putDocument(doc: MessageDocument): Promise<void> {
    assertKey(doc.key);
    const record: MongoMessageRecord = { _id: doc.key, ...doc };
    try {
      await this.collection.replaceOne({ _id: doc.key }, record, { upsert: true });
    } catch (err) {
      // Two hosts upserting the same new _id at once: one insert wins, the loser gets
      // E11000; retrying turns it into a replace with identical content.
      if (!isDuplicateKey(err)) throw err;
      await this.collection.replaceOne({ _id: doc.key }, record, { upsert: true });
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

  async close(): Promise<void> {
    await this.onClose();
  }
}

/** Connects to MongoDB (e.g. the local mongos) and returns a document store on it. */
export async function connectMongoDocumentStore(url: string): Promise<MongoDocumentStore> {
  assertMongoUrl(url);
  const client = new MongoClient(url, buildMongoClientOptions());
  await client.connect();
  const coll = client.db(MONGO_DB).collection<MongoMessageRecord>(MONGO_COLLECTION);
  return new MongoDocumentStore(coll as unknown as MessageCollection, () => client.close());
}
