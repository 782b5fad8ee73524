import { mkdir, symlink, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMailApi } from "../../services/mail-api/server.ts";
import { parseMessage } from "../../services/parser/parse-message.ts";
import { createFsStore } from "../../services/store/fs-store.ts";
import { cleanMessage, tempDir } from "./helpers.ts";

/** Raw GET that does not normalise the path (fetch would resolve ../ itself). */
function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
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

describe("mail-api", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: ReturnType<typeof createMailApi>;
  let port: number;
  const keys: string[] = [];

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
    server = createMailApi({ store, staticDir, hostName: "app-7" });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.close();
    await cleanup?.();
  });

  it("GIVEN 5 stored messages WHEN listing with limit=3 THEN the first 3 summaries by key come back with X-Served-By", async () => {
    const res = await rawGet(port, "/api/messages?limit=3");
    expect(res.status).toBe(200);
    expect(res.headers["x-served-by"]).toBe("app-7");
    const body = JSON.parse(res.body);
    expect(body.count).toBe(3);
    expect(body.messages.map((m: { key: string }) => m.key)).toEqual(keys.slice(0, 3));
    expect(body.messages[0]).toHaveProperty("subject");
    expect(body.messages[0]).not.toHaveProperty("text");
  });

  it("GIVEN a bad limit WHEN listing THEN 400 names the value and the allowed range", async () => {
    const res = await rawGet(port, "/api/messages?limit=0");
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toBe('limit="0" is invalid: use an integer from 1 to 500');
  });

  it("GIVEN a stored key WHEN fetched THEN the full document; unknown key 404; malformed id 400", async () => {
    const ok = await rawGet(port, `/api/messages/${keys[1]}`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).key).toBe(keys[1]);
    expect((await rawGet(port, `/api/messages/${"0".repeat(64)}`)).status).toBe(404);
    const bad = await rawGet(port, "/api/messages/..%2F..%2Fetc%2Fpasswd");
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

  it("GIVEN the store and static dir WHEN /healthz is fetched THEN 200 ready naming the host", async () => {
    const res = await rawGet(port, "/healthz");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: "ready", host: "app-7" });
  });

  it("GIVEN a missing static dir WHEN /healthz is fetched THEN 503 with the reason", async () => {
    const s2 = createMailApi({ store: createFsStore(join(dir, "store")), staticDir: join(dir, "nope"), hostName: "app-8" });
    await new Promise<void>((r) => s2.listen(0, "127.0.0.1", r));
    try {
      const res = await rawGet((s2.address() as AddressInfo).port, "/healthz");
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body).reason).toMatch(/static dir .*nope missing/);
      expect(res.headers["x-served-by"]).toBe("app-8");
    } finally {
      s2.close();
    }
  });
});
