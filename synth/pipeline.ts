/**
 * The one direction of data: topology → validate → plan → render → constructs → synth,
 * plus the review bundle. `prepare` (no cdktf) does the one I/O step before planning, the
 * services' build (services/build.ts), unless the caller passes the artifacts' sha256; plan and
 * render are pure. `buildApp` adds the constructs.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { App } from "cdktf";
import { checkReviewDir, readBaseBundle, writeReviewBundle, type ReviewBundle } from "../bundle/write.ts";
import { BulwarkStack } from "../constructs/stack.ts";
import { analyzeFailures, type FailureAnalysis } from "../plan/failure.ts";
import type { Plan } from "../plan/model.ts";
import { buildPlan } from "../plan/plan.ts";
import type { ServiceArtifactDigests } from "../plan/services.ts";
import { renderAll, type RenderedHost } from "../render/host.ts";
import { serviceArtifacts } from "../services/build.ts";
import { UserError } from "../topology/errors.ts";
import { loadTopology, type TopologySource } from "../topology/load.ts";
import type { Topology } from "../topology/model.ts";

export interface Prepared {
  readonly topology: Topology;
  readonly plan: Plan;
  readonly failures: FailureAnalysis;
  readonly rendered: readonly RenderedHost[];
}

export interface PrepareOptions {
  /**
   * The sha256 of each service artifact, which the plan carries and each host verifies.
   * Default: the build in dist/services/ (services/build.ts serviceArtifacts(): reused while
   * the sources are unchanged, rebuilt otherwise). Tests may pass fixed digests.
   */
  readonly artifacts?: ServiceArtifactDigests;
}

/** Validates, gets the artifacts' sha256, plans, checks the single-host-failure gate and renders every host. */
export function prepare(source: TopologySource, options: PrepareOptions = {}): Prepared {
  const topology = loadTopology(source);
  const plan = buildPlan(topology, { artifacts: options.artifacts ?? serviceArtifacts() });
  const failures = analyzeFailures(plan);
  if (failures.singlePointsOfFailure.length > 0 && plan.singlePointsOfFailureAllowed === undefined) {
    const loss = failures.losses.find((l) => !l.survives)!;
    const broken = loss.verdicts.find((v) => !v.ok)!;
    throw new UserError(
      broken.field,
      `losing ${loss.host} would stop the service (${broken.subject}: ${broken.reason}); ` +
        `single points of failure: ${failures.singlePointsOfFailure.join(", ")}`,
      broken.size,
      `add hosts so that no single loss stops ${broken.subject}, or for staging set allowSinglePointsOfFailure: {reason: "..."}`,
    );
  }
  return { topology, plan, failures, rendered: renderAll(plan) };
}

/** The cdktf app with the stack for a prepared topology. */
function buildApp(prepared: Prepared, outdir: string): { app: App; stack: BulwarkStack } {
  const app = new App({ outdir });
  const stack = new BulwarkStack(app, prepared.plan.name, { plan: prepared.plan, rendered: prepared.rendered });
  return { app, stack };
}

export interface SynthResult {
  readonly prepared: Prepared;
  readonly stackFile: string;
  readonly review: ReviewBundle;
}

/** Everything `npm run synth` does: cdktf.out/ plus the review bundle. */
export function synthesize(
  source: TopologySource,
  outdir: string,
  reviewDir: string,
  options: PrepareOptions & { readonly base?: string } = {},
): SynthResult {
  // Before anything is written: the review directory is replaced as a whole, so it must be one;
  // the base of CHANGES.md is read first (it may be that very directory).
  checkReviewDir(reviewDir);
  const base = options.base !== undefined ? readBaseBundle(options.base) : undefined;
  const prepared = prepare(source, options);
  // Like `cdktf synth`, start from an empty stacks/ so no stale stack is left to deploy.
  rmSync(join(outdir, "stacks"), { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const { app } = buildApp(prepared, outdir);
  app.synth();
  const review = writeReviewBundle(reviewDir, prepared.plan, prepared.failures, prepared.rendered, base);
  return { prepared, stackFile: join(outdir, "stacks", prepared.plan.name, "cdk.tf.json"), review };
}
