/** INGRESS_* configuration (services/ingress/config.ts): defaults, and errors that name the variable, the value and the fix. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INGRESS_ENV_DEFAULTS, loadIngressConfig } from "../../services/ingress/config.ts";
import { tempDir } from "./helpers.ts";

describe("ingress configuration", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("ingress-config"));
    await writeFile(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n");
    await writeFile(join(dir, "cert.pem"), "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    await writeFile(join(dir, "junk.pem"), "not a pem\n");
  });
  afterAll(async () => cleanup?.());

  it("GIVEN only INGRESS_DOMAINS WHEN loaded THEN the defaults apply", () => {
    const c = loadIngressConfig({ INGRESS_DOMAINS: " Example.COM , bücher.example " });
    expect(c).toMatchObject({
      listenHost: "127.0.0.1",
      listenPort: 2525,
      spoolDir: INGRESS_ENV_DEFAULTS.INGRESS_SPOOL_DIR,
      domains: ["example.com", "xn--bcher-kva.example"],
      maxMessageBytes: 25 * 1024 * 1024,
      maxRecipients: 100,
      maxClients: 500,
      maxUnauthenticatedCommands: 10,
      socketTimeoutMs: 300_000,
      shutdownGraceMs: 30_000,
      writeTimeoutMs: 30_000,
      fileMode: 0o640,
      useProxy: [],
      tls: undefined,
      healthPort: undefined,
      healthHost: "127.0.0.1",
    });
  });

  it("GIVEN every variable set WHEN loaded THEN each is used", () => {
    const c = loadIngressConfig({
      INGRESS_DOMAINS: "a.test",
      INGRESS_LISTEN_HOST: "10.0.1.5",
      INGRESS_LISTEN_PORT: "25",
      INGRESS_SPOOL_DIR: "/mnt/spool",
      INGRESS_HOST_NAME: "mx1.a.test",
      INGRESS_MAX_MESSAGE_BYTES: "1048576",
      INGRESS_MAX_RECIPIENTS: "50",
      INGRESS_MAX_CLIENTS: "20",
      INGRESS_MAX_UNAUTHENTICATED_COMMANDS: "5",
      INGRESS_SOCKET_TIMEOUT_MS: "600000",
      INGRESS_SHUTDOWN_GRACE_MS: "10000",
      INGRESS_WRITE_TIMEOUT_MS: "5000",
      INGRESS_FILE_MODE: "0600",
      INGRESS_PROXY_FROM: "10.0.1.2, 10.0.1.3",
      INGRESS_TLS_KEY_FILE: join(dir, "key.pem"),
      INGRESS_TLS_CERT_FILE: join(dir, "cert.pem"),
      INGRESS_HEALTH_PORT: "9102",
      INGRESS_HEALTH_HOST: "10.0.1.5",
    });
    expect(c).toMatchObject({
      listenHost: "10.0.1.5",
      listenPort: 25,
      spoolDir: "/mnt/spool",
      hostName: "mx1.a.test",
      maxMessageBytes: 1048576,
      maxRecipients: 50,
      maxClients: 20,
      maxUnauthenticatedCommands: 5,
      socketTimeoutMs: 600000,
      shutdownGraceMs: 10000,
      writeTimeoutMs: 5000,
      fileMode: 0o600,
      useProxy: ["10.0.1.2", "10.0.1.3"],
      healthPort: 9102,
      healthHost: "10.0.1.5",
    });
    expect(c.tls?.key).toContain("BEGIN PRIVATE KEY");
    expect(c.tls?.cert).toContain("BEGIN CERTIFICATE");
  });

  it.each([
    [{}, /INGRESS_DOMAINS="" is invalid: list the recipient domains to accept/],
    [{ INGRESS_DOMAINS: " , " }, /INGRESS_DOMAINS=" , " is invalid/],
    [{ INGRESS_DOMAINS: "ok.test,bad domain" }, /INGRESS_DOMAINS: "bad domain" is not a domain name/],
    [{ INGRESS_DOMAINS: "a.test", INGRESS_LISTEN_PORT: "70000" }, /INGRESS_LISTEN_PORT="70000" is invalid: set an integer between 0 and 65535/],
    [{ INGRESS_DOMAINS: "a.test", INGRESS_MAX_RECIPIENTS: "5000" }, /INGRESS_MAX_RECIPIENTS="5000" is invalid: set an integer between 1 and 1000/],
    [{ INGRESS_DOMAINS: "a.test", INGRESS_MAX_MESSAGE_BYTES: "25MB" }, /INGRESS_MAX_MESSAGE_BYTES="25MB" is invalid/],
    [{ INGRESS_DOMAINS: "a.test", INGRESS_PROXY_FROM: "lb1.internal" }, /INGRESS_PROXY_FROM: "lb1.internal" is not an IP address/],
    [{ INGRESS_DOMAINS: "a.test", INGRESS_PROXY_FROM: "*" }, /INGRESS_PROXY_FROM: "\*" is not an IP address/],
    [{ INGRESS_DOMAINS: "a.test", INGRESS_TLS_KEY_FILE: "/k.pem" }, /INGRESS_TLS_KEY_FILE="\/k.pem" and INGRESS_TLS_CERT_FILE="": set both/],
    [{ INGRESS_DOMAINS: "a.test", INGRESS_FILE_MODE: "0200" }, /INGRESS_FILE_MODE="0200" is invalid: use an octal mode the owner can read/],
    [{ INGRESS_DOMAINS: "a.test", INGRESS_HOST_NAME: "mx 1" }, /INGRESS_HOST_NAME="mx 1" is invalid/],
    [{ INGRESS_DOMAINS: "a.test", INGRESS_HEALTH_PORT: "x" }, /INGRESS_HEALTH_PORT="x" is invalid/],
  ])("GIVEN %j WHEN loaded THEN the error names the variable, the value and the fix", (env, message) => {
    expect(() => loadIngressConfig(env as Record<string, string>)).toThrow(message);
  });

  it("GIVEN TLS files that are missing or not PEM WHEN loaded THEN the error names the variable and the file", () => {
    expect(() =>
      loadIngressConfig({ INGRESS_DOMAINS: "a.test", INGRESS_TLS_KEY_FILE: join(dir, "nope.pem"), INGRESS_TLS_CERT_FILE: join(dir, "cert.pem") }),
    ).toThrow(/INGRESS_TLS_KEY_FILE=".*nope.pem" cannot be read: ENOENT/);
    expect(() =>
      loadIngressConfig({ INGRESS_DOMAINS: "a.test", INGRESS_TLS_KEY_FILE: join(dir, "key.pem"), INGRESS_TLS_CERT_FILE: join(dir, "junk.pem") }),
    ).toThrow(/INGRESS_TLS_CERT_FILE=".*junk.pem" is not PEM/);
  });
});
