import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyPoolError, ownArrayBuffer, ParsePool } from "../../services/parser/pool.ts";
import { triggerMessage, hugeHeader, nestedMultipart } from "../../measure/poison-corpus.ts";
import { buildWorkers, cleanMessage, tempDir } from "./helpers.ts";
import { sha256Hex } from "../../services/parser/parse-message.ts";
import { PHASE_PARSING, PHASE_READING, PHASE_WRITING } from "../../services/parser/worker-protocol.ts";
import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MessageDocument } from "../../services/store/types.ts";

describe("parse pool isolation (built trigger worker)", () => {
  let cleanup: () => Promise<void>;
  let dir: string;
  let pool: ParsePool;
  beforeAll(async () => {
    const t = await tempDir("pool");
    cleanup = t.cleanup;
    dir = t.dir;
    const { triggerWorker } = await buildWorkers(t.dir);
    pool = new ParsePool({ workerFile: triggerWorker, threads: 2, timeoutMs: 700, heapMb: 64 });
  });
  afterAll(async () => {
    await pool?.close();
    await cleanup?.();
  });

  const run = (b: Buffer) => pool.parse({ buf: ownArrayBuffer(new Uint8Array(b)) });

  it("GIVEN a clean message WHEN parsed THEN the document has addresses, subject and attachment metadata", async () => {
    const r = await run(cleanMessage(1));
    expect(r).toMatchObject({ ok: true, written: false });
    if (!r.ok || r.written) return;
    const doc = JSON.parse(Buffer.from(r.docBytes).toString("utf8")) as MessageDocument;
    expect(r.key).toBe(sha256Hex(cleanMessage(1)));
    expect(doc.key).toBe(r.key);
    expect(doc.subject).toBe("clean message 1");
    expect(doc.from).toEqual([{ name: "Sender 1", address: "sender1@example.test" }]);
    expect(doc.cc).toEqual([{ name: "", address: "cc1@example.test" }]);
    expect(doc.attachments).toHaveLength(1);
    expect(doc.attachments[0]).toMatchObject({
      filename: "a1.bin",
      mimeType: "application/octet-stream",
      size: 20,
      contentId: "<att1@example.test>",
    });
    expect(r.attachments[0]!.sha256).toBe(doc.attachments[0]!.sha256);
    expect(Buffer.from(r.attachments[0]!.content).toString()).toBe("attachment payload 1");
  });

  it("GIVEN the input ArrayBuffer WHEN handed to the pool THEN it is transferred (detached here), not copied", async () => {
    const buf = ownArrayBuffer(new Uint8Array(cleanMessage(2)));
    const p = pool.parse({ buf });
    const r = await p;
    expect(r.ok).toBe(true);
    expect(buf.byteLength).toBe(0);
  });

  it(
    "GIVEN a descriptor on a message file WHEN parsed THEN the worker " + "reads it (same result as from memory) and leaves the descriptor open",
    async () => {
      const path = join(dir, "fd-message");
      await writeFile(path, cleanMessage(4));
      const fh = await open(path, "r");
      try {
        const viaFd = await pool.parse({ fd: fh.fd, maxBytes: 1_000_000 });
        const viaBuf = await run(cleanMessage(4));
        expect(viaFd).toMatchObject({ ok: true, written: false, key: sha256Hex(cleanMessage(4)) });
        if (!viaFd.ok || viaFd.written || !viaBuf.ok || viaBuf.written) return;
        expect(Buffer.from(viaFd.docBytes)).toEqual(Buffer.from(viaBuf.docBytes));
        expect((await fh.stat()).size).toBe(cleanMessage(4).byteLength); // still open here
      } finally {
        await fh.close();
      }
    },
  );

  it(
    "GIVEN a descriptor on a file over maxBytes WHEN parsed THEN the outcome " + "is too-large naming the size and the limit; at the limit it parses",
    async () => {
      const path = join(dir, "fd-big");
      const msg = cleanMessage(5);
      await writeFile(path, msg);
      const fh = await open(path, "r");
      try {
        const over = await pool.parse({ fd: fh.fd, maxBytes: msg.byteLength - 1 });
        expect(over).toMatchObject({ ok: false, kind: "too-large" });
        if (!over.ok) expect(over.detail).toBe(`${msg.byteLength} bytes > limit ${msg.byteLength - 1} (PARSER_MAX_MESSAGE_BYTES)`);
        expect(await pool.parse({ fd: fh.fd, maxBytes: msg.byteLength })).toMatchObject({ ok: true });
      } finally {
        await fh.close();
      }
    },
  );

  it("GIVEN a descriptor that is not open WHEN parsed THEN the outcome is store-error (release for retry), not a quarantine kind", async () => {
    const fh = await open(join(dir, "fd-message"), "r");
    const fd = fh.fd;
    await fh.close();
    const r = await pool.parse({ fd, maxBytes: 1_000_000 });
    expect(r).toMatchObject({ ok: false, kind: "store-error" });
    if (!r.ok) expect(r.detail).toMatch(/^reading the claimed message: EBADF/);
  });

  it.each([
    ["crash", "crash", /exited with code: 70/],
    ["throw", "crash", /uncaught exception/],
    ["hang", "timeout", /AbortError/],
    ["oom", "oom", /ERR_WORKER_OUT_OF_MEMORY/],
  ] as const)("GIVEN a %s trigger WHEN parsed THEN the outcome is %s and the next clean message still parses", async (trigger, kind, detail) => {
    const started = performance.now();
    const r = await run(triggerMessage(trigger));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.kind).toBe(kind);
    expect(r.detail).toMatch(detail);
    if (trigger === "hang") expect(performance.now() - started).toBeLessThan(700 + 500);
    const next = await run(cleanMessage(3));
    expect(next.ok).toBe(true);
    expect(pool.threadCount).toBeGreaterThan(0);
  });

  it("GIVEN postal-mime limit poison WHEN parsed THEN it is a parse-error, not a crash", async () => {
    const nested = await run(nestedMultipart(2000));
    expect(nested).toMatchObject({ ok: false, kind: "parse-error" });
    const header = await run(hugeHeader(3_000_000));
    expect(header).toMatchObject({ ok: false, kind: "parse-error" });
    if (!header.ok) expect(header.detail).toMatch(/header size/i);
  });

  it("GIVEN errors of each shape WHEN classified THEN they map to oom, timeout and crash", () => {
    expect(classifyPoolError(Object.assign(new Error("x"), { code: "ERR_WORKER_OUT_OF_MEMORY" }), false).kind).toBe("oom");
    expect(classifyPoolError(Object.assign(new Error("aborted"), { name: "AbortError" }), false).kind).toBe("timeout");
    expect(classifyPoolError(new Error("worker exited with code: 1"), false).kind).toBe("crash");
    expect(classifyPoolError(new Error("Terminating worker thread"), true).kind).toBe("timeout");
  });

  it("GIVEN a timeout WHEN the worker was reading or writing rather than parsing THEN it is a store-error saying which, else a timeout", () => {
    const abort = Object.assign(new Error("aborted"), { name: "AbortError" });
    expect(classifyPoolError(abort, true, PHASE_PARSING).kind).toBe("timeout");
    expect(classifyPoolError(abort, true, PHASE_READING, 700)).toMatchObject({
      kind: "store-error",
      detail: expect.stringMatching(/^reading the message took over 700 ms/),
    });
    expect(classifyPoolError(abort, true, PHASE_WRITING, 700)).toMatchObject({
      kind: "store-error",
      detail: expect.stringMatching(/^writing the output took over 700 ms/),
    });
    expect(classifyPoolError(new Error("worker exited with code: 70"), false, PHASE_READING).kind).toBe("crash");
  });

  it("GIVEN invalid pool settings THEN construction fails naming the setting", () => {
    expect(() => new ParsePool({ workerFile: "/x.mjs", threads: 0, timeoutMs: 1, heapMb: 1 })).toThrow(/threads=0 is invalid/);
  });
});
