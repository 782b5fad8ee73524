/**
 * The plan: plain data computed from a topology, read by the renderer, the constructs, the
 * review bundle and the lab. Nothing downstream recomputes an address, a port or a peer list.
 */
import type { Component } from "../topology/hosts.ts";
import type { AdminSshKey, Image, Location, NetworkZone, Role, ServerType } from "../topology/model.ts";
import type { LbPlan } from "./lb.ts";
import type { MongoPlan } from "./mongo.ts";
import type { RolloutPlan } from "./rollout.ts";
import type { ServicesPlan } from "./services.ts";
import type { StoragePlan } from "./storage.ts";

export interface PlannedHost {
  /** Host name (`app-1`); also the construct ID source and the OS hostname. */
  readonly name: string;
  /** Hetzner server name: `<project>-<host>`. */
  readonly serverName: string;
  readonly role: Role;
  readonly component: Component;
  readonly serverType: ServerType;
  readonly image: Image;
  /** Static address on the private subnet. */
  readonly privateIp: string;
  readonly placementGroup: string;
  /** Hetzner labels on the server (topology labels, role labels, and Bulwark's own). */
  readonly labels: Readonly<Record<string, string>>;
  /** Debian packages of the host's base. */
  readonly packages: readonly string[];
  /** Mongo replica set the host is a member of. */
  readonly replicaSet?: string;
  /** The brick volume of a storage host. */
  readonly volume?: { readonly name: string; readonly sizeGb: number };
}

export interface PlacementGroupPlan {
  readonly name: string;
  readonly role: Role;
  readonly hosts: readonly string[];
}

/** One allow rule of a host firewall (nftables), with the sources already resolved to IPs. */
export interface HostFirewallRule {
  readonly service: string;
  readonly description: string;
  readonly protocol: "tcp" | "udp" | "vrrp";
  readonly ports?: string;
  /** Source addresses; empty array never occurs (a rule without sources is not emitted). */
  readonly sources: readonly string[];
  /** Host names the sources belong to (for the port matrix). */
  readonly sourceHosts: readonly string[];
}

/** One inbound rule of a Hetzner (public-side) firewall. */
interface PublicFirewallRule {
  readonly service: string;
  readonly description: string;
  readonly protocol: "tcp";
  readonly port: string;
  /** True when open to the whole internet (then `sourceIps` is 0.0.0.0/0 and ::/0). */
  readonly openToAll: boolean;
  readonly sourceIps: readonly string[];
}

export interface PublicFirewallPlan {
  /** Hetzner firewall name (without the project prefix). */
  readonly name: string;
  readonly hosts: readonly string[];
  readonly rules: readonly PublicFirewallRule[];
}

export interface Plan {
  readonly name: string;
  readonly location: Location;
  readonly networkZone: NetworkZone;
  readonly network: { readonly ipRange: string; readonly subnet: string };
  readonly labels: Readonly<Record<string, string>>;
  readonly admin: {
    readonly user: string;
    readonly sshKeys: readonly AdminSshKey[];
    readonly sshSourceCidrs: readonly string[];
  };
  /** Every host, in a fixed order (lb, app, parser, storage, mongo). */
  readonly hosts: readonly PlannedHost[];
  readonly placementGroups: readonly PlacementGroupPlan[];
  readonly firewall: {
    /** Hetzner firewalls, one per public profile. */
    readonly public: readonly PublicFirewallPlan[];
    /** Host firewall allow rules, by host name (everything else is dropped). */
    readonly hosts: Readonly<Record<string, readonly HostFirewallRule[]>>;
  };
  readonly lb: LbPlan;
  /** The GlusterFS volume, its bricks, options and clients (plan/storage.ts). */
  readonly storage: StoragePlan;
  /** The MongoDB cluster: replica sets, member ids and priorities, seed lists, bootstrap hosts (plan/mongo.ts). */
  readonly mongo: MongoPlan;
  /** The project's services on the app and parser hosts (plan/services.ts). */
  readonly services: ServicesPlan;
  /** Day-2: the rollout order, gates and the host agent's bounds (plan/rollout.ts). */
  readonly rollout: RolloutPlan;
  /** Set when the topology opted out of the single-host-failure gate. */
  readonly singlePointsOfFailureAllowed?: string;
}
