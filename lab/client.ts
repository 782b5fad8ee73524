/**
 * The lab's client: sends a GET to `url` every `intervalMs` (each request on its own connection,
 * with its own timeout, so a hung request never delays the next) and appends one line per
 * request to `out`: send time (ms since the epoch), ok (1/0), HTTP status, duration in ms and
 * the X-Served-By header (empty through the Floating IP: haproxy strips it). With a token file,
 * each request carries `Authorization: Bearer <token>`. Bounded: it stops by itself after
 * `maxSeconds`, or on SIGTERM.
 *
 * Run: ip netns exec <client ns> node --import tsx lab/client.ts <url> <intervalMs> <timeoutMs> <maxSeconds> <out> [tokenFile]
 */
import { createWriteStream } from "node:fs";
import { request } from "node:http";
import { authHeaders } from "./probe.ts";

export interface ClientRecord {
  readonly t: number;
  readonly ok: boolean;
  readonly status: number;
  readonly ms: number;
  readonly by: string;
}

export function parseRecords(text: string): ClientRecord[] {
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const [t, ok, status, ms, by] = line.split(",");
      return { t: Number(t), ok: ok === "1", status: Number(status), ms: Number(ms), by: by ?? "" };
    })
    .sort((a, b) => a.t - b.t);
}

function main(): void {
  const [url, intervalMs, timeoutMs, maxSeconds, out, tokenFile] = process.argv.slice(2);
  const headers = { Connection: "close", ...authHeaders(tokenFile) };
  const interval = Number(intervalMs);
  const timeout = Number(timeoutMs);
  const stream = createWriteStream(out!, { flags: "a" });
  const deadline = Date.now() + Number(maxSeconds) * 1000;

  const once = () => {
    const t = performance.timeOrigin + performance.now();
    let done = false;
    const finish = (ok: boolean, status: number, by: string) => {
      if (done) return;
      done = true;
      stream.write(`${t.toFixed(1)},${ok ? 1 : 0},${status},${(performance.timeOrigin + performance.now() - t).toFixed(1)},${by}\n`);
    };
    const req = request(url!, { agent: false, timeout, headers }, (res) => {
      res.resume();
      res.on("end", () => finish(res.statusCode === 200, res.statusCode ?? 0, String(res.headers["x-served-by"] ?? "")));
      res.on("error", () => finish(false, res.statusCode ?? 0, ""));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => finish(false, 0, ""));
    req.end();
  };

  const timer = setInterval(() => {
    if (Date.now() > deadline) {
      clearInterval(timer);
      setTimeout(() => stream.end(() => process.exit(0)), timeout + 100);
      return;
    }
    once();
  }, interval);
  const stop = () => {
    clearInterval(timer);
    setTimeout(() => stream.end(() => process.exit(0)), timeout + 100);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (process.argv[1]?.endsWith("client.ts")) main();
