/**
 * Writes the review bundle: every file each host will hold (under hosts/<host>/, at its path
 * on the host), each host's user-data, the plan, and TOPOLOGY.md. Deploy-time values (and so
 * every secret) appear only as `<set at deploy: name>` placeholders. The directory is emptied
 * first so a rerun leaves no stale file and gives byte-identical output.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { FailureAnalysis } from "../plan/failure.ts";
import type { Plan } from "../plan/model.ts";
import { showDeployValues } from "../render/deploy-values.ts";
import type { RenderedHost } from "../render/host.ts";
import { topologyMarkdown } from "./topology-md.ts";

export interface ReviewBundle {
  /** Paths relative to the bundle root, sorted. */
  readonly files: readonly string[];
}

export function writeReviewBundle(dir: string, plan: Plan, failures: FailureAnalysis, rendered: readonly RenderedHost[]): ReviewBundle {
  rmSync(dir, { recursive: true, force: true });
  const written: string[] = [];
  const put = (relative: string, content: string) => {
    const path = join(dir, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    written.push(relative);
  };
  put("TOPOLOGY.md", topologyMarkdown(plan, failures));
  put("plan.json", `${JSON.stringify(plan, null, 2)}\n`);
  for (const r of rendered) {
    put(join("hosts", r.host.name, "user-data.yaml"), showDeployValues(r.userData));
    for (const file of r.files) put(join("hosts", r.host.name, file.path), showDeployValues(file.content));
  }
  return { files: written.sort() };
}
