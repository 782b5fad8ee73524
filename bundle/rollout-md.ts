/**
 * review/ROLLOUT.md: what `cdktf deploy` does to running hosts, from the plan and the rendered
 * files: the rollout order with each step's gate, and for every host each managed file with the
 * action a change to it triggers (docs/day2.md).
 */
import type { Plan } from "../plan/model.ts";
import { renderTemplate } from "../render/handlebars.ts";
import { describeAction } from "../render/host-file.ts";
import type { RenderedHost } from "../render/host.ts";

interface RolloutPage {
  readonly name: string;
  readonly steps: readonly { readonly n: number; readonly host: string; readonly gate: string; readonly bound: string }[];
  readonly hosts: readonly {
    readonly host: string;
    readonly files: readonly { readonly path: string; readonly mode: string; readonly action: string }[];
  }[];
}

export function rolloutPage(plan: Plan, rendered: readonly RenderedHost[]): string {
  const page: RolloutPage = {
    name: plan.name,
    steps: plan.rollout.steps.map((s, i) => ({ n: i + 1, host: s.host, gate: s.gate, bound: `${plan.rollout.gates[s.gate].timeoutS} s` })),
    hosts: plan.rollout.steps.map((s) => ({
      host: s.host,
      files: rendered
        .find((r) => r.host.name === s.host)!
        .files.map((f) => ({ path: f.path, mode: `${f.permissions} ${f.owner}`, action: describeAction(f.action) })),
    })),
  };
  return renderTemplate("bundle/ROLLOUT.md", page);
}
