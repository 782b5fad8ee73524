/**
 * Spool entries that are not regular files (symlink, FIFO, directory, socket, device node) and
 * names too long to claim: each is quarantined with a reason naming what it is, none is read
 * or followed, quarantining itself cannot fail on the name, and clean mail keeps flowing.
 */
import { execFileSync } from "node:child_process";
import { lstat, mkdir, readdir, readFile, rename, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../services/parser/parse-message.ts";
import type { ParserService, ServiceEvent } from "../../services/parser/service.ts";
import { NAME_MAX, openRegularFile, parseClaimName, QUARANTINE_SUFFIX_BYTES, Spool, type QuarantinedEntry } from "../../services/parser/spool.ts";
import { FsDocumentStore } from "../../services/store/fs-store.ts";
import { buildWorkers, cleanMessage, fsParserService, ls, makeSpool, tempDir, waitFor } from "./helpers.ts";

/** Makes a UNIX socket file at `path` (created elsewhere, then renamed in, like a delivery). */
async function makeSocket(path: string, scratch: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(scratch, resolve);
  });
  await rename(scratch, path);
  return server;
}

/** Tries to make a character device node (/dev/null's 1:3); false where mknod is not allowed. */
function tryMknod(path: string): boolean {
  try {
    execFileSync("mknod", [path, "c", "1", "3"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Every regular file under `dir`, recursively (symlinks are not followed). */
async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe("openRegularFile: only a regular file is opened for reading", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: Server | undefined;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("open"));
  });
  afterAll(async () => {
    server?.close();
    await cleanup?.();
  });

  it(
    "GIVEN each kind of entry WHEN opened with and without the lstat pre-check THEN only the " +
      "regular file yields a descriptor and every other kind is named (ELOOP, ENXIO and fstat paths)",
    async () => {
      await writeFile(join(dir, "secret"), "secret bytes");
      await writeFile(join(dir, "file"), "mail");
      await symlink(join(dir, "secret"), join(dir, "link"));
      execFileSync("mkfifo", [join(dir, "fifo")]);
      await mkdir(join(dir, "dir"));
      server = await makeSocket(join(dir, "sock"), join(dir, "sock-scratch"));
      const want: Record<string, string> = { link: "symlink", fifo: "fifo", dir: "directory", sock: "socket" };
      if (tryMknod(join(dir, "dev"))) want.dev = "device";
      for (const precheck of [true, false]) {
        const ok = await openRegularFile(join(dir, "file"), { precheck });
        expect(ok.ok).toBe(true);
        if (ok.ok) {
          expect((await ok.fh.readFile()).toString()).toBe("mail");
          await ok.fh.close();
        }
        for (const [name, reason] of Object.entries(want)) {
          const t0 = Date.now();
          const r = await openRegularFile(join(dir, name), { precheck });
          expect(Date.now() - t0).toBeLessThan(2_000); // a FIFO does not block the open
          expect(r).toMatchObject({ ok: false, reason });
          if (!r.ok) expect(r.detail).toMatch(precheck ? /\(lstat\)/ : /open: E[A-Z]+|fstat on the opened descriptor/);
        }
      }
    },
  );
});

