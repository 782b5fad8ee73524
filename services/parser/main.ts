/**
 * Parser service entry: reads configuration from the environment, starts the pool, the
 * spool loop and the /healthz + /metrics server; SIGTERM/SIGINT shut down gracefully
 * (stop claiming, finish or release in-flight claims, close the pool, exit 0).
 */
import { openStore } from "../store/factory.ts";
import { loadParserConfig } from "./config.ts";
import { createParserHttpServer } from "./http.ts";
import { ParserService } from "./service.ts";
import { defaultWorkerFile } from "./worker-file.ts";

async function main(): Promise<void> {
  const cfg = loadParserConfig();
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} parser[${cfg.hostId}] ${line}\n`);
  const store = await openStore(cfg.store);
  const service = new ParserService({
    spoolDir: cfg.spoolDir,
    sentinel: cfg.sentinel,
    hostId: cfg.hostId,
    leaseMs: cfg.leaseMs,
    maxMessageBytes: cfg.maxMessageBytes,
    threads: cfg.threads,
    timeoutMs: cfg.timeoutMs,
    heapMb: cfg.heapMb,
    workerFile: process.env.PARSER_WORKER_FILE_FOR_TESTS_ONLY ?? defaultWorkerFile(import.meta.url),
    store,
    attachmentsRoot: cfg.store.dir,
    ...(cfg.store.kind === "fs" ? { documentsRoot: cfg.store.dir } : {}),
    pollMs: cfg.pollMs,
    processedLog: cfg.processedLog,
    log,
  });
  await service.start();
  const server = createParserHttpServer(service);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.listenPort, cfg.listenHost, () => resolve());
  });
  const addr = server.address();
  log(`listening on ${typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : String(addr)}, spool ${cfg.spoolDir}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping claims, grace ${cfg.shutdownGraceMs} ms`);
    const released = await service.stop(cfg.shutdownGraceMs);
    server.close();
    server.closeAllConnections();
    await store.close();
    log(`stopped; released ${released} claim(s) back to new/`);
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err) => {
  process.stderr.write(`parser failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
