import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { INGRESS_DEFAULTS, normalizeDomain, type IngressTls } from "./server.ts";
import { envInt, envList, envStr, type Env } from "../env.ts";

/** Ingress configuration, from environment variables (services/ingress/README.md lists them). */
export interface IngressConfig {
  listenHost: string;
  listenPort: number;
  spoolDir: string;
  domains: string[];
  hostName: string;
  maxMessageBytes: number;
  maxRecipients: number;
  maxClients: number;
  maxUnauthenticatedCommands: number;
  socketTimeoutMs: number;
  shutdownGraceMs: number;
  writeTimeoutMs: number;
  fileMode: number;
  useProxy: string[];
  tls: IngressTls | undefined;
  /** Port of the /healthz server; undefined: none. */
  healthPort: number | undefined;
  healthHost: string;
}

/** Defaults, also documented in services/ingress/README.md. */
export const INGRESS_ENV_DEFAULTS = {
  INGRESS_LISTEN_HOST: "127.0.0.1",
  INGRESS_LISTEN_PORT: 2525,
  INGRESS_SPOOL_DIR: "/srv/bulwark/spool",
  INGRESS_MAX_MESSAGE_BYTES: INGRESS_DEFAULTS.maxMessageBytes,
  INGRESS_MAX_RECIPIENTS: INGRESS_DEFAULTS.maxRecipients,
  INGRESS_MAX_CLIENTS: INGRESS_DEFAULTS.maxClients,
  INGRESS_MAX_UNAUTHENTICATED_COMMANDS: INGRESS_DEFAULTS.maxUnauthenticatedCommands,
  INGRESS_SOCKET_TIMEOUT_MS: INGRESS_DEFAULTS.socketTimeoutMs,
  INGRESS_SHUTDOWN_GRACE_MS: INGRESS_DEFAULTS.closeTimeoutMs,
  INGRESS_WRITE_TIMEOUT_MS: INGRESS_DEFAULTS.writeTimeoutMs,
  INGRESS_FILE_MODE: "0640",
} as const;

function pem(env: Env, name: string): string {
  const file = env[name]!;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(`${name}=${JSON.stringify(file)} cannot be read: ${why}; point it at a PEM file the service can read`);
  }
  if (!text.includes("-----BEGIN ")) {
    const want = name.includes("KEY") ? "private key" : "certificate chain";
    throw new Error(`${name}=${JSON.stringify(file)} is not PEM (no -----BEGIN line): give the PEM ${want}`);
  }
  return text;
}

/** Reads and validates the ingress configuration. Throws naming the variable, the value and the fix. */
export function loadIngressConfig(env: Env = process.env): IngressConfig {
  const d = INGRESS_ENV_DEFAULTS;
  const rawDomains = envList(env, "INGRESS_DOMAINS");
  if (rawDomains.length === 0) {
    throw new Error(
      `INGRESS_DOMAINS=${JSON.stringify(env.INGRESS_DOMAINS ?? "")} is invalid: list the recipient domains to accept, ` +
        "comma-separated (e.g. example.com,example.net); there is no default, the server never relays",
    );
  }
  const domains = rawDomains.map((dom) => {
    const n = normalizeDomain(dom);
    if (n === null) throw new Error(`INGRESS_DOMAINS: ${JSON.stringify(dom)} is not a domain name: use names like example.com, comma-separated`);
    return n;
  });
  const useProxy = envList(env, "INGRESS_PROXY_FROM");
  for (const a of useProxy) {
    if (isIP(a) === 0) {
      throw new Error(
        `INGRESS_PROXY_FROM: ${JSON.stringify(a)} is not an IP address: list the load balancers' addresses, comma-separated (no '*', no names)`,
      );
    }
  }
  const keyFile = env.INGRESS_TLS_KEY_FILE || undefined;
  const certFile = env.INGRESS_TLS_CERT_FILE || undefined;
  if ((keyFile === undefined) !== (certFile === undefined)) {
    throw new Error(
      `INGRESS_TLS_KEY_FILE=${JSON.stringify(keyFile ?? "")} and INGRESS_TLS_CERT_FILE=${JSON.stringify(certFile ?? "")}: ` +
        "set both (STARTTLS) or neither (no STARTTLS)",
    );
  }
  const rawMode = envStr(env, "INGRESS_FILE_MODE", d.INGRESS_FILE_MODE);
  if (!/^0?[0-7]{3}$/.test(rawMode) || (parseInt(rawMode, 8) & 0o400) === 0) {
    throw new Error(
      `INGRESS_FILE_MODE=${JSON.stringify(rawMode)} is invalid: use an octal mode the owner can read, e.g. 0640 (default ${d.INGRESS_FILE_MODE})`,
    );
  }
  const hostName = envStr(env, "INGRESS_HOST_NAME", hostname());
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(hostName)) {
    throw new Error(
      `INGRESS_HOST_NAME=${JSON.stringify(hostName)} is invalid: use a host name of letters, digits, '.' and '-' (it is sent in the banner)`,
    );
  }
  const listenHost = envStr(env, "INGRESS_LISTEN_HOST", d.INGRESS_LISTEN_HOST);
  const healthPortRaw = env.INGRESS_HEALTH_PORT;
  return {
    listenHost,
    listenPort: envInt(env, "INGRESS_LISTEN_PORT", d.INGRESS_LISTEN_PORT, 0, 65535),
    spoolDir: envStr(env, "INGRESS_SPOOL_DIR", d.INGRESS_SPOOL_DIR),
    domains,
    hostName,
    maxMessageBytes: envInt(env, "INGRESS_MAX_MESSAGE_BYTES", d.INGRESS_MAX_MESSAGE_BYTES, 1024, 1024 * 1024 * 1024),
    maxRecipients: envInt(env, "INGRESS_MAX_RECIPIENTS", d.INGRESS_MAX_RECIPIENTS, 1, 1000),
    maxClients: envInt(env, "INGRESS_MAX_CLIENTS", d.INGRESS_MAX_CLIENTS, 1, 100_000),
    maxUnauthenticatedCommands: envInt(env, "INGRESS_MAX_UNAUTHENTICATED_COMMANDS", d.INGRESS_MAX_UNAUTHENTICATED_COMMANDS, 1, 1000),
    socketTimeoutMs: envInt(env, "INGRESS_SOCKET_TIMEOUT_MS", d.INGRESS_SOCKET_TIMEOUT_MS, 1000, 3_600_000),
    shutdownGraceMs: envInt(env, "INGRESS_SHUTDOWN_GRACE_MS", d.INGRESS_SHUTDOWN_GRACE_MS, 1, 600_000),
    writeTimeoutMs: envInt(env, "INGRESS_WRITE_TIMEOUT_MS", d.INGRESS_WRITE_TIMEOUT_MS, 100, 600_000),
    fileMode: parseInt(rawMode, 8),
    useProxy,
    tls: keyFile && certFile ? { key: pem(env, "INGRESS_TLS_KEY_FILE"), cert: pem(env, "INGRESS_TLS_CERT_FILE") } : undefined,
    healthPort: healthPortRaw === undefined || healthPortRaw === "" ? undefined : envInt(env, "INGRESS_HEALTH_PORT", 0, 0, 65535),
    healthHost: envStr(env, "INGRESS_HEALTH_HOST", listenHost),
  };
}
