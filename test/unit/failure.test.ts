import { describe, expect, it } from "vitest";
import { analyzeFailures } from "../../plan/failure.ts";
import { buildPlan } from "../../plan/plan.ts";
import { validateTopology } from "../../topology/load.ts";
import { prepare } from "../../synth/pipeline.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const analysis = (patch: Record<string, unknown> = {}) => analyzeFailures(buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS));

describe("single-host failure analysis", () => {
  it("GIVEN the seed WHEN each host is lost THEN the service survives every loss", () => {
    const a = analysis();
    expect(a.losses).toHaveLength(18);
    expect(a.singlePointsOfFailure).toEqual([]);
  });

  it("GIVEN lb-1 is lost WHEN analysed THEN the lb rule holds with 1 of 2 and names the survivor", () => {
    const lb = analysis()
      .losses.find((l) => l.host === "lb-1")!
      .verdicts.find((v) => v.subject === "lb")!;
    expect(lb).toMatchObject({ ok: true, affected: true });
    expect(lb.reason).toBe("1 of 2 load balancers left; keepalived moves the entry address to lb-2");
  });

  it("GIVEN a single app host WHEN analysed THEN its loss is a single point of failure", () => {
    const a = analysis({ roles: { app: { count: 1 } } });
    expect(a.singlePointsOfFailure).toEqual(["app-1"]);
    expect(a.losses.find((l) => l.host === "app-1")!.verdicts.find((v) => !v.ok)).toMatchObject({ subject: "app", reason: "no app host left" });
  });

  it("GIVEN a replica 2 + arbiter set WHEN one server is lost THEN client quorum (2 of 3 with the arbiter) holds", () => {
    const a = analysis({ roles: { storage: { replica: 2, arbiter: true } } });
    const v = a.losses.find((l) => l.host === "storage-3")!.verdicts.find((x) => x.subject === "storage")!;
    expect(v.ok).toBe(true);
    expect(v.reason).toContain("the arbiter counts");
  });

  it("GIVEN 6 storage servers WHEN one is lost THEN only its own replica set is affected", () => {
    const a = analysis({ roles: { storage: { count: 6 } } });
    const verdicts = a.losses.find((l) => l.host === "storage-4")!.verdicts.filter((v) => v.subject.startsWith("storage"));
    expect(verdicts.map((v) => [v.subject, v.affected, v.ok])).toEqual([
      ["storage set 1", false, true],
      ["storage set 2", true, true],
    ]);
  });

  it("GIVEN a single point of failure WHEN prepared THEN synth stops with the field to fix", () => {
    expect(() => prepare({ kind: "object", topology: withInput({ roles: { parser: { count: 1 } } }) })).toThrow(
      /^roles\.parser\.count: losing parser-1 would stop the service \(parser: no parser host left\); .*got 1\. Fix: .*allowSinglePointsOfFailure/,
    );
  });

  it("GIVEN the explicit opt-out WHEN prepared THEN synth goes on and the plan carries the reason", () => {
    const p = prepare({
      kind: "object",
      topology: withInput({ roles: { parser: { count: 1 } }, allowSinglePointsOfFailure: { reason: "staging" } }),
    });
    expect(p.plan.singlePointsOfFailureAllowed).toBe("staging");
    expect(p.failures.singlePointsOfFailure).toEqual(["parser-1"]);
  });
});
