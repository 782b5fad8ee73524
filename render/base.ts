/**
 * The base layer every host gets: its identity file, its host firewall and the wait-for-
 * private-address helper. Each artifact is a typed object built from the plan, rendered by
 * one template.
 */
import { isIPv6 } from "node:net";
import type { Plan, PlannedHost } from "../plan/model.ts";
import { renderTemplate } from "./handlebars.ts";
import { hostFile, none, run, type HostFile } from "./host-file.ts";
import type { Layer, RenderContext } from "./layer.ts";

/** How long a boot waits for the private address before giving up (Hetzner attaches it within seconds). */
export const WAIT_PRIVATE_IP_SECONDS = 120;

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
  return { files: baseFiles(plan, host), runcmd: [["systemctl", "enable", "--now", "nftables.service"]] };
}

function baseFiles(plan: Plan, host: PlannedHost): HostFile[] {
  const env = { project: plan.name, host: host.name, role: host.role, privateIp: host.privateIp, subnet: plan.network.subnet };
  return [
    hostFile("/etc/bulwark/host.env", renderTemplate("base/host.env", env), { action: none("read by the Bulwark scripts each time they run") }),
    // `flush ruleset` then the tables: nft -f replaces the whole ruleset in one transaction.
    hostFile("/etc/nftables.conf", renderTemplate("base/nftables.conf", nftablesConfig(plan, host)), { permissions: "0755", action: run("/usr/sbin/nft", "-f", "/etc/nftables.conf") }),
    hostFile(
      "/usr/local/sbin/bulwark-wait-private-ip",
      renderTemplate("base/wait-private-ip.sh", { privateIp: host.privateIp, timeoutSeconds: WAIT_PRIVATE_IP_SECONDS }),
      { permissions: "0755", action: none("run by the units that wait for the private address, at their next start") },
    ),
  ];
}
