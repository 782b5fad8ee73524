/**
 * The lb layer: haproxy, keepalived and the Floating IP failover on both load balancers.
 * Each file is a typed object built from the plan's lb section and rendered by one template.
 *
 * How a failover happens (floating-ip mode):
 * 1. haproxy dies: bulwark-haproxy-watch, blocked on a pidfd of haproxy's master process, writes
 *    1 to the track file the moment the kernel reports the exit; keepalived sees the change
 *    (inotify) and enters FAULT, sending a priority-0 advert;
 *    or the host dies: the peer misses 3 adverts (0.3 s + skew).
 * 2. The peer becomes MASTER; its notify script starts bulwark-fip-takeover.service.
 * 3. The takeover script reads the Floating IP's holder and, if it is not this server, assigns it
 *    through the Hetzner API and polls the action. Both servers have the address configured
 *    (bulwark-floating-ip.service), so traffic is served the moment Hetzner routes it.
 */
import type { LbPlan } from "../plan/lb.ts";
import type { PlannedHost } from "../plan/model.ts";
import type { IngressPlan } from "../plan/services.ts";
import { deployMarker } from "./deploy-values.ts";
import { renderTemplate } from "./handlebars.ts";
import { HARDENING, METADATA_ADDRESS, unitSandbox } from "./hardening.ts";
import { hostFile, none, reload, restart, type HostFile } from "./host-file.ts";
import type { Layer, RenderContext } from "./layer.ts";

/** Paths on the lb hosts, named once. */
export const LB_PATHS = {
  haproxyCfg: "/etc/haproxy/haproxy.cfg",
  haproxyDropin: "/etc/systemd/system/haproxy.service.d/bulwark.conf",
  haproxyDownFile: "/run/bulwark/haproxy-down",
  stateScript: "/usr/local/sbin/bulwark-haproxy-state",
  watchScript: "/usr/local/sbin/bulwark-haproxy-watch",
  watchService: "/etc/systemd/system/bulwark-haproxy-watch.service",
  haproxyPidFile: "/run/haproxy.pid",
  keepalivedConf: "/etc/keepalived/keepalived.conf",
  keepalivedDropin: "/etc/systemd/system/keepalived.service.d/bulwark.conf",
  interfaceScript: "/usr/local/sbin/bulwark-keepalived-interface",
  interfaceInclude: "/etc/keepalived/bulwark-interface.conf",
  notifyScript: "/usr/local/sbin/bulwark-vrrp-notify",
  vrrpStateFile: "/run/bulwark/vrrp-state",
  takeoverScript: "/usr/local/sbin/bulwark-fip-takeover",
  takeoverService: "/etc/systemd/system/bulwark-fip-takeover.service",
  reconcileTimer: "/etc/systemd/system/bulwark-fip-reconcile.timer",
  failoverEnv: "/etc/bulwark/failover.env",
  tokenFile: "/etc/bulwark/hcloud-token",
  serverIdCache: "/run/bulwark/server-id",
  addressScript: "/usr/local/sbin/bulwark-floating-ip-address",
  addressService: "/etc/systemd/system/bulwark-floating-ip.service",
  certificate: "/etc/haproxy/certs/bulwark.pem",
} as const;

/** The name the takeover unit gives the API token (LoadCredential=); the script reads $CREDENTIALS_DIRECTORY/<name>. */
const TAKEOVER_TOKEN_CREDENTIAL = "hcloud-token";

/** haproxy's local liveness endpoint (keepalived's backstop check). */
const HAPROXY_MONITOR_PORT = 8404;
/** How long the Floating IP script waits for a default route at boot. */
const DEFAULT_ROUTE_WAIT_S = 60;

const HAPROXY = "haproxy.service";
const KEEPALIVED = "keepalived.service";
const WATCH = "bulwark-haproxy-watch.service";

/** haproxy's SMTP section, when the plan has the ingress: a list of one, or none. */
function smtpSection(lb: LbPlan, ingress: IngressPlan | undefined, host: PlannedHost) {
  if (!ingress) return [];
  const h = lb.healthCheck;
  return [
    {
      port: ingress.publicPort,
      connectTimeoutMs: lb.connectTimeoutMs,
      timeoutS: ingress.timeoutS,
      checkTimeoutMs: h.timeoutMs,
      interMs: h.interMs,
      fastInterMs: h.fastInterMs,
      downInterMs: h.downInterMs,
      fall: h.fall,
      rise: h.rise,
      checkName: host.name,
      servers: Object.entries(ingress.hosts).map(([name, r]) => ({ name, address: r.listenHost, port: r.listenPort })),
    },
  ];
}

