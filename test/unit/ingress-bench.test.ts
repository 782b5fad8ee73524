import { describe, expect, it } from "vitest";
import {
  benchMessage,
  latency,
  percentile,
  postfixMainCf,
  procTimes,
  roundedSpread,
  SmtpReplyParser,
  treeTicks,
  vmRssKb,
  type ProcTimes,
} from "../../measure/ingress-bench.ts";

describe("ingress bench helpers", () => {
  it("GIVEN replies split anywhere WHEN parsed THEN each complete reply comes out once, multi-line replies whole", () => {
    const p = new SmtpReplyParser();
    expect(p.push("220 mx.bench.test ESMTP\r")).toEqual([]);
    expect(p.push("\n250-mx.bench.test\r\n250-PIPE")).toEqual([{ code: 220, lines: ["mx.bench.test ESMTP"] }]);
    expect(p.idle).toBe(false);
    expect(p.push("LINING\r\n250 8BITMIME\r\n354 go ahead\r\n250\r\n")).toEqual([
      { code: 250, lines: ["mx.bench.test", "PIPELINING", "8BITMIME"] },
      { code: 354, lines: ["go ahead"] },
      { code: 250, lines: [""] },
    ]);
    expect(p.idle).toBe(true);
    expect(new SmtpReplyParser().push("250 OK\n")).toEqual([{ code: 250, lines: ["OK"] }]);
  });

  it("GIVEN something that is not an SMTP reply WHEN parsed THEN it throws naming the line", () => {
    expect(() => new SmtpReplyParser().push("HTTP/1.1 400 Bad Request\r\n")).toThrow('SMTP: malformed reply line "HTTP/1.1 400 Bad Request"');
    expect(() => new SmtpReplyParser().push("250-a\r\n451 b\r\n")).toThrow("SMTP: reply line with code 451 inside a 250 reply");
    expect(() => new SmtpReplyParser().push("2500 x\r\n")).toThrow("malformed");
    expect(() => new SmtpReplyParser().push("250 ".padEnd(5000, "x"))).toThrow("without a line end");
    expect(() => new SmtpReplyParser().push("250-x\r\n".repeat(101))).toThrow("more than 100 lines");
  });

  it("GIVEN latencies WHEN summarised THEN p50 and p99 are nearest-rank and the input is untouched", () => {
    const ms = Array.from({ length: 200 }, (_, i) => 200 - i); // 200..1
    expect(percentile(ms, 50)).toBe(100);
    expect(percentile(ms, 99)).toBe(198);
    expect(percentile(ms, 100)).toBe(200);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(ms, 0)).toThrow("use 0 < p <= 100");
    expect(ms[0]).toBe(200);
    expect(latency([3, 1, 2, 10])).toEqual({ p50: 2, p99: 10 });
    expect(roundedSpread([1.23456, 2.5, 0.1], 2)).toEqual({ median: 1.23, min: 0.1, max: 2.5 });
  });

  it("GIVEN a size WHEN a test message is made THEN it has exactly that many bytes of CRLF lines, none dot-led or long", () => {
    for (const bytes of [512, 2048, 2049, 2050, 204_800]) {
      const m = benchMessage(bytes);
      expect(m.byteLength).toBe(bytes);
      const text = m.toString("latin1");
      expect(text.endsWith("\r\n")).toBe(true);
      const lines = text.slice(0, -2).split("\r\n");
      expect(lines.some((l) => l.includes("\n") || l.includes("\r"))).toBe(false);
      expect(lines.every((l) => !l.startsWith(".") && l.length <= 998)).toBe(true);
      expect(lines.indexOf("")).toBeGreaterThan(0);
      expect(lines.at(-1)!.length).toBeGreaterThan(0);
    }
    expect(benchMessage(2048).equals(benchMessage(2048))).toBe(true);
    expect(() => benchMessage(100)).toThrow("use a whole number >= 512");
  });

  it("GIVEN /proc/<pid>/status WHEN read THEN VmRSS is in kB, and a missing line is an error", () => {
    expect(vmRssKb("Name:\tnode\nVmHWM:\t  90000 kB\nVmRSS:\t   81234 kB\nRssAnon:\t 1 kB\n")).toBe(81234);
    expect(() => vmRssKb("Name:\tzombie\n")).toThrow("no VmRSS line");
  });

  it(
    "GIVEN /proc/<pid>/stat lines WHEN read THEN ppid and CPU ticks come out, odd " +
      "command names included, and a tree sums its members and their reaped children",
    () => {
      expect(procTimes("528 (master) S 1 528 528 0 -1 4211008 900 2000 0 3 250 30 500 70 20 0 1 0 100 10000000 300")).toEqual({
        ppid: 1,
        self: 280,
        reapedChildren: 570,
      });
      expect(procTimes("77 (a) b (c) R 528 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0").ppid).toBe(528);
      expect(() => procTimes("9 (x) S 1 2")).toThrow("expected at least 17");
      const t = (ppid: number, self: number, reapedChildren = 0): ProcTimes => ({ ppid, self, reapedChildren });
      const procs = new Map([
        [1, t(0, 1000)],
        [528, t(1, 10, 40)],
        [600, t(528, 100)],
        [601, t(528, 50, 5)],
        [700, t(600, 7)],
        [900, t(1, 999)],
      ]);
      expect(treeTicks(528, procs)).toBe(10 + 40 + 100 + 50 + 5 + 7);
      expect(treeTicks(900, procs)).toBe(999);
      expect(treeTicks(4242, procs)).toBe(0);
    },
  );

  it(
    "GIVEN the baseline instance WHEN main.cf is made THEN it has its own " + "directories, loopback, the one relay domain and holds or defers mail",
    () => {
      const inst = {
        configDir: "/t/pf/etc",
        queueDir: "/t/pf/queue",
        dataDir: "/t/pf/data",
        logFile: "/t/pf/log/maillog",
        listenHost: "127.0.0.1",
        domain: "bench.test",
        hostName: "mx.bench.test",
      };
      const hold = postfixMainCf({ ...inst, mode: "hold" }).split("\n");
      expect(hold).toEqual(
        expect.arrayContaining([
          "queue_directory = /t/pf/queue",
          "data_directory = /t/pf/data",
          "inet_interfaces = 127.0.0.1",
          "mydestination =",
          "relay_domains = bench.test",
          "smtpd_relay_restrictions = reject_unauth_destination",
          "smtpd_data_restrictions = check_client_access static:HOLD",
          "maillog_file = /t/pf/log/maillog",
          "maillog_file_prefixes = /t/pf/log",
        ]),
      );
      expect(hold.some((l) => l.startsWith("defer_transports = smtp, relay, local, virtual"))).toBe(true);
      // Nothing that would change how queue files are written.
      expect(hold.some((l) => /fsync|sync|queue_file/.test(l))).toBe(false);
      const defer = postfixMainCf({ ...inst, mode: "defer" });
      expect(defer).not.toContain("HOLD");
      expect(defer).toContain("defer_transports = ");
    },
  );
});
