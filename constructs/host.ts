import { Construct } from "constructs";
import type { PlannedHost } from "../plan/model.ts";
import { Server } from "./hcloud.ts";
import type { NetworkAttachment } from "./private-network.ts";

export interface BulwarkHostProps {
  /** The host as planned: name, type, image, private IP, labels. */
  readonly host: PlannedHost;
  /** Hetzner location. */
  readonly location: string;
  /** The rendered `#cloud-config` user_data (at most 32 KiB, checked by the renderer). */
  readonly userData: string;
  /** The host's place on the private network. */
  readonly network: NetworkAttachment;
  /** The spread placement group. */
  readonly placementGroupId: number;
  /** Hetzner firewalls applied at creation. */
  readonly firewallIds: number[];
  /** SSH keys put into root's authorized_keys at creation. */
  readonly sshKeyIds: string[];
  /**
   * Delete and rebuild protection (Hetzner requires both equal).
   * @default false - so `cdktf destroy` works; set true in production
   */
  readonly protection?: boolean;
}

/**
 * One server: on its static private IP, in its placement group, behind its firewall, with
 * its user_data (first boot only: an apply never replaces a server for a config change).
 * Public IPv4 and IPv6 stay on for outbound package installs and, on the lb hosts, for the
 * Floating IP; the firewall closes every inbound port the plan does not open.
 */
export class BulwarkHost extends Construct {
  private readonly server: Server;
  /** The host's name in the plan (e.g. `app-1`). */
  readonly name: string;

  constructor(scope: Construct, id: string, props: BulwarkHostProps) {
    super(scope, id);
    const protection = props.protection ?? false;
    this.name = props.host.name;
    this.server = new Server(this, "Server", {
      name: props.host.serverName,
      serverType: props.host.serverType,
      image: props.host.image,
      location: props.location,
      labels: { ...props.host.labels },
      userData: props.userData,
      sshKeys: props.sshKeyIds,
      placementGroupId: props.placementGroupId,
      firewallIds: props.firewallIds,
      publicNet: [{ ipv4Enabled: true, ipv6Enabled: true }],
      network: [{ networkId: props.network.networkId, ip: props.network.ip }],
      deleteProtection: protection,
      rebuildProtection: protection,
      shutdownBeforeDeletion: true,
      dependsOn: props.network.dependsOn,
      // user_data, image and ssh_keys force a new server in the provider. They are read at the
      // first boot only; later changes reach the host through the rollout (constructs/rollout.ts),
      // and a server is replaced only when asked for (`npm run replace`).
      lifecycle: { ignoreChanges: ["user_data", "image", "ssh_keys"] },
    });
  }

  /** The server's Hetzner id (a token until deploy); a new one when the server is replaced. */
  get serverId(): string {
    return this.server.id;
  }

  /** The server's public IPv4 address (a token until deploy). */
  get address(): string {
    return this.server.ipv4Address;
  }
}
