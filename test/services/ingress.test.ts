/**
 * The SMTP ingress (services/ingress/server.ts) spoken to in raw SMTP over node:net: what it
 * accepts, refuses and stores in the spool, how spool failures become 451, PROXY and STARTTLS,
 * shutdown, and the envelope reaching the parser's document. The built entry is checked too.
 */
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { chmod, mkdir, readFile, rename as fsRename } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createIngressHealthServer } from "../../services/ingress/health.ts";
import { createIngressServer, type IngressServer, type IngressServerOptions } from "../../services/ingress/server.ts";
import { MAX_SPOOL_NAME_BYTES, nodeSpoolFs, spoolFileName } from "../../services/ingress/spool-writer.ts";
import { loadIngressConfig } from "../../services/ingress/config.ts";
import { ENVELOPE_PREFIX, splitEnvelope } from "../../services/parser/envelope.ts";
import { parseMessage, sha256Hex } from "../../services/parser/parse-message.ts";
import { Spool } from "../../services/parser/spool.ts";
import { cleanMessage, ls, tempDir, waitFor } from "./helpers.ts";
import { deliver, RawSmtp } from "./raw-smtp.ts";
import { selfSignedCert } from "../support/tls.ts";

const DOMAIN = "example.test";

/** A message whose content is unique to `n`. */
const message = (n: number) => cleanMessage(n);

