/**
 * The lab tier for Day-2: the rollout lab (lab/rollout-lab.ts) with one run of each scenario and
 * 200 emails in c (`npm run lab:rollout` runs five of a and b for the medians, and 500 emails),
 * its requirements asserted, and nothing of the run left behind. Needs root, systemd-nspawn, debootstrap, ssh-keygen and terraform.
 */
import { expect, it } from "vitest";
import { runRolloutLab } from "../../lab/rollout-lab.ts";
import { writeReport } from "../../measure/report.ts";
import { describeLab } from "../support/lab.ts";

/** CI's counts: one run of a and b, 200 emails in c (`npm run lab:rollout` runs 5 and 500). */
const CI_COUNTS = { runs: 1, emails: 200 } as const;

describeLab(
  "rollout lab",
  {
    runName: "rollout-test",
    rootFor: "the rollout lab (namespaces, containers)",
    tools: [
      ["ssh-keygen", "openssh-client"],
      ["terraform", "terraform (a HashiCorp release binary on PATH)"],
    ],
  },
  (run) => {
    it(
      "GIVEN the 9 non-Mongo hosts booted from their user-data WHEN terraform rolls changes over them and replaces two under load " +
        "THEN the service never notices and a bad build stops at its host",
      async () => {
        const report = await runRolloutLab(run, CI_COUNTS);
        writeReport("rollout", report);
        const s = report.scenarios;
        expect.soft(s.fresh_pair.floating_ip_assigned_by, "a fresh pair: keepalived assigns the Floating IP").toMatch(/^keepalived/);
        expect.soft(s.first.apply_ok, "the first rollout").toBe(true);
        expect.soft(s.a_haproxy_change.failed_gets, "a: failed GETs over a haproxy change").toBe(0);
        expect.soft(s.a_haproxy_change.floating_ip_moves, "a: Floating IP moves").toBe(0);
        expect.soft(s.a2_keepalived_restart.failed_gets, "a2: failed GETs over a keepalived restart with handoff").toBe(0);
        expect.soft(s.b_new_build.failed_gets, "b: failed GETs over a new mail-api build").toBe(0);
        expect.soft(s.g_canary.apply_ok, "g: the canary apply fails").toBe(false);
        expect.soft(s.g_canary.tail, "g: names the host and the gate").toMatch(/host app-1: gate app did not hold/);
        expect.soft(s.g_canary.app2_untouched, "g: app-2 keeps its build").toBe(true);
        expect.soft(s.g_canary.failed_gets, "g: failed GETs while app-1 fails its gate").toBe(0);
        expect.soft(s.g_canary.resumed.apply_ok, "g: a fixed build resumes and completes").toBe(true);
        expect.soft(s.bad_host_key.apply_ok, "a wrong host key is refused").toBe(false);
        expect.soft(s.c_parser_build.failed_gets, "c: failed GETs over a parser build").toBe(0);
        expect.soft(s.c_parser_build.emails, "c: emails lost, quarantined, parsed twice").toMatchObject({ lost: 0, quarantined: 0, parsed_twice: 0 });
        expect
          .soft(s.d_gluster_change.heal_pending_at_each_gate, "d: each storage gate passed with heal pending 0")
          .toEqual({ Storage1: 0, Storage2: 0, Storage3: 0 });
        expect.soft(s.d_gluster_change.failed_gets, "d: failed GETs over glusterd restarts").toBe(0);
        expect.soft(s.e_replace_storage.same_uuid, "e: storage-2 rejoined with the same UUID").toBe(true);
        expect.soft(s.d_e_writes, "d and e: the writers' files").toMatchObject({ write_errors: 0, lost: 0, mismatched: 0, bad_reads: 0 });
        expect.soft(s.f_replace_lb.failed_gets, "f: failed GETs over replacing the lb that holds the Floating IP").toBe(0);
        expect.soft(s.unreachable_host.tail, "an unreachable host is named").toMatch(/HostRollout_Parser2/);
        expect.soft(s.h_every_host.apply_ok, "h: a change on every host").toBe(true);
        expect.soft(s.h_every_host.steps_run.length, "h: all 9 hosts").toBe(9);
        expect.soft(s.drift.refused.tail, "drift: refused at lb-2, the file named").toMatch(/host lb-2: drift: \/etc\/haproxy\/haproxy\.cfg/);
        expect.soft(s.drift.file_untouched, "drift: nothing written on lb-2").toBe(true);
        expect.soft(s.drift.accepted.apply_ok && s.drift.overwritten, "drift: overwritten with TF_VAR_rollout_accept_drift=true").toBe(true);
        expect.soft(s.emails_all_along.total, "emails all along: lost, quarantined").toMatchObject({ lost: 0, quarantined: 0 });
        expect(report.pass).toEqual({
          fresh_pair: true,
          first: true,
          baseline: true,
          a: true,
          drift: true,
          a2: true,
          b: true,
          g: true,
          c: true,
          d: true,
          e: true,
          d_e_writes: true,
          f: true,
          unreachable: true,
          bad_host_key: true,
          h: true,
          brick_watchdogs: true,
          emails_all_along: true,
        });
      },
      45 * 60_000,
    );
  },
);
