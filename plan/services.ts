/**
 * The services' plan: which host runs which of the project's services (services/parser,
 * services/mail-api), as which user, with which paths, listen address and thread count, and
 * where the artifacts are fetched from, and the sha256 each host verifies. The sha256 are an
 * input (`ServiceArtifactDigests`: synth/pipeline.ts `prepare` gets them from the build,
 * services/build.ts; tests may pass fixed ones), so the plan stays a pure function of its inputs.
 */
import type { ServiceName } from "../services/build.ts";
import type { MailConfig, ServerType, Topology } from "../topology/model.ts";
import { APP_PORT, INGRESS_PORT, SMTP_PORT } from "./catalog.ts";
import type { PlannedHost } from "./model.ts";
import { CLIENT_MOUNT_POINT } from "./storage.ts";

/** The services the build makes (services/build.ts): the plan places their artifacts. */
export type { ServiceName };

/** The sha256 of each built artifact (services/build.ts), as the plan takes it. */
export type ServiceArtifactDigests = Readonly<Record<ServiceName, { readonly sha256: string }>>;

/** One artifact and how a host runs it. */
export interface ServiceArtifactPlan {
  readonly name: ServiceName;
  /** File name under `artifactBaseUrl` and in dist/services/. */
  readonly file: string;
  /** sha256 (hex) of the built file: the install script refuses an artifact with another. */
  readonly sha256: string;
  /** The entry inside the tarball, run with node. */
  readonly entry: string;
  /** The systemd unit that runs it, and the oneshot unit that installs it. */
  readonly unit: string;
  readonly installUnit: string;
  readonly installScript: string;
  /** Dedicated system user and group (same name), with a fixed id: see SERVICE_IDS. */
  readonly user: string;
  readonly uid: number;
  /** Paths the unit may write (ProtectSystem=strict makes everything else read-only). */
  readonly readWritePaths: readonly string[];
  /** Paths below a writable one that stay read-only for the unit. */
  readonly readOnlyPaths: readonly string[];
  /** Directories created (as root, after the shared-mount check) before the service starts. */
  readonly createDirs: readonly { readonly path: string; readonly owner: string }[];
  /**
   * Secrets systemd hands the service as credentials (`LoadCredential=<name>:<path>`): the file
   * is root-only (0600) and the service reads `$CREDENTIALS_DIRECTORY/<name>`. `secret` is the
   * deploy-time value the file holds (render/deploy-values.ts); `base64` delivers a multi-line
   * value (a PEM) base64-encoded in the user-data, written decoded.
   */
  readonly credentials: readonly { readonly name: string; readonly path: string; readonly secret: string; readonly base64?: boolean }[];
}

/** What one app or parser host runs. */
export interface HostServicePlan {
  readonly service: ServiceName;
  /** Address the service's HTTP server binds (mail-api: the private IP haproxy balances). */
  readonly listenHost: string;
  readonly listenPort: number;
  /** Parse worker threads (parser only): PARSER_THREADS_BY_SERVER_TYPE of the host's type. */
  readonly threads?: number;
}

/**
 * The SMTP receiver (services/ingress) on every app host, when the topology turns `mail.ingress`
 * on: its settings (the INGRESS_* environment), the port haproxy's `mode tcp` frontend on :25
 * balances to, and who may send it a PROXY header.
 */
export interface IngressPlan extends Omit<MailConfig, "ingress"> {
  /** The public port on the entry. */
  readonly publicPort: number;
  /** The lbs' private addresses: the only senders of a PROXY v1 header (haproxy `send-proxy`). */
  readonly proxyFrom: readonly string[];
  /** Per app host: the receiver's listen address (its private IP) and port, and its loopback /healthz port. */
  readonly hosts: Readonly<Record<string, HostServicePlan & { readonly healthPort: number }>>;
  /**
   * STARTTLS with the entry's certificate (`roles.lb.tls`: the `tls_certificate_pem` variable,
   * certificate chain and key in one PEM), handed to the receiver as the credential `tls-pem`.
   */
  readonly tls: boolean;
}

/** The receiver's credential holding the entry's PEM (certificate chain and key) when `roles.lb.tls` is on. */
export const INGRESS_TLS_CREDENTIAL = { name: "tls-pem", path: "/etc/bulwark/ingress-tls.pem", secret: "tls_certificate_pem", base64: true } as const;