function haproxyCfg(lb: LbPlan, host: PlannedHost, ingress: IngressPlan | undefined): string {
  return renderTemplate("lb/haproxy.cfg", {
    smtp: smtpSection(lb, ingress, host),
    host: host.name,
    health: lb.healthCheck,
    connectTimeoutMs: lb.connectTimeoutMs,
    monitorPort: HAPROXY_MONITOR_PORT,
    plainBinds: [":80"],
    tlsBinds: lb.tls ? [{ address: ":443", certificate: LB_PATHS.certificate }] : [],
    backends: lb.backends,
  });
}

function keepalivedConf(lb: LbPlan, host: PlannedHost): string {
  const me = lb.vrrp.find((v) => v.host === host.name)!;
  return renderTemplate("lb/keepalived.conf", {
    host: host.name,
    haproxyDownFile: LB_PATHS.haproxyDownFile,
    monitorPort: HAPROXY_MONITOR_PORT,
    interfaceInclude: LB_PATHS.interfaceInclude,
    virtualRouterId: lb.virtualRouterId,
    priority: me.priority,
    advertIntervalS: lb.advertIntervalS,
    sourceIp: me.sourceIp,
    peerIp: me.peerIp,
    // keepalived 2.2 refuses an instance without a VIP. In floating-ip mode the address that
    // matters is routed by Hetzner and configured on both servers, so keepalived holds the
    // Floating IP on lo (scope host) as a marker of which node is MASTER; nothing routes by it.
    virtualAddresses: lb.vip
      ? [{ comment: "the layer-2 VIP, held by the MASTER", address: `${lb.vip.address}/32 dev ${lb.vip.interface}` }]
      : [
          {
            comment: "marker of the MASTER only: the Floating IP itself is configured on both servers' public interface",
            address: `${deployMarker("floatingIpAddress")}/32 dev lo scope host`,
          },
        ],
    notifyScript: LB_PATHS.notifyScript,
  });
}

/** Files both failover modes share: haproxy, keepalived and their glue. */
function commonFiles(lb: LbPlan, host: PlannedHost, masterUnits: readonly string[], subnet: string, ingress: IngressPlan | undefined): HostFile[] {
  return [
    hostFile(LB_PATHS.haproxyCfg, haproxyCfg(lb, host, ingress), { action: reload(HAPROXY) }),
    hostFile(LB_PATHS.stateScript, renderTemplate("lb/haproxy-state.sh", { haproxyDownFile: LB_PATHS.haproxyDownFile }), {
      permissions: "0755",
      action: none("run by haproxy's unit at its next start or stop"),
    }),
    hostFile(
      LB_PATHS.haproxyDropin,
      renderTemplate("lb/haproxy-dropin.conf", {
        stateScript: LB_PATHS.stateScript,
        restartSec: "1s",
        timeoutStopSec: "5s",
        metadataAddress: METADATA_ADDRESS,
      }),
      { action: restart(HAPROXY) },
    ),
    hostFile(
      LB_PATHS.watchScript,
      renderTemplate("lb/haproxy-watch.py", { pidFile: LB_PATHS.haproxyPidFile, haproxyDownFile: LB_PATHS.haproxyDownFile, restartLookS: 0.05 }),
      { permissions: "0755", action: restart(WATCH) },
    ),
    hostFile(
      LB_PATHS.watchService,
      renderTemplate("lb/haproxy-watch.service", { watchScript: LB_PATHS.watchScript, sandbox: unitSandbox(HARDENING.haproxyWatch, subnet) }),
      { action: restart(WATCH) },
    ),
    hostFile(LB_PATHS.keepalivedConf, keepalivedConf(lb, host), { action: restart(KEEPALIVED) }),
    hostFile(
      LB_PATHS.interfaceScript,
      renderTemplate("lb/keepalived-interface.sh", { privateIp: host.privateIp, interfaceInclude: LB_PATHS.interfaceInclude }),
      { permissions: "0755", action: restart(KEEPALIVED) },
    ),
    hostFile(
      LB_PATHS.keepalivedDropin,
      renderTemplate("lb/keepalived-dropin.conf", { interfaceScript: LB_PATHS.interfaceScript, metadataAddress: METADATA_ADDRESS }),
      { action: restart(KEEPALIVED) },
    ),
    hostFile(LB_PATHS.notifyScript, renderTemplate("lb/vrrp-notify.sh", { vrrpStateFile: LB_PATHS.vrrpStateFile, masterUnits }), {
      permissions: "0755",
      action: none("run by keepalived at its next state change"),
    }),
  ];
}

