/**
 * Poison corpus generator (nothing checked in: every item is built here).
 *
 *   import { poisonCorpus, triggerMessage } from "../measure/poison-corpus.ts";
 *   npx tsx measure/poison-corpus.ts <outDir>      writes one file per item + index.json
 *
 * Items: 10,000 levels of nested multipart; 1,000,000 empty parts; a 10 MB header; bad
 * base64; bad quoted-printable; unknown charset; invalid UTF-8; truncated boundaries;
 * a message over the size limit. Measured with postal-mime 4.0.0 on this 2-core box, in
 * one thread without limits: nested-10000 rejected by maxNestingDepth in 18 ms;
 * empty-parts-1m parsed in ~20 s using ~1.4 GB heap (pathological: the 256 MB worker heap
 * limit or the 5 s timeout stops it); huge-header-10mb rejected by maxHeadersSize in 40 ms;
 * a 12 MiB body parses in ~150 ms (the size limit rejects it before parsing); malformed
 * encodings/charsets parse best-effort in < 10 ms each. Trigger messages (crash/throw/hang/oom) only do
 * anything under the TEST worker in test/services/fixtures/trigger-worker.ts.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { TRIGGER_HEADER, TRIGGER_KINDS, type TriggerKind } from "./poison-triggers.ts";

/** What the parser is expected to do with an item. */
export type PoisonExpectation =
  | { outcome: "quarantine"; reasons: ("crash" | "timeout" | "oom" | "too-large" | "parse-error")[] }
  | { outcome: "parse" };

/** One poison message. */
export interface PoisonItem {
  name: string;
  bytes: Buffer;
  expect: PoisonExpectation;
}

const CRLF = "\r\n";

function head(subject: string, extra: string[] = []): string {
  return [
    "From: Poison <poison@example.test>",
    "To: victim@example.test",
    `Subject: ${subject}`,
    `Message-ID: <${subject.replace(/[^a-z0-9]+/gi, "-")}@poison.example.test>`,
    "Date: Tue, 01 Jan 2030 00:00:00 +0000",
    "MIME-Version: 1.0",
    ...extra,
  ].join(CRLF);
}

/** 10,000 (or `depth`) levels of nested multipart/mixed. */
export function nestedMultipart(depth = 10_000): Buffer {
  const parts: string[] = [head(`nested ${depth}`, [`Content-Type: multipart/mixed; boundary="n0"`]), ""];
  for (let i = 1; i <= depth; i++) {
    parts.push(`--n${i - 1}`, `Content-Type: multipart/mixed; boundary="n${i}"`, "");
  }
  parts.push(`--n${depth}`, "Content-Type: text/plain", "", "bottom");
  for (let i = depth; i >= 0; i--) parts.push(`--n${i}--`);
  return Buffer.from(parts.join(CRLF) + CRLF, "latin1");
}

/** A multipart message with 1,000,000 (or `count`) empty parts. */
export function emptyParts(count = 1_000_000): Buffer {
  const start = head(`empty parts ${count}`, [`Content-Type: multipart/mixed; boundary="e"`]) + CRLF + CRLF;
  return Buffer.concat([Buffer.from(start), Buffer.from(`--e${CRLF}${CRLF}`.repeat(count)), Buffer.from(`--e--${CRLF}`)]);
}

/** A message with one header of `bytes` (default 10 MB). */
export function hugeHeader(bytes = 10_000_000): Buffer {
  return Buffer.concat([Buffer.from(`${head("huge header") + CRLF}X-Huge: `), Buffer.alloc(bytes, "a"), Buffer.from(`${CRLF + CRLF}body${CRLF}`)]);
}

function singlePart(subject: string, headers: string[], body: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(head(subject, headers) + CRLF + CRLF), Buffer.from(body as string), Buffer.from(CRLF)]);
}

