import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { createServer, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";

/** Options of the ingress health endpoint. */
export interface IngressHealthOptions {
  spoolDir: string;
  /** True while the ingress shuts down: /healthz then answers 503 so the load balancer moves on. */
  closing?: () => boolean;
  /** Where a not-ready reason goes (when it changes). @default - stderr */
  log?: (line: string) => void;
}

/** Why the spool cannot take a delivery now, or null when new/ and tmp/ are writable directories. */
export async function spoolNotReady(spoolDir: string): Promise<string | null> {
  for (const sub of ["tmp", "new"]) {
    const dir = join(spoolDir, sub);
    const st = await stat(dir).catch((err: NodeJS.ErrnoException) => err);
    if (st instanceof Error) return `${dir}: ${st.code ?? st.message} (is the spool mounted?)`;
    if (!st.isDirectory()) return `${dir} is not a directory`;
    const denied = await access(dir, constants.W_OK | constants.X_OK).then(
      () => null,
      (err: NodeJS.ErrnoException) => err.code ?? err.message,
    );
    if (denied) return `${dir} is not writable: ${denied}`;
  }
  return null;
}

/**
 * GET /healthz for haproxy and the host agent: 200 `{"status":"ready"}` when the spool's tmp/
 * and new/ are writable directories, else 503 `{"status":"not-ready"}` (`"draining"` while
 * shutting down). Status only: the reason goes to the log when it changes, never to the client.
 */
export function createIngressHealthServer(opts: IngressHealthOptions): Server {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let lastReason: string | null = null;
  const reply = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(`{"status":"${body}"}\n`);
  };
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" }).end(`method ${req.method} not allowed: use GET\n`);
      return;
    }
    if (path !== "/healthz") {
      res.writeHead(404, { "Content-Type": "text/plain" }).end(`no route ${path}: use /healthz\n`);
      return;
    }
    if (opts.closing?.()) return reply(res, 503, "draining");
    void spoolNotReady(opts.spoolDir).then((reason) => {
      if (reason !== lastReason) log(reason === null ? "health: ready again" : `health: not ready: ${reason}`);
      lastReason = reason;
      reply(res, reason === null ? 200 : 503, reason === null ? "ready" : "not-ready");
    });
  });
}
