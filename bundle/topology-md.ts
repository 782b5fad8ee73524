/**
 * review/TOPOLOGY.md: the diagram, host table, port matrix and failure analysis, all computed
 * from the plan (nothing here is written by hand).
 */
import type { FailureAnalysis } from "../plan/failure.ts";
import type { Plan } from "../plan/model.ts";
import { renderTemplate } from "../render/handlebars.ts";
import { escapeMarkdownText } from "./markdown.ts";

interface TopologyPage {
  readonly name: string;
  readonly warnings: readonly string[];
  readonly location: string;
  readonly networkZone: string;
  readonly ipRange: string;
  readonly subnet: string;
  readonly entry: string;
  readonly hostCount: number;
  readonly groupCount: number;
  readonly diagramNodes: readonly string[];
  readonly diagramEdges: readonly string[];
  readonly hosts: readonly { name: string; role: string; serverType: string; image: string; privateIp: string; placementGroup: string }[];
  readonly ports: readonly { service: string; port: string; on: string; from: string }[];
  readonly losses: readonly { host: string; verdict: string; why: string }[];
}

/** Names a set of hosts by role where it covers whole roles: `app, parser` rather than four names. */
function describeHosts(plan: Plan, names: readonly string[]): string {
  const roles = [...new Set(plan.hosts.filter((h) => names.includes(h.name)).map((h) => h.role))];
  return roles
    .map((role) => {
      const all = plan.hosts.filter((h) => h.role === role).map((h) => h.name);
      const chosen = all.filter((n) => names.includes(n));
      return chosen.length === all.length ? `all ${role}` : chosen.join(", ");
    })
    .join("; ");
}

function portRows(plan: Plan): TopologyPage["ports"] {
  const publicRows = plan.firewall.public.flatMap((fw) =>
    fw.rules.map((r) => ({
      service: r.service,
      port: `${r.protocol}/${r.port}`,
      on: describeHosts(plan, fw.hosts),
      from: r.openToAll ? "internet" : r.sourceIps.join(", "),
    })),
  );
  const privateByService = new Map<string, { port: string; on: string[]; from: Set<string> }>();
  for (const [host, rules] of Object.entries(plan.firewall.hosts)) {
    for (const r of rules) {
      const row = privateByService.get(r.service) ?? { port: r.ports ? `${r.protocol}/${r.ports}` : r.protocol, on: [], from: new Set<string>() };
      row.on.push(host);
      for (const s of r.sourceHosts) row.from.add(s);
      privateByService.set(r.service, row);
    }
  }
  const privateRows = [...privateByService].map(([service, row]) => ({
    service,
    port: row.port,
    on: describeHosts(plan, row.on),
    from: describeHosts(plan, [...row.from]),
  }));
  return [...publicRows, ...privateRows];
}

function diagram(plan: Plan): { nodes: string[]; edges: string[] } {
  const roles = [...new Set(plan.hosts.map((h) => h.role))];
  const nodes = [
    "internet((internet))",
    ...roles.flatMap((role) => [
      `subgraph ${role}`,
      ...plan.hosts.filter((h) => h.role === role).map((h) => `  ${h.name.replace(/-/g, "_")}["${h.name}<br/>${h.privateIp}"]`),
      "end",
    ]),
  ];
  const roleOf = new Map(plan.hosts.map((h) => [h.name, h.role]));
  const edges = new Set<string>();
  for (const fw of plan.firewall.public) {
    for (const r of fw.rules.filter((rule) => rule.openToAll)) {
      for (const role of new Set(fw.hosts.map((h) => roleOf.get(h)!))) edges.add(`internet -- "${r.protocol}/${r.port}" --> ${role}`);
    }
  }
  for (const [host, rules] of Object.entries(plan.firewall.hosts)) {
    for (const r of rules) {
      const label = r.ports ? `${r.protocol}/${r.ports}` : r.protocol;
      for (const source of new Set(r.sourceHosts.map((s) => roleOf.get(s)!))) {
        edges.add(`${source} -- "${label}" --> ${roleOf.get(host)!}`);
      }
    }
  }
  return { nodes, edges: [...edges] };
}

export function topologyMarkdown(plan: Plan, failures: FailureAnalysis): string {
  const { nodes, edges } = diagram(plan);
  const warnings =
    plan.singlePointsOfFailureAllowed === undefined
      ? []
      : [
          // The reason is the one free text of the topology placed here: escaped, so it shows as written.
          `Single points of failure allowed: ${escapeMarkdownText(plan.singlePointsOfFailureAllowed)}.`,
          ...(failures.singlePointsOfFailure.length > 0 ? [`Losing any one of ${failures.singlePointsOfFailure.join(", ")} stops the service.`] : []),
        ];
  const page: TopologyPage = {
    name: plan.name,
    warnings,
    location: plan.location,
    networkZone: plan.networkZone,
    ipRange: plan.network.ipRange,
    subnet: plan.network.subnet,
    entry:
      plan.lb.failover === "floating-ip"
        ? `a Hetzner Floating IP (address set at deploy), held by ${plan.lb.hosts.join(" or ")}`
        : `a VRRP virtual IP held by ${plan.lb.hosts.join(" or ")}`,
    hostCount: plan.hosts.length,
    groupCount: plan.placementGroups.length,
    diagramNodes: nodes,
    diagramEdges: edges,
    hosts: plan.hosts.map((h) => ({
      name: h.name,
      role: h.role,
      serverType: h.serverType,
      image: h.image,
      privateIp: h.privateIp,
      placementGroup: h.placementGroup,
    })),
    ports: portRows(plan),
    losses: failures.losses.flatMap((loss) =>
      loss.verdicts
        .filter((v) => v.affected || !v.ok)
        .map((v) => ({ host: loss.host, verdict: v.ok ? `${v.subject}: keeps working` : `**${v.subject}: STOPS**`, why: v.reason })),
    ),
  };
  return renderTemplate("bundle/TOPOLOGY.md", page);
}
