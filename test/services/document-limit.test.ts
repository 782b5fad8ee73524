/**
 * A document over the store's size limit is the message's fault (the same bytes always build
 * the same document): it is quarantined as "document-too-large", checked before the write,
 * never released for a retry that would circle the spool for ever. No MongoDB server: the
 * Mongo store runs on a recording collection and measures with the driver's BSON size.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../services/parser/parse-message.ts";
import { ParserService } from "../../services/parser/service.ts";
import { FsAttachmentStore, FsDocumentStore } from "../../services/store/fs-store.ts";
import { MONGO_MAX_DOCUMENT_BYTES, MongoDocumentStore, type MongoMessageRecord } from "../../services/store/mongo-store.ts";
import { DocumentTooLargeError, type MessageStore } from "../../services/store/types.ts";
import { RecordingCollection } from "./fixtures/recording-collection.ts";
import { buildWorkers, cleanMessage, fsParserService, ls, makeSpool, tempDir, waitFor } from "./helpers.ts";

/**
 * A message with `n` recipients ("a@b", 100 to a folded line) and one attachment: small mail
 * whose document is many times its size (each 4-byte address becomes a ~42-byte BSON
 * subdocument). postal-mime caps headers at 2 MiB, so this is about the largest such list.
 */
function manyRecipients(n: number, tag: string): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < n; i += 100) lines.push(Array.from({ length: Math.min(100, n - i) }, () => "a@b").join(","));
  const to = lines.join(",\r\n ");
  return Buffer.from(
    [
      "From: a@ex.test",
      `To: ${to}`,
      `Subject: ${n} recipients ${tag}`,
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b"',
      "",
      "--b",
      "Content-Type: text/plain",
      "",
      "hi",
      "--b",
      'Content-Type: application/octet-stream; name="big-rcpt.bin"',
      "Content-Transfer-Encoding: base64",
      "",
      Buffer.from(`attachment of the ${tag} message`).toString("base64"),
      "--b--",
      "",
    ].join("\r\n"),
  );
}

const replaced = (coll: RecordingCollection) => coll.calls.filter((c) => c.op === "replaceOne").map((c) => (c.args[1] as MongoMessageRecord)._id);

describe("filesystem document store limit", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("fslimit"));
  });
  afterAll(async () => cleanup?.());

  it(
    "GIVEN the default THEN it is 16 MiB of canonical JSON; GIVEN a document over a " +
      "store's limit WHEN written (async or sync) THEN DocumentTooLargeError and no file",
    async () => {
      expect(new FsDocumentStore(dir).maxDocumentBytes).toBe(16 * 1024 * 1024);
      const store = new FsDocumentStore(dir, 100);
      const key = "a".repeat(64);
      await expect(store.putSerialized(key, Buffer.alloc(101, 0x20))).rejects.toBeInstanceOf(DocumentTooLargeError);
      expect(() => store.putSerializedSync(key, Buffer.alloc(101, 0x20))).toThrow(
        `document ${key} is 101 bytes (canonical-json) > store limit 100 bytes`,
      );
      expect(await ls(join(dir, "messages"))).toEqual([]);
      await store.putSerialized(key, Buffer.alloc(100, 0x20));
      expect((await readFile(store.pathFor(key))).byteLength).toBe(100);
    },
  );
});

