import { Construct } from "constructs";
import { Token } from "cdktf";
import type { PublicFirewallPlan } from "../plan/model.ts";
import { Firewall } from "./hcloud.ts";
import { constructId } from "./ids.ts";

export interface PublicFirewallsProps {
  /** Prefix of every firewall's Hetzner name (the project name). */
  readonly prefix: string;
  /** The public profiles of the plan. */
  readonly firewalls: readonly PublicFirewallPlan[];
  /**
   * Labels on every firewall.
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/**
 * Hetzner firewalls for the public side: inbound is implicitly denied, so each holds only the
 * plan's allow rules. Servers get them at creation (`firewallIds`), so no port is ever open
 * before the firewall applies.
 */
export class PublicFirewalls extends Construct {
  private readonly byHost = new Map<string, Firewall>();

  constructor(scope: Construct, id: string, props: PublicFirewallsProps) {
    super(scope, id);
    for (const fw of props.firewalls) {
      if (fw.hosts.length === 0) continue;
      const resource = new Firewall(this, constructId(fw.name), {
        name: `${props.prefix}-${fw.name}`,
        labels: props.labels ?? {},
        rule: fw.rules.map((r) => ({
          direction: "in",
          protocol: r.protocol,
          port: r.port,
          sourceIps: [...r.sourceIps],
          description: r.description,
        })),
      });
      for (const host of fw.hosts) this.byHost.set(host, resource);
    }
  }

  /** The firewall ids a host's server is created with. */
  idsFor(host: string): number[] {
    const fw = this.byHost.get(host);
    if (!fw) throw new Error(`PublicFirewalls: host ${host} has no public firewall in the plan`);
    return [Token.asNumber(fw.id)];
  }
}
