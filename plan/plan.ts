/**
 * topology (+ the built artifacts' sha256) → plan. Pure and deterministic: the same inputs give
 * the same plan, in the same order. No I/O and no cdktf import here.
 */
import { hostAddress, parseIpv4Cidr } from "../topology/cidr.ts";
import { UserError, UserErrors } from "../topology/errors.ts";
import { hostSpecs, type HostSpec } from "../topology/hosts.ts";
import type { Topology } from "../topology/model.ts";
import type { NamedCheck } from "../topology/rules.ts";
import {
  ADDRESS_BLOCKS,
  BASE_PACKAGES,
  MAX_PER_PLACEMENT_GROUP,
  MAX_PLACEMENT_GROUPS,
  PACKAGES,
  PRIVATE_SERVICES,
  PUBLIC_SERVICES,
} from "./catalog.ts";
import { planLb } from "./lb.ts";
import { planMongo } from "./mongo.ts";
import { planRollout } from "./rollout.ts";
import { planServices, type ServiceArtifactDigests } from "./services.ts";
import { planStorage } from "./storage.ts";
import type { HostFirewallRule, Plan, PlacementGroupPlan, PlannedHost, PublicFirewallPlan } from "./model.ts";

const ANYWHERE = ["0.0.0.0/0", "::/0"];

/** The checks buildPlan makes itself (checkAddressBlocks, placement groups), as the README's rules table lists them. */
export const PLAN_CHECKS: readonly NamedCheck[] = [
  {
    id: "address-blocks",
    description: `Each role fits its fixed address block in the subnet (${Object.entries(ADDRESS_BLOCKS)
      .map(([role, b]) => `${role} .${b.first}-.${b.first + b.size - 1}`)
      .join(", ")}), so growing one role never renumbers another.`,
  },
  {
    id: "placement-groups",
    description:
      `Spread placement groups of at most ${MAX_PER_PLACEMENT_GROUP} servers (one per Mongo replica ` +
      `set, \`pg-<role>-<n>\` chunks otherwise), at most ${MAX_PLACEMENT_GROUPS} per project.`,
  },
];

/** What the plan needs besides the topology: facts made outside plan/ (by I/O), passed in. */
export interface PlanInputs {
  /** sha256 of each service artifact (synth: services/build.ts serviceArtifacts(); tests: fixed values). */
  readonly artifacts: ServiceArtifactDigests;
}

export function buildPlan(t: Topology, inputs: PlanInputs): Plan {
  const specs = hostSpecs(t);
  const subnet = parseIpv4Cidr(t.network.subnet)!;
  checkAddressBlocks(t, specs);

  const groupOf = placementGroupNames(specs);
  const hosts: PlannedHost[] = specs.map((spec) => {
    const role = t.roles[spec.role];
    const block = ADDRESS_BLOCKS[spec.role];
    return {
      name: spec.name,
      serverName: `${t.name}-${spec.name}`,
      role: spec.role,
      component: spec.component,
      serverType: role.serverType,
      image: role.image ?? t.image,
      privateIp: hostAddress(subnet, block.first + spec.ordinal - 1),
      placementGroup: groupOf.get(spec.name)!,
      labels: { ...t.labels, ...(role.labels ?? {}), "bulwark/role": spec.role, "bulwark/project": t.name },
      packages: [...BASE_PACKAGES, ...PACKAGES[spec.component]],
      ...(spec.replicaSet ? { replicaSet: spec.replicaSet } : {}),
      ...(spec.role === "storage" ? { volume: { name: `${t.name}-${spec.name}-brick`, sizeGb: t.roles.storage.volumeSizeGb } } : {}),
    };
  });

  const placementGroups = collectPlacementGroups(hosts);
  if (placementGroups.length > MAX_PLACEMENT_GROUPS) {
    throw new UserError(
      "roles",
      `needs ${placementGroups.length} placement groups, above Hetzner's ${MAX_PLACEMENT_GROUPS} per project`,
      placementGroups.length,
      "use fewer shards or fewer hosts",
    );
  }

  const mongo = planMongo(hosts, placementGroups);
  return {
    name: t.name,
    location: t.location,
    networkZone: t.networkZone,
    network: { ...t.network },
    labels: { ...t.labels },
    admin: { user: t.admin.user, sshKeys: t.admin.sshKeys, sshSourceCidrs: t.admin.sshSourceCidrs },
    hosts,
    placementGroups,
    firewall: { public: publicFirewalls(t, hosts), hosts: hostFirewalls(t, hosts) },
    lb: planLb(t, hosts),
    storage: planStorage(t, hosts),
    mongo,
    services: planServices(t, hosts, inputs.artifacts),
    rollout: planRollout(hosts, mongo),
    ...(t.allowSinglePointsOfFailure ? { singlePointsOfFailureAllowed: t.allowSinglePointsOfFailure.reason } : {}),
  };
}

