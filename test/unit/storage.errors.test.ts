/** Storage error cases: the topology rules a storage section must pass, with the message a user reads. */
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

describe("storage topology errors", () => {
  it.each([
    [
      "replica 2 without an arbiter",
      { roles: { storage: { replica: 2 } } },
      /^roles\.storage\.arbiter: replica 2 without an arbiter risks split brain; got false\. Fix: set arbiter: true, or use replica: 3$/,
    ],
    [
      "an arbiter with replica 3",
      { roles: { storage: { arbiter: true } } },
      /^roles\.storage\.arbiter: an arbiter only goes with replica 2; got true\. Fix: set arbiter: false, or use replica: 2$/,
    ],
    [
      "4 servers (not whole replica sets)",
      { roles: { storage: { count: 4 } } },
      /^roles\.storage\.count: must be a multiple of 3 .*; got 4\. Fix: use 3, 6, 9, \.\.\.$/,
    ],
    [
      "a brick volume below Hetzner's 10 GB",
      { roles: { storage: { volumeSizeGb: 5 } } },
      /^roles\.storage\.volumeSizeGb: must be >= 10; got 5\. Fix: use a whole number of GB from 10 to 10240$/,
    ],
  ])("GIVEN %s WHEN validated THEN the message names path, value and fix", (_name, patch, expected) => {
    expect(() => validateTopology(withInput(patch))).toThrow(expected);
  });

  it("GIVEN more storage servers than the storage address block holds WHEN planned THEN the error names the block and the fix", () => {
    expect(() => buildPlan(validateTopology(withInput({ roles: { storage: { count: 21 } } })), TEST_PLAN_INPUTS)).toThrow(
      /^roles\.storage: has 21 hosts, but the storage address block of 10\.0\.1\.0\/24 holds 20 .*Fix: use at most 20 storage hosts$/,
    );
  });
});
