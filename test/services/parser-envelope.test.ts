/**
 * The spool file's envelope line (services/parser/envelope.ts) as the parser reads it: split off
 * before hashing, recorded in the document, strict about its form (anything else is a plain
 * message, as before), and the same in the parse worker thread and the running service.
 */
import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEnvelopeLine, ENVELOPE_PREFIX, splitEnvelope, validEnvelope } from "../../services/parser/envelope.ts";
import { parseMessage, sha256Hex } from "../../services/parser/parse-message.ts";
import { ownArrayBuffer, ParsePool } from "../../services/parser/pool.ts";
import { FsDocumentStore } from "../../services/store/fs-store.ts";
import type { MessageDocument, MessageEnvelope } from "../../services/store/types.ts";
import { buildWorkers, cleanMessage, fsParserService, ls, makeSpool, tempDir, waitFor } from "./helpers.ts";

const ENV_A: MessageEnvelope = {
  mailFrom: "a@remote.test",
  rcptTo: ["one@example.test"],
  clientAddress: "203.0.113.7",
  receivedAt: "2029-01-02T03:04:05.678Z",
  receivedBy: "mx1",
};
const ENV_B: MessageEnvelope = {
  mailFrom: null,
  rcptTo: ["two@example.test", "Three@Example.Test"],
  clientAddress: "2001:db8::1",
  receivedAt: "2029-01-03T00:00:00.000Z",
  receivedBy: "mx2",
};

const withEnvelope = (env: MessageEnvelope, msg: Buffer) => Buffer.concat([encodeEnvelopeLine(env), msg]);
const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v), "utf8").toString("base64");
const line = (value: string) => Buffer.from(`${ENVELOPE_PREFIX}${value}\r\n`, "latin1");
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Base64 of `v` (JSON) that decodes to the same bytes but is not what an encoder writes (an unused bit set). */
function nonCanonicalB64(v: unknown): string {
  let json = JSON.stringify(v);
  while (Buffer.byteLength(json) % 3 === 0) json += " ";
  const c = Buffer.from(json).toString("base64");
  const i = c.indexOf("=") - 1;
  const out = c.slice(0, i) + ALPHABET[ALPHABET.indexOf(c[i]!) ^ 1] + c.slice(i + 1);
  expect(Buffer.from(out, "base64").toString()).toBe(json);
  return out;
}

describe("envelope line in the parser", () => {
  it("GIVEN one message with two different envelopes WHEN parsed THEN one key (the message's), same content, each envelope recorded", async () => {
    const msg = cleanMessage(1);
    const a = await parseMessage(withEnvelope(ENV_A, msg));
    const b = await parseMessage(withEnvelope(ENV_B, msg));
    const plain = await parseMessage(msg);
    expect(a.doc.key).toBe(sha256Hex(msg));
    expect(b.doc.key).toBe(a.doc.key);
    expect(a.doc.size).toBe(msg.byteLength);
    expect(a.doc.envelope).toEqual(ENV_A);
    expect(b.doc.envelope).toEqual(ENV_B);
    const { envelope: _a, ...restA } = a.doc;
    const { envelope: _b, ...restB } = b.doc;
    expect(restA).toEqual(plain.doc);
    expect(restB).toEqual(plain.doc);
    expect(a.doc.headers.some((h) => h.key === "x-bulwark-envelope")).toBe(false);
  });

  it("GIVEN a file without the line WHEN parsed THEN it is hashed and parsed whole, and the document has no envelope field", async () => {
    const msg = cleanMessage(2);
    const { doc } = await parseMessage(msg);
    expect(doc.key).toBe(sha256Hex(msg));
    expect("envelope" in doc).toBe(false);
    expect(splitEnvelope(msg)).toEqual({ envelope: null, message: msg });
  });

  it("GIVEN forged or broken envelope lines WHEN parsed THEN each file is a plain message: whole-file key, no envelope", async () => {
    const msg = cleanMessage(3);
    const good = JSON.parse(Buffer.from(encodeEnvelopeLine(ENV_A).subarray(ENVELOPE_PREFIX.length, -2).toString(), "base64").toString());
    // Control: the same helpers build a line that is taken, so each case below fails for its own reason.
    expect(splitEnvelope(Buffer.concat([line(b64(good)), msg])).envelope).toEqual(ENV_A);
    const broken: Record<string, Buffer> = {
      "lower-case name": Buffer.from(`x-bulwark-envelope: ${b64(good)}\r\n`),
      "no space": Buffer.from(`X-Bulwark-Envelope:${b64(good)}\r\n`),
      "two spaces": Buffer.from(`X-Bulwark-Envelope:  ${b64(good)}\r\n`),
      "bare LF": Buffer.from(`${ENVELOPE_PREFIX}${b64(good)}\n`),
      "not first": Buffer.concat([Buffer.from("Received: x\r\n"), line(b64(good))]),
      "not base64": line("not*base64!"),
      "non-canonical base64": line(nonCanonicalB64(good)),
      "truncated base64": line(b64(good).slice(0, -3)),
      "empty value": line(""),
      "not JSON": line(b64("{mailFrom:")),
      "JSON array": line(b64([good])),
      "JSON null": line(b64(null)),
      "missing field": line(b64({ ...good, receivedBy: undefined })),
      "extra field": line(b64({ ...good, admin: true })),
      "rcptTo empty": line(b64({ ...good, rcptTo: [] })),
      "rcptTo not strings": line(b64({ ...good, rcptTo: [1] })),
      "mailFrom a number": line(b64({ ...good, mailFrom: 5 })),
      "bad receivedAt": line(b64({ ...good, receivedAt: "yesterday" })),
      "clientAddress empty": line(b64({ ...good, clientAddress: "" })),
      "invalid UTF-8": line(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("base64")),
      "no end of line": Buffer.from(`${ENVELOPE_PREFIX}${b64(good)}`),
    };
    for (const [what, head] of Object.entries(broken)) {
      const file = Buffer.concat([head, msg]);
      const { doc } = await parseMessage(file);
      expect({ what, key: doc.key, envelope: doc.envelope }).toEqual({ what, key: sha256Hex(file), envelope: undefined });
    }
  });

  it("GIVEN an envelope WHEN encoded THEN it is one CRLF-terminated line that decodes to the same envelope; a bad one is refused", () => {
    const l = encodeEnvelopeLine({ ...ENV_A, rcptTo: ["ünï@exämple.test"] });
    expect(l.subarray(0, -2).includes(0x0a)).toBe(false);
    expect(l.subarray(-2).toString()).toBe("\r\n");
    expect(splitEnvelope(l).envelope!.rcptTo).toEqual(["ünï@exämple.test"]);
    expect(() => encodeEnvelopeLine({ ...ENV_A, rcptTo: [] })).toThrow(/expected fields/);
    expect(validEnvelope({ ...ENV_A })).toEqual(ENV_A);
  });
});

