/**
 * SMTP ingress entry: reads the INGRESS_* environment (services/ingress/config.ts; the table is in
 * services/ingress/README.md), listens for SMTP (default 127.0.0.1:2525) and, with
 * INGRESS_HEALTH_PORT, serves /healthz. SIGTERM/SIGINT: stop accepting, answer 421 to idle
 * sessions, let messages being received or stored finish for up to INGRESS_SHUTDOWN_GRACE_MS,
 * then close the rest and exit 0.
 */
import type { Server } from "node:http";
import { loadIngressConfig } from "./config.ts";
import { createIngressHealthServer, spoolNotReady } from "./health.ts";
import { createIngressServer } from "./server.ts";

async function main(): Promise<void> {
  const cfg = loadIngressConfig();
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ingress[${cfg.hostName}] ${line}\n`);
  // Nothing is created here: a missing spool is an unmounted volume, and creating new/ would
  // hide that. Deliveries then get 451 and /healthz answers 503 until it is there.
  const notReady = await spoolNotReady(cfg.spoolDir);
  if (notReady) log(`warning: spool not ready: ${notReady}; deliveries get 451 until it is`);
  const ingress = createIngressServer({
    spoolDir: cfg.spoolDir,
    domains: cfg.domains,
    hostName: cfg.hostName,
    maxMessageBytes: cfg.maxMessageBytes,
    maxRecipients: cfg.maxRecipients,
    maxClients: cfg.maxClients,
    maxUnauthenticatedCommands: cfg.maxUnauthenticatedCommands,
    socketTimeoutMs: cfg.socketTimeoutMs,
    closeTimeoutMs: cfg.shutdownGraceMs,
    writeTimeoutMs: cfg.writeTimeoutMs,
    fileMode: cfg.fileMode,
    useProxy: cfg.useProxy,
    ...(cfg.tls ? { tls: cfg.tls } : {}),
    log,
  });
  const addr = await ingress.listen(cfg.listenPort, cfg.listenHost);
  log(
    `listening on ${addr.address}:${addr.port} for ${cfg.domains.join(", ")}; spool ${cfg.spoolDir}; ` +
      `STARTTLS ${cfg.tls ? "on" : "off"}; PROXY from ${cfg.useProxy.length ? cfg.useProxy.join(", ") : "nobody"}`,
  );
  let health: Server | undefined;
  if (cfg.healthPort !== undefined) {
    const server = createIngressHealthServer({ spoolDir: cfg.spoolDir, closing: () => ingress.closing, log });
    health = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(cfg.healthPort, cfg.healthHost, () => resolve());
    });
    const h = server.address();
    log(`health on ${typeof h === "object" && h ? `${h.address}:${h.port}` : String(h)}`);
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: closing; ${ingress.inFlight} message(s) in flight, grace ${cfg.shutdownGraceMs} ms`);
    // Backstop: the grace, plus time for the 421s and closes to go out.
    setTimeout(() => {
      log(`still closing after ${cfg.shutdownGraceMs + 5_000} ms; exiting`);
      process.exit(0);
    }, cfg.shutdownGraceMs + 5_000).unref();
    void ingress.close().then(() => {
      health?.close();
      health?.closeAllConnections();
      log(`stopped`);
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err) => {
  process.stderr.write(`ingress failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
