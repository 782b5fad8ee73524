import { Construct } from "constructs";
import { Token } from "cdktf";
import type { ITerraformDependable } from "cdktf";
import { Network, NetworkSubnet } from "./hcloud.ts";

export interface PrivateNetworkProps {
  /** Hetzner resource name of the network. */
  readonly name: string;
  /** The network's RFC 1918 range. */
  readonly ipRange: string;
  /** The cloud subnet the servers live in. */
  readonly subnet: string;
  readonly networkZone: string;
  /**
   * Labels on the network.
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/** A server's attachment to the private network: what the server's `network` block holds. */
export interface NetworkAttachment {
  readonly networkId: number;
  readonly ip: string;
  /** The server must wait for the subnet, or Hetzner cannot place the IP. */
  readonly dependsOn: ITerraformDependable[];
}

/** The one private network and its cloud subnet. */
export class PrivateNetwork extends Construct {
  private readonly network: Network;
  private readonly subnet: NetworkSubnet;

  constructor(scope: Construct, id: string, props: PrivateNetworkProps) {
    super(scope, id);
    this.network = new Network(this, "Network", { name: props.name, ipRange: props.ipRange, labels: props.labels ?? {} });
    this.subnet = new NetworkSubnet(this, "Subnet", {
      networkId: Token.asNumber(this.network.id),
      type: "cloud",
      networkZone: props.networkZone,
      ipRange: props.subnet,
    });
  }

  /** The network block for a server that holds `ip` on this network. */
  attach(ip: string): NetworkAttachment {
    return { networkId: Token.asNumber(this.network.id), ip, dependsOn: [this.subnet] };
  }
}
