import { createServer, type Server } from "node:http";
import { METRICS_CONTENT_TYPE } from "./metrics.ts";
import type { ParserService } from "./service.ts";

/** HTTP server for /healthz and /metrics (node:http, no framework). */
export function createParserHttpServer(service: ParserService): Server {
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" }).end(`method ${req.method} not allowed: use GET\n`);
      return;
    }
    if (path === "/healthz") {
      void service.health().then((h) => {
        res.writeHead(h.ready ? 200 : 503, { "Content-Type": "application/json", "Cache-Control": "no-store" });
        res.end(`${JSON.stringify({ status: h.ready ? "ready" : "not-ready", reason: h.reason, host: service.opts.hostId })}\n`);
      });
      return;
    }
    if (path === "/metrics") {
      void service.metrics.registry.render().then(
        (text) => res.writeHead(200, { "Content-Type": METRICS_CONTENT_TYPE }).end(text),
        (err: Error) => res.writeHead(500, { "Content-Type": "text/plain" }).end(`metrics failed: ${err.message}\n`),
      );
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain" }).end(`no route ${path}: use /healthz or /metrics\n`);
  });
}
