import { Construct } from "constructs";
import { Token } from "cdktf";
import { FloatingIp, FloatingIpAssignment } from "./hcloud.ts";
import type { BulwarkHost } from "./host.ts";

export interface EntryFloatingIpProps {
  /** Hetzner name of the Floating IP. */
  readonly name: string;
  /** Home location (where it is routed from). */
  readonly homeLocation: string;
  /**
   * Labels on the Floating IP.
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
  /**
   * Delete protection: the public entry address.
   * @default false - so `cdktf destroy` works; set true in production
   */
  readonly protection?: boolean;
}

/**
 * The entry address of the lb pair. keepalived's notify hook moves it through the Hetzner API
 * on failover. Terraform sets the first holder with a separate assignment (the lb hosts'
 * user_data refers to the address and id, so the IP cannot refer to a server) and ignores
 * `server_id` on both: an apply never moves it back (FACTS.md: otherwise Terraform and
 * keepalived fight over it).
 */
export class EntryFloatingIp extends Construct {
  readonly floatingIp: FloatingIp;

  constructor(scope: Construct, id: string, props: EntryFloatingIpProps) {
    super(scope, id);
    this.floatingIp = new FloatingIp(this, "FloatingIp", {
      name: props.name,
      type: "ipv4",
      homeLocation: props.homeLocation,
      description: "Entry address of the load-balancer pair; moved by keepalived on failover",
      labels: props.labels ?? {},
      deleteProtection: props.protection ?? false,
      lifecycle: { ignoreChanges: ["server_id"] },
    });
  }

  /** Assigns the address to `host` once, at creation; keepalived owns it afterwards. */
  assignInitiallyTo(host: BulwarkHost): FloatingIpAssignment {
    return new FloatingIpAssignment(this, "InitialAssignment", {
      floatingIpId: Token.asNumber(this.floatingIp.id),
      serverId: host.serverId,
      lifecycle: { ignoreChanges: ["server_id"] },
    });
  }

  get address(): string {
    return this.floatingIp.ipAddress;
  }

  get id(): string {
    return this.floatingIp.id;
  }
}