/** Malformed encodings and charsets, each as its own message. */
export function malformedItems(): PoisonItem[] {
  const parse: PoisonExpectation = { outcome: "parse" };
  const badBase64Attachment = [
    "--m",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "see attachment",
    "--m",
    'Content-Type: application/octet-stream; name="x.bin"',
    "Content-Transfer-Encoding: base64",
    'Content-Disposition: attachment; filename="x.bin"',
    "",
    "!!!!@@@@####$$$$%%%%^^^^====AAAA=B=C==D",
    "QUJD=REVG*&^%$",
    "--m--",
  ].join(CRLF);
  return [
    { name: "bad-base64", bytes: singlePart("bad base64", ['Content-Type: multipart/mixed; boundary="m"'], badBase64Attachment), expect: parse },
    {
      name: "bad-quoted-printable",
      bytes: singlePart(
        "bad qp",
        ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"],
        "=ZZ=G1 broken =\r\n=4\r\n==== =C3=\r\n=XY=FF=FE=\r\n=",
      ),
      expect: parse,
    },
    {
      name: "unknown-charset",
      bytes: singlePart(
        "unknown charset",
        ["Content-Type: text/plain; charset=x-no-such-charset-42", "Content-Transfer-Encoding: 8bit"],
        Buffer.from([0x48, 0x69, 0x20, 0xe9, 0xfc, 0x80, 0x0d, 0x0a]),
      ),
      expect: parse,
    },
    {
      name: "invalid-utf8",
      bytes: singlePart(
        "invalid utf8",
        ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"],
        Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0x0d, 0x0a]),
      ),
      expect: parse,
    },
    {
      name: "truncated-boundary",
      bytes: Buffer.from(
        head("truncated", ['Content-Type: multipart/alternative; boundary="t"']) +
          CRLF +
          CRLF +
          [
            "--t",
            "Content-Type: text/plain",
            "",
            "first part",
            "--t",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            "PGI+dHJ1bmNhdGVk",
            "--",
          ].join(CRLF),
      ),
      expect: parse,
    },
  ];
}

/** A message just over `limit` bytes (default 12 MiB + 1 KiB). */
export function oversized(limit = 12 * 1024 * 1024): Buffer {
  const h = Buffer.from(head("oversized", ["Content-Type: text/plain"]) + CRLF + CRLF);
  return Buffer.concat([h, Buffer.alloc(limit + 1024 - h.byteLength, "x")]);
}

/** A small message that makes the TEST worker misbehave (no effect on the production worker). */
export function triggerMessage(kind: TriggerKind, tag = ""): Buffer {
  return Buffer.from(
    `${head(`trigger ${kind} ${tag}`.trim(), [`${TRIGGER_HEADER}: ${kind}`, "Content-Type: text/plain"]) + CRLF + CRLF}trigger${CRLF}`,
  );
}

const TRIGGER_EXPECT: Record<TriggerKind, PoisonExpectation> = {
  crash: { outcome: "quarantine", reasons: ["crash"] },
  throw: { outcome: "quarantine", reasons: ["crash"] },
  hang: { outcome: "quarantine", reasons: ["timeout"] },
  oom: { outcome: "quarantine", reasons: ["oom"] },
};

/** Options for the full corpus. */
export interface PoisonCorpusOptions {
  maxMessageBytes?: number;
  includeTriggers?: boolean;
}

/** The whole poison corpus. Large items are built on demand by this call. */
export function poisonCorpus(opts: PoisonCorpusOptions = {}): PoisonItem[] {
  const limit = opts.maxMessageBytes ?? 12 * 1024 * 1024;
  const items: PoisonItem[] = [
    { name: "nested-10000", bytes: nestedMultipart(), expect: { outcome: "quarantine", reasons: ["parse-error"] } },
    { name: "empty-parts-1m", bytes: emptyParts(), expect: { outcome: "quarantine", reasons: ["timeout", "oom"] } },
    { name: "huge-header-10mb", bytes: hugeHeader(), expect: { outcome: "quarantine", reasons: ["parse-error"] } },
    { name: "oversized", bytes: oversized(limit), expect: { outcome: "quarantine", reasons: ["too-large"] } },
    ...malformedItems(),
  ];
  if (opts.includeTriggers) {
    for (const k of TRIGGER_KINDS) items.push({ name: `trigger-${k}`, bytes: triggerMessage(k), expect: TRIGGER_EXPECT[k] });
  }
  return items;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write("usage: npx tsx measure/poison-corpus.ts <outDir> [--with-triggers]\n");
    process.exit(2);
  }
  const items = poisonCorpus({ includeTriggers: process.argv.includes("--with-triggers") });
  await mkdir(out, { recursive: true });
  for (const it of items) await writeFile(join(out, `${it.name}.eml`), it.bytes);
  await writeFile(
    join(out, "index.json"),
    `${JSON.stringify(
      items.map((i) => ({ name: i.name, size: i.bytes.byteLength, expect: i.expect })),
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`wrote ${items.length} poison messages to ${out}\n`);
}