describe("parser service: documents over the store's limit", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let prodWorker: string;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("doclimit"));
    ({ prodWorker } = await buildWorkers(join(dir, "build")));
  });
  afterAll(async () => cleanup?.());

  it("GIVEN the Mongo store at its real limit and a 1.8 MB message with 450,000 recipients (a ~20 MB BSON document) WHEN " +
    "processed THEN it is quarantined as document-too-large without an insert, not released, and clean mail is stored", async () => {
    const root = join(dir, "mongo");
    const big = manyRecipients(450_000, "mongo");
    const bigKey = sha256Hex(big);
    const clean = [0, 1, 2, 3].map((i) => cleanMessage(500 + i));
    await makeSpool(join(root, "spool"), { "big-rcpt": big, ...Object.fromEntries(clean.map((b, i) => [`clean-${i}`, b])) });
    const coll = new RecordingCollection();
    const documents = new MongoDocumentStore(coll); // default limit: 16 MiB - 64 KiB of BSON
    const store: MessageStore = { documents, attachments: new FsAttachmentStore(join(root, "store")), close: async () => undefined };
    const logs: string[] = [];
    const service = new ParserService({
      spoolDir: join(root, "spool"),
      hostId: "dl1",
      leaseMs: 60_000,
      maxMessageBytes: 12 * 1024 * 1024,
      threads: 2,
      timeoutMs: 20_000,
      heapMb: 512,
      workerFile: prodWorker,
      store,
      attachmentsRoot: join(root, "store"), // as in production: workers write blobs, the main thread upserts
      pollMs: 20,
      log: (l) => logs.push(l),
    });
    await service.start();
    try {
      await waitFor(
        "big message quarantined and clean ones stored",
        async () => (await ls(join(root, "spool", "quarantine"))).includes("big-rcpt") && replaced(coll).length === 4,
        25_000,
      );
      // Time for a retry, if there were one.
      await new Promise((r) => setTimeout(r, 300));
      const reason = JSON.parse(await readFile(join(root, "spool", "quarantine", "big-rcpt.reason.json"), "utf8"));
      expect(reason.reason).toBe("document-too-large");
      const size = Number(/is (\d+) bytes \(bson\) > store limit 16711680 bytes/.exec(reason.detail)?.[1]);
      expect(size).toBeGreaterThan(MONGO_MAX_DOCUMENT_BYTES);
      expect(size / big.byteLength).toBeGreaterThan(10); // an amplification of more than 10x
      expect(replaced(coll)).not.toContain(bigKey);
      expect(replaced(coll).sort()).toEqual(clean.map((b) => sha256Hex(b)).sort());
      expect(service.metrics.failed.get()).toBe(0);
      expect(service.metrics.quarantined.get({ reason: "document-too-large" })).toBe(1);
      expect(await ls(join(root, "spool", "new"))).toEqual([]);
      expect(await ls(join(root, "spool", "cur"))).toEqual([]);
      expect(logs.filter((l) => /releasing it for retry/.test(l))).toEqual([]);
      const metrics = await service.metrics.registry.render();
      expect(metrics).toContain('bulwark_parser_quarantined_total{reason="document-too-large"} 1');
      expect(metrics).toContain('# TYPE bulwark_parser_document_limit_bytes gauge\nbulwark_parser_document_limit_bytes{measure="bson"} 16711680\n');
    } finally {
      await service.stop(1_000);
    }
  }, 60_000);

  it(
    "GIVEN the fs store (workers write documents) with a small limit WHEN a many-recipient message is processed " +
      "THEN the worker refuses it before writing anything (no document, no attachment blob) and it is quarantined",
    async () => {
      const root = join(dir, "fs");
      const storeDir = join(root, "store");
      const big = manyRecipients(300, "fs");
      await makeSpool(join(root, "spool"), { "big-rcpt": big, "clean-0": cleanMessage(600), "clean-1": cleanMessage(601) });
      const documents = new FsDocumentStore(storeDir, 8 * 1024);
      const store: MessageStore = { documents, attachments: new FsAttachmentStore(storeDir), close: async () => undefined };
      const service = fsParserService(root, {
        workerFile: prodWorker,
        hostId: "dl2",
        leaseMs: 60_000,
        maxMessageBytes: 1024 * 1024,
        timeoutMs: 10_000,
        store,
        documentsRoot: storeDir,
      });
      await service.start();
      try {
        await waitFor(
          "spool drained",
          async () =>
            (await ls(join(root, "spool", "new"))).length === 0 &&
            (await ls(join(root, "spool", "cur"))).length === 0 &&
            service.metrics.processed.get() === 2,
        );
        const reason = JSON.parse(await readFile(join(root, "spool", "quarantine", "big-rcpt.reason.json"), "utf8"));
        expect(reason.reason).toBe("document-too-large");
        expect(reason.detail).toMatch(/bytes \(canonical-json\) > store limit 8192 bytes/);
        expect(await documents.listKeys()).toEqual([sha256Hex(cleanMessage(600)), sha256Hex(cleanMessage(601))].sort());
        // Two clean messages, two blobs: the refused message's attachment was never written.
        const blobs = (await Promise.all((await ls(join(storeDir, "attachments"))).map((d) => ls(join(storeDir, "attachments", d))))).flat();
        expect(blobs).toHaveLength(2);
        expect(service.metrics.failed.get()).toBe(0);
        expect(await service.metrics.registry.render()).toContain('bulwark_parser_document_limit_bytes{measure="canonical-json"} 8192');
      } finally {
        await service.stop(1_000);
      }
    },
  );
});
