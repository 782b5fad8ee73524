/** Test certificates: made by the openssl CLI, never checked in. */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** A self-signed EC (P-256) certificate and its key, valid 2 days, written into `dir` as key.pem and cert.pem. */
export function selfSignedCert(dir: string, commonName: string): { key: string; cert: string } {
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"];
  execFileSync("openssl", [...args, "-subj", `/CN=${commonName}`, "-keyout", key, "-out", cert], { stdio: "ignore" });
  return { key, cert };
}