/** Each role's hosts must fit the role's fixed address block. */
function checkAddressBlocks(t: Topology, specs: readonly HostSpec[]): void {
  const errors = Object.entries(ADDRESS_BLOCKS).flatMap(([role, block]) => {
    const n = specs.filter((s) => s.role === role).length;
    return n <= block.size
      ? []
      : [
          new UserError(
            `roles.${role}`,
            `has ${n} hosts, but the ${role} address block of ${t.network.subnet} ` +
              `holds ${block.size} (offsets ${block.first}-${block.first + block.size - 1})`,
            n,
            `use at most ${block.size} ${role} hosts`,
          ),
        ];
  });
  if (errors.length > 0) throw new UserErrors(errors);
}

/**
 * Spread placement groups: one per Mongo replica set (its members on distinct physical hosts),
 * and for the other roles chunks of at most 10 in host order, so hosts 1-10 stay in `pg-<role>-1`
 * when the role grows.
 */
function placementGroupNames(specs: readonly HostSpec[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of specs) {
    out.set(
      spec.name,
      spec.replicaSet !== undefined ? `pg-mongo-${spec.replicaSet}` : `pg-${spec.role}-${Math.ceil(spec.ordinal / MAX_PER_PLACEMENT_GROUP)}`,
    );
  }
  return out;
}

function collectPlacementGroups(hosts: readonly PlannedHost[]): PlacementGroupPlan[] {
  const groups = new Map<string, PlacementGroupPlan & { hosts: string[] }>();
  for (const h of hosts) {
    const g = groups.get(h.placementGroup) ?? { name: h.placementGroup, role: h.role, hosts: [] };
    g.hosts.push(h.name);
    groups.set(h.placementGroup, g);
  }
  return [...groups.values()];
}

function hostFirewalls(t: Topology, hosts: readonly PlannedHost[]): Record<string, HostFirewallRule[]> {
  const out: Record<string, HostFirewallRule[]> = {};
  for (const host of hosts) {
    out[host.name] = PRIVATE_SERVICES.filter((s) => s.on.includes(host.component) && (!s.onlyWithIngress || t.mail.ingress)).flatMap((s) => {
      const peers = hosts.filter((p) => p.name !== host.name && s.from.includes(p.component));
      if (peers.length === 0) return [];
      return [
        {
          service: s.id,
          description: s.description,
          protocol: s.protocol,
          ...(s.ports ? { ports: s.ports } : {}),
          sources: peers.map((p) => p.privateIp),
          sourceHosts: peers.map((p) => p.name),
        },
      ];
    });
  }
  return out;
}

/** Two Hetzner firewalls: `lb` (web + SSH) and `base` (SSH only). */
function publicFirewalls(t: Topology, hosts: readonly PlannedHost[]): PublicFirewallPlan[] {
  const profile = (name: string, members: readonly PlannedHost[]): PublicFirewallPlan => ({
    name,
    hosts: members.map((h) => h.name),
    rules: PUBLIC_SERVICES.filter((s) => (!s.onlyWithTls || t.roles.lb.tls) && (!s.onlyWithIngress || t.mail.ingress))
      .filter((s) => s.on === "all" || members.every((h) => (s.on as readonly string[]).includes(h.component)))
      .map((s) => ({
        service: s.id,
        description: s.description,
        protocol: s.protocol,
        port: s.port,
        openToAll: s.sources === "any",
        sourceIps: s.sources === "any" ? ANYWHERE : [...t.admin.sshSourceCidrs],
      }))
      .filter((r) => r.sourceIps.length > 0),
  });
  return [
    profile(
      "lb",
      hosts.filter((h) => h.component === "lb"),
    ),
    profile(
      "base",
      hosts.filter((h) => h.component !== "lb"),
    ),
  ];
}
