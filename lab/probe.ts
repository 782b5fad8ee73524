/**
 * One request from inside a lab namespace, for the checks of what the public entry shows:
 * prints one JSON line {status, headers, body} (body cut at 2 KiB), or {error} when the
 * connection fails. `-` as the token file sends no Authorization header; a token file sends
 * `Authorization: Bearer <its content>`. Bounded by `timeoutMs`.
 *
 * Run: ip netns exec <ns> node --import tsx lab/probe.ts <url> <timeoutMs> <tokenFile|->
 */
import { readFileSync } from "node:fs";
import { request } from "node:http";

export interface ProbeResult {
  readonly status?: number;
  readonly headers?: Record<string, string | string[] | undefined>;
  readonly body?: string;
  readonly error?: string;
}

/** The Authorization header for a lab token file (`-`: none); shared with lab/client.ts. */
export function authHeaders(tokenFile: string | undefined): Record<string, string> {
  if (!tokenFile || tokenFile === "-") return {};
  return { Authorization: `Bearer ${readFileSync(tokenFile, "utf8").trim()}` };
}

function main(): void {
  const [url, timeoutMs, tokenFile] = process.argv.slice(2);
  const out = (r: ProbeResult) => process.stdout.write(`${JSON.stringify(r)}\n`, () => process.exit(0));
  const req = request(url!, { agent: false, timeout: Number(timeoutMs), headers: { Connection: "close", ...authHeaders(tokenFile) } }, (res) => {
    let body = "";
    res.on("data", (d) => (body = (body + String(d)).slice(0, 2048)));
    res.on("end", () => out({ status: res.statusCode ?? 0, headers: res.headers, body }));
    res.on("error", (err) => out({ error: err.message }));
  });
  req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  req.on("error", (err) => out({ error: err.message }));
  req.end();
}

if (process.argv[1]?.endsWith("probe.ts")) main();
