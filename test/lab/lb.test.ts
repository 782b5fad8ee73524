/**
 * The lab tier for the HA entry: the whole lab (lab/lb-lab.ts) with the acceptance counts, its
 * requirements asserted, and nothing of the run left behind. Needs root, systemd-nspawn,
 * debootstrap and the Debian mirror for the first image build (bash .ci/run has all of them).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ACCEPTANCE_COUNTS, LB_REQUIREMENTS, runLbLab } from "../../lab/lb-lab.ts";
import { LabRun, leftovers } from "../../lab/run.ts";
import { haveTool, needRoot } from "../support/tools.ts";

const ready =
  haveTool("systemd-nspawn", "systemd-container") &&
  haveTool("debootstrap", "debootstrap") &&
  haveTool("ip", "iproute2") &&
  needRoot("the lb lab (namespaces, containers)");

describe.runIf(ready)("lb lab", () => {
  const run = new LabRun("lb-test");
  let report: Awaited<ReturnType<typeof runLbLab>> | undefined;

  afterAll(async () => {
    await run.cleanup();
  }, 120_000);

  it(
    "GIVEN both lbs booted from their user-data WHEN every failure scenario is played THEN each requirement holds",
    async () => {
      report = await runLbLab(run, ACCEPTANCE_COUNTS);
      mkdirSync(join(import.meta.dirname, "../../reports"), { recursive: true });
      writeFileSync(join(import.meta.dirname, "../../reports/lb-failover.json"), `${JSON.stringify(report, null, 2)}\n`);
      const s = report.scenarios;
      expect
        .soft(s.haproxy_kill.median_s, "a: haproxy kill, median s until answered again")
        .toBeLessThanOrEqual(LB_REQUIREMENTS.haproxy_kill_median_s);
      expect.soft(s.host_loss.median_s, "b: host loss, median s until answered again").toBeLessThanOrEqual(LB_REQUIREMENTS.host_loss_median_s);
      expect.soft(s.backend_kill.failed_requests, "c: failed idempotent GETs").toBe(0);
      expect.soft(s.backend_kill.markdown_max_s, "c: slowest mark-down, s").toBeLessThanOrEqual(LB_REQUIREMENTS.backend_markdown_s);
      expect.soft(s.reloads.failed_requests, "d: failed requests over 50 reloads").toBe(0);
      expect.soft(s.partition.holders_after_heal, "e: holders after every heal").toBe(1);
      expect.soft(s.double_restart.holders, "f: holders after a double restart").toBe(1);
      expect.soft(s.public_surface, "the public entry: token required, minimal /healthz, no backend names, 443 closed").toEqual({
        no_token_status: 401,
        wrong_token_status: 401,
        unknown_api_route_status: 401,
        with_token_status: 200,
        healthz_status: 200,
        healthz_body: "ok",
        x_served_by_seen: 0,
        message_data_without_token: 0,
        https_open: false,
      });
      expect
        .soft(s.fresh_pair.assigned_by_keepalived, "a fresh pair: the Floating IP, unassigned by Terraform, is taken by the first MASTER")
        .toBe(true);
      expect(report.conditions.unauthorized_api_requests).toBe(0);
    },
    40 * 60_000,
  );

  it("GIVEN the run WHEN cleaned up THEN no namespace, mount, process, file or cgroup of it is left", async () => {
    await run.cleanup();
    expect(leftovers(run.prefix)).toEqual({ namespaces: [], mounts: [], processes: [], files: [], cgroups: [] });
  }, 120_000);
});
