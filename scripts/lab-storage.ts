/**
 * `npm run lab:storage`: the storage lab (lab/storage-lab.ts) with the acceptance counts (each
 * scenario 5 times, 20 partitions) and the backup-volfile-servers baseline mount. Needs root,
 * systemd-nspawn and debootstrap (the image is built once and cached). Writes
 * reports/storage-failover.json; the last line is `RESULT storage-failover {...}`.
 * Counts can be lowered for a quick look: LAB_RUNS, LAB_PARTITIONS; LAB_BASELINE=0 skips the baseline,
 * LAB_SERVICES=0 the services scenarios (lab/services-scenario.ts).
 */
import { countFromEnv } from "../measure/stats.ts";
import { writeReport } from "../measure/report.ts";
import { ACCEPTANCE_COUNTS, runStorageLab, type StorageReport } from "../lab/storage-lab.ts";
import { LabRun, leftovers } from "../lab/run.ts";

const count = countFromEnv;

const run = new LabRun("storage");
let report: StorageReport | undefined;
let failure: unknown;
try {
  report = await runStorageLab(run, {
    runs: count("LAB_RUNS", ACCEPTANCE_COUNTS.runs),
    partitions: count("LAB_PARTITIONS", ACCEPTANCE_COUNTS.partitions),
    baseline: process.env["LAB_BASELINE"] !== "0",
    services: process.env["LAB_SERVICES"] !== "0",
  });
} catch (err) {
  failure = err;
} finally {
  await run.cleanup();
}
const left = leftovers(run.prefix);
const clean = Object.values(left).every((l) => l.length === 0);
console.log(
  `lab:storage cleanup: ${clean ? "no namespace, mount, process, temp file or cgroup of the run left" : `LEFT BEHIND ${JSON.stringify(left)}`}`,
);
if (!report) {
  console.error(`lab:storage failed: ${(failure as Error)?.stack ?? String(failure)}`);
  console.log(`RESULT storage-failover ${JSON.stringify({ error: String((failure as Error)?.message ?? failure), clean })}`);
  process.exit(1);
}
const full = { ...report, leftovers: left, pass: { ...report.pass, clean } };
writeReport("storage-failover", full);
const allPass = Object.values(full.pass).every(Boolean);
const s = full.scenarios;
console.log(`lab:storage wrote reports/storage-failover.json; requirements ${allPass ? "met" : "MISSED"}: ${JSON.stringify(full.pass)}`);
console.log(
  `RESULT storage-failover ${JSON.stringify({
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
    ...(full.services
      ? {
          services_installed: full.pass.services_installed,
          spool_messages: full.services.shared_spool.messages,
          spool_double_parsed: full.services.shared_spool.double_parsed,
          spool_lost: full.services.shared_spool.lost,
          spool_drain_s: full.services.shared_spool.drain_s,
          crash_lost: full.services.crash.lost,
          crash_duplicates: full.services.crash.duplicates,
          crash_restart_s: full.services.crash.restart_s,
          crash_drain_s: full.services.crash.drain_s,
        }
      : {}),
    pass: allPass,
  })}`,
);
process.exit(allPass ? 0 : 1);
