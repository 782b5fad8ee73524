/**
 * review/CHANGES.md, when synth is given a base (`--base <previous review dir or git ref>`): what a deploy
 * of this change does, for the pull request's reviewer. For each host whose files differ from the
 * base bundle, in rollout order: the unified diff of each file (both sides as the review shows
 * them, so deploy-time values and secrets stay placeholders), the action each change triggers,
 * and the disruption to expect; and which servers a plain `terraform apply` would replace
 * (none for a configuration change: servers ignore user_data).
 */
import { createTwoFilesPatch } from "diff";
import type { Plan, PlannedHost } from "../plan/model.ts";
import type { GateKind } from "../plan/rollout.ts";
import { showDeployValues } from "../render/deploy-values.ts";
import { renderTemplate } from "../render/handlebars.ts";
import { describeAction, type FileAction } from "../render/host-file.ts";
import type { RenderedHost } from "../render/host.ts";

/** A previous review bundle, read before the new one replaces it: its files by relative path. */
export interface BaseBundle {
  readonly dir: string;
  readonly files: ReadonlyMap<string, string>;
  /** Its plan.json, when it has one. */
  readonly plan?: Pick<Plan, "hosts">;
}

interface ChangedFile {
  readonly path: string;
  readonly change: "changed" | "added" | "removed";
  readonly action: string;
  readonly diff: string;
}

interface ChangedHost {
  readonly host: string;
  readonly step: number;
  readonly gate: string;
  readonly disruption: string;
  readonly files: readonly ChangedFile[];
}

interface ChangesPage {
  readonly base: string;
  readonly hosts: readonly ChangedHost[];
  readonly unchanged: string;
  readonly servers: readonly { readonly host: string; readonly what: string }[];
}

/** What the reviewer should expect on this host while its step runs, from the role and the actions. */
function disruption(gate: GateKind, actions: readonly FileAction[]): string {
  const restarts = actions.filter((a) => a.kind === "restart").map((a) => (a.kind === "restart" ? a.unit : ""));
  if (restarts.length === 0) {
    return actions.some((a) => a.kind === "reload" || a.kind === "run")
      ? "none: a hitless reload or an atomic command"
      : "none: the files apply at their next use or the next boot";
  }
  switch (gate) {
    case "lb":
      return restarts.some((u) => u === "haproxy.service" || u === "keepalived.service")
        ? "if this lb is the MASTER, it hands the Floating IP to its peer first: one failover, no failed request in the lab"
        : `${restarts.join(", ")} restart; the entry keeps serving`;
    case "app":
      return "drained from haproxy first, then restarted and gated: no failed request in the lab";
    case "parser":
      return "stops claiming and releases its claims, restarts; the other parsers take the spool meanwhile";
    case "storage":
      return "the volume stays up on the other servers; the next server waits until no heal entry is pending";
    case "mongo":
      return (
        "a PRIMARY steps down first: one election in its replica set (writes to it pause for about the election time); " +
        "the cluster's balancer is stopped before the first Mongo step and started after the last"
      );
  }
}

/**
 * Which servers a plain apply would create, replace, resize or destroy: added or removed hosts, a
 * changed name or private address, a changed server type. Read from the two plans, so servers
 * only: volumes, the network and the Floating IP follow the topology's own fields, not a file.
 */
function serverChanges(plan: Plan, base: BaseBundle): ChangesPage["servers"] {
  if (!base.plan) return [{ host: "(all)", what: "unknown: the base bundle has no plan.json" }];
  const before = new Map(base.plan.hosts.map((h) => [h.name, h]));
  const out: { host: string; what: string }[] = [];
  for (const h of plan.hosts) {
    const b = before.get(h.name) as PlannedHost | undefined;
    if (!b) out.push({ host: h.name, what: "created (a new host)" });
    else if (b.serverName !== h.serverName || b.privateIp !== h.privateIp)
      out.push({ host: h.name, what: "replaced (its name or private address changed)" });
    else if (b.serverType !== h.serverType)
      out.push({ host: h.name, what: `resized in place from ${b.serverType} to ${h.serverType} (Hetzner powers it off)` });
  }
  for (const name of before.keys())
    if (!plan.hosts.some((h) => h.name === name)) out.push({ host: name, what: "destroyed (no longer in the topology)" });
  return out;
}

/** `diff -u` style, without jsdiff's `Index:`/`====` header lines. */
function unifiedDiff(from: string, to: string, before: string, after: string): string {
  return createTwoFilesPatch(from, to, before, after, undefined, undefined, { context: 3 })
    .split("\n")
    .filter((line) => !/^(=+|Index: .*)$/.test(line))
    .join("\n")
    .trimEnd();
}

export function changesPage(plan: Plan, rendered: readonly RenderedHost[], base: BaseBundle): string {
  const hosts: ChangedHost[] = [];
  for (const [i, step] of plan.rollout.steps.entries()) {
    const r = rendered.find((x) => x.host.name === step.host)!;
    const prefix = `hosts/${step.host}`;
    const files: ChangedFile[] = [];
    const actions: FileAction[] = [];
    for (const f of r.files) {
      const now = showDeployValues(f.content);
      const was = base.files.get(`${prefix}${f.path}`);
      if (was === now) continue;
      actions.push(f.action);
      files.push({
        path: f.path,
        change: was === undefined ? "added" : "changed",
        action: describeAction(f.action),
        diff: unifiedDiff(`a${f.path}`, `b${f.path}`, was ?? "", now),
      });
    }
    const current = new Set(r.files.map((f) => `${prefix}${f.path}`));
    for (const [path, was] of base.files) {
      if (!path.startsWith(`${prefix}/`) || path === `${prefix}/user-data.yaml` || current.has(path)) continue;
      files.push({
        path: path.slice(prefix.length),
        change: "removed",
        action: "none (left on the host: the agent writes files, it does not delete them)",
        diff: unifiedDiff(`a${path.slice(prefix.length)}`, "/dev/null", was, ""),
      });
    }
    if (files.length > 0) hosts.push({ host: step.host, step: i + 1, gate: step.gate, disruption: disruption(step.gate, actions), files });
  }
  const changed = new Set(hosts.map((h) => h.host));
  const page: ChangesPage = {
    base: base.dir,
    hosts,
    unchanged:
      plan.rollout.steps
        .filter((s) => !changed.has(s.host))
        .map((s) => s.host)
        .join(", ") || "none",
    servers: serverChanges(plan, base),
  };
  return renderTemplate("bundle/CHANGES.md", page);
}
