/**
 * Mail API entry. Environment (defaults in services/mail-api README section of
 * services/parser/README.md): MAILAPI_STORE_KIND (fs), MAILAPI_STORE_DIR, BULWARK_MONGO_URL
 * (shared with the parser; on the hosts from /etc/bulwark/mongo.env),
 * MAILAPI_STATIC_DIR, MAILAPI_LISTEN_HOST (127.0.0.1), MAILAPI_LISTEN_PORT (8080),
 * MAILAPI_HOST_NAME (os.hostname()), MAILAPI_DRAIN_FILE (none: /healthz answers 503 while it exists),
 * MAILAPI_TOKEN_FILE (else $CREDENTIALS_DIRECTORY/api-token; required). SIGTERM closes the server and exits 0.
 */
import { hostname } from "node:os";
import { envInt, envStr } from "../env.ts";
import { openStore, parseStoreKind } from "../store/factory.ts";
import { readApiToken } from "./auth.ts";
import { createMailApi } from "./server.ts";

async function main(): Promise<void> {
  const env = process.env;
  const port = envInt(env, "MAILAPI_LISTEN_PORT", 8080, 0, 65535);
  const apiToken = readApiToken(env);
  const store = await openStore({
    kind: parseStoreKind(envStr(env, "MAILAPI_STORE_KIND", "fs"), "MAILAPI_STORE_KIND"),
    dir: envStr(env, "MAILAPI_STORE_DIR", "/mnt/gluster/bulwark/store"),
    mongoUrl: envStr(env, "BULWARK_MONGO_URL", "mongodb://127.0.0.1:27017"),
  });
  const hostName = envStr(env, "MAILAPI_HOST_NAME", hostname());
  const server = createMailApi({
    store,
    staticDir: envStr(env, "MAILAPI_STATIC_DIR", "/srv/bulwark/static"),
    hostName,
    apiToken,
    ...(env.MAILAPI_DRAIN_FILE ? { drainFile: env.MAILAPI_DRAIN_FILE } : {}),
  });
  const host = envStr(env, "MAILAPI_LISTEN_HOST", "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  process.stderr.write(`mail-api[${hostName}] listening on ${typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : ""}\n`);
  const stop = () => {
    server.close(() => void store.close().finally(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  process.stderr.write(`mail-api failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
