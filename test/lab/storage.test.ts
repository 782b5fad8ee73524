/**
 * The lab tier for storage: the whole storage lab (lab/storage-lab.ts) with every scenario run 5
 * times but 5 partition rounds instead of the acceptance count of 20 (about 8 minutes instead of
 * 15; `npm run lab:storage` runs the full 20) and without the minute-long backup-volfile-servers
 * baseline. Its requirements asserted, and nothing of the run left behind. Needs root, systemd-nspawn,
 * debootstrap and the Debian mirror for the first image build (bash .ci/run has all of them).
 */
import { expect, it } from "vitest";
import { ACCEPTANCE_COUNTS, runStorageLab, STORAGE_REQUIREMENTS, type StorageReport } from "../../lab/storage-lab.ts";
import { writeReport } from "../../measure/report.ts";
import { describeLab } from "../support/lab.ts";

/** Partition rounds in this tier (the acceptance count, 20, runs in `npm run lab:storage`). */
const TIER_PARTITIONS = 5;

describeLab(
  "storage lab",
  {
    runName: "storage-test",
    rootFor: "the storage lab (namespaces, containers, FUSE)",
  },
  (run) => {
    let report: StorageReport | undefined;

    it(
      "GIVEN 3 storage hosts and 3 clients booted from their user-data WHEN every storage scenario is played while the clients write, " +
        "then the services ones THEN each requirement holds",
      async () => {
        report = await runStorageLab(run, { runs: ACCEPTANCE_COUNTS.runs, partitions: TIER_PARTITIONS, baseline: false, services: true });
        writeReport("storage-failover.test", report);
        const s = report.scenarios;
        expect.soft(report.volfile.differences, "the kept volume file against glusterd's").toEqual([]);
        expect
          .soft(
            report.brick_ports.every((p) => p >= 49152 && p <= 49251),
            "brick ports inside the firewall's range",
          )
          .toBe(true);
        expect.soft(s.brick_kill.runs).toBe(ACCEPTANCE_COUNTS.runs);
        expect.soft(s.brick_kill.max_stall_s, "a: brick SIGKILL, longest stall s").toBeLessThanOrEqual(STORAGE_REQUIREMENTS.brick_kill_max_stall_s);
        expect.soft(s.host_loss.max_stall_s, "b: link cut, longest stall s").toBeLessThanOrEqual(STORAGE_REQUIREMENTS.host_loss_max_stall_s);
        expect
          .soft(s.mount_first_down.max_s, "c: mount with the first volfile server cut off, s")
          .toBeLessThanOrEqual(STORAGE_REQUIREMENTS.mount_first_down_s);
        expect.soft(s.partitions.rounds).toBe(TIER_PARTITIONS);
        expect.soft(s.partitions.split_brain, "d: split-brain entries").toBe(0);
        expect.soft(s.partitions.checksum_mismatches, "d: checksum mismatches").toBe(0);
        expect.soft(s.partitions.lost_files, "d: lost files").toBe(0);
        expect.soft(s.partitions.heal_complete, "d: heal complete").toBe(true);
        expect.soft(s.partitions.brick_copies_differing, "d: files whose brick copies differ after the heal").toBe(0);
        expect(s.partitions.files_written).toBeGreaterThan(1000);
        expect.soft(s.bootstrap_rerun.changed, "e: bootstrap rerun changed something").toBe(false);
        expect(s.bootstrap_rerun.errors, "e: bootstrap rerun errors").toBe(0);
        // The services on the volume (lab/services-scenario.ts).
        const v = report.services!;
        expect(Object.keys(v.install).sort()).toEqual(["app-1", "parser-1", "parser-2"]);
        for (const [name, i] of Object.entries(v.install)) {
          expect.soft(i.installed, `f1: ${name} installed from the artifact (${i.install_log})`).toBe(true);
          expect.soft(i.active, `f1: ${name} active`).toBe(true);
          expect.soft(i.healthz_ready, `f1: ${name} /healthz ready`).toBe(true);
          expect.soft(i.uid !== null && i.uid >= 2101 && i.uid <= 2102, `f1: ${name} runs as its own uid (${i.uid})`).toBe(true);
          expect.soft(i.write_outside_refused, `f1: ${name} cannot write outside ReadWritePaths`).toBe(true);
          expect.soft(i.write_inside_ok, `f1: ${name} writes inside ReadWritePaths`).toBe(i.service === "parser" ? true : null);
        }
        expect.soft(v.shared_spool.stored, "f2: stored of the batch").toBe(v.shared_spool.messages);
        expect.soft(v.shared_spool.double_parsed, "f2: messages parsed twice").toBe(0);
        expect.soft(v.shared_spool.quarantined, "f2: clean messages quarantined").toBe(0);
        expect
          .soft(
            Object.values(v.shared_spool.by_host).every((n) => n > 0),
            `f2: both parsers took work ${JSON.stringify(v.shared_spool.by_host)}`,
          )
          .toBe(true);
        expect.soft(v.shared_spool.mail_api_get_ok, "f2: the mail API serves a parsed message").toBe(true);
        expect.soft(v.crash.restarted, "f3: systemd restarted the killed parser").toBe(true);
        expect.soft(v.crash.lost, "f3: lost after kill -9").toBe(0);
        expect.soft(v.crash.duplicates, "f3: duplicates after kill -9").toBe(0);
        expect.soft(v.crash.stored, "f3: stored of the batch").toBe(v.crash.messages);
        expect(v.crash.completed_before_kill, "f3: the kill came mid-batch").toBeLessThan(v.crash.messages);
        expect.soft(v.crash.reclaimed_not_held, "f3: live claims taken over").toEqual([]);
        expect.soft(v.crash.reclaimed_twice, "f3: messages reclaimed twice").toBe(0);
        expect.soft(v.crash.others_restarted, "f3: the other parser restarted too").toBe(0);
      },
      30 * 60_000,
    );
  },
);
