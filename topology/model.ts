/**
 * The topology input: what a user writes (as a TS object, a JSON file or a YAML file).
 *
 * The JSON Schema in `schema.ts` checks the shape; `rules.ts` checks what spans fields.
 * Defaults live in the schema (`default`) and are applied by ajv at load time, so the
 * README field table, the validation and the runtime all read one source.
 */

/** Hetzner locations Bulwark knows, by network zone. */
export const LOCATIONS_BY_ZONE = {
  "eu-central": ["fsn1", "nbg1", "hel1"],
  "us-east": ["ash"],
  "us-west": ["hil"],
  "ap-southeast": ["sin"],
} as const;

export type NetworkZone = keyof typeof LOCATIONS_BY_ZONE;
export type Location = (typeof LOCATIONS_BY_ZONE)[NetworkZone][number];

/** Server types Hetzner sells today (docs/facts.md#hetzner-cloud). */
export const CURRENT_SERVER_TYPES = [
  "cx23",
  "cx33",
  "cx43",
  "cx53",
  "cpx22",
  "cpx32",
  "cpx42",
  "cpx52",
  "cpx62",
  "cax11",
  "cax21",
  "cax31",
  "cax41",
  "ccx13",
  "ccx23",
  "ccx33",
  "ccx43",
  "ccx53",
  "ccx63",
] as const;

/** Server types retired at the end of 2025 (docs/facts.md#hetzner-cloud). */
export const RETIRED_SERVER_TYPES = ["cx22", "cx32", "cx42", "cx52", "cpx11", "cpx21", "cpx31", "cpx41", "cpx51"] as const;

export type ServerType = (typeof CURRENT_SERVER_TYPES)[number];

export const IMAGES = ["debian-12", "debian-13", "ubuntu-24.04"] as const;
export type Image = (typeof IMAGES)[number];

export const ROLES = ["lb", "app", "parser", "storage", "mongo"] as const;
export type Role = (typeof ROLES)[number];

/** Hetzner labels: keys and values as the API accepts them. */
export type Labels = Readonly<Record<string, string>>;

/** Fields every role accepts. */
export interface RoleCommon {
  /** Hetzner server type of every host of the role. */
  readonly serverType: ServerType;
  /** OS image; the topology-wide `image` when unset. */
  readonly image?: Image;
  /** Host names are `<namePrefix>-<n>` (mongo: `<namePrefix>-cfg-<n>`, `<namePrefix>-s<k>-<n>`). */
  readonly namePrefix: string;
  /** Extra labels on this role's servers. */
  readonly labels?: Labels;
}

export type LbFailover = "floating-ip" | "vrrp-vip";

export interface LbRole extends RoleCommon {
  /** Always 2: an active and a standby load balancer. */
  readonly count: 2;
  /** `floating-ip` moves a Hetzner Floating IP by API; `vrrp-vip` lets keepalived hold a layer-2 VIP (private clouds). */
  readonly failover: LbFailover;
  /** The layer-2 VIP keepalived holds in `vrrp-vip` mode (required there, unused otherwise). */
  readonly vip?: { readonly address: string; readonly interface: string };
  /** Serve HTTPS on 443 with the certificate from the `tls_certificate_pem` Terraform variable, and redirect 80 to it. */
  readonly tls: boolean;
}

export interface ComputeRole extends RoleCommon {
  /** Number of hosts. */
  readonly count: number;
}

export interface StorageRole extends RoleCommon {
  /** Number of gluster servers: a multiple of 3 (replica 3, or 2 data + 1 arbiter per set). */
  readonly count: number;
  /** Size of the Hetzner volume that is each server's brick, in GB. */
  readonly volumeSizeGb: number;
  /** Data copies per file: 3, or 2 with an arbiter. */
  readonly replica: 2 | 3;
  /** With replica 2, the third brick of each set holds metadata only. Required for replica 2. */
  readonly arbiter: boolean;
}

export interface MongoRole extends RoleCommon {
  /** Members of the config-server replica set. */
  readonly configServers: number;
  /** Number of shards. */
  readonly shards: number;
  /** Members of each shard's replica set. */
  readonly membersPerShard: number;
}

export interface AdminSshKey {
  /** Name of the Hetzner SSH key resource. */
  readonly name: string;
  /** OpenSSH public key line. */
  readonly publicKey: string;
}

export interface Admin {
  /** The login user created on every host (sudo, key only). */
  readonly user: string;
  /** Public keys allowed to log in as that user. */
  readonly sshKeys: readonly AdminSshKey[];
  /** Source CIDRs from which port 22 is open on the public side. Empty: SSH is closed. */
  readonly sshSourceCidrs: readonly string[];
  /** Explicit opt-in needed before `sshSourceCidrs` may cover "anywhere": more than a /8 of IPv4 or a /16 of IPv6 (cidr.ts ANYWHERE_FLOOR). */
  readonly allowSshFromAnywhere: boolean;
}

/** Where the app and parser hosts fetch the services' artifacts (services/, services/build.ts). */
export interface ServicesConfig {
  /**
   * https base URL ending in `/`; a host fetches `<artifactBaseUrl><name>.tar.gz` and checks the
   * sha256 that synth computed from the sources. Upload `dist/services/*` there before deploying.
   */
  readonly artifactBaseUrl: string;
}

/**
 * Mail ingress: an SMTP receiver on every app host (services/ingress) behind a `mode tcp`
 * frontend on port 25 of the entry. A message gets 250 only once it is fsynced into the
 * replicated spool. Off unless turned on: it needs the domains to accept mail for.
 */
export interface MailConfig {
  /** Run the receiver and open port 25 on the entry. */
  readonly ingress: boolean;
  /** Recipient domains accepted (lowercase); any other recipient gets 550: never an open relay. Required with `ingress`. */
  readonly domains: readonly string[];
  /** Largest message accepted, counted while reading DATA (not only the declared SIZE). */
  readonly maxMessageBytes: number;
  /** Recipients per message. */
  readonly maxRecipients: number;
  /** Concurrent SMTP connections per app host. */
  readonly maxConnections: number;
  /** Commands a client may send outside a mail transaction (before MAIL) before it is dropped. */
  readonly maxCommandsBeforeMail: number;
  /** Idle socket and DATA timeout, seconds. */
  readonly timeoutS: number;
}

export interface Topology {
  /** Project name; prefixes every Hetzner resource name and names the stack. */
  readonly name: string;
  readonly location: Location;
  readonly networkZone: NetworkZone;
  /** Default OS image of every role. */
  readonly image: Image;
  readonly network: {
    /** The private network's range (RFC 1918). */
    readonly ipRange: string;
    /** The one cloud subnet the hosts live in; inside `ipRange`. */
    readonly subnet: string;
  };
  /** Labels on every resource. */
  readonly labels: Labels;
  readonly admin: Admin;
  readonly roles: {
    readonly lb: LbRole;
    readonly app: ComputeRole;
    readonly parser: ComputeRole;
    readonly storage: StorageRole;
    readonly mongo: MongoRole;
  };
  readonly services: ServicesConfig;
  readonly mail: MailConfig;
  /**
   * Opt out of the single-host-failure gate (for staging). The reason is printed at the top
   * of the review. Unset: synth fails when losing any one host would stop the service.
   */
  readonly allowSinglePointsOfFailure?: { readonly reason: string };
}

/** What a user may write: the same shape, every defaulted field optional. */
export type TopologyInput = DeepPartial<Topology>;

type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly DeepPartial<U>[]
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;
