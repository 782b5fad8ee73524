import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { stat } from "node:fs/promises";
import { KEY_PATTERN, type MessageStore } from "../store/types.ts";
import { bearerCheck } from "./auth.ts";
import { StaticFiles } from "./static-files.ts";

/** Options of the mail API. */
export interface MailApiOptions {
  store: MessageStore;
  staticDir: string;
  /** Sent as X-Served-By so a load balancer lab can tell backends apart (haproxy strips it at the entry). */
  hostName: string;
  /** The bearer token every `/api` request must carry (services/mail-api/auth.ts). */
  apiToken: string;
  /** Where operational errors go (never to the client). @default - stderr */
  log?: (line: string) => void;
  /**
   * While this file exists /healthz answers 503 `draining`, so haproxy takes the host out before
   * a rollout restarts it (the host agent writes and removes it).
   * @default - never draining
   */
  drainFile?: string;
  staticMaxAgeSeconds?: number;
  defaultLimit?: number;
  maxLimit?: number;
}

function json(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  res.writeHead(status, { ...headers, "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  res.end(`${JSON.stringify(body)}\n`);
}

/**
 * The app-host backend: GET /api/messages[?limit=N], GET /api/messages/:key (both only with
 * `Authorization: Bearer <token>`), GET /static/<file> (public), GET /healthz (status only: the
 * reason goes to the log). Every response carries X-Served-By; no response carries an internal
 * error's text.
 */
export function createMailApi(opts: MailApiOptions): Server {
  const statics = new StaticFiles(opts.staticDir, opts.staticMaxAgeSeconds ?? 3600);
  const defaultLimit = opts.defaultLimit ?? 50;
  const maxLimit = opts.maxLimit ?? 500;
  const base = { "X-Served-By": opts.hostName };
  const authorized = bearerCheck(opts.apiToken);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // haproxy checks /healthz several times a second: log a not-ready reason when it changes only.
  let lastNotReady: string | undefined;
  const notReady = (res: ServerResponse, reason: string) => {
    if (reason !== lastNotReady) log(`mail-api[${opts.hostName}]: not ready: ${reason}`);
    lastNotReady = reason;
    json(res, 503, base, { status: "not-ready" });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...base, Allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/healthz") {
      if (opts.drainFile && (await stat(opts.drainFile).catch(() => null))) return json(res, 503, base, { status: "draining" });
      const st = await stat(opts.staticDir).catch(() => null);
      if (!st?.isDirectory()) return notReady(res, `static dir ${opts.staticDir} missing`);
      try {
        await opts.store.documents.ping();
      } catch (err) {
        return notReady(res, `store unavailable: ${(err as Error).message}`);
      }
      if (lastNotReady !== undefined) log(`mail-api[${opts.hostName}]: ready again`);
      lastNotReady = undefined;
      return json(res, 200, base, { status: "ready" });
    }
    // Every /api path, known or not, asks for the token first: an unauthenticated caller learns
    // nothing, not even which routes exist.
    if (path === "/api" || path.startsWith("/api/")) {
      if (!authorized(req.headers.authorization)) {
        return json(
          res,
          401,
          { ...base, "WWW-Authenticate": 'Bearer realm="bulwark"' },
          { error: "authentication required: send Authorization: Bearer <token>" },
        );
      }
    }
    if (path === "/api/messages") {
      const raw = url.searchParams.get("limit");
      const limit = raw === null ? defaultLimit : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
        return json(res, 400, base, { error: `limit=${JSON.stringify(raw)} is invalid: use an integer from 1 to ${maxLimit}` });
      }
      const messages = await opts.store.documents.listDocuments(limit);
      return json(res, 200, base, { messages, count: messages.length, limit });
    }
    if (path.startsWith("/api/messages/")) {
      const key = path.slice("/api/messages/".length);
      if (!KEY_PATTERN.test(key)) {
        return json(res, 400, base, { error: `message id ${JSON.stringify(key)} is invalid: expected the 64-hex sha256 key` });
      }
      const doc = await opts.store.documents.getDocument(key);
      if (!doc) return json(res, 404, base, { error: `no message ${key}` });
      return json(res, 200, base, doc);
    }
    if (path.startsWith("/static/")) {
      // Use the raw (still encoded) path so decoding happens once, inside the resolver.
      const rawPath = (req.url ?? "").split("?")[0]!.slice("/static/".length);
      return statics.serve(req, res, rawPath, base);
    }
    return json(res, 404, base, { error: `no route ${path}: use /api/messages, /static/, /healthz` });
  }

  return createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      // The cause goes to the log only: its text (paths, driver messages) is nobody's business outside.
      log(`mail-api[${opts.hostName}]: ${req.method} ${(req.url ?? "").split("?")[0]}: ${err.message}`);
      if (!res.headersSent) json(res, 500, base, { error: "internal error" });
      else res.destroy();
    });
  });
}