/** Files of floating-ip mode: the takeover hook, its units, the token and the address. */
function floatingIpFiles(lb: LbPlan, host: PlannedHost, subnet: string): HostFile[] {
  const { hook } = lb;
  return [
    hostFile(
      LB_PATHS.failoverEnv,
      renderTemplate("lb/failover.env", { apiEndpoint: lb.apiEndpoint, floatingIpId: deployMarker("floatingIpId"), serverName: host.serverName }),
      { action: none("read by each takeover run") },
    ),
    hostFile(LB_PATHS.tokenFile, `${deployMarker("failoverToken")}\n`, { permissions: "0600", action: none("read by each takeover run") }),
    hostFile(
      LB_PATHS.takeoverScript,
      renderTemplate("lb/fip-takeover.sh", {
        envFile: LB_PATHS.failoverEnv,
        tokenFile: LB_PATHS.tokenFile,
        credentialName: TAKEOVER_TOKEN_CREDENTIAL,
        vrrpStateFile: LB_PATHS.vrrpStateFile,
        serverIdCache: LB_PATHS.serverIdCache,
        reconcileIntervalS: lb.reconcileIntervalS,
        attempts: hook.attempts,
        backoffMs: hook.backoffMs,
        requestTimeoutS: hook.requestTimeoutS,
        actionPollMs: Math.round(hook.actionPollS * 1000),
        actionPolls: Math.ceil(hook.requestTimeoutS / hook.actionPollS),
        witnessAddresses: lb.witness.addresses.join(" "),
        witnessCount: lb.witness.addresses.length,
        witnessPort: lb.witness.port,
        witnessNeed: lb.witness.need,
        witnessTimeoutS: lb.witness.connectTimeoutS,
      }),
      { permissions: "0755", action: none("run by each takeover") },
    ),
    hostFile(
      LB_PATHS.takeoverService,
      renderTemplate("lb/fip-takeover.service", {
        takeoverScript: LB_PATHS.takeoverScript,
        timeoutStartS: hook.unitTimeoutS,
        credentialName: TAKEOVER_TOKEN_CREDENTIAL,
        tokenFile: LB_PATHS.tokenFile,
        sandbox: unitSandbox(HARDENING.fipTakeover, subnet),
      }),
      {
        action: none("started by each takeover; systemd reads the new unit after the daemon-reload"),
      },
    ),
    hostFile(LB_PATHS.reconcileTimer, renderTemplate("lb/fip-reconcile.timer", { reconcileIntervalS: lb.reconcileIntervalS }), {
      action: restart("bulwark-fip-reconcile.timer"),
    }),
    // Restarting the address service would take the Floating IP off the interface for a moment.
    hostFile(
      LB_PATHS.addressScript,
      renderTemplate("lb/floating-ip-address.sh", { floatingIp: deployMarker("floatingIpAddress"), timeoutSeconds: DEFAULT_ROUTE_WAIT_S }),
      {
        permissions: "0755",
        action: none("applies at the next boot: re-adding the address on a live host would drop traffic"),
      },
    ),
    hostFile(
      LB_PATHS.addressService,
      renderTemplate("lb/floating-ip.service", { addressScript: LB_PATHS.addressScript, sandbox: unitSandbox(HARDENING.floatingIp, subnet) }),
      {
        action: none("applies at the next boot (see the address script)"),
      },
    ),
  ];
}

export function lbLayer({ plan, host }: RenderContext): Layer {
  const lb = plan.lb;
  const floating = lb.failover === "floating-ip";
  const tls: HostFile[] = lb.tls
    ? [
        hostFile(LB_PATHS.certificate, deployMarker("tlsCertificate", { base64: true }), {
          permissions: "0600",
          encoding: "b64",
          action: reload(HAPROXY),
        }),
      ]
    : [];
  return {
    files: [
      ...commonFiles(lb, host, floating ? ["bulwark-fip-takeover.service"] : [], plan.network.subnet, plan.services.ingress),
      ...(floating ? floatingIpFiles(lb, host, plan.network.subnet) : []),
      ...tls,
    ],
    runcmd: [
      ["systemctl", "daemon-reload"],
      ...(floating ? [["systemctl", "enable", "--now", "bulwark-floating-ip.service"]] : []),
      ["systemctl", "restart", "haproxy.service"],
      ["systemctl", "enable", "--now", "bulwark-haproxy-watch.service"],
      ["systemctl", "enable", "keepalived.service"],
      ["systemctl", "restart", "keepalived.service"],
      ...(floating ? [["systemctl", "enable", "--now", "bulwark-fip-reconcile.timer"]] : []),
    ],
  };
}
