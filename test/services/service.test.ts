import { readFile, rename, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createParserHttpServer } from "../../services/parser/http.ts";
import { ParserService } from "../../services/parser/service.ts";
import { createFsStore, FsDocumentStore } from "../../services/store/fs-store.ts";
import { oversized, triggerMessage } from "../../measure/poison-corpus.ts";
import { buildWorkers, cleanMessage, fsParserService, ls, makeSpool, tempDir, waitFor } from "./helpers.ts";
import { sha256Hex } from "../../services/parser/parse-message.ts";

const MAX = 64 * 1024;

function makeService(root: string, workerFile: string, hostId = "svc1"): ParserService {
  return fsParserService(root, { workerFile, hostId, maxMessageBytes: MAX, timeoutMs: 800 });
}

describe("parser service end to end (in process, fs store, built trigger worker)", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let triggerWorker: string;
  let service: ParserService;
  let base: string;
  let server: ReturnType<typeof createParserHttpServer>;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("svc"));
    ({ triggerWorker } = await buildWorkers(join(dir, "build")));
    const files: Record<string, Buffer> = {
      "p-crash": triggerMessage("crash"),
      "p-throw": triggerMessage("throw"),
      "p-hang": triggerMessage("hang"),
      "p-oom": triggerMessage("oom"),
      "p-big": oversized(MAX),
    };
    for (let i = 0; i < 12; i++) files[`c-${String(i).padStart(2, "0")}`] = cleanMessage(i);
    await makeSpool(join(dir, "spool"), files);
    service = makeService(dir, triggerWorker);
    server = createParserHttpServer(service);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.close();
    await service?.stop(1_000);
    await cleanup?.();
  });

  it("GIVEN the service not yet started WHEN /healthz is fetched THEN it answers 503 with a reason", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/not running/);
  });

  it(
    "GIVEN clean messages mixed with crash/throw/hang/oom/too-large poison WHEN the service runs " +
      "THEN every clean message is stored and every poison message is quarantined with its reason",
    async () => {
      await service.start();
      const spool = join(dir, "spool");
      await waitFor("spool to drain", async () => (await ls(join(spool, "new"))).length === 0 && (await ls(join(spool, "cur"))).length === 0);
      const docs = new FsDocumentStore(join(dir, "store"));
      const keys = await docs.listKeys();
      const expected = Array.from({ length: 12 }, (_, i) => sha256Hex(cleanMessage(i))).sort();
      expect(keys).toEqual(expected);
      // Attachments were written by the workers into the same store root, content addressed.
      const doc5 = (await docs.getDocument(sha256Hex(cleanMessage(5))))!;
      const blob = await createFsStore(join(dir, "store")).attachments.getAttachment(doc5.attachments[0]!.sha256);
      expect(Buffer.from(blob!).toString()).toBe("attachment payload 5");
      const q = await ls(join(spool, "quarantine"));
      expect(q).toEqual([
        "p-big",
        "p-big.reason.json",
        "p-crash",
        "p-crash.reason.json",
        "p-hang",
        "p-hang.reason.json",
        "p-oom",
        "p-oom.reason.json",
        "p-throw",
        "p-throw.reason.json",
      ]);
      const reason = async (n: string) => JSON.parse(await readFile(join(spool, "quarantine", `${n}.reason.json`), "utf8"));
      expect((await reason("p-crash")).reason).toBe("crash");
      expect((await reason("p-throw")).reason).toBe("crash");
      expect((await reason("p-hang")).reason).toBe("timeout");
      expect((await reason("p-oom")).reason).toBe("oom");
      const big = await reason("p-big");
      expect(big.reason).toBe("too-large");
      expect(big.detail).toMatch(/> limit 65536/);
      expect(big.host).toBe("svc1");
      expect(service.metrics.processed.get()).toBe(12);
      expect(service.metrics.quarantined.get({ reason: "crash" })).toBe(2);
    },
  );

  it("GIVEN the running service WHEN /healthz is fetched THEN 200 ready; WHEN new/ disappears THEN 503 naming the spool", async () => {
    const ok = await fetch(`${base}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: "ready", host: "svc1" });
    const spool = join(dir, "spool");
    await rename(join(spool, "new"), join(spool, "new-away"));
    try {
      const bad = await fetch(`${base}/healthz`);
      expect(bad.status).toBe(503);
      expect(((await bad.json()) as { reason: string }).reason).toMatch(/spool .*new is missing or not a directory/);
    } finally {
      await rename(join(spool, "new-away"), join(spool, "new"));
    }
  });

  it(
    "GIVEN processed messages WHEN /metrics is scraped THEN it is valid " + "Prometheus text with the counters, queue gauge and latency histogram",
    async () => {
      const res = await fetch(`${base}/metrics`);
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      const text = await res.text();
      expect(text.endsWith("\n")).toBe(true);
      const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/;
      for (const line of text.trimEnd().split("\n")) {
        if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
        expect(line).toMatch(sample);
      }
      expect(text).toContain("# TYPE bulwark_parser_processed_total counter\nbulwark_parser_processed_total 12\n");
      expect(text).toContain('bulwark_parser_quarantined_total{reason="too-large"} 1');
      expect(text).toContain("# TYPE bulwark_parser_queue_depth gauge\nbulwark_parser_queue_depth 0\n");
      expect(text).toContain('bulwark_parser_parse_seconds_bucket{le="+Inf"} 12');
      expect(text).toContain("bulwark_parser_parse_seconds_count 12");
    },
  );

  it(
    "GIVEN a stored message WHEN the same bytes are delivered again (and " + "to a fresh store) THEN the same key is written with identical bytes",
    async () => {
      const docs = new FsDocumentStore(join(dir, "store"));
      const key = sha256Hex(cleanMessage(3));
      const before = await readFile(docs.pathFor(key));
      await writeFile(join(dir, "spool", "new", "again-3"), cleanMessage(3));
      await waitFor("redelivery to be processed", () => service.metrics.processed.get() === 13);
      expect((await readFile(docs.pathFor(key))).equals(before)).toBe(true);
      expect((await docs.listKeys()).length).toBe(12);

      // A second, independent service instance writing to another store yields the same bytes.
      await makeSpool(join(dir, "other", "spool"), { x: cleanMessage(3) });
      const other = makeService(join(dir, "other"), triggerWorker, "svc2");
      await other.start();
      try {
        await waitFor("other instance to store", () => other.metrics.processed.get() === 1);
      } finally {
        await other.stop(1_000);
      }
      const otherBytes = await readFile(new FsDocumentStore(join(dir, "other", "store")).pathFor(key));
      expect(otherBytes.equals(before)).toBe(true);
    },
  );

  it(
    "GIVEN a hang in flight WHEN the service is stopped with a short grace " + "THEN the held claim is released to new/ and nothing is quarantined",
    async () => {
      const root = join(dir, "stop");
      await makeSpool(join(root, "spool"), { h: triggerMessage("hang") });
      const s = new ParserService({ ...makeService(root, triggerWorker, "svc3").opts, timeoutMs: 20_000 });
      await s.start();
      await waitFor("hang to be claimed", () => s.heldCount === 1);
      const released = await s.stop(200);
      expect(released).toBe(1);
      expect(await ls(join(root, "spool", "new"))).toEqual(["h"]);
      expect(await ls(join(root, "spool", "cur"))).toEqual([]);
      expect(await ls(join(root, "spool", "quarantine"))).toEqual([]);
    },
  );
});
