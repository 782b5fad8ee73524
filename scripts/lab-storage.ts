/**
 * `npm run lab:storage`: the storage lab (lab/storage-lab.ts) with the acceptance counts (each
 * scenario 5 times, 20 partitions) and the backup-volfile-servers baseline mount. Needs root,
 * systemd-nspawn and debootstrap (the image is built once and cached). Writes
 * reports/storage-failover.json; the last line is `RESULT storage-failover {...}`.
 * Counts can be lowered for a quick look: LAB_RUNS, LAB_PARTITIONS; LAB_BASELINE=0 skips the baseline,
 * LAB_SERVICES=0 the services scenarios (lab/services-scenario.ts).
 */
import { labMain } from "../lab/main.ts";
import { ACCEPTANCE_COUNTS, runStorageLab } from "../lab/storage-lab.ts";
import { countFromEnv } from "../measure/stats.ts";

await labMain({
  name: "storage",
  report: "storage-failover",
  run: (run) =>
    runStorageLab(run, {
      runs: countFromEnv("LAB_RUNS", ACCEPTANCE_COUNTS.runs),
      partitions: countFromEnv("LAB_PARTITIONS", ACCEPTANCE_COUNTS.partitions),
      baseline: process.env["LAB_BASELINE"] !== "0",
      services: process.env["LAB_SERVICES"] !== "0",
    }),
  result: (full) => {
    const s = full.scenarios;
    const v = full.services;
    return {
      brick_kill_max_stall_s: s.brick_kill.max_stall_s,
      brick_kill_median_stall_s: s.brick_kill.median_stall_s,
      host_loss_max_stall_s: s.host_loss.max_stall_s,
      host_loss_median_stall_s: s.host_loss.median_stall_s,
      mount_first_down_median_s: s.mount_first_down.median_s,
      mount_first_down_max_s: s.mount_first_down.max_s,
      mount_backup_volfile_servers_s: s.mount_first_down.baseline_backup_volfile_servers_s,
      split_brain: s.partitions.split_brain,
      checksum_mismatches: s.partitions.checksum_mismatches,
      lost_files: s.partitions.lost_files,
      partitions: s.partitions.rounds,
      bootstrap_rerun_changed: s.bootstrap_rerun.changed,
      ping_timeout_s: full.ping_timeout_s,
      services: v
        ? {
            installed: full.pass.services_installed,
            spool_messages: v.shared_spool.messages,
            spool_double_parsed: v.shared_spool.double_parsed,
            spool_lost: v.shared_spool.lost,
            spool_drain_s: v.shared_spool.drain_s,
            crash_lost: v.crash.lost,
            crash_duplicates: v.crash.duplicates,
            crash_restart_s: v.crash.restart_s,
            crash_drain_s: v.crash.drain_s,
          }
        : "not run (LAB_SERVICES=0)",
    };
  },
});
