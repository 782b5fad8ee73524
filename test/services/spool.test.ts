import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseClaimName, Spool } from "../../services/parser/spool.ts";
import { ls, makeSpool, tempDir } from "./helpers.ts";

describe("spool claim / lease / reclaim", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir("spool"));
  });
  afterEach(async () => cleanup());

  it("GIVEN 200 messages WHEN two hosts race to claim all of them THEN each message is claimed exactly once", async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 200; i++) files[`m${i}`] = Buffer.from(`msg ${i}`);
    await makeSpool(dir, files);
    const a = new Spool(dir, "hostA", 60_000);
    const b = new Spool(dir, "hostB", 60_000);
    await a.init();
    const names = Object.keys(files);
    const [ra, rb] = await Promise.all([Promise.all(names.map((n) => a.claim(n))), Promise.all(names.map((n) => b.claim(n)))]);
    const wonA = ra.filter((c) => c !== null).map((c) => c!.name);
    const wonB = rb.filter((c) => c !== null).map((c) => c!.name);
    expect(wonA.length + wonB.length).toBe(200);
    expect(new Set([...wonA, ...wonB]).size).toBe(200);
    expect(await ls(join(dir, "new"))).toEqual([]);
    expect((await readdir(join(dir, "cur"))).length).toBe(200);
  });

  it(
    "GIVEN a claim whose lease expired WHEN another host reclaims THEN it " + "takes the claim and the old owner's completion reports the lost lease",
    async () => {
      await makeSpool(dir, { m1: Buffer.from("x") });
      let now = 1_000_000;
      const dead = new Spool(dir, "dead", 5_000, () => now);
      const live = new Spool(dir, "live", 5_000, () => now);
      await dead.init();
      const old = (await dead.claim("m1"))!;
      now += 5_001;
      const taken = await live.reclaimExpired(10);
      expect(taken.map((c) => c.name)).toEqual(["m1"]);
      expect(parseClaimName(taken[0]!.claimName)).toEqual({ name: "m1", host: "live", expiresAt: now + 5_000 });
      expect(await dead.complete(old)).toBe(false);
      expect(old.state).toBe("lost");
      expect(await live.complete(taken[0]!)).toBe(true);
      expect(await ls(join(dir, "cur"))).toEqual([]);
    },
  );

  it("GIVEN a live lease WHEN another host scans for expired claims THEN nothing is reclaimed", async () => {
    await makeSpool(dir, { m1: Buffer.from("x") });
    let now = 2_000_000;
    const owner = new Spool(dir, "owner", 5_000, () => now);
    const other = new Spool(dir, "other", 5_000, () => now);
    await owner.init();
    const c = (await owner.claim("m1"))!;
    now += 4_999;
    expect(await other.reclaimExpired(10)).toEqual([]);
    expect(await owner.renew(c)).toBe(true);
    now += 4_999; // past the first expiry but inside the renewed one
    expect(await other.reclaimExpired(10)).toEqual([]);
    expect(parseClaimName(c.claimName)!.host).toBe("owner");
  });

  it("GIVEN several hosts WHEN they reclaim the same expired claim at once THEN exactly one wins", async () => {
    await makeSpool(dir, { m1: Buffer.from("x") });
    let now = 3_000_000;
    const dead = new Spool(dir, "dead", 1_000, () => now);
    await dead.init();
    await dead.claim("m1");
    now += 2_000;
    const hosts = ["h1", "h2", "h3", "h4"].map((h) => new Spool(dir, h, 1_000, () => now));
    const results = await Promise.all(hosts.map((h) => h.reclaimExpired(10)));
    expect(results.flat().length).toBe(1);
  });

  it("GIVEN a held claim WHEN released THEN the message is back in new/ under its original name", async () => {
    await makeSpool(dir, { "1700000000.M1P2.host": Buffer.from("body") });
    const s = new Spool(dir, "h", 60_000);
    await s.init();
    const c = (await s.claim("1700000000.M1P2.host"))!;
    expect(await s.release(c)).toBe(true);
    expect(await ls(join(dir, "new"))).toEqual(["1700000000.M1P2.host"]);
    expect(await readFile(join(dir, "new", "1700000000.M1P2.host"), "utf8")).toBe("body");
    expect(await s.release(c)).toBe(false);
  });

  it("GIVEN a delivered name containing the separator # WHEN claimed, reclaimed and released THEN the original name survives", async () => {
    await makeSpool(dir, { "odd#name": Buffer.from("x") });
    let now = 7_000_000;
    const a = new Spool(dir, "a", 1_000, () => now);
    await a.init();
    expect(await a.listNew(10)).toEqual(["odd#name"]);
    await a.claim("odd#name");
    now += 1_001;
    const [c] = await new Spool(dir, "b", 1_000, () => now).reclaimExpired(1);
    expect(c!.name).toBe("odd#name");
    expect(await new Spool(dir, "b", 1_000, () => now).release(c!)).toBe(true);
    expect(await ls(join(dir, "new"))).toEqual(["odd#name"]);
  });

  it("GIVEN a held claim WHEN quarantined THEN the message and a JSON reason file land in quarantine/", async () => {
    await makeSpool(dir, { bad: Buffer.from("x") });
    const s = new Spool(dir, "qhost", 60_000);
    await s.init();
    const c = (await s.claim("bad"))!;
    expect(await s.quarantine(c, "timeout", "parse exceeded 500 ms")).toBe(true);
    expect(await ls(join(dir, "quarantine"))).toEqual(["bad", "bad.reason.json"]);
    const reason = JSON.parse(await readFile(join(dir, "quarantine", "bad.reason.json"), "utf8"));
    expect(reason).toMatchObject({ reason: "timeout", detail: "parse exceeded 500 ms", host: "qhost" });
    expect(Number.isNaN(Date.parse(reason.time))).toBe(false);
  });

  it("GIVEN a claim that was reclaimed WHEN the old owner tries to quarantine it THEN no reason file is left behind", async () => {
    await makeSpool(dir, { m: Buffer.from("x") });
    let now = 5_000_000;
    const a = new Spool(dir, "a", 1_000, () => now);
    await a.init();
    const c = (await a.claim("m"))!;
    now += 1_001;
    await new Spool(dir, "b", 1_000, () => now).reclaimExpired(1);
    expect(await a.quarantine(c, "crash", "late")).toBe(false);
    expect(await ls(join(dir, "quarantine"))).toEqual([]);
  });

  it("GIVEN a claim opened for reading WHEN the lease is renewed (the file renamed) THEN the open descriptor still reads the message", async () => {
    await makeSpool(dir, { m: Buffer.from("message bytes") });
    let now = 1_000_000;
    const s = new Spool(dir, "h", 60_000, () => now);
    await s.init();
    const c = (await s.claim("m"))!;
    const opened = await s.openClaimed(c);
    if (!opened.ok) throw new Error(`a regular file was refused: ${opened.reason}`);
    const fh = opened.fh;
    try {
      const before = c.claimName;
      now += 1_000;
      expect(await s.renew(c)).toBe(true);
      expect(c.claimName).not.toBe(before);
      const buf = Buffer.alloc(13);
      expect((await fh.read(buf, 0, 13, 0)).bytesRead).toBe(13);
      expect(buf.toString()).toBe("message bytes");
    } finally {
      await fh.close();
    }
  });

  it("GIVEN names that are not claims or a bad host id THEN parsing returns null and construction throws with the fix", async () => {
    expect(parseClaimName("plain")).toBeNull();
    expect(parseClaimName("m#host#notanumber")).toBeNull();
    expect(parseClaimName("a#b#c#h#42")).toEqual({ name: "a#b#c", host: "h", expiresAt: 42 });
    expect(() => new Spool(dir, "bad host", 1000)).toThrow(/host id "bad host" is invalid: use 1-128 characters/);
  });
});
