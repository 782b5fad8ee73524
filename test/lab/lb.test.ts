/**
 * The lab tier for the HA entry: the whole lab (lab/lb-lab.ts) with the acceptance counts, its
 * requirements asserted, and nothing of the run left behind. Needs root, systemd-nspawn,
 * debootstrap and the Debian mirror for the first image build (bash .ci/run has all of them).
 */
import { expect, it } from "vitest";
import { ACCEPTANCE_COUNTS, LB_REQUIREMENTS, runLbLab } from "../../lab/lb-lab.ts";
import { writeReport } from "../../measure/report.ts";
import { describeLab } from "../support/lab.ts";

describeLab(
  "lb lab",
  {
    runName: "lb-test",
    rootFor: "the lb lab (namespaces, containers)",
  },
  (run) => {
    let report: Awaited<ReturnType<typeof runLbLab>> | undefined;

    it(
      "GIVEN both lbs booted from their user-data WHEN every failure scenario is played THEN each requirement holds",
      async () => {
        report = await runLbLab(run, ACCEPTANCE_COUNTS);
        writeReport("lb-failover", report);
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
  },
);
