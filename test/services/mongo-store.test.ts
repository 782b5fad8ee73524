import { describe, expect, it } from "vitest";
import { BSON } from "mongodb";
import {
  assertMongoUrl,
  buildMongoClientOptions,
  MONGO_MAX_DOCUMENT_BYTES,
  MongoDocumentStore,
  mongoRecordSize,
  type MongoMessageRecord,
} from "../../services/store/mongo-store.ts";
import { DocumentTooLargeError, isDocumentTooLarge } from "../../services/store/types.ts";
import { parseMessage } from "../../services/parser/parse-message.ts";
import { RecordingCollection } from "./fixtures/recording-collection.ts";
import { cleanMessage } from "./helpers.ts";

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
    expect(await store.listDocuments(10)).toEqual([
      { key: doc.key, messageId: doc.messageId, subject: doc.subject, date: doc.date, from: doc.from, size: doc.size },
    ]);
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

  it(
    "GIVEN a health check WHEN the store is pinged THEN one lookup by _id of " +
      "a key no message has (what it does not prove: a live server's latency)",
    async () => {
      const coll = new RecordingCollection();
      await new MongoDocumentStore(coll).ping();
      expect(coll.calls).toEqual([{ op: "findOne", args: [{ _id: "ping".repeat(16) }] }]);
    },
  );

  it("GIVEN bad or weakening URLs THEN they are rejected with the fix; the default local mongos URL passes", () => {
    expect(() => assertMongoUrl("http://127.0.0.1:27017")).toThrow(/expected mongodb:\/\/host:port/);
    expect(() => assertMongoUrl("mongodb://127.0.0.1:27017/?retryWrites=false")).toThrow(/weakens durability/);
    expect(() => assertMongoUrl("mongodb://127.0.0.1:27017/?w=1")).toThrow(/weakens durability/);
    expect(() => assertMongoUrl("mongodb://127.0.0.1:27017")).not.toThrow();
    expect(() => assertMongoUrl("mongodb://127.0.0.1:27017/?w=majority")).not.toThrow();
  });

  it("GIVEN the default limit THEN it is 16 MiB minus a 64 KiB margin, measured in BSON", () => {
    const store = new MongoDocumentStore(new RecordingCollection());
    expect(MONGO_MAX_DOCUMENT_BYTES).toBe(16 * 1024 * 1024 - 64 * 1024);
    expect(store.maxDocumentBytes).toBe(16_711_680);
    expect(store.sizeMeasure).toBe("bson");
    expect(() => new MongoDocumentStore(new RecordingCollection(), undefined, { maxDocumentBytes: 16 * 1024 * 1024 + 1 })).toThrow(
      /maxDocumentBytes=16777217 is invalid/,
    );
  });

  it(
    "GIVEN records at exactly the limit and one byte over (the driver's own BSON size) WHEN stored THEN " +
      "the first is upserted, the second throws DocumentTooLargeError and never reaches the collection",
    async () => {
      const coll = new RecordingCollection();
      const store = new MongoDocumentStore(coll);
      const { doc } = await parseMessage(cleanMessage(5));
      const base = mongoRecordSize({ _id: doc.key, ...doc, text: "" });
      const atLimit = { ...doc, text: "é".repeat(1000) + "a".repeat(MONGO_MAX_DOCUMENT_BYTES - base - 2000) };
      const record: MongoMessageRecord = { _id: doc.key, ...atLimit };
      // The size function is the driver's: it matches what BSON.serialize actually produces.
      expect(mongoRecordSize(record)).toBe(MONGO_MAX_DOCUMENT_BYTES);
      expect(BSON.serialize(record).byteLength).toBe(MONGO_MAX_DOCUMENT_BYTES);
      await store.putDocument(atLimit);
      expect(coll.calls.filter((c) => c.op === "replaceOne")).toHaveLength(1);

      const over = { ...atLimit, text: `${atLimit.text}a` };
      const err = await store.putDocument(over).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DocumentTooLargeError);
      expect(isDocumentTooLarge(err)).toBe(true);
      expect((err as DocumentTooLargeError).message).toBe(`document ${doc.key} is 16711681 bytes (bson) > store limit 16711680 bytes`);
      // Through the serialized path too (what the parser uses): refused before any write.
      await expect(store.putSerialized(doc.key, Buffer.from(JSON.stringify(over)))).rejects.toThrow(/16711681 bytes \(bson\) > store limit/);
      expect(coll.calls.filter((c) => c.op === "replaceOne")).toHaveLength(1);
    },
  );

  it(
    "GIVEN the server still refusing a record as too large (BSONObjectTooLarge, 10334) " +
      "WHEN stored THEN it is reported as DocumentTooLargeError, not as a retryable failure",
    async () => {
      const coll = new RecordingCollection();
      const store = new MongoDocumentStore(coll);
      const { doc } = await parseMessage(cleanMessage(6));
      coll.failNextWith = Object.assign(new Error("BSONObj size: 16793700 is invalid"), { code: 10334 });
      const err = await store.putDocument(doc).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isDocumentTooLarge(err)).toBe(true);
    },
  );

  it("GIVEN a malformed key WHEN fetched THEN it fails naming the key and the expected format", async () => {
    await expect(new MongoDocumentStore(new RecordingCollection()).getDocument("nope")).rejects.toThrow(
      'invalid message key "nope": expected 64 lowercase hex characters (sha256)',
    );
  });
});
