import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadParserConfig, PARSER_DEFAULTS } from "../../services/parser/config.ts";
import { parseMessage } from "../../services/parser/parse-message.ts";
import { canonicalJson } from "../../services/store/canonical-json.ts";
import { createFsStore, FsDocumentStore } from "../../services/store/fs-store.ts";
import { cleanMessage, tempDir } from "./helpers.ts";

describe("parser configuration", () => {
  it("GIVEN an empty environment THEN production defaults apply (mongo documents, lease 60 s, 12 MiB limit)", () => {
    const c = loadParserConfig({});
    expect(c.store).toEqual({ kind: "mongo", dir: PARSER_DEFAULTS.PARSER_STORE_DIR, mongoUrl: "mongodb://127.0.0.1:27017" });
    expect(c.leaseMs).toBe(60_000);
    expect(c.maxMessageBytes).toBe(12 * 1024 * 1024);
    expect(c.threads).toBe(2);
    expect(c.listenHost).toBe("127.0.0.1");
  });

  it("GIVEN bad values THEN the error names the variable, the value and the valid range", () => {
    expect(() => loadParserConfig({ PARSER_THREADS: "two" })).toThrow('PARSER_THREADS="two" is invalid: set an integer between 1 and 64 (default 2)');
    expect(() => loadParserConfig({ PARSER_STORE_KIND: "s3" })).toThrow('PARSER_STORE_KIND="s3" is not a store kind: set it to "fs" or "mongo"');
    expect(loadParserConfig({ PARSER_LEASE_SECONDS: "2", PARSER_STORE_KIND: "fs" }).leaseMs).toBe(2000);
  });
});

describe("filesystem store", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir("fsstore"));
  });
  afterEach(async () => cleanup());

  it("GIVEN a document WHEN stored twice THEN the file keeps its bytes and inode (second write skipped) and no temp files remain", async () => {
    const store = createFsStore(dir);
    const p = await parseMessage(cleanMessage(9));
    await store.documents.putDocument(p.doc);
    const path = (store.documents as FsDocumentStore).pathFor(p.doc.key);
    const first = await stat(path);
    await store.documents.putDocument(p.doc);
    const second = await stat(path);
    expect(second.ino).toBe(first.ino);
    expect(await readFile(path, "utf8")).toBe(canonicalJson(p.doc));
    expect(await readdir(join(dir, "messages", p.doc.key.slice(0, 2)))).toEqual([`${p.doc.key}.json`]);
    await store.attachments.putAttachment(p.attachments[0]!.sha256, p.attachments[0]!.content);
    expect(Buffer.from((await store.attachments.getAttachment(p.attachments[0]!.sha256))!).toString()).toBe("attachment payload 9");
  });

  it("GIVEN objects with different key order WHEN serialised canonically THEN the bytes are equal", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [2, { y: 2, z: 1 }] }, b: 1 }));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}\n');
  });

  it("GIVEN a path-like key WHEN used THEN the store refuses it", async () => {
    expect(() => new FsDocumentStore(dir).pathFor("../../etc/passwd")).toThrow(/invalid message key/);
  });
});
