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
  readonly steps: readonly { readonly n: string; readonly host: string; readonly gate: string; readonly bound: string }[];
  readonly hosts: readonly {
    readonly host: string;
    readonly files: readonly { readonly path: string; readonly mode: string; readonly action: string }[];
  }[];
}

export function rolloutPage(plan: Plan, rendered: readonly RenderedHost[]): string {
  const page: RolloutPage = {
    name: plan.name,
    steps: orderRows(plan),
    hosts: plan.rollout.steps.map((s) => ({
      host: s.host,
      files: rendered
        .find((r) => r.host.name === s.host)!
        .files.map((f) => ({ path: f.path, mode: `${f.permissions} ${f.owner}`, action: describeAction(f.action) })),
    })),
  };
  return renderTemplate("bundle/ROLLOUT.md", page);
}

/** The order table: each host's step, and the balancer's stop and start around the Mongo steps. */
function orderRows(plan: Plan): RolloutPage["steps"] {
  const r = plan.rollout;
  const rows: { n: string; host: string; gate: string; bound: string }[] = [];
  const firstMongo = r.steps.findIndex((s) => s.gate === "mongo");
  const lastMongo = r.steps.map((s) => s.gate).lastIndexOf("mongo");
  const balancerRow = (verb: string) => ({
    n: "–",
    host: r.balancer!.host,
    gate: `\`bulwark-host balancer ${verb}\` (the sharded cluster's balancer)`,
    bound: `${r.balancer!.timeoutS} s`,
  });
  for (const [i, s] of r.steps.entries()) {
    if (r.balancer && i === firstMongo) rows.push(balancerRow("stop"));
    rows.push({ n: String(i + 1), host: s.host, gate: s.gate, bound: `${r.gates[s.gate].timeoutS} s` });
    if (r.balancer && i === lastMongo) rows.push(balancerRow("start"));
  }
  return rows;
}