describe("spool: names too long to claim, and quarantine names", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("longname"));
  });
  afterAll(async () => cleanup?.());

  it(
    "GIVEN a name whose claim name would pass NAME_MAX WHEN claimed THEN the rename's ENAMETOOLONG " +
      "quarantines it from new/ under a short unique name, with its original name in the reason",
    async () => {
      const root = join(dir, "a");
      const long = `${"m".repeat(240)}.host`; // 245 bytes: fits in new/, "#h#<13 digits>" does not
      await makeSpool(root, { [long]: Buffer.from("body") });
      const s = new Spool(root, "h", 60_000);
      await s.init();
      const seen: QuarantinedEntry[] = [];
      s.onUnclaimedQuarantine = (e) => seen.push(e);
      expect(await s.claim(long)).toBeNull();
      expect(await ls(join(root, "new"))).toEqual([]);
      expect(await ls(join(root, "cur"))).toEqual([]);
      expect(seen).toHaveLength(1);
      const q = seen[0]!.quarantineName;
      expect(Buffer.byteLength(q) + QUARANTINE_SUFFIX_BYTES).toBeLessThanOrEqual(NAME_MAX);
      expect(q.startsWith(`${"m".repeat(64)}~`)).toBe(true);
      expect(await ls(join(root, "quarantine"))).toEqual([q, `${q}.reason.json`]);
      expect(await readFile(join(root, "quarantine", q), "utf8")).toBe("body");
      const reason = JSON.parse(await readFile(join(root, "quarantine", `${q}.reason.json`), "utf8"));
      expect(reason).toMatchObject({ reason: "name-too-long", host: "h", originalName: long });
      expect(reason.detail).toMatch(/name of 245 bytes cannot be claimed by host h: its claim name would be 261 bytes.*ENAMETOOLONG/);
      // Nothing is left to fail the next poll.
      expect(await s.listNew(10)).toEqual([]);
    },
  );

  it(
    "GIVEN several hosts WHEN they race on the same over-long name " + "THEN exactly one quarantines it and exactly one reason file remains",
    async () => {
      const root = join(dir, "race");
      const long = "r".repeat(250);
      await makeSpool(root, { [long]: Buffer.from("x") });
      const hosts = ["h1", "h2", "h3", "h4"].map((h) => new Spool(root, h, 60_000));
      await hosts[0]!.init();
      const seen: QuarantinedEntry[] = [];
      for (const h of hosts) h.onUnclaimedQuarantine = (e) => seen.push(e);
      await Promise.all(hosts.map((h) => h.claim(long)));
      expect(seen).toHaveLength(1);
      const q = await ls(join(root, "quarantine"));
      expect(q).toEqual([seen[0]!.quarantineName, `${seen[0]!.quarantineName}.reason.json`]);
    },
  );

  it(
    "GIVEN a name short enough to claim but too long for the reason file's name WHEN quarantined " +
      "THEN it lands under a short name instead of failing (and being retried) for the same reason",
    async () => {
      const root = join(dir, "b");
      const name = "q".repeat(230); // claim name 249 bytes; "<name>.reason.json.tmp-<pid>-<hex>" would not fit
      await makeSpool(root, { [name]: Buffer.from("poison") });
      const s = new Spool(root, "h", 60_000);
      await s.init();
      const c = (await s.claim(name))!;
      expect(c).not.toBeNull();
      expect(await s.quarantine(c, "parse-error", "bad")).toBe(true);
      expect(c.quarantineName).not.toBe(name);
      expect(await ls(join(root, "quarantine"))).toEqual([c.quarantineName, `${c.quarantineName}.reason.json`]);
      const reason = JSON.parse(await readFile(join(root, "quarantine", `${c.quarantineName}.reason.json`), "utf8"));
      expect(reason).toMatchObject({ reason: "parse-error", originalName: name });
    },
  );

  it(
    "GIVEN an expired claim a host with a longer id cannot rename WHEN it scans for " +
      "expired claims THEN that entry is quarantined and the scan goes on to the others",
    async () => {
      const root = join(dir, "c");
      const name = "n".repeat(230);
      await makeSpool(root, { [name]: Buffer.from("x"), short: Buffer.from("y") });
      let now = 1_000_000;
      const a = new Spool(root, "a", 1_000, () => now);
      await a.init();
      await a.claim(name);
      await a.claim("short");
      now += 2_000;
      const b = new Spool(root, "host-with-a-much-longer-id", 1_000, () => now);
      const seen: QuarantinedEntry[] = [];
      b.onUnclaimedQuarantine = (e) => seen.push(e);
      const taken = await b.reclaimExpired(10);
      expect(taken.map((c) => c.name)).toEqual(["short"]);
      expect(seen.map((e) => [e.name, e.reason])).toEqual([[name, "name-too-long"]]);
      expect((await ls(join(root, "cur"))).map((n) => parseClaimName(n)!.name)).toEqual(["short"]);
    },
  );

  it(
    "GIVEN quarantine/<f> already taken by a file WHEN a directory named <f> " +
      "is quarantined THEN it goes under a short unique name instead of failing",
    async () => {
      const root = join(dir, "d");
      await makeSpool(root, {});
      await mkdir(join(root, "new", "same"));
      const s = new Spool(root, "h", 60_000);
      await s.init();
      await writeFile(join(root, "quarantine", "same"), "an earlier message");
      const c = (await s.claim("same"))!;
      expect(await s.quarantine(c, "directory", "directory")).toBe(true);
      expect(c.quarantineName).toMatch(/^same~[0-9a-f]{16}~[0-9a-f]{8}$/);
      expect(await readFile(join(root, "quarantine", "same"), "utf8")).toBe("an earlier message");
      expect((await lstat(join(root, "quarantine", c.quarantineName!))).isDirectory()).toBe(true);
    },
  );
});

