/**
 * Shared test helpers. Workers: piscina worker threads do not get vite's transform, so
 * tests build the workers with esbuild (the same bundleEsm the artifact build uses) into
 * a temp dir in beforeAll and point the pool at the built .mjs files.
 */
import { mkdtemp, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleEsm } from "../../services/build.ts";
import { ParserService, type ParserServiceOptions } from "../../services/parser/service.ts";
import { createFsStore } from "../../services/store/fs-store.ts";

/** Creates a temp dir; returns it with a cleanup function. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `bulwark-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Builds the production worker and the test trigger worker into `dir`. */
export async function buildWorkers(dir: string): Promise<{ prodWorker: string; triggerWorker: string }> {
  const prodWorker = join(dir, "parse-worker.mjs");
  const triggerWorker = join(dir, "trigger-worker.mjs");
  await bundleEsm("services/parser/worker.ts", prodWorker);
  await bundleEsm("test/services/fixtures/trigger-worker.ts", triggerWorker);
  return { prodWorker, triggerWorker };
}

/** A small valid message; `n` makes it unique. */
export function cleanMessage(n: number, extra = ""): Buffer {
  return Buffer.from(
    [
      `From: Sender ${n} <sender${n}@example.test>`,
      `To: Rcpt <rcpt${n}@example.test>`,
      `Cc: cc${n}@example.test`,
      `Subject: clean message ${n}`,
      `Message-ID: <clean-${n}@example.test>`,
      "Date: Mon, 02 Jan 2029 03:04:05 +0000",
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b"',
      "",
      "--b",
      "Content-Type: text/plain; charset=utf-8",
      "",
      `hello ${n} ${extra}`,
      "--b",
      `Content-Type: application/octet-stream; name="a${n}.bin"`,
      "Content-Transfer-Encoding: base64",
      `Content-Disposition: attachment; filename="a${n}.bin"`,
      `Content-ID: <att${n}@example.test>`,
      "",
      Buffer.from(`attachment payload ${n}`).toString("base64"),
      "--b--",
      "",
    ].join("\r\n"),
  );
}

/** Creates a spool root with new/ and writes `files` into new/. */
export async function makeSpool(root: string, files: Record<string, Buffer>): Promise<void> {
  await mkdir(join(root, "new"), { recursive: true });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(root, "new", name), bytes);
}

/** Polls `cond` every 25 ms until true or `timeoutMs` passes; throws naming `what`. */
export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Files in a directory (empty if missing). */
export async function ls(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

/**
 * A parser service over `<root>/spool` and an fs store in `<root>/store` (attachments written
 * there by the workers), with the tests' usual settings; `opts` overrides any of them.
 */
export function fsParserService(root: string, opts: Partial<ParserServiceOptions> & Pick<ParserServiceOptions, "workerFile">): ParserService {
  const store = join(root, "store");
  return new ParserService({
    spoolDir: join(root, "spool"),
    hostId: "test1",
    leaseMs: 30_000,
    maxMessageBytes: 64 * 1024,
    threads: 2,
    timeoutMs: 5_000,
    heapMb: 64,
    store: createFsStore(store),
    attachmentsRoot: store,
    pollMs: 20,
    ...opts,
  });
}
