import { Construct } from "constructs";
import { FloatingIp } from "./hcloud.ts";

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
 * The entry address of the lb pair. Terraform creates it unassigned and never assigns it: the
 * VRRP MASTER's takeover hook routes it to itself through the Hetzner API, at first boot as on
 * every failover, and `server_id` is ignored. So no apply ever moves it, not even when a server
 * is replaced or deleted (with an assignment resource Terraform would move it back to the server
 * it names: docs/facts.md#the-hcloud-terraform-provider).
 */
export class EntryFloatingIp extends Construct {
  private readonly resource: FloatingIp;

  constructor(scope: Construct, id: string, props: EntryFloatingIpProps) {
    super(scope, id);
    this.resource = new FloatingIp(this, "FloatingIp", {
      name: props.name,
      type: "ipv4",
      homeLocation: props.homeLocation,
      description: "Entry address of the load-balancer pair; moved by keepalived on failover",
      labels: props.labels ?? {},
      deleteProtection: props.protection ?? false,
      lifecycle: { ignoreChanges: ["server_id"] },
    });
  }

  /** The entry address (IPv4; a token until deploy): what DNS points at and the lb hosts configure. */
  get address(): string {
    return this.resource.ipAddress;
  }

  /** The Floating IP's Hetzner id (a token until deploy): the one the takeover hook assigns. */
  get floatingIpId(): string {
    return this.resource.id;
  }
}