export interface ServicesPlan {
  /** https base URL (ends in `/`); the lab and the install test override it here, like lb.apiEndpoint. */
  readonly artifactBaseUrl: string;
  /**
   * Where documents go: "mongo" (production: MongoDB through the host's mongos; attachments on
   * the shared volume) or "fs" (documents on the shared volume too). Always "mongo" from a
   * topology; the storage lab, which has no MongoDB, overrides it here (lab/overrides.ts).
   */
  readonly storeKind: "mongo" | "fs";
  /** Where the gluster volume is mounted on app and parser hosts; the services refuse to start until it is. */
  readonly sharedMount: string;
  readonly spoolDir: string;
  readonly storeDir: string;
  readonly staticDir: string;
  /** While this file exists the mail API's /healthz answers 503 (a rollout drains the host first). */
  readonly drainFile: string;
  /** Artifacts unpack into `<installRoot>/<name>/<sha256>/`. */
  readonly installRoot: string;
  readonly artifacts: Readonly<Record<ServiceName, ServiceArtifactPlan>>;
  /** Per app/parser host name. */
  readonly hosts: Readonly<Record<string, HostServicePlan>>;
  /** The SMTP receiver on the app hosts; undefined while `mail.ingress` is off. */
  readonly ingress?: IngressPlan;
  /** Bounds of the install script's download. */
  readonly fetch: { readonly attempts: number; readonly backoffS: number; readonly connectTimeoutS: number; readonly maxTimeS: number };
  /** The oldest Node.js major the bundles run on (postal-mime, piscina and mongodb 7 need 20). */
  readonly nodeMajor: number;
}

/**
 * vCPUs of each current Hetzner server type (Hetzner's price list; docs/facts.md#hetzner-cloud
 * lists the current types). The parser runs one parse thread per vCPU: parsing is CPU-bound and the
 * main thread, mongos and the gluster client need little. Typed by ServerType, so a new type cannot
 * be added to the model without its row here.
 */
export const PARSER_THREADS_BY_SERVER_TYPE: Readonly<Record<ServerType, number>> = {
  cx23: 2,
  cx33: 4,
  cx43: 8,
  cx53: 16,
  cpx22: 2,
  cpx32: 4,
  cpx42: 8,
  cpx52: 12,
  cpx62: 16,
  cax11: 2,
  cax21: 4,
  cax31: 8,
  cax41: 16,
  ccx13: 2,
  ccx23: 4,
  ccx33: 8,
  ccx43: 16,
  ccx53: 32,
  ccx63: 48,
};

/**
 * Fixed user and group ids. The parser hosts write the same directories on the shared gluster
 * volume, so the owner must be the same number on every host; ids picked by useradd at boot
 * could differ. 2101/2102: outside Debian's dynamic system range (100-999) and above the first
 * login user (1000) that cloud-init creates.
 */
const SERVICE_IDS: Readonly<Record<ServiceName, number>> = { parser: 2101, "mail-api": 2102, ingress: 2101 };

/**
 * The SMTP receiver runs as the parser's user: the spool on the shared volume has one owner, the
 * same uid on every host, so what the receiver writes into new/ the parser can claim and rename.
 * Its unit still confines it to the spool (ReadWritePaths) and its own sandbox.
 */
const SPOOL_WRITER = "parser";

/** The receiver's loopback /healthz port (the host agent's app gate; not in any firewall rule). */
const INGRESS_HEALTH_PORT = 9102;

/** The parser's local /healthz and /metrics port (loopback only; not in any firewall rule). */
const PARSER_HTTP_PORT = 9101;

/** The gluster volume's mount point on app and parser hosts (plan/storage.ts owns it). */
const SHARED_MOUNT = CLIENT_MOUNT_POINT;