describe("parser service: spool entries that are not regular files (production worker, fs store)", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let prodWorker: string;
  let service: ParserService;
  let spool: string;
  let store: string;
  let secretFile: string;
  let n = 0;
  const logs: string[] = [];
  const events: ServiceEvent[] = [];
  const servers: Server[] = [];
  const SECRET = "TOPSECRET-7f3c9a1e-do-not-serve";

  const reasonOf = async (q: string) => JSON.parse(await readFile(join(spool, "quarantine", `${q}.reason.json`), "utf8"));
  /** Writes `count` clean messages into new/ and returns their keys. */
  const deliverClean = async (count: number): Promise<string[]> => {
    const keys: string[] = [];
    for (let i = 0; i < count; i++, n++) {
      await writeFile(join(spool, "new", `clean-${n}`), cleanMessage(1000 + n));
      keys.push(sha256Hex(cleanMessage(1000 + n)));
    }
    return keys;
  };
  const stored = async (keys: string[]) => {
    const have = new Set(await new FsDocumentStore(store).listKeys());
    return keys.every((k) => have.has(k));
  };

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("entries"));
    ({ prodWorker } = await buildWorkers(join(dir, "build")));
    spool = join(dir, "spool");
    store = join(dir, "store");
    // The secret is a well-formed message: if it were ever followed it would parse and be stored.
    secretFile = join(dir, "outside", "secret.eml");
    await mkdir(join(dir, "outside"));
    await writeFile(secretFile, `From: a@example.test\r\nSubject: ${SECRET}\r\n\r\n${SECRET}\r\n`);
    await makeSpool(spool, {});
    service = fsParserService(dir, {
      workerFile: prodWorker,
      hostId: "ent1",
      documentsRoot: store,
      log: (line) => logs.push(line),
      onEvent: (e) => events.push(e),
    });
    await service.start();
  });

  afterAll(async () => {
    await service?.stop(1_000);
    for (const s of servers) s.close();
    await cleanup?.();
  });

  it(
    "GIVEN a symlink in new/ to a secret file WHEN the service runs THEN the link itself is " +
      "quarantined as symlink, and the secret appears in no store file, reason file, log line or event",
    async () => {
      await symlink(secretFile, join(spool, "new", "evil-link"));
      const keys = await deliverClean(3);
      await waitFor(
        "symlink quarantined and clean mail stored",
        async () => (await ls(join(spool, "quarantine"))).includes("evil-link") && (await stored(keys)),
      );
      expect((await lstat(join(spool, "quarantine", "evil-link"))).isSymbolicLink()).toBe(true);
      const reason = await reasonOf("evil-link");
      expect(reason).toMatchObject({ reason: "symlink", host: "ent1" });
      expect(reason.detail).toMatch(/not followed, its target was not read/);
      expect(JSON.stringify(reason)).not.toContain("secret.eml");
      expect(await new FsDocumentStore(store).getDocument(sha256Hex(await readFile(secretFile)))).toBeNull();
      for (const f of [...(await allFiles(store)), ...(await allFiles(join(spool, "quarantine")))]) {
        expect((await readFile(f)).includes(SECRET), f).toBe(false);
      }
      expect(logs.join("\n")).not.toContain(SECRET);
      expect(JSON.stringify(events)).not.toContain(SECRET);
      expect(service.metrics.quarantined.get({ reason: "symlink" })).toBe(1);
    },
  );

  it(
    "GIVEN more FIFOs in new/ than libuv has threads WHEN the service runs THEN each " +
      "is quarantined as fifo within a bounded time while clean messages keep flowing",
    async () => {
      const t0 = Date.now();
      for (let i = 0; i < 8; i++) execFileSync("mkfifo", [join(spool, "new", `fifo-${i}`)]);
      const keys = await deliverClean(12);
      await waitFor(
        "fifos quarantined and clean mail stored",
        async () => {
          const q = await ls(join(spool, "quarantine"));
          return Array.from({ length: 8 }, (_, i) => `fifo-${i}`).every((f) => q.includes(f)) && (await stored(keys));
        },
        10_000,
      );
      expect(Date.now() - t0).toBeLessThan(10_000);
      for (let i = 0; i < 8; i++) {
        expect((await lstat(join(spool, "quarantine", `fifo-${i}`))).isFIFO()).toBe(true);
        expect((await reasonOf(`fifo-${i}`)).reason).toBe("fifo");
      }
      expect(service.metrics.quarantined.get({ reason: "fifo" })).toBe(8);
      expect(await ls(join(spool, "new"))).toEqual([]);
      expect(await ls(join(spool, "cur"))).toEqual([]);
    },
  );

  it(
    "GIVEN a directory in new/ (with a message inside) WHEN the service " + "runs THEN it is quarantined as directory and its contents are not read",
    async () => {
      await mkdir(join(spool, "tmp", "a-dir"));
      await writeFile(join(spool, "tmp", "a-dir", "inner"), cleanMessage(77));
      await rename(join(spool, "tmp", "a-dir"), join(spool, "new", "a-dir"));
      const keys = await deliverClean(2);
      await waitFor("directory quarantined", async () => (await ls(join(spool, "quarantine"))).includes("a-dir") && (await stored(keys)));
      expect((await lstat(join(spool, "quarantine", "a-dir"))).isDirectory()).toBe(true);
      expect(await ls(join(spool, "quarantine", "a-dir"))).toEqual(["inner"]);
      expect((await reasonOf("a-dir")).reason).toBe("directory");
      expect(await new FsDocumentStore(store).getDocument(sha256Hex(cleanMessage(77)))).toBeNull();
      expect(service.metrics.failed.get()).toBe(0);
    },
  );

  it("GIVEN a socket and a device node in new/ WHEN the service runs THEN each is quarantined with its type", async () => {
    servers.push(await makeSocket(join(spool, "new", "a-sock"), join(dir, "sock-scratch")));
    const dev = tryMknod(join(spool, "new", "a-dev"));
    const keys = await deliverClean(2);
    await waitFor("socket (and device) quarantined", async () => {
      const q = await ls(join(spool, "quarantine"));
      return q.includes("a-sock") && (!dev || q.includes("a-dev")) && (await stored(keys));
    });
    expect((await reasonOf("a-sock")).reason).toBe("socket");
    if (dev) expect((await reasonOf("a-dev")).reason).toBe("device");
  });

  it(
    "GIVEN a name too long to claim WHEN the service runs THEN it is quarantined " +
      "once as name-too-long (not retried every poll) and clean messages keep flowing",
    async () => {
      const long = `${"x".repeat(238)}.example`;
      await writeFile(join(spool, "new", long), cleanMessage(88));
      const keys = await deliverClean(3);
      await waitFor("long name quarantined", async () => service.metrics.quarantined.get({ reason: "name-too-long" }) === 1 && (await stored(keys)));
      expect(await ls(join(spool, "new"))).toEqual([]);
      const q = (await ls(join(spool, "quarantine"))).filter((f) => f.startsWith(`${"x".repeat(64)}~`) && !f.endsWith(".reason.json"));
      expect(q).toHaveLength(1);
      const reason = await reasonOf(q[0]!);
      expect(reason).toMatchObject({ reason: "name-too-long", originalName: long });
      expect(await readFile(join(spool, "quarantine", q[0]!))).toEqual(cleanMessage(88));
      expect(logs.filter((l) => /spool scan failed/.test(l))).toEqual([]);
      expect(logs.some((l) => l.includes(`as ${q[0]}: name-too-long`))).toBe(true);
      // The log shows a shortened name, never all 246 bytes of it.
      expect(logs.some((l) => l.includes(long))).toBe(false);
    },
  );
});
