/** Shared test fixtures: a valid minimal topology input and helpers to vary it. */
import type { PlanInputs } from "../../plan/plan.ts";
import { EXAMPLE_ADMIN_KEY } from "../../topology/defaults.ts";
import type { TopologyInput } from "../../topology/model.ts";

/** The smallest valid user input: only the required admin key, every other field defaulted. */
export const MINIMAL: TopologyInput = {
  admin: { sshKeys: [{ name: "ops", publicKey: EXAMPLE_ADMIN_KEY }] },
};

/**
 * Plan inputs for tests that plan without building the services: fixed stand-ins for the
 * artifacts' sha256 (buildPlan(topology, TEST_PLAN_INPUTS)). Tests of the real artifacts, the
 * goldens and synth use the build (prepare/synthesize without `artifacts`).
 */
export const TEST_PLAN_INPUTS: PlanInputs = {
  artifacts: { parser: { sha256: "a".repeat(64) }, "mail-api": { sha256: "b".repeat(64) }, ingress: { sha256: "c".repeat(64) } },
};

/** MINIMAL with `patch` merged in (objects merged, everything else replaced). */
export function withInput(patch: Record<string, unknown>): TopologyInput {
  return merge(structuredClone(MINIMAL) as Record<string, unknown>, patch) as TopologyInput;
}

function merge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(patch)) {
    const current = base[key];
    base[key] =
      value && typeof value === "object" && !Array.isArray(value) && current && typeof current === "object" && !Array.isArray(current)
        ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return base;
}

/** A valid topology of exactly `hosts` servers. */
export { sizedTopology as sizedInput } from "../../scripts/sized-topology.ts";