describe("envelope line through the parse worker thread and the service", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let prodWorker: string;
  let pool: ParsePool;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("envelope"));
    ({ prodWorker } = await buildWorkers(join(dir, "build")));
    pool = new ParsePool({ workerFile: prodWorker, threads: 1, timeoutMs: 5_000, heapMb: 64 });
  });
  afterAll(async () => {
    await pool?.close();
    await cleanup?.();
  });

  it("GIVEN a file with an envelope WHEN the built worker parses it (memory, descriptor) THEN the message's key, the envelope recorded", async () => {
    const msg = cleanMessage(4);
    const file = withEnvelope(ENV_A, msg);
    const fromBuf = await pool.parse({ buf: ownArrayBuffer(new Uint8Array(file)) });
    const path = join(dir, "with-envelope");
    await writeFile(path, file);
    const fh = await open(path, "r");
    let fromFd: Awaited<ReturnType<typeof pool.parse>>;
    try {
      fromFd = await pool.parse({ fd: fh.fd, maxBytes: 1_000_000 });
    } finally {
      await fh.close();
    }
    for (const r of [fromBuf, fromFd]) {
      expect(r).toMatchObject({ ok: true, written: false, key: sha256Hex(msg) });
      if (!r.ok || r.written) return;
      const doc = JSON.parse(Buffer.from(r.docBytes).toString("utf8")) as MessageDocument;
      expect(doc.envelope).toEqual(ENV_A);
      expect(doc.size).toBe(msg.byteLength);
    }
  });

  it("GIVEN one message spooled twice with different envelopes WHEN the service drains the spool THEN one document, one envelope", async () => {
    const root = join(dir, "svc");
    const msg = cleanMessage(5);
    await makeSpool(join(root, "spool"), { "d-1": withEnvelope(ENV_A, msg), "d-2": withEnvelope(ENV_B, msg), plain: cleanMessage(6) });
    const store = join(root, "store");
    const service = fsParserService(root, { workerFile: prodWorker, hostId: "env1", maxMessageBytes: 1_000_000, threads: 1, documentsRoot: store });
    await service.start();
    try {
      await waitFor("the spool to drain", async () => (await ls(join(root, "spool", "new"))).length === 0 && service.heldCount === 0, 10_000);
    } finally {
      await service.stop(1_000);
    }
    const docs = new FsDocumentStore(store);
    expect(await docs.listKeys()).toEqual([sha256Hex(msg), sha256Hex(cleanMessage(6))].sort());
    const doc = (await docs.getDocument(sha256Hex(msg)))!;
    expect([ENV_A, ENV_B]).toContainEqual(doc.envelope);
    expect("envelope" in (await docs.getDocument(sha256Hex(cleanMessage(6))))!).toBe(false);
    expect(await ls(join(root, "spool", "quarantine"))).toEqual([]);
  });
});
