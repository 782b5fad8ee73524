import { describe, expect, it } from "vitest";
import {
  assertMongoUrl,
  buildMongoClientOptions,
  MongoDocumentStore,
  type MessageCollection,
  type MongoMessageRecord,
} from "../../services/store/mongo-store.ts";
import { parseMessage } from "../../services/parser/parse-message.ts";
import { cleanMessage } from "./helpers.ts";

/** Records every call; behaves like a collection keyed by _id. No server involved. */
class RecordingCollection implements MessageCollection {
  calls: { op: string; args: unknown[] }[] = [];
  data = new Map<string, MongoMessageRecord>();
  failNextWith: unknown = null;

  async replaceOne(filter: { _id: string }, replacement: MongoMessageRecord, options: { upsert: true }): Promise<unknown> {
    this.calls.push({ op: "replaceOne", args: [filter, replacement, options] });
    if (this.failNextWith) {
      const e = this.failNextWith;
      this.failNextWith = null;
      throw e;
    }
    this.data.set(filter._id, structuredClone(replacement));
    return { acknowledged: true };
  }
  async findOne(filter: { _id: string }): Promise<MongoMessageRecord | null> {
    this.calls.push({ op: "findOne", args: [filter] });
    return this.data.get(filter._id) ?? null;
  }
  find(filter: Record<string, never>, options: { sort: { _id: 1 }; limit: number; projection: Record<string, 0 | 1> }) {
    this.calls.push({ op: "find", args: [filter, options] });
    const rows = [...this.data.values()].sort((a, b) => a._id.localeCompare(b._id)).slice(0, options.limit);
    return { toArray: async () => rows };
  }
}

describe("MongoDB document store (no server: recorded collection)", () => {
  it("GIVEN the production client options THEN writeConcern is majority and writes/reads are retryable", () => {
    const o = buildMongoClientOptions();
    expect(o.writeConcern).toEqual({ w: "majority", wtimeoutMS: 10_000 });
    expect(o.retryWrites).toBe(true);
    expect(o.retryReads).toBe(true);
    expect(o.serverSelectionTimeoutMS).toBe(5_000);
  });

  it("GIVEN a parsed message WHEN stored THEN one upsert keyed by _id = message key with the full document is issued", async () => {
    const coll = new RecordingCollection();
    const store = new MongoDocumentStore(coll);
    const { doc } = await parseMessage(cleanMessage(1));
    await store.putDocument(doc);
    expect(coll.calls).toHaveLength(1);
    const [filter, replacement, options] = coll.calls[0]!.args as [unknown, MongoMessageRecord, unknown];
    expect(coll.calls[0]!.op).toBe("replaceOne");
    expect(filter).toEqual({ _id: doc.key });
    expect(options).toEqual({ upsert: true });
    expect(replacement).toEqual({ _id: doc.key, ...doc });
  });

  it("GIVEN the same message stored twice WHEN read back THEN there is one record equal to the document (idempotent)", async () => {
    const coll = new RecordingCollection();
    const store = new MongoDocumentStore(coll);
    const { doc } = await parseMessage(cleanMessage(2));
    await store.putDocument(doc);
    await store.putDocument(doc);
    expect(coll.data.size).toBe(1);
    expect(await store.getDocument(doc.key)).toEqual(doc);
    expect(await store.listDocuments(10)).toEqual([{ key: doc.key, messageId: doc.messageId, subject: doc.subject, date: doc.date, from: doc.from, size: doc.size }]);
  });

  it("GIVEN a concurrent upsert losing with E11000 WHEN storing THEN the store retries once and succeeds; other errors propagate", async () => {
    const coll = new RecordingCollection();
    const store = new MongoDocumentStore(coll);
    const { doc } = await parseMessage(cleanMessage(3));
    coll.failNextWith = Object.assign(new Error("E11000 duplicate key"), { code: 11000 });
    await store.putDocument(doc);
    expect(coll.calls.filter((c) => c.op === "replaceOne")).toHaveLength(2);
    expect(coll.data.has(doc.key)).toBe(true);
    coll.failNextWith = Object.assign(new Error("not primary"), { code: 10107 });
    await expect(store.putDocument(doc)).rejects.toThrow("not primary");
  });

  it("GIVEN worker-serialized bytes WHEN stored THEN they are parsed and upserted; a key mismatch is refused with the fix", async () => {
    const coll = new RecordingCollection();
    const store = new MongoDocumentStore(coll);
    const { doc } = await parseMessage(cleanMessage(4));
    await store.putSerialized(doc.key, Buffer.from(JSON.stringify(doc)));
    expect(coll.data.get(doc.key)).toEqual({ _id: doc.key, ...doc });
    await expect(store.putSerialized("f".repeat(64), Buffer.from(JSON.stringify(doc)))).rejects.toThrow(
      `serialized document has key ${doc.key} but was stored as ${"f".repeat(64)}: pass the document's own key`,
    );
  });

  it("GIVEN the list query WHEN issued THEN it sorts by _id, applies the limit and leaves out bodies and headers", async () => {
    const coll = new RecordingCollection();
    await new MongoDocumentStore(coll).listDocuments(7);
    expect(coll.calls[0]).toEqual({ op: "find", args: [{}, { sort: { _id: 1 }, limit: 7, projection: { text: 0, html: 0, headers: 0 } }] });
  });

  it("GIVEN bad or weakening URLs THEN they are rejected with the fix; the default local mongos URL passes", () => {
    expect(() => assertMongoUrl("http://127.0.0.1:27017")).toThrow(/expected mongodb:\/\/host:port/);
    expect(() => assertMongoUrl("mongodb://127.0.0.1:27017/?retryWrites=false")).toThrow(/weakens durability/);
    expect(() => assertMongoUrl("mongodb://127.0.0.1:27017/?w=1")).toThrow(/weakens durability/);
    expect(() => assertMongoUrl("mongodb://127.0.0.1:27017")).not.toThrow();
    expect(() => assertMongoUrl("mongodb://127.0.0.1:27017/?w=majority")).not.toThrow();
  });

  it("GIVEN a malformed key WHEN fetched THEN it fails naming the key and the expected format", async () => {
    await expect(new MongoDocumentStore(new RecordingCollection()).getDocument("nope")).rejects.toThrow('invalid message key "nope": expected 64 lowercase hex characters (sha256)');
  });
});
