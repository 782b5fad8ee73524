import { createHash } from "node:crypto";
import { readFile, realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

/** Result of mapping a URL path below /static/ to a file. */
type StaticResolution = { ok: true; file: string } | { ok: false; status: 400 | 403 | 404; reason: string };

/**
 * Maps the part of the URL after `/static/` to a file inside `root`, rejecting anything
 * that could leave it: bad percent-encoding, NUL, backslashes, `..` or `.` segments,
 * empty segments, and symlinks whose target is outside root.
 */
async function resolveStatic(root: string, urlPath: string): Promise<StaticResolution> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { ok: false, status: 400, reason: `bad percent-encoding in ${JSON.stringify(urlPath)}` };
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return { ok: false, status: 400, reason: "NUL or backslash in path" };
  const segments = decoded.split("/");
  if (segments.some((s) => s === ".." || s === "." || s === "")) {
    return { ok: false, status: 403, reason: `path ${JSON.stringify(decoded)} has . or .. or empty segments` };
  }
  const realRoot = await realpath(root);
  let real: string;
  try {
    real = await realpath(join(realRoot, ...segments));
  } catch {
    return { ok: false, status: 404, reason: "not found" };
  }
  if (!real.startsWith(realRoot + sep)) return { ok: false, status: 403, reason: "resolves outside the static root" };
  const st = await stat(real);
  if (!st.isFile()) return { ok: false, status: 404, reason: "not a file" };
  return { ok: true, file: real };
}

/** Serves static files with Cache-Control and strong content ETags (If-None-Match -> 304). */
export class StaticFiles {
  private readonly etags = new Map<string, { mtimeMs: number; size: number; etag: string }>();

  constructor(
    readonly root: string,
    readonly maxAgeSeconds = 3600,
  ) {}

  /** Handles a request whose path starts with /static/; `rest` is the part after it. */
  async serve(req: IncomingMessage, res: ServerResponse, rest: string, headers: Record<string, string>): Promise<void> {
    const r = await resolveStatic(this.root, rest);
    if (!r.ok) {
      res.writeHead(r.status, { ...headers, "Content-Type": "text/plain; charset=utf-8" }).end(`${r.reason}\n`);
      return;
    }
    const st = await stat(r.file);
    const body = await readFile(r.file);
    let cached = this.etags.get(r.file);
    if (!cached || cached.mtimeMs !== st.mtimeMs || cached.size !== st.size) {
      cached = { mtimeMs: st.mtimeMs, size: st.size, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
      this.etags.set(r.file, cached);
    }
    const common = {
      ...headers,
      ETag: cached.etag,
      "Cache-Control": `public, max-age=${this.maxAgeSeconds}`,
      "Last-Modified": st.mtime.toUTCString(),
    };
    const inm = req.headers["if-none-match"];
    if (inm?.split(",").some((t) => t.trim() === cached!.etag || t.trim() === "*")) {
      res.writeHead(304, common).end();
      return;
    }
    res.writeHead(200, {
      ...common,
      "Content-Type": TYPES[extname(r.file).toLowerCase()] ?? "application/octet-stream",
      "Content-Length": String(body.byteLength),
      "X-Content-Type-Options": "nosniff",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }
}
