/**
 * `npm run lab:lb`: the HA-entry lab (lab/lb-lab.ts) with the acceptance counts (5 runs of each
 * failure, 50 reloads, 10 partitions). Needs root, systemd-nspawn and debootstrap (the image is
 * built once and cached). Writes reports/lb-failover.json; the last line is `RESULT lb-failover {...}`.
 * Counts can be lowered for a quick look: LAB_RUNS, LAB_RELOADS, LAB_PARTITIONS.
 */
import { labMain } from "../lab/main.ts";
import { ACCEPTANCE_COUNTS, runLbLab } from "../lab/lb-lab.ts";
import { countFromEnv } from "../measure/stats.ts";

await labMain({
  name: "lb",
  report: "lb-failover",
  run: (run) =>
    runLbLab(run, {
      runs: countFromEnv("LAB_RUNS", ACCEPTANCE_COUNTS.runs),
      reloads: countFromEnv("LAB_RELOADS", ACCEPTANCE_COUNTS.reloads),
      partitions: countFromEnv("LAB_PARTITIONS", ACCEPTANCE_COUNTS.partitions),
    }),
  result: ({ scenarios: s }) => ({
    haproxy_kill_median_s: s.haproxy_kill.median_s,
    haproxy_kill_failed: s.haproxy_kill.failed_requests,
    host_loss_median_s: s.host_loss.median_s,
    host_loss_failed: s.host_loss.failed_requests,
    backend_kill_failed: s.backend_kill.failed_requests,
    backend_markdown_median_s: s.backend_kill.markdown_median_s,
    reload_failed: s.reloads.failed_requests,
    partition_max_dual_master_s: s.partition.max_dual_master_s,
    partition_holders_after_heal: s.partition.holders_after_heal,
    double_restart_holders: s.double_restart.holders,
  }),
});
