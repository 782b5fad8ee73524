import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageService } from "../../services/build.ts";
import { triggerMessage } from "../../measure/poison-corpus.ts";
import { buildWorkers, cleanMessage, ls, makeSpool, tempDir, waitFor } from "./helpers.ts";

describe("built parser process: SIGTERM releases claims and exits 0", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let child: ChildProcess | undefined;
  let entry: string;
  let triggerWorker: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("sigterm"));
    const staged = await stageService("parser", join(dir, "stage"));
    entry = join(staged, "main.mjs");
    ({ triggerWorker } = await buildWorkers(join(dir, "w")));
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await cleanup?.();
  });

  it(
    "GIVEN two hanging messages held by the process WHEN SIGTERM arrives " +
      "THEN it exits 0 promptly, both return to new/ and nothing is quarantined",
    async () => {
      const spool = join(dir, "spool");
      await makeSpool(spool, { "h-1": triggerMessage("hang", "1"), "h-2": triggerMessage("hang", "2"), "c-1": cleanMessage(1) });
      let stderr = "";
      child = spawn(process.execPath, [entry], {
        env: {
          PATH: process.env.PATH,
          PARSER_SPOOL_DIR: spool,
          PARSER_STORE_KIND: "fs",
          PARSER_STORE_DIR: join(dir, "store"),
          PARSER_THREADS: "3", // one thread more than there are hangs, so c-1 always gets parsed
          PARSER_TIMEOUT_MS: "60000",
          PARSER_SHUTDOWN_GRACE_MS: "300",
          PARSER_LISTEN_PORT: "0",
          PARSER_HOST_ID: "sig1",
          PARSER_POLL_MS: "20",
          PARSER_WORKER_FILE_FOR_TESTS_ONLY: triggerWorker,
        },
        stdio: ["ignore", "ignore", "pipe"],
      });
      child.stderr!.on("data", (d) => (stderr += String(d)));
      const exited = new Promise<{ code: number | null; at: number }>((resolve) => child!.once("exit", (code) => resolve({ code, at: Date.now() })));
      await waitFor("the clean message to be stored and both hangs to be claimed", async () => {
        const cur = await ls(join(spool, "cur"));
        return cur.length === 2 && cur.every((f) => f.startsWith("h-")) && (await ls(join(spool, "new"))).length === 0;
      });
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1]);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const sentAt = Date.now();
      child.kill("SIGTERM");
      const { code, at } = await exited;
      expect(code).toBe(0);
      expect(at - sentAt).toBeLessThan(5_000);
      expect(await ls(join(spool, "new"))).toEqual(["h-1", "h-2"]);
      expect(await ls(join(spool, "cur"))).toEqual([]);
      expect(await ls(join(spool, "quarantine"))).toEqual([]);
      expect(stderr).toMatch(/released 2 claim\(s\) back to new\//);
    },
  );
});
