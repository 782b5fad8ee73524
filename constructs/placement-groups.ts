import { Construct } from "constructs";
import { Token } from "cdktf";
import type { PlacementGroupPlan } from "../plan/model.ts";
import { PlacementGroup } from "./hcloud.ts";
import { constructId } from "./ids.ts";

export interface PlacementGroupsProps {
  /** Prefix of every group's Hetzner name (the project name). */
  readonly prefix: string;
  /** The groups of the plan (each at most 10 servers). */
  readonly groups: readonly PlacementGroupPlan[];
  /**
   * Labels on every group.
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/** Spread placement groups: each group's servers run on distinct physical hosts. */
export class PlacementGroups extends Construct {
  private readonly byHost = new Map<string, PlacementGroup>();

  constructor(scope: Construct, id: string, props: PlacementGroupsProps) {
    super(scope, id);
    for (const group of props.groups) {
      const resource = new PlacementGroup(this, constructId(group.name), {
        name: `${props.prefix}-${group.name}`,
        type: "spread",
        labels: { ...(props.labels ?? {}), "bulwark/role": group.role },
      });
      for (const host of group.hosts) this.byHost.set(host, resource);
    }
  }

  /** The placement group id for a host; throws for a host the plan did not place. */
  idFor(host: string): number {
    const group = this.byHost.get(host);
    if (!group) throw new Error(`PlacementGroups: host ${host} is in no placement group of the plan`);
    return Token.asNumber(group.id);
  }
}
