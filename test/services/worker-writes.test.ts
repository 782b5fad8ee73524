/**
 * Workers that write the output themselves (documentsRoot): the main thread only claims and
 * renames. The document must be the same canonical bytes the main thread used to write, a
 * rewrite must leave it alone, and a store that fails or stalls must release the message for
 * retry (store-error), never quarantine it.
 */
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMessage, sha256Hex } from "../../services/parser/parse-message.ts";
import { ownArrayBuffer, ParsePool } from "../../services/parser/pool.ts";
import { canonicalJson } from "../../services/store/canonical-json.ts";
import { FsDocumentStore } from "../../services/store/fs-store.ts";
import { TRIGGER_HEADER } from "../../measure/poison-triggers.ts";
import { buildWorkers, cleanMessage, tempDir } from "./helpers.ts";

describe("parse workers writing documents (documentsRoot)", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let triggerWorker: string;
  let pool: ParsePool;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("wwrite"));
    ({ triggerWorker } = await buildWorkers(join(dir, "build")));
    // A generous timeout for the clean cases (a loaded machine must not turn them into timeouts);
    // the stall case has its own short one.
    pool = new ParsePool({
      workerFile: triggerWorker,
      threads: 2,
      timeoutMs: 10_000,
      heapMb: 64,
      attachmentsRoot: join(dir, "store"),
      documentsRoot: join(dir, "store"),
      wantDocSha256: true,
    });
  });
  afterAll(async () => {
    await pool?.close();
    await cleanup?.();
  });
  const run = (b: Buffer, p = pool) => p.parse({ buf: ownArrayBuffer(new Uint8Array(b)) });

  it("GIVEN a clean message WHEN parsed THEN the worker wrote its canonical document and attachment, and returns no bytes", async () => {
    const r = await run(cleanMessage(7));
    expect(r).toMatchObject({ ok: true, written: true, key: sha256Hex(cleanMessage(7)) });
    if (!r.ok || !r.written) return;
    const expected = Buffer.from(canonicalJson((await parseMessage(cleanMessage(7))).doc), "utf8");
    const path = new FsDocumentStore(join(dir, "store")).pathFor(r.key);
    expect(await readFile(path)).toEqual(expected);
    expect(r.docSha256).toBe(sha256Hex(expected));
    const doc = JSON.parse(expected.toString("utf8")) as { attachments: { sha256: string }[] };
    expect((await readFile(join(dir, "store", "attachments", doc.attachments[0]!.sha256.slice(0, 2), doc.attachments[0]!.sha256))).toString()).toBe(
      "attachment payload 7",
    );
  });

  it("GIVEN the same message again WHEN parsed THEN the identical document is left as it was (not rewritten)", async () => {
    const key = sha256Hex(cleanMessage(7));
    const path = new FsDocumentStore(join(dir, "store")).pathFor(key);
    const before = await stat(path);
    await new Promise((r) => setTimeout(r, 20));
    expect(await run(cleanMessage(7))).toMatchObject({ ok: true, written: true, key });
    expect((await stat(path)).mtimeMs).toBe(before.mtimeMs);
  });

  it("GIVEN the store's directories removed after earlier writes WHEN the next message is parsed THEN they are created again", async () => {
    expect(await run(cleanMessage(10))).toMatchObject({ ok: true, written: true });
    await rm(join(dir, "store"), { recursive: true, force: true });
    const r = await run(cleanMessage(10));
    expect(r).toMatchObject({ ok: true, written: true });
    if (r.ok) expect((await stat(new FsDocumentStore(join(dir, "store")).pathFor(r.key))).isFile()).toBe(true);
  });

  it("GIVEN a document store that cannot be written WHEN a message is parsed THEN the outcome is store-error naming the path", async () => {
    const blocked = join(dir, "blocked");
    await mkdir(blocked, { recursive: true });
    await writeFile(join(blocked, "messages"), "a file where a directory must be\n");
    const p = new ParsePool({ workerFile: triggerWorker, threads: 1, timeoutMs: 700, heapMb: 64, documentsRoot: blocked });
    try {
      const r = await run(cleanMessage(8), p);
      expect(r).toMatchObject({ ok: false, kind: "store-error" });
      if (!r.ok) expect(r.detail).toContain(`writing the document under ${blocked}`);
    } finally {
      await p.close();
    }
  });

  it("GIVEN a store write that stalls past the timeout WHEN parsed THEN the outcome is store-error (release for retry), not timeout", async () => {
    const msg = Buffer.from(`Subject: stall\r\n${TRIGGER_HEADER}: stall\r\n\r\nbody\r\n`);
    const p = new ParsePool({
      workerFile: triggerWorker,
      threads: 1,
      timeoutMs: 700,
      heapMb: 64,
      attachmentsRoot: join(dir, "store"),
      documentsRoot: join(dir, "store"),
    });
    try {
      await run(cleanMessage(11), p); // the worker is up before the clock matters
      const started = performance.now();
      const r = await run(msg, p);
      expect(r).toMatchObject({ ok: false, kind: "store-error" });
      if (!r.ok) expect(r.detail).toMatch(/writing the output took over 700 ms/);
      expect(performance.now() - started).toBeLessThan(700 + 500);
      expect(await run(cleanMessage(9), p)).toMatchObject({ ok: true });
    } finally {
      await p.close();
    }
  });
});
