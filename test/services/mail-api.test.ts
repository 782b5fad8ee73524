import { mkdir, symlink, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerCheck, readApiToken } from "../../services/mail-api/auth.ts";
import { createMailApi } from "../../services/mail-api/server.ts";
import { parseMessage } from "../../services/parser/parse-message.ts";
import { createFsStore } from "../../services/store/fs-store.ts";
import { cleanMessage, tempDir } from "./helpers.ts";

/** Raw GET that does not normalise the path (fetch would resolve ../ itself). */
function rawGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += String(d)));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const TOKEN = "t0k3n-".padEnd(48, "x");
const AUTH = { Authorization: `Bearer ${TOKEN}` };

describe("mail-api", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: ReturnType<typeof createMailApi>;
  let port: number;
  const keys: string[] = [];
  const logged: string[] = [];

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("mailapi"));
    const store = createFsStore(join(dir, "store"));
    for (let i = 0; i < 5; i++) {
      const p = await parseMessage(cleanMessage(i));
      await store.documents.putDocument(p.doc);
      keys.push(p.doc.key);
    }
    keys.sort();
    const staticDir = join(dir, "static");
    await mkdir(join(staticDir, "css"), { recursive: true });
    await writeFile(join(staticDir, "app.js"), "console.log('app');\n");
    await writeFile(join(staticDir, "css", "site.css"), "body{}\n");
    await writeFile(join(dir, "secret.txt"), "TOP-SECRET\n");
    await symlink(join(dir, "secret.txt"), join(staticDir, "escape.txt"));
    server = createMailApi({ store, staticDir, hostName: "app-7", apiToken: TOKEN, log: (l) => logged.push(l) });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.close();
    await cleanup?.();
  });

  it("GIVEN 5 stored messages WHEN listing with limit=3 THEN the first 3 summaries by key come back with X-Served-By", async () => {
    const res = await rawGet(port, "/api/messages?limit=3", AUTH);
    expect(res.status).toBe(200);
    expect(res.headers["x-served-by"]).toBe("app-7");
    const body = JSON.parse(res.body);
    expect(body.count).toBe(3);
    expect(body.messages.map((m: { key: string }) => m.key)).toEqual(keys.slice(0, 3));
    expect(body.messages[0]).toHaveProperty("subject");
    expect(body.messages[0]).not.toHaveProperty("text");
  });

  it("GIVEN a bad limit WHEN listing THEN 400 names the value and the allowed range", async () => {
    const res = await rawGet(port, "/api/messages?limit=0", AUTH);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toBe('limit="0" is invalid: use an integer from 1 to 500');
  });

  it("GIVEN a stored key WHEN fetched THEN the full document; unknown key 404; malformed id 400", async () => {
    const ok = await rawGet(port, `/api/messages/${keys[1]}`, AUTH);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).key).toBe(keys[1]);
    expect((await rawGet(port, `/api/messages/${"0".repeat(64)}`, AUTH)).status).toBe(404);
    const bad = await rawGet(port, "/api/messages/..%2F..%2Fetc%2Fpasswd", AUTH);
    expect(bad.status).toBe(400);
  });

  it("GIVEN a static file WHEN fetched THEN Cache-Control and a strong ETag are set; WHEN revalidated THEN 304", async () => {
    const res = await rawGet(port, "/static/app.js");
    expect(res.status).toBe(200);
    expect(res.body).toBe("console.log('app');\n");
    expect(res.headers["cache-control"]).toBe("public, max-age=3600");
    expect(res.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    const etag = res.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const again = await rawGet(port, "/static/app.js", { "If-None-Match": etag });
    expect(again.status).toBe(304);
    expect(again.body).toBe("");
    expect(again.headers.etag).toBe(etag);
    expect((await rawGet(port, "/static/css/site.css")).status).toBe(200);
  });

  it.each([
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/css/..%2f..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/escape.txt",
    "/static/%00app.js",
    "/static/%E0%A4%A",
  ])("GIVEN a traversal attempt %s WHEN fetched THEN it is rejected without leaking the file", async (path) => {
    const res = await rawGet(port, path);
    expect([400, 403, 404]).toContain(res.status);
    expect(res.body).not.toContain("TOP-SECRET");
  });

  it("GIVEN the store and static dir WHEN /healthz is fetched THEN 200 and a status only", async () => {
    const res = await rawGet(port, "/healthz");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: "ready" });
  });

  it("GIVEN a missing static dir WHEN /healthz is fetched twice THEN 503 without the reason, which is logged once", async () => {
    const lines: string[] = [];
    const s2 = createMailApi({
      store: createFsStore(join(dir, "store")),
      staticDir: join(dir, "nope"),
      hostName: "app-8",
      apiToken: TOKEN,
      log: (l) => lines.push(l),
    });
    await new Promise<void>((r) => s2.listen(0, "127.0.0.1", r));
    try {
      const res = await rawGet((s2.address() as AddressInfo).port, "/healthz");
      await rawGet((s2.address() as AddressInfo).port, "/healthz");
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toEqual({ status: "not-ready" });
      expect(res.body).not.toContain("nope");
      expect(res.headers["x-served-by"]).toBe("app-8");
      expect(lines).toEqual([expect.stringMatching(/app-8.*not ready: static dir .*nope missing/)]);
    } finally {
      s2.close();
    }
  });

  it.each([
    ["no Authorization header", {}],
    ["a wrong token of the same length", { Authorization: `Bearer ${"y".repeat(TOKEN.length)}` }],
    ["the token with a character appended", { Authorization: `Bearer ${TOKEN}x` }],
    ["the token as Basic", { Authorization: `Basic ${TOKEN}` }],
    ["an empty bearer", { Authorization: "Bearer " }],
  ])("GIVEN %s WHEN any /api route is fetched THEN 401 with WWW-Authenticate and no message data", async (_what, headers: Record<string, string>) => {
    for (const path of ["/api/messages", `/api/messages/${keys[0]}`, "/api/nothing-here", "/api"]) {
      const res = await rawGet(port, path, headers);
      expect(res.status, path).toBe(401);
      expect(res.headers["www-authenticate"]).toBe('Bearer realm="bulwark"');
      expect(res.body).not.toContain(keys[0]);
      expect(res.body).not.toContain("subject");
    }
  });

  it("GIVEN a store whose listing is slow or failing WHEN /healthz is fetched THEN it pings the store only; a failing ping is 503", async () => {
    const lines: string[] = [];
    const store = createFsStore(join(dir, "store"));
    store.documents.listDocuments = () => Promise.reject(new Error("a health check must not list"));
    const s4 = createMailApi({ store, staticDir: join(dir, "static"), hostName: "app-7", apiToken: TOKEN, log: (l) => lines.push(l) });
    await new Promise<void>((r) => s4.listen(0, "127.0.0.1", r));
    try {
      const port4 = (s4.address() as AddressInfo).port;
      expect((await rawGet(port4, "/healthz")).status).toBe(200);
      store.documents.ping = () => Promise.reject(new Error("ENOTCONN /srv/shared/store"));
      expect((await rawGet(port4, "/healthz")).status).toBe(503);
      expect(lines).toEqual([expect.stringMatching(/app-7.*not ready: store unavailable: ENOTCONN/)]);
    } finally {
      s4.close();
    }
  });

  it("GIVEN no token WHEN a static asset is fetched THEN it is public", async () => {
    expect((await rawGet(port, "/static/app.js")).status).toBe(200);
  });

  it("GIVEN a store that fails with an internal message WHEN an API route hits it THEN 500 without that text, and the text is logged", async () => {
    const lines: string[] = [];
    const failing = createFsStore(join(dir, "store"));
    failing.documents.listDocuments = () => Promise.reject(new Error("ECONNREFUSED mongodb://admin@10.0.1.40:27017/secret-db"));
    const s3 = createMailApi({ store: failing, staticDir: join(dir, "static"), hostName: "app-9", apiToken: TOKEN, log: (l) => lines.push(l) });
    await new Promise<void>((r) => s3.listen(0, "127.0.0.1", r));
    try {
      const res = await rawGet((s3.address() as AddressInfo).port, "/api/messages", AUTH);
      expect(res.status).toBe(500);
      expect(JSON.parse(res.body)).toEqual({ error: "internal error" });
      expect(lines.join("\n")).toContain("ECONNREFUSED mongodb://admin@10.0.1.40:27017/secret-db");
    } finally {
      s3.close();
    }
  });
});

describe("mail-api token", () => {
  it("GIVEN a token shorter than 32 characters WHEN the checker is made THEN it refuses, naming the length", () => {
    expect(() => bearerCheck("short")).toThrow(/at least 32 printable characters without spaces; got 5 characters/);
  });

  it("GIVEN systemd's credential directory WHEN the token is read THEN it comes from api-token, trimmed", async () => {
    const { dir, cleanup } = await tempDir("cred");
    try {
      await writeFile(join(dir, "api-token"), `${TOKEN}\n`);
      expect(readApiToken({ CREDENTIALS_DIRECTORY: dir })).toBe(TOKEN);
      expect(() => readApiToken({})).toThrow(/no API token: set MAILAPI_TOKEN_FILE, or run under systemd with LoadCredential=api-token/);
      expect(() => readApiToken({ MAILAPI_TOKEN_FILE: join(dir, "missing") })).toThrow(/cannot read the API token from .*missing: ENOENT/);
    } finally {
      await cleanup();
    }
  });
});
