import { hostname } from "node:os";
import { parseStoreKind, type StoreConfig } from "../store/factory.ts";
import { envInt, envStr, type Env } from "../env.ts";

/** Parser configuration, from environment variables (see README for defaults). */
export interface ParserConfig {
  spoolDir: string;
  sentinel: string | undefined;
  store: StoreConfig;
  threads: number;
  timeoutMs: number;
  maxMessageBytes: number;
  heapMb: number;
  leaseMs: number;
  listenHost: string;
  listenPort: number;
  hostId: string;
  shutdownGraceMs: number;
  pollMs: number;
  processedLog: string | undefined;
}

/** Defaults, also documented in services/parser/README.md. */
export const PARSER_DEFAULTS = {
  PARSER_SPOOL_DIR: "/srv/bulwark/spool",
  PARSER_STORE_KIND: "mongo",
  PARSER_STORE_DIR: "/mnt/gluster/bulwark/store",
  /** Shared with the mail API; on the hosts it comes from /etc/bulwark/mongo.env (render/mongo-router.ts). */
  BULWARK_MONGO_URL: "mongodb://127.0.0.1:27017",
  PARSER_THREADS: 2,
  PARSER_TIMEOUT_MS: 5000,
  PARSER_MAX_MESSAGE_BYTES: 12 * 1024 * 1024,
  PARSER_HEAP_MB: 256,
  PARSER_LEASE_SECONDS: 60,
  PARSER_LISTEN_HOST: "127.0.0.1",
  PARSER_LISTEN_PORT: 9101,
  PARSER_SHUTDOWN_GRACE_MS: 10000,
  PARSER_POLL_MS: 250,
} as const;

/** Reads and validates the parser configuration. Throws naming the variable, value and fix. */
export function loadParserConfig(env: Env = process.env): ParserConfig {
  const d = PARSER_DEFAULTS;
  return {
    spoolDir: envStr(env, "PARSER_SPOOL_DIR", d.PARSER_SPOOL_DIR),
    sentinel: env.PARSER_SPOOL_SENTINEL || undefined,
    store: {
      kind: parseStoreKind(envStr(env, "PARSER_STORE_KIND", d.PARSER_STORE_KIND), "PARSER_STORE_KIND"),
      dir: envStr(env, "PARSER_STORE_DIR", d.PARSER_STORE_DIR),
      mongoUrl: envStr(env, "BULWARK_MONGO_URL", d.BULWARK_MONGO_URL),
    },
    threads: envInt(env, "PARSER_THREADS", d.PARSER_THREADS, 1, 64),
    timeoutMs: envInt(env, "PARSER_TIMEOUT_MS", d.PARSER_TIMEOUT_MS, 50, 600_000),
    maxMessageBytes: envInt(env, "PARSER_MAX_MESSAGE_BYTES", d.PARSER_MAX_MESSAGE_BYTES, 1024, 1024 * 1024 * 1024),
    heapMb: envInt(env, "PARSER_HEAP_MB", d.PARSER_HEAP_MB, 16, 16384),
    leaseMs: envInt(env, "PARSER_LEASE_SECONDS", d.PARSER_LEASE_SECONDS, 1, 86_400) * 1000,
    listenHost: envStr(env, "PARSER_LISTEN_HOST", d.PARSER_LISTEN_HOST),
    listenPort: envInt(env, "PARSER_LISTEN_PORT", d.PARSER_LISTEN_PORT, 0, 65535),
    hostId: envStr(env, "PARSER_HOST_ID", hostname().replace(/[^A-Za-z0-9._-]/g, "-")),
    shutdownGraceMs: envInt(env, "PARSER_SHUTDOWN_GRACE_MS", d.PARSER_SHUTDOWN_GRACE_MS, 0, 600_000),
    pollMs: envInt(env, "PARSER_POLL_MS", d.PARSER_POLL_MS, 10, 60_000),
    processedLog: env.PARSER_PROCESSED_LOG || undefined,
  };
}
