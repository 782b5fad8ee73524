/**
 * `npm run lab:rollout`: the rollout lab (lab/rollout-lab.ts): `cdktf deploy`'s Day-2 chain run by
 * the real terraform against booted hosts under load. Needs root, systemd-nspawn, debootstrap,
 * ssh-keygen and terraform. Writes reports/rollout.json; the last line is `RESULT rollout {...}`.
 * LAB_RUNS lowers the repetitions of scenarios a and b (default 5, for the medians), LAB_EMAILS the
 * emails of scenario c (default 500).
 */
import { labMain } from "../lab/main.ts";
import { ACCEPTANCE_COUNTS, runRolloutLab } from "../lab/rollout-lab.ts";
import { countFromEnv } from "../measure/stats.ts";

await labMain({
  name: "rollout",
  report: "rollout",
  run: (run) =>
    runRolloutLab(run, {
      runs: countFromEnv("LAB_RUNS", ACCEPTANCE_COUNTS.runs),
      emails: countFromEnv("LAB_EMAILS", ACCEPTANCE_COUNTS.emails),
    }),
  result: ({ scenarios: s }) => ({
    baseline_apply_s: s.baseline.apply_s,
    a_failed_gets: s.a_haproxy_change.failed_gets,
    a_floating_ip_moves: s.a_haproxy_change.floating_ip_moves,
    a_apply_median_s: s.a_haproxy_change.apply_s.median,
    a2_floating_ip_moves: s.a2_keepalived_restart.floating_ip_moves,
    a2_failed_gets: s.a2_keepalived_restart.failed_gets,
    b_failed_gets: s.b_new_build.failed_gets,
    b_apply_median_s: s.b_new_build.apply_s.median,
    g_stopped_at_app1: !s.g_canary.apply_ok,
    g_app2_untouched: s.g_canary.app2_untouched,
    g_failed_gets: s.g_canary.failed_gets,
    g_resumed: s.g_canary.resumed.apply_ok,
    c_emails_lost: s.c_parser_build.emails.lost,
    c_parsed_twice: s.c_parser_build.emails.parsed_twice,
    c_quarantined: s.c_parser_build.emails.quarantined,
    c_failed_gets: s.c_parser_build.failed_gets,
    d_heal_pending_at_gates: Object.values(s.d_gluster_change.heal_pending_at_each_gate),
    d_failed_gets: s.d_gluster_change.failed_gets,
    e_apply_s: s.e_replace_storage.apply_s,
    e_same_uuid: s.e_replace_storage.same_uuid,
    d_e_writes: s.d_e_writes,
    f_failed_gets: s.f_replace_lb.failed_gets,
    f_floating_ip_moves: s.f_replace_lb.floating_ip_moves,
    h_hosts: s.h_every_host.steps_run.length,
    h_apply_s: s.h_every_host.apply_s,
    drift_refused: !s.drift.refused.apply_ok && s.drift.file_untouched,
    drift_accepted: s.drift.accepted.apply_ok && s.drift.overwritten,
    emails_all_along: s.emails_all_along.total,
  }),
});
