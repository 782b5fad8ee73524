/**
 * The services layer of the app hosts (mail-api) and parser hosts (parser): the service's
 * system user, its install script and oneshot install unit, its environment file and its
 * hardened systemd unit. Each file is a typed object built from `plan.services` (the artifact's
 * sha256 included: the build's, passed into the plan by synth/pipeline.ts), rendered by one template.
 *
 * At first boot: systemd-sysusers creates the user; `systemctl enable --now --no-block` starts
 * the service, which pulls in its install unit: the install script fetches
 * `<artifactBaseUrl><name>.tar.gz` with bounded retries, checks the sha256 and unpacks it into
 * `<installRoot>/<name>/<sha256>/`, or refuses (installs nothing, exits 1, says why in the
 * unit's journal) and the service does not start.
 */
import { INGRESS_TLS_CREDENTIAL, type HostServicePlan, type ServiceArtifactPlan, type ServicesPlan } from "../plan/services.ts";
import { deployMarkerNamed } from "./deploy-values.ts";
import { renderTemplate } from "./handlebars.ts";
import { HARDENING, serviceHardening, unitSandbox, type UnitSandbox } from "./hardening.ts";
import { hostFile, restart, run } from "./host-file.ts";
import type { Layer, RenderContext } from "./layer.ts";
import { MONGO_ENV_PATH } from "./mongo-router.ts";
import { mountUnitName } from "./storage-client.ts";

/** The base layer's wait-for-private-address helper (render/base.ts). */
const WAIT_PRIVATE_IP = "/usr/local/sbin/bulwark-wait-private-ip";

interface InstallScript {
  readonly service: string;
  readonly installUnit: string;
  readonly url: string;
  readonly sha256: string;
  readonly installDir: string;
  readonly entry: string;
  readonly nodeMajor: number;
  readonly attempts: number;
  readonly backoffS: number;
  readonly connectTimeoutS: number;
  readonly maxTimeS: number;
}

interface InstallUnit {
  readonly service: string;
  readonly unit: string;
  readonly installUnit: string;
  readonly installScript: string;
  readonly sha256: string;
  readonly timeoutStartS: number;
  /** Where artifacts unpack: made by a `+` ExecStartPre, the only path the install may write. */
  readonly installRoot: string;
  readonly sandbox: UnitSandbox;
}

interface ServiceUnit {
  readonly description: string;
  readonly installUnit: string;
  /** The shared volume's mount unit (render/storage-client.ts): wanted and waited for, not required (see serviceUnit). */
  readonly mountUnit: string;
  readonly user: string;
  /** BULWARK_MONGO_URL (render/mongo-router.ts; mode 0600, read by systemd as root). */
  readonly mongoEnvFile: string;
  /**
   * The service's settings as one `Environment=` value (`NAME=value ...`; no value holds a space).
   * In the unit rather than an env file of its own: user_data is short of room on app hosts.
   */
  readonly environment: string;
  /** `+` runs a command as root outside the sandbox (the mount check, creating directories). */
  readonly startPre: readonly string[];
  readonly execStart: string;
  readonly restartSecS: number;
  readonly timeoutStopS: number;
  /** One `ReadWritePaths=` line (space-separated paths), or none. */
  readonly readWritePaths: readonly string[];
  /** One `ReadOnlyPaths=` line (space-separated paths below a writable one), or none. */
  readonly readOnlyPaths: readonly string[];
  /** `LoadCredential=` values: `<name>:<root-only file>`. */
  readonly loadCredentials: readonly string[];
  /** `ConditionPathExists=` paths: credentials the first rollout delivers (the unit starts once they exist). */
  readonly conditionPaths: readonly string[];
  /** The sandbox (render/hardening.ts): the parser's or the mail API's profile. */
  readonly sandbox: UnitSandbox;
}

/**
 * Where the artifact of `a` unpacks: versioned by (the first 16 hex digits of) its sha256, so a
 * new build never overwrites a running one. 16, not 64: user_data is short of room on app hosts.
 */
function installDir(services: ServicesPlan, a: ServiceArtifactPlan, sha256: string): string {
  return `${services.installRoot}/${a.name}/${sha256.slice(0, 16)}`;
}

function installScript(services: ServicesPlan, a: ServiceArtifactPlan, sha256: string): InstallScript {
  const f = services.fetch;
  return {
    service: a.name,
    installUnit: a.installUnit,
    url: `${services.artifactBaseUrl}${a.file}`,
    sha256,
    installDir: installDir(services, a, sha256),
    entry: a.entry,
    nodeMajor: services.nodeMajor,
    attempts: f.attempts,
    backoffS: f.backoffS,
    connectTimeoutS: f.connectTimeoutS,
    maxTimeS: f.maxTimeS,
  };
}

/** Longest the install may take: every attempt at its time limit plus the backoff sleeps, plus a minute. */
function installTimeoutS(services: ServicesPlan): number {
  const f = services.fetch;
  let sleeps = 0;
  for (let i = 0, d = f.backoffS; i < f.attempts - 1; i++, d *= 2) sleeps += d;
  return f.attempts * (f.connectTimeoutS + f.maxTimeS) + sleeps + 60;
}

