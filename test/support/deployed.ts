/**
 * Hosts "as deployed": every rendered file with its deploy-time markers replaced by sample
 * values, written under <dir>/hosts/<host>/<path> (plus user-data.yaml), so the real tools can
 * load them exactly as a host would.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DEPLOY_VALUES, substituteDeployValues } from "../../render/deploy-values.ts";
import type { RenderedHost } from "../../render/host.ts";
import { selfSignedCert } from "./tls.ts";

/** A self-signed certificate + key in one PEM, made once per test process with openssl. */
function samplePem(): string {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-pem-"));
  try {
    const { key, cert } = selfSignedCert(dir, "bulwark.invalid");
    return readFileSync(cert, "utf8") + readFileSync(key, "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let pem: string | undefined;

/** Sample values for every deploy-time value (none of them real). */
export function sampleDeployValues(): Record<string, string> {
  pem ??= samplePem().trimEnd();
  const specific: Record<string, string> = {
    [DEPLOY_VALUES.floatingIpAddress.name]: "203.0.113.10",
    [DEPLOY_VALUES.floatingIpId.name]: "424242",
    [DEPLOY_VALUES.failoverToken.name]: "T".repeat(64),
    [DEPLOY_VALUES.tlsCertificate.name]: pem,
    [DEPLOY_VALUES.mongoKeyFile.name]: Buffer.alloc(756, 7).toString("base64"),
  };
  // Any other value (a password): letters and digits, as long as it may get, up to 32.
  return Object.fromEntries(
    Object.values(DEPLOY_VALUES).map((v) => [v.name, specific[v.name] ?? "Sample0".repeat(8).slice(0, Math.min(v.maxLength, 32))]),
  );
}

export function withSamples(text: string, values: Record<string, string>): string {
  return substituteDeployValues(text, (name, base64) => {
    const v = values[name];
    return v !== undefined && base64 ? Buffer.from(v).toString("base64") : v;
  });
}

export function writeDeployedHosts(dir: string, rendered: readonly RenderedHost[], values = sampleDeployValues()): void {
  for (const r of rendered) {
    const put = (path: string, content: string) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
    };
    put(join(dir, "hosts", r.host.name, "user-data.yaml"), withSamples(r.userData, values));
    for (const f of r.files) {
      const content = withSamples(f.content, values);
      put(join(dir, "hosts", r.host.name, f.path), f.encoding === "b64" ? Buffer.from(content, "base64").toString("utf8") : content);
    }
  }
}
