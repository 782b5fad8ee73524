/**
 * What each component is: the Debian packages its base needs, where its hosts sit in the
 * subnet, and the private services it offers (port, protocol, and which components may call).
 * The plan turns these into host addresses, host firewall rules and the port matrix.
 */
import type { Component } from "../topology/hosts.ts";

/** A private (east-west) service a component offers. */
export interface ServiceSpec {
  readonly id: string;
  readonly description: string;
  /** `vrrp` is IP protocol 112 (no port). */
  readonly protocol: "tcp" | "udp" | "vrrp";
  /** A port or an inclusive `first-last` range; absent for vrrp. */
  readonly ports?: string;
  /** Components that offer it. */
  readonly on: readonly Component[];
  /** Components allowed to reach it. */
  readonly from: readonly Component[];
  /** Open only when the topology turns the mail ingress on (`mail.ingress`). */
  readonly onlyWithIngress?: boolean;
}

/** Public (internet-facing) service, filtered by the Hetzner firewall and the host firewall. */
export interface PublicServiceSpec {
  readonly id: string;
  readonly description: string;
  readonly protocol: "tcp";
  readonly port: string;
  readonly on: readonly Component[] | "all";
  /** `admin` = the topology's admin SSH CIDRs; `any` = the internet. */
  readonly sources: "admin" | "any";
  /** Open only when the topology turns HTTPS on (`roles.lb.tls`): a closed port is no surface. */
  readonly onlyWithTls?: boolean;
  /** Open only when the topology turns the mail ingress on (`mail.ingress`). */
  readonly onlyWithIngress?: boolean;
}

const MONGO: readonly Component[] = ["mongo-config", "mongo-shard"];
const MONGO_CLIENTS: readonly Component[] = ["app", "parser", ...MONGO];
const GLUSTER_PEERS: readonly Component[] = ["storage", "app", "parser"];

/** The app service port haproxy balances (the mail API). */
export const APP_PORT = 8080;
/** The SMTP receivers' port on the app hosts (private: haproxy balances :25 to it). */
export const INGRESS_PORT = 2525;
/** SMTP on the entry (mail.ingress). */
export const SMTP_PORT = 25;
/** mongod ports by cluster role (MongoDB's defaults for --configsvr and --shardsvr). */
export const MONGO_CONFIG_PORT = 27019;
export const MONGO_SHARD_PORT = 27018;

const EVERY_COMPONENT: readonly Component[] = ["lb", "app", "parser", "storage", "mongo-config", "mongo-shard"];

export const PRIVATE_SERVICES: readonly ServiceSpec[] = [
  // The rollout reaches hosts without a public SSH path (a CI runner outside the admin CIDRs)
  // through an lb host as its bastion (constructs/rollout.ts).
  { id: "ssh-bastion", description: "SSH from the lb pair (the rollout's bastion)", protocol: "tcp", ports: "22", on: EVERY_COMPONENT, from: ["lb"] },
  { id: "vrrp", description: "keepalived VRRP adverts (unicast)", protocol: "vrrp", on: ["lb"], from: ["lb"] },
  { id: "mail-api", description: "mail API / web app behind haproxy", protocol: "tcp", ports: String(APP_PORT), on: ["app"], from: ["lb"] },
  {
    id: "smtp-ingress",
    description: "the SMTP receivers behind haproxy's :25",
    protocol: "tcp",
    ports: String(INGRESS_PORT),
    on: ["app"],
    from: ["lb"],
    onlyWithIngress: true,
  },
  { id: "glusterd", description: "GlusterFS management (glusterd)", protocol: "tcp", ports: "24007-24008", on: ["storage"], from: GLUSTER_PEERS },
  { id: "gluster-bricks", description: "GlusterFS brick processes", protocol: "tcp", ports: "49152-49251", on: ["storage"], from: GLUSTER_PEERS },
  {
    id: "mongo-config",
    description: "MongoDB config servers (mongod --configsvr)",
    protocol: "tcp",
    ports: String(MONGO_CONFIG_PORT),
    on: ["mongo-config"],
    from: MONGO_CLIENTS,
  },
  {
    id: "mongo-shard",
    description: "MongoDB shard members (mongod --shardsvr)",
    protocol: "tcp",
    ports: String(MONGO_SHARD_PORT),
    on: ["mongo-shard"],
    from: MONGO_CLIENTS,
  },
];

export const PUBLIC_SERVICES: readonly PublicServiceSpec[] = [
  { id: "http", description: "HTTP to haproxy", protocol: "tcp", port: "80", on: ["lb"], sources: "any" },
  { id: "https", description: "HTTPS to haproxy", protocol: "tcp", port: "443", on: ["lb"], sources: "any", onlyWithTls: true },
  {
    id: "smtp",
    description: "SMTP to haproxy (mail ingress)",
    protocol: "tcp",
    port: String(SMTP_PORT),
    on: ["lb"],
    sources: "any",
    onlyWithIngress: true,
  },
  { id: "ssh", description: "SSH for admins", protocol: "tcp", port: "22", on: "all", sources: "admin" },
];

/** Debian packages each component's base cloud-config installs (later layers add their own). */
/**
 * Debian packages every host gets. openssh-server and sudo: every rollout connects over SSH as
 * the admin user and runs the host agent with sudo (named so that every image has them, the
 * lab's minimal one included).
 */
export const BASE_PACKAGES: readonly string[] = ["openssh-server", "sudo"];

export const PACKAGES: Readonly<Record<Component, readonly string[]>> = {
  lb: ["nftables", "haproxy", "keepalived", "curl", "jq"],
  // nodejs runs the services; curl fetches their artifacts (render/services.ts).
  app: ["nftables", "nodejs", "glusterfs-client", "curl"],
  parser: ["nftables", "nodejs", "glusterfs-client", "curl"],
  storage: ["nftables", "glusterfs-server", "xfsprogs"],
  // MongoDB's repository and version pin come from render/mongo-apt.ts; mongosh runs the bootstrap.
  "mongo-config": ["nftables", "mongodb-org-server", "mongodb-mongosh"],
  "mongo-shard": ["nftables", "mongodb-org-server", "mongodb-mongosh"],
};

/**
 * Address blocks in the subnet, as offsets from the network address. Fixed, so adding hosts to
 * one role never renumbers another (a changed IP would replace the server). Offsets 1-9 are
 * left to Hetzner's gateway and future use.
 */
export const ADDRESS_BLOCKS: Readonly<Record<"lb" | "storage" | "mongo" | "app" | "parser", { readonly first: number; readonly size: number }>> = {
  lb: { first: 10, size: 10 },
  storage: { first: 20, size: 20 },
  mongo: { first: 40, size: 60 },
  app: { first: 100, size: 75 },
  parser: { first: 175, size: 75 },
};

/** Hetzner: at most 10 servers in one spread placement group. */
export const MAX_PER_PLACEMENT_GROUP = 10;
/** Hetzner: at most 50 placement groups per project. */
export const MAX_PLACEMENT_GROUPS = 50;