/**
 * The service's unit. The mount unit is Wants= + After=, not Requires= (nor RequiresMountsFor=):
 * a mount that fails at boot (storage servers not up yet) is retried by the storage layer, and a
 * Requires= would leave the service dead after that first failure, since Restart= does not
 * cover failed dependencies. Instead the first ExecStartPre refuses to start until the volume is
 * mounted, and Restart=always (no start limit) tries again every RestartSec.
 */
function serviceUnit(
  services: ServicesPlan,
  a: ServiceArtifactPlan,
  hostName: string,
  host: HostServicePlan,
  sha256: string,
  subnet: string,
): ServiceUnit {
  return {
    description:
      host.service === "parser"
        ? `Bulwark parser (${host.threads} parse threads)`
        : host.service === "ingress"
          ? `Bulwark SMTP receiver on ${host.listenHost}:${host.listenPort}`
          : `Bulwark mail API on ${host.listenHost}:${host.listenPort}`,
    installUnit: a.installUnit,
    mountUnit: mountUnitName(services.sharedMount),
    user: a.user,
    mongoEnvFile: MONGO_ENV_PATH,
    environment: Object.entries(serviceEnvironment(services, hostName, host))
      .map(([k, v]) => `${k}=${v}`)
      .join(" "),
    startPre: [
      // Never write to the local disk under the mount point: wait (Restart=always) for the volume.
      `+/usr/bin/mountpoint -q ${services.sharedMount}`,
      ...[...new Set(a.createDirs.map((d) => d.owner))].map(
        (owner) =>
          `+/usr/bin/install -d -o ${owner} -g ${owner} -m 0755 ${a.createDirs
            .filter((d) => d.owner === owner)
            .map((d) => d.path)
            .join(" ")}`,
      ),
      // `+`: the helper runs `ip addr` (netlink), which RestrictAddressFamilies= denies the service.
      ...(host.listenHost === "127.0.0.1" ? [] : [`+${WAIT_PRIVATE_IP}`]),
    ],
    execStart: `/usr/bin/node ${installDir(services, a, sha256)}/${a.entry}`,
    restartSecS: 5,
    // The parser's SIGTERM grace (PARSER_SHUTDOWN_GRACE_MS, 10 s) plus closing the pool and store.
    timeoutStopS: 30,
    // `-`: systemd sets up each command's mount namespace before it runs, the `+` ExecStartPre
    // that creates these directories (on the shared volume, after it is mounted) included, and
    // refuses to start when a listed path is missing (status 226/NAMESPACE, every RestartSec,
    // forever: the storage lab caught it on a fresh volume). With `-` a missing path is skipped
    // for that command; ExecStart, spawned after the directories exist, gets them writable.
    readWritePaths: a.readWritePaths.length > 0 ? [a.readWritePaths.map((p) => `-${p}`).join(" ")] : [],
    readOnlyPaths: a.readOnlyPaths.length > 0 ? [a.readOnlyPaths.map((p) => `-${p}`).join(" ")] : [],
    loadCredentials: a.credentials.map((c) => `${c.name}:${c.path}`),
    conditionPaths: a.credentials.filter((c) => c.base64).map((c) => c.path),
    sandbox: unitSandbox(serviceHardening(host.service, host.listenHost), subnet),
  };
}

/**
 * The service's environment (variables and defaults: services/parser/README.md). Documents in
 * MongoDB through the local mongos (plan.services.storeKind), attachments and static files on
 * the shared volume.
 */
function serviceEnvironment(services: ServicesPlan, hostName: string, host: HostServicePlan): Record<string, string | number> {
  if (host.service === "ingress") return ingressEnvironment(services, hostName);
  return host.service === "parser"
    ? {
        PARSER_SPOOL_DIR: services.spoolDir,
        PARSER_STORE_KIND: services.storeKind,
        PARSER_STORE_DIR: services.storeDir,
        PARSER_THREADS: host.threads!,
        PARSER_HOST_ID: hostName,
        PARSER_LISTEN_HOST: host.listenHost,
        PARSER_LISTEN_PORT: host.listenPort,
      }
    : {
        MAILAPI_STORE_KIND: services.storeKind,
        MAILAPI_STORE_DIR: services.storeDir,
        MAILAPI_STATIC_DIR: services.staticDir,
        MAILAPI_LISTEN_HOST: host.listenHost,
        MAILAPI_LISTEN_PORT: host.listenPort,
        MAILAPI_HOST_NAME: hostName,
        // The host agent drains the host from haproxy through this file before a restart.
        MAILAPI_DRAIN_FILE: services.drainFile,
      };
}