describe("SMTP ingress", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let spool: string;
  const servers: IngressServer[] = [];
  const logs: string[] = [];

  async function start(extra: Partial<IngressServerOptions> = {}): Promise<{ server: IngressServer; port: number }> {
    const server = createIngressServer({
      spoolDir: spool,
      domains: [DOMAIN, "Other.Example.TEST"],
      hostName: "mx1.test",
      maxMessageBytes: 64 * 1024,
      maxRecipients: 3,
      writeTimeoutMs: 2_000,
      closeTimeoutMs: 2_000,
      log: (l) => logs.push(l),
      ...extra,
    });
    servers.push(server);
    const addr = await server.listen(0, "127.0.0.1");
    return { server, port: addr.port };
  }

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir("ingress"));
    spool = join(dir, "spool");
    await new Spool(spool, "parser1", 60_000).init();
    logs.length = 0;
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await cleanup();
  });

  it("GIVEN a message for an accepted domain WHEN delivered THEN 250, the file is in new/ with the envelope line first, tmp/ empty", async () => {
    const { port } = await start();
    const body = message(1);
    const r = await deliver(port, { rcpt: [`Alice@${DOMAIN.toUpperCase()}`, "bob@other.example.test"], body });
    expect(r.mail.code).toBe(250);
    expect(r.rcpt.map((x) => x.code)).toEqual([250, 250]);
    expect(r.end!.code).toBe(250);
    const names = await ls(join(spool, "new"));
    expect(names).toHaveLength(1);
    expect(Buffer.byteLength(names[0]!)).toBeLessThanOrEqual(MAX_SPOOL_NAME_BYTES);
    expect(names[0]).toMatch(/^\d{13}\.P\d+R[0-9a-f]{16}\.mx1-test$/);
    expect(r.end!.lines[0]).toContain(names[0]);
    expect(await ls(join(spool, "tmp"))).toEqual([]);
    const file = await readFile(join(spool, "new", names[0]!));
    expect(file.subarray(0, ENVELOPE_PREFIX.length).toString()).toBe(ENVELOPE_PREFIX);
    const { envelope, message: stored } = splitEnvelope(file);
    expect(Buffer.from(stored).equals(body)).toBe(true);
    expect(envelope).toMatchObject({
      mailFrom: "sender@remote.test",
      rcptTo: [`Alice@${DOMAIN.toUpperCase()}`, "bob@other.example.test"],
      clientAddress: "127.0.0.1",
      receivedBy: "mx1.test",
    });
    expect(Date.parse(envelope!.receivedAt)).toBeGreaterThan(0);
  });

  it("GIVEN lines starting with dots and 8-bit bytes WHEN delivered THEN the stored message is exactly the bytes sent", async () => {
    const { port } = await start();
    const body = Buffer.concat([
      Buffer.from("Subject: dots\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n.one dot\r\n..two dots\r\n.\r\n", "latin1"),
      Buffer.from([0xe9, 0xe8, 0x0d, 0x0a]),
    ]);
    expect((await deliver(port, { body })).end!.code).toBe(250);
    const [name] = await ls(join(spool, "new"));
    const { message: stored } = splitEnvelope(await readFile(join(spool, "new", name!)));
    expect(Buffer.from(stored).equals(body)).toBe(true);
    expect((await parseMessage(await readFile(join(spool, "new", name!)))).doc.key).toBe(sha256Hex(body));
  });

  it("GIVEN the null sender WHEN a bounce is delivered THEN mailFrom is recorded as null", async () => {
    const { port } = await start();
    const r = await deliver(port, { from: "" });
    expect(r.end!.code).toBe(250);
    const [name] = await ls(join(spool, "new"));
    expect(splitEnvelope(await readFile(join(spool, "new", name!))).envelope!.mailFrom).toBeNull();
  });

  it("GIVEN recipients outside the domains WHEN offered THEN each gets 550 and a message with only such recipients is never stored", async () => {
    const { port } = await start();
    const c = await RawSmtp.open(port);
    try {
      await c.reply();
      await c.cmd("EHLO client.test");
      expect((await c.cmd("MAIL FROM:<s@remote.test>")).code).toBe(250);
      const relay = await c.cmd("RCPT TO:<victim@elsewhere.test>");
      expect(relay.code).toBe(550);
      expect(relay.lines[0]).toMatch(/relay not permitted/);
      expect((await c.cmd(`RCPT TO:<x@sub.${DOMAIN}>`)).code).toBe(550);
      expect((await c.cmd(`RCPT TO:<x@${DOMAIN}.evil.test>`)).code).toBe(550);
      expect((await c.cmd("RCPT TO:<x@[127.0.0.1]>")).code).toBe(550);
      expect((await c.cmd(`RCPT TO:<"x@${DOMAIN}"@elsewhere.test>`)).code).toBeGreaterThanOrEqual(500);
      expect([501, 553]).toContain((await c.cmd("RCPT TO:<no-domain>")).code);
      expect((await c.cmd("DATA")).code).toBe(503);
    } finally {
      c.close();
    }
    expect(await ls(join(spool, "new"))).toEqual([]);
    expect(await ls(join(spool, "tmp"))).toEqual([]);
  });

  it("GIVEN a limit of 3 recipients WHEN a 4th is offered THEN it gets 452 and the message goes to the first 3", async () => {
    const { port } = await start();
    const rcpt = [1, 2, 3, 4].map((i) => `r${i}@${DOMAIN}`);
    const r = await deliver(port, { rcpt });
    expect(r.rcpt.map((x) => x.code)).toEqual([250, 250, 250, 452]);
    expect(r.rcpt[3]!.lines[0]).toMatch(/too many recipients/);
    expect(r.end!.code).toBe(250);
    const [name] = await ls(join(spool, "new"));
    expect(splitEnvelope(await readFile(join(spool, "new", name!))).envelope!.rcptTo).toEqual(rcpt.slice(0, 3));
  });

  it("GIVEN a 64 KiB limit WHEN EHLO is answered THEN SIZE is advertised, STARTTLS and AUTH are not (no TLS configured)", async () => {
    const { port } = await start();
    const c = await RawSmtp.open(port);
    try {
      await c.reply();
      const ehlo = await c.cmd("EHLO client.test");
      expect(ehlo.lines).toContain(`SIZE ${64 * 1024}`);
      expect(ehlo.lines.some((l) => /STARTTLS/i.test(l))).toBe(false);
      expect(ehlo.lines.some((l) => /^AUTH/i.test(l))).toBe(false);
      expect((await c.cmd("STARTTLS")).code).toBeGreaterThanOrEqual(500);
      expect((await c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==")).code).toBeGreaterThanOrEqual(500);
    } finally {
      c.close();
    }
  });

  it("GIVEN a declared SIZE over the limit WHEN MAIL is sent THEN 552 at MAIL", async () => {
    const { port } = await start();
    const r = await deliver(port, { mailArgs: ` SIZE=${64 * 1024 + 1}` });
    expect(r.mail.code).toBe(552);
    expect(await ls(join(spool, "new"))).toEqual([]);
  });

  it("GIVEN a message over the limit without SIZE WHEN sent THEN 552 after the final dot, nothing stored, the session goes on", async () => {
    const { port } = await start();
    const big = Buffer.concat([message(2), Buffer.from(`${"x".repeat(998)}\r\n`.repeat(80))]);
    const c = await RawSmtp.open(port);
    try {
      await c.reply();
      await c.cmd("EHLO client.test");
      await c.cmd("MAIL FROM:<s@remote.test>");
      await c.cmd(`RCPT TO:<r@${DOMAIN}>`);
      expect((await c.cmd("DATA")).code).toBe(354);
      expect((await c.body(big)).code).toBe(552);
      // The connection stays usable: a message within the limit is taken afterwards.
      await c.cmd("MAIL FROM:<s@remote.test>");
      await c.cmd(`RCPT TO:<r@${DOMAIN}>`);
      await c.cmd("DATA");
      expect((await c.body(message(3))).code).toBe(250);
    } finally {
      c.close();
    }
    const names = await ls(join(spool, "new"));
    expect(names).toHaveLength(1);
    expect(Buffer.from(splitEnvelope(await readFile(join(spool, "new", names[0]!))).message).equals(message(3))).toBe(true);
    await waitFor("tmp/ to be empty", async () => (await ls(join(spool, "tmp"))).length === 0, 2_000);
  });

  it("GIVEN a spool whose rename fails with EIO WHEN a message is delivered THEN 451 and nothing is left in new/ or tmp/", async () => {
    const { port } = await start({
      fs: { rename: async () => Promise.reject(Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" })) },
    });
    const r = await deliver(port);
    expect(r.end!.code).toBe(451);
    expect(r.end!.lines[0]).toMatch(/try again later/);
    expect(await ls(join(spool, "new"))).toEqual([]);
    await waitFor("tmp/ to be empty", async () => (await ls(join(spool, "tmp"))).length === 0, 2_000);
    expect(logs.some((l) => /EIO/.test(l) && /451/.test(l))).toBe(true);
  });

  it("GIVEN writes failing with ENOSPC, then ENOTCONN (a gluster mount without quorum) WHEN messages are delivered THEN each gets 451", async () => {
    for (const code of ["ENOSPC", "ENOTCONN"]) {
      const { port } = await start({
        fs: {
          create: async (path, mode) => {
            const f = await nodeSpoolFs.create(path, mode);
            return { ...f, write: async () => Promise.reject(Object.assign(new Error(`${code}: write`), { code })) };
          },
        },
      });
      expect((await deliver(port)).end!.code).toBe(451);
    }
    expect(await ls(join(spool, "new"))).toEqual([]);
    await waitFor("tmp/ to be empty", async () => (await ls(join(spool, "tmp"))).length === 0, 2_000);
  });

  it("GIVEN a spool dir that does not exist (volume not mounted) WHEN a message is delivered THEN 451", async () => {
    const { port } = await start({ spoolDir: join(dir, "not-mounted") });
    expect((await deliver(port)).end!.code).toBe(451);
  });

  it("GIVEN a read-only new/ WHEN a message is delivered THEN 451 and nothing in new/", async () => {
    if (process.getuid?.() === 0) {
      // root ignores directory permissions; the injected EIO rename above covers the same path.
      const { port } = await start({
        fs: { rename: async () => Promise.reject(Object.assign(new Error("EROFS: read-only file system"), { code: "EROFS" })) },
      });
      expect((await deliver(port)).end!.code).toBe(451);
    } else {
      await chmod(join(spool, "new"), 0o555);
      const { port } = await start();
      expect((await deliver(port)).end!.code).toBe(451);
      await chmod(join(spool, "new"), 0o755);
    }
    expect(await ls(join(spool, "new"))).toEqual([]);
  });

  it("GIVEN a spool write that hangs past writeTimeoutMs WHEN a message is delivered THEN 451 and tmp/ is cleaned up", async () => {
    const { port } = await start({
      writeTimeoutMs: 150,
      fs: {
        create: async (path, mode) => {
          const f = await nodeSpoolFs.create(path, mode);
          return { ...f, write: () => new Promise<void>(() => undefined) };
        },
      },
    });
    expect((await deliver(port)).end!.code).toBe(451);
    expect(await ls(join(spool, "new"))).toEqual([]);
    await waitFor("tmp/ to be empty", async () => (await ls(join(spool, "tmp"))).length === 0, 2_000);
    expect(logs.some((l) => /ETIMEDOUT/.test(l))).toBe(true);
  });

  it("GIVEN a rename that stalls past writeTimeoutMs and lands later WHEN delivered THEN 451, and the late file leaves new/ again", async () => {
    let landed = false;
    const { port } = await start({
      writeTimeoutMs: 150,
      fs: {
        // The file leaves tmp/ at once and shows up in new/ only after the timeout (a rename
        // stuck in a stalled mount that completes later).
        rename: async (from, to) => {
          const held = join(dir, "held");
          await fsRename(from, held);
          await new Promise((r) => setTimeout(r, 400));
          await fsRename(held, to);
          landed = true;
        },
      },
    });
    expect((await deliver(port)).end!.code).toBe(451);
    await waitFor("the late rename to land and be removed again", async () => landed && (await ls(join(spool, "new"))).length === 0, 3_000);
    expect(await ls(join(spool, "tmp"))).toEqual([]);
  });

  it("GIVEN a PROXY v1 header from an allowed address WHEN a message is delivered THEN clientAddress is the proxied client", async () => {
    const { port } = await start({ useProxy: ["127.0.0.1"] });
    const r = await deliver(port, { first: `PROXY TCP4 203.0.113.7 10.0.0.5 40001 25\r\n` });
    expect(r.end!.code).toBe(250);
    const [name] = await ls(join(spool, "new"));
    expect(splitEnvelope(await readFile(join(spool, "new", name!))).envelope!.clientAddress).toBe("203.0.113.7");
  });

  it("GIVEN an allowed proxy address WHEN it connects without a PROXY header THEN the connection is refused", async () => {
    const { port } = await start({ useProxy: ["127.0.0.1"] });
    const c = await RawSmtp.open(port, "EHLO client.test\r\n");
    await expect(c.reply()).rejects.toThrow(/connection closed/);
    c.close();
  });

  it("GIVEN a PROXY header from an address not in the list WHEN sent THEN it is refused and never taken as the client address", async () => {
    const { port } = await start({ useProxy: ["10.9.9.9"] });
    const c = await RawSmtp.open(port, `PROXY TCP4 203.0.113.7 10.0.0.5 40001 25\r\n`);
    // Not expected from this peer, so it is a command sent before the greeting.
    const r = await c.reply();
    expect(r.code).toBe(421);
    expect(r.lines[0]).toMatch(/talk too soon/);
    c.close();
    // After the greeting it is no command either, and mail from this client carries its own address.
    const c2 = await RawSmtp.open(port);
    try {
      await c2.reply();
      expect((await c2.cmd("PROXY TCP4 203.0.113.7 10.0.0.5 40001 25")).code).toBeGreaterThanOrEqual(500);
    } finally {
      c2.close();
    }
    expect((await deliver(port)).end!.code).toBe(250);
    const [name] = await ls(join(spool, "new"));
    expect(splitEnvelope(await readFile(join(spool, "new", name!))).envelope!.clientAddress).toBe("127.0.0.1");
  });

  it("GIVEN more commands outside a transaction than allowed WHEN sent THEN 421 and close; those inside one do not count", async () => {
    const { port } = await start({ maxUnauthenticatedCommands: 4, maxRecipients: 10 });
    const c = await RawSmtp.open(port);
    try {
      await c.reply();
      expect((await c.cmd("EHLO client.test")).code).toBe(250);
      expect((await c.cmd("MAIL FROM:<s@remote.test>")).code).toBe(250);
      for (let i = 0; i < 6; i++) expect((await c.cmd(`RCPT TO:<r${i}@${DOMAIN}>`)).code).toBe(250);
      // RSET ends the transaction; from here 4 commands are allowed, the 5th is refused.
      expect((await c.cmd("RSET")).code).toBe(250);
      for (let i = 0; i < 4; i++) expect((await c.cmd("NOOP")).code).toBe(250);
      expect((await c.cmd("NOOP")).code).toBe(421);
      await expect(c.reply()).rejects.toThrow(/connection closed/);
    } finally {
      c.close();
    }
  });

  it("GIVEN close() while a message is received WHEN the client finishes it THEN 250; idle sessions get 421; no new connections", async () => {
    const { server, port } = await start();
    const idle = await RawSmtp.open(port);
    await idle.reply();
    const c = await RawSmtp.open(port);
    await c.reply();
    await c.cmd("EHLO client.test");
    await c.cmd("MAIL FROM:<s@remote.test>");
    await c.cmd(`RCPT TO:<r@${DOMAIN}>`);
    expect((await c.cmd("DATA")).code).toBe(354);
    c.write("Subject: half\r\n");
    await waitFor("the message to be in flight", () => server.inFlight === 1, 2_000);
    const closed = server.close();
    expect((await idle.reply()).code).toBe(421);
    expect((await c.body(Buffer.from("\r\nbody\r\n"))).code).toBe(250);
    await closed;
    await expect(RawSmtp.open(port)).rejects.toThrow();
    idle.close();
    c.close();
    expect(await ls(join(spool, "new"))).toHaveLength(1);
  });

  it("GIVEN one message delivered twice with different envelopes WHEN parsed THEN one key (the message's), each envelope recorded", async () => {
    const { port } = await start();
    const body = message(7);
    expect((await deliver(port, { from: "a@remote.test", rcpt: [`one@${DOMAIN}`] })).end!.code).toBe(250);
    expect((await deliver(port, { from: "b@remote.test", rcpt: [`two@${DOMAIN}`], body })).end!.code).toBe(250);
    expect((await deliver(port, { from: "c@remote.test", rcpt: [`three@${DOMAIN}`], body })).end!.code).toBe(250);
    const files = await Promise.all((await ls(join(spool, "new"))).map((n) => readFile(join(spool, "new", n))));
    const docs = await Promise.all(files.map(async (f) => (await parseMessage(f)).doc));
    const forBody = docs.filter((d) => d.key === sha256Hex(body));
    expect(forBody).toHaveLength(2);
    expect(forBody.map((d) => d.envelope!.mailFrom).sort()).toEqual(["b@remote.test", "c@remote.test"]);
    expect(forBody.map((d) => d.size)).toEqual([body.byteLength, body.byteLength]);
    expect(forBody[0]!.subject).toBe("clean message 7");
    expect(forBody[0]!.headers.some((h) => h.key === "x-bulwark-envelope")).toBe(false);
  });

  it("GIVEN the health endpoint WHEN the spool is there, missing, or the ingress is closing THEN 200, 503, 503 draining", async () => {
    let closing = false;
    const lines: string[] = [];
    const health = createIngressHealthServer({ spoolDir: spool, closing: () => closing, log: (l) => lines.push(l) });
    await new Promise<void>((r) => health.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(health.address() as { port: number }).port}/healthz`;
    try {
      const ok = await fetch(url);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ status: "ready" });
      await fsRename(join(spool, "new"), join(spool, "new-away"));
      const down = await fetch(url);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ status: "not-ready" });
      expect(lines.join("\n")).toMatch(/new: ENOENT/);
      await fsRename(join(spool, "new-away"), join(spool, "new"));
      closing = true;
      const draining = await fetch(url);
      expect(draining.status).toBe(503);
      expect(await draining.json()).toEqual({ status: "draining" });
    } finally {
      health.close();
    }
  });

  it("GIVEN spool names WHEN made THEN they are unique, short enough to claim and quarantine, and of safe characters", () => {
    const names = new Set(Array.from({ length: 1000 }, () => spoolFileName("mx1.example.test")));
    expect(names.size).toBe(1000);
    for (const n of names) {
      expect(n).toMatch(/^[0-9][A-Za-z0-9.-]*$/);
      expect(Buffer.byteLength(n)).toBeLessThanOrEqual(MAX_SPOOL_NAME_BYTES);
    }
    expect(Buffer.byteLength(spoolFileName("h".repeat(300)))).toBeLessThanOrEqual(MAX_SPOOL_NAME_BYTES);
    expect(spoolFileName("we#ird/host")).not.toMatch(/[#/]/);
  });

  it("GIVEN no domains WHEN the server is created THEN it refuses to start", () => {
    expect(() => createIngressServer({ spoolDir: spool, domains: [] })).toThrow(/domains is empty/);
    expect(() => createIngressServer({ spoolDir: spool, domains: ["bad domain"] })).toThrow(/not a domain name/);
    expect(() => createIngressServer({ spoolDir: spool, domains: [DOMAIN], useProxy: ["*"] })).toThrow(/useProxy/);
  });
});

/** A self-signed certificate made with the openssl CLI; null when openssl is not installed. */
function selfSigned(dir: string): { key: string; cert: string } | null {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch {
    return null;
  }
  return selfSignedCert(dir, "mx1.test");
}

describe("SMTP ingress with STARTTLS", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let pems: { key: string; cert: string } | null = null;
  let server: IngressServer | undefined;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("ingress-tls"));
    await new Spool(join(dir, "spool"), "p1", 60_000).init();
    const files = selfSigned(dir);
    if (files) pems = { key: await readFile(files.key, "utf8"), cert: await readFile(files.cert, "utf8") };
  });
  afterAll(async () => {
    await server?.close();
    await cleanup?.();
  });

  it(
    "GIVEN the entry's one PEM (chain and key) as both key and certificate, as a deploy hands it " +
      "over WHEN EHLO is answered THEN STARTTLS is offered, the upgrade works and mail is taken over TLS",
    async (ctx) => {
      if (!pems) {
        // openssl (the CLI) makes the test certificate; node:crypto cannot make X.509 certificates.
        ctx.skip("openssl is not installed: no certificate for the STARTTLS test");
        return;
      }
      // haproxy's format, which `tls_certificate_pem` holds: the certificate chain, then the key.
      // The unit points INGRESS_TLS_KEY_FILE and INGRESS_TLS_CERT_FILE at the same credential.
      const combined = join(dir, "entry.pem");
      writeFileSync(combined, `${pems.cert}${pems.key}`);
      const cfg = loadIngressConfig({ INGRESS_DOMAINS: DOMAIN, INGRESS_TLS_KEY_FILE: combined, INGRESS_TLS_CERT_FILE: combined });
      server = createIngressServer({ spoolDir: join(dir, "spool"), domains: [DOMAIN], hostName: "mx1.test", tls: cfg.tls!, log: () => undefined });
      const { port } = await server.listen(0, "127.0.0.1");
      const c = await RawSmtp.open(port);
      try {
        await c.reply();
        const ehlo = await c.cmd("EHLO client.test");
        expect(ehlo.lines).toContain("STARTTLS");
        expect(ehlo.lines.some((l) => /^AUTH/i.test(l))).toBe(false);
        expect((await c.cmd("STARTTLS")).code).toBe(220);
        await c.startTls();
        const again = await c.cmd("EHLO client.test");
        expect(again.code).toBe(250);
        expect(again.lines).not.toContain("STARTTLS");
        expect(again.lines.some((l) => /^AUTH/i.test(l))).toBe(false);
        await c.cmd("MAIL FROM:<s@remote.test>");
        expect((await c.cmd(`RCPT TO:<r@${DOMAIN}>`)).code).toBe(250);
        await c.cmd("DATA");
        expect((await c.body(cleanMessage(11))).code).toBe(250);
      } finally {
        c.close();
      }
      expect(await ls(join(dir, "spool", "new"))).toHaveLength(1);
    },
  );
});

describe("built ingress entry (esbuild, node20 ESM)", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let entry: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("ingress-build"));
    entry = join(dir, "main.mjs");
    const { bundleEsm } = await import("../../services/build.ts");
    await bundleEsm("services/ingress/main.ts", entry);
    await mkdir(join(dir, "spool", "new"), { recursive: true });
    await mkdir(join(dir, "spool", "tmp"), { recursive: true });
  });
  afterAll(async () => cleanup?.());

  it("GIVEN no INGRESS_DOMAINS WHEN the bundle starts THEN it exits 1 naming the variable and the fix", () => {
    let out = "";
    let status = 0;
    try {
      execFileSync(process.execPath, [entry], { env: { PATH: process.env.PATH }, stdio: ["ignore", "ignore", "pipe"] });
    } catch (err) {
      status = (err as { status: number }).status;
      out = String((err as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(1);
    expect(out).toMatch(/INGRESS_DOMAINS="" is invalid: list the recipient domains/);
  });

  it("GIVEN a running bundle WHEN a message is delivered and SIGTERM follows THEN 250, the file is in new/ and it exits 0", async () => {
    const child = spawn(process.execPath, [entry], {
      env: {
        PATH: process.env.PATH,
        INGRESS_DOMAINS: DOMAIN,
        INGRESS_SPOOL_DIR: join(dir, "spool"),
        INGRESS_LISTEN_PORT: "0",
        INGRESS_HOST_NAME: "mx9",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    try {
      await waitFor("the listening line", () => /listening on 127\.0\.0\.1:\d+/.test(stderr), 5_000);
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)![1]);
      expect((await deliver(port)).end!.code).toBe(250);
      const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      expect(await exit).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    expect(await ls(join(dir, "spool", "new"))).toHaveLength(1);
    expect(stderr).toMatch(/SIGTERM: closing/);
  });
});