export function planServices(t: Topology, hosts: readonly PlannedHost[], digests: ServiceArtifactDigests): ServicesPlan {
  const spoolDir = `${SHARED_MOUNT}/spool`;
  const storeDir = `${SHARED_MOUNT}/store`;
  const staticDir = `${SHARED_MOUNT}/static`;
  const artifact = (
    name: ServiceName,
    entry: string,
    readWritePaths: readonly string[],
    createDirs: ServiceArtifactPlan["createDirs"],
    credentials: ServiceArtifactPlan["credentials"] = [],
    readOnlyPaths: readonly string[] = [],
  ): ServiceArtifactPlan => ({
    name,
    file: `${name}.tar.gz`,
    sha256: artifactSha256(digests, name),
    entry,
    unit: `bulwark-${name}.service`,
    installUnit: `bulwark-${name}-install.service`,
    installScript: `/usr/local/sbin/bulwark-install-${name}`,
    user: `bulwark-${name}`,
    uid: SERVICE_IDS[name],
    readWritePaths,
    readOnlyPaths,
    createDirs,
    credentials,
  });
  const parserUser = "bulwark-parser";
  const lbs = hosts.filter((h) => h.role === "lb");
  const apps = hosts.filter((h) => h.role === "app");
  // The topology's domains and limits as they are; the plan adds where the receivers run.
  const { ingress: ingressOn, ...mail } = t.mail;
  const ingress: IngressPlan | undefined = ingressOn
    ? {
        ...mail,
        publicPort: SMTP_PORT,
        proxyFrom: lbs.map((h) => h.privateIp),
        tls: t.roles.lb.tls,
        hosts: Object.fromEntries(
          apps.map((h) => [
            h.name,
            { service: "ingress" as const, listenHost: h.privateIp, listenPort: INGRESS_PORT, healthPort: INGRESS_HEALTH_PORT },
          ]),
        ),
      }
    : undefined;
  const out: Record<string, HostServicePlan> = {};
  for (const h of hosts) {
    if (h.role === "app") out[h.name] = { service: "mail-api", listenHost: h.privateIp, listenPort: APP_PORT };
    if (h.role === "parser")
      out[h.name] = {
        service: "parser",
        listenHost: "127.0.0.1",
        listenPort: PARSER_HTTP_PORT,
        threads: PARSER_THREADS_BY_SERVER_TYPE[h.serverType],
      };
  }
  return {
    ...(ingress ? { ingress } : {}),
    artifactBaseUrl: t.services.artifactBaseUrl,
    storeKind: "mongo",
    sharedMount: SHARED_MOUNT,
    spoolDir,
    storeDir,
    staticDir,
    installRoot: "/opt/bulwark",
    drainFile: "/run/bulwark/mail-api.drain",
    artifacts: {
      // The parser writes claims in the spool and attachments (and, with the fs store,
      // documents) in the store: those two and nothing else.
      parser: artifact(
        "parser",
        "parser/main.mjs",
        [spoolDir, storeDir],
        [
          { path: spoolDir, owner: parserUser },
          { path: `${spoolDir}/new`, owner: parserUser },
          { path: storeDir, owner: parserUser },
        ],
      ),
      // The mail API only reads (documents from MongoDB, attachments and static files from the
      // shared volume): it gets no writable path at all. Every /api request must carry the
      // bearer token (the `mail_api_token` output); the service refuses to start without it.
      "mail-api": artifact(
        "mail-api",
        "mail-api/main.mjs",
        [],
        [{ path: staticDir, owner: "root" }],
        [{ name: "api-token", path: "/etc/bulwark/mail-api-token", secret: "mail_api_token" }],
      ),
      // The SMTP receiver writes into the spool's tmp/ and new/ only, as the parser's user. The
      // spool is writable as one mount, with the parser's cur/ and quarantine/ read-only below
      // it: tmp/ and new/ as two ReadWritePaths= would be two bind mounts, and the rename from
      // tmp/ into new/ fails with EXDEV (every message answered 451; the stack lab caught it).
      ingress: {
        ...artifact(
          "ingress",
          "ingress/main.mjs",
          [spoolDir],
          [
            { path: spoolDir, owner: parserUser },
            { path: `${spoolDir}/tmp`, owner: parserUser },
            { path: `${spoolDir}/new`, owner: parserUser },
          ],
          ingress?.tls ? [INGRESS_TLS_CREDENTIAL] : [],
          [`${spoolDir}/cur`, `${spoolDir}/quarantine`],
        ),
        user: `bulwark-${SPOOL_WRITER}`,
      },
    },
    hosts: out,
    // 5 attempts, 2 s doubling (2+4+8+16 = 30 s of sleeps), 10 s to connect, 300 s per download:
    // a host gives up after about 25 minutes at worst, and systemd's install unit says why.
    fetch: { attempts: 5, backoffS: 2, connectTimeoutS: 10, maxTimeS: 300 },
    nodeMajor: 20,
  };
}

/** The digest of `name`, checked: a missing or malformed one is a caller's bug, not a topology error. */
function artifactSha256(digests: ServiceArtifactDigests, name: ServiceName): string {
  const sha256 = digests[name]?.sha256;
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new Error(
      `plan/services: the ${name} artifact's sha256 must be 64 lowercase hex digits, ` +
        `got ${JSON.stringify(sha256)}; pass the build's digests (services/build.ts serviceArtifacts())`,
    );
  }
  return sha256;
}