/** The SMTP receiver's environment (services/ingress/README.md): the topology's `mail` limits, the spool, the lbs as PROXY senders. */
function ingressEnvironment(services: ServicesPlan, hostName: string): Record<string, string | number> {
  const ingress = services.ingress;
  const host = ingress?.hosts[hostName];
  if (!ingress || !host) throw new Error(`render/services: ${hostName} runs no SMTP receiver in this plan (plan.services.ingress)`);
  return {
    INGRESS_DOMAINS: ingress.domains.join(","),
    INGRESS_LISTEN_HOST: host.listenHost,
    INGRESS_LISTEN_PORT: host.listenPort,
    INGRESS_SPOOL_DIR: services.spoolDir,
    INGRESS_HOST_NAME: hostName,
    INGRESS_MAX_MESSAGE_BYTES: ingress.maxMessageBytes,
    INGRESS_MAX_RECIPIENTS: ingress.maxRecipients,
    INGRESS_MAX_CLIENTS: ingress.maxConnections,
    INGRESS_MAX_UNAUTHENTICATED_COMMANDS: ingress.maxCommandsBeforeMail,
    INGRESS_SOCKET_TIMEOUT_MS: ingress.timeoutS * 1000,
    INGRESS_PROXY_FROM: ingress.proxyFrom.join(","),
    INGRESS_HEALTH_HOST: "127.0.0.1",
    INGRESS_HEALTH_PORT: host.healthPort,
    // STARTTLS: the one PEM (chain and key) for both; `%d` is systemd's credentials directory.
    ...(ingress.tls ? { INGRESS_TLS_KEY_FILE: `%d/${INGRESS_TLS_CREDENTIAL.name}`, INGRESS_TLS_CERT_FILE: `%d/${INGRESS_TLS_CREDENTIAL.name}` } : {}),
  };
}

/** What one host runs: its primary service (mail API or parser) and, on app hosts with the ingress on, the SMTP receiver. */
function hostServices(services: ServicesPlan, hostName: string): HostServicePlan[] {
  const primary = services.hosts[hostName];
  const ingress = services.ingress?.hosts[hostName];
  return [...(primary ? [primary] : []), ...(ingress ? [ingress] : [])];
}

export function servicesLayer({ plan, host }: RenderContext): Layer {
  const layers = hostServices(plan.services, host.name).map((hostPlan) => serviceLayer(plan, host.name, hostPlan));
  if (layers.length === 0)
    throw new Error(
      `render/services: host ${host.name} (${host.role}) has no entry in ` +
        `plan.services.hosts; only app and parser hosts get this layer (render/layers.ts)`,
    );
  return {
    files: layers.flatMap((l) => l.files),
    rolloutFiles: layers.flatMap((l) => l.rolloutFiles ?? []),
    runcmd: layers.flatMap((l) => l.runcmd ?? []),
  };
}

function serviceLayer(plan: RenderContext["plan"], hostName: string, hostPlan: HostServicePlan): Layer {
  const services = plan.services;
  const a = services.artifacts[hostPlan.service];
  const { sha256 } = a;
  const install: InstallUnit = {
    service: a.name,
    unit: a.unit,
    installUnit: a.installUnit,
    installScript: a.installScript,
    sha256,
    timeoutStartS: installTimeoutS(services),
    installRoot: services.installRoot,
    sandbox: unitSandbox(HARDENING.install, plan.network.subnet),
  };
  const sysusers = `/etc/sysusers.d/${a.user}.conf`;
  return {
    files: [
      hostFile(sysusers, renderTemplate("services/sysusers.conf", { service: a.name, user: a.user, uid: a.uid }), {
        action: run("/usr/bin/systemd-sysusers", sysusers),
      }),
      // A new build changes the install script (its sha256) and the unit (its ExecStart): the
      // install unit runs again (fetch, check, unpack beside the running build), then the
      // service restarts on the new one; the agent drains the host from haproxy first.
      hostFile(a.installScript, renderTemplate("services/install.sh", installScript(services, a, sha256)), {
        permissions: "0755",
        action: restart(a.installUnit),
      }),
      hostFile(`/etc/systemd/system/${a.installUnit}`, renderTemplate("services/install.service", install), { action: restart(a.installUnit) }),
      hostFile(
        `/etc/systemd/system/${a.unit}`,
        renderTemplate("services/service.service", serviceUnit(services, a, hostName, hostPlan, sha256, plan.network.subnet)),
        { action: restart(a.unit) },
      ),
      ...a.credentials
        .filter((c) => !c.base64)
        .map((c) => hostFile(c.path, `${deployMarkerNamed(c.secret)}\n`, { permissions: "0600", action: restart(a.unit) })),
    ],
    // A PEM (up to 6 KiB, 8 KiB in base64) does not fit the app hosts' user_data beside the rest:
    // the first rollout writes it and starts the unit, which waits for it (ConditionPathExists=).
    rolloutFiles: a.credentials
      .filter((c) => c.base64)
      .map((c) => hostFile(c.path, deployMarkerNamed(c.secret, { base64: true }), { permissions: "0600", encoding: "b64", action: restart(a.unit) })),
    runcmd: [
      ["systemd-sysusers", sysusers],
      ["systemctl", "daemon-reload"],
      // --no-block: the download may retry for minutes; cloud-init does not wait for it.
      ["systemctl", "enable", "--now", "--no-block", a.unit],
    ],
  };
}
