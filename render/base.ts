/**
 * The base layer every host gets: its identity file, its host firewall and the wait-for-
 * private-address helper. Each artifact is a typed object built from the plan, rendered by
 * one template.
 */
import { isIPv6 } from "node:net";
import type { Plan, PlannedHost } from "../plan/model.ts";
import { renderTemplate } from "./handlebars.ts";
import { deployMarker } from "./deploy-values.ts";
import { hostFile, none, run, type HostFile } from "./host-file.ts";
import type { Layer, RenderContext } from "./layer.ts";

/** How long a boot waits for the private address before giving up (Hetzner attaches it within seconds). */
const WAIT_PRIVATE_IP_SECONDS = 120;

interface NftablesConfig {
  readonly host: string;
  readonly role: string;
  readonly openPorts: readonly { protocol: string; port: string; comment: string }[];
  readonly ipv4Sources: readonly { sources: string; protocol: string; ports: string; comment: string }[];
  readonly ipv6Sources: readonly { sources: string; protocol: string; ports: string; comment: string }[];
  readonly ipProtocols: readonly { sources: string; protocol: string; comment: string }[];
}

/** nftables writes port ranges as `a-b`, the same as the plan. */
function nftablesConfig(plan: Plan, host: PlannedHost): NftablesConfig {
  const publicRules = plan.firewall.public.filter((fw) => fw.hosts.includes(host.name)).flatMap((fw) => fw.rules);
  const open = publicRules.filter((r) => r.openToAll);
  const restricted = publicRules.filter((r) => !r.openToAll);
  const bySource = (v6: boolean) =>
    restricted
      .map((r) => ({ rule: r, sources: r.sourceIps.filter((ip) => isIPv6(ip.split("/")[0]!) === v6) }))
      .filter(({ sources }) => sources.length > 0)
      .map(({ rule, sources }) => ({ sources: sources.join(", "), protocol: rule.protocol, ports: rule.port, comment: rule.description }));
  const privateRules = plan.firewall.hosts[host.name] ?? [];
  return {
    host: host.name,
    role: host.role,
    openPorts: open.map((r) => ({ protocol: r.protocol, port: r.port, comment: r.description })),
    ipv4Sources: [
      ...bySource(false),
      ...privateRules
        .filter((r) => r.protocol !== "vrrp")
        .map((r) => ({ sources: r.sources.join(", "), protocol: r.protocol, ports: r.ports!, comment: r.description })),
    ],
    ipv6Sources: bySource(true),
    ipProtocols: privateRules
      .filter((r) => r.protocol === "vrrp")
      .map((r) => ({ sources: r.sources.join(", "), protocol: r.protocol, comment: r.description })),
  };
}

/** The base layer: identity, host firewall (enabled at first boot), wait-for-address helper. */
export function baseLayer({ plan, host }: RenderContext): Layer {
  return {
    files: [...baseFiles(plan, host), ...sshHostKeyFiles()],
    runcmd: [
      ["systemctl", "enable", "--now", "nftables.service"],
      // sshd re-reads its host keys: from now on it shows the key Terraform pins.
      ["systemctl", "try-reload-or-restart", "ssh.service"],
    ],
  };
}

/** Where the host's own ed25519 host key goes (the rollout pins its public half). */
const SSH_HOST_KEY_PATH = "/etc/ssh/ssh_host_ed25519_key";

/**
 * The host's SSH host key, made by Terraform at deploy time (constructs/host-keys.ts), so every
 * rollout connection verifies the host instead of trusting it on first use. Deferred: cloud-init's
 * ssh module (init stage) deletes and regenerates host keys first; these replace its ed25519 key
 * in the final stage, before runcmd reloads sshd.
 */
function sshHostKeyFiles(): HostFile[] {
  const why = "read by sshd at its next start; a new key is made only with a new server";
  return [
    hostFile(SSH_HOST_KEY_PATH, deployMarker("sshHostKey", { base64: true }), {
      permissions: "0600",
      encoding: "b64",
      defer: true,
      action: none(why),
    }),
    hostFile(`${SSH_HOST_KEY_PATH}.pub`, `${deployMarker("sshHostKeyPublic")}\n`, { defer: true, action: none(why) }),
  ];
}

function baseFiles(plan: Plan, host: PlannedHost): HostFile[] {
  const env = { project: plan.name, host: host.name, role: host.role, privateIp: host.privateIp, subnet: plan.network.subnet };
  return [
    hostFile("/etc/bulwark/host.env", renderTemplate("base/host.env", env), { action: none("read by the Bulwark scripts each time they run") }),
    // `flush ruleset` then the tables: nft -f replaces the whole ruleset in one transaction.
    hostFile("/etc/nftables.conf", renderTemplate("base/nftables.conf", nftablesConfig(plan, host)), {
      permissions: "0755",
      action: run("/usr/sbin/nft", "-f", "/etc/nftables.conf"),
    }),
    hostFile(
      "/usr/local/sbin/bulwark-wait-private-ip",
      renderTemplate("base/wait-private-ip.sh", { privateIp: host.privateIp, timeoutSeconds: WAIT_PRIVATE_IP_SECONDS }),
      { permissions: "0755", action: none("run by the units that wait for the private address, at their next start") },
    ),
  ];
}
