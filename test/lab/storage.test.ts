/**
 * The lab tier for storage: the whole storage lab (lab/storage-lab.ts) with every scenario run 5
 * times but 5 partition rounds instead of the issue's 20 (about 8 minutes instead of 15; `npm run
 * lab:storage` runs the full 20) and without the minute-long backup-volfile-servers baseline. Its
 * requirements asserted, and nothing of the run left behind. Needs root, systemd-nspawn,
 * debootstrap and the Debian mirror for the first image build (bash .ci/run has all of them).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ISSUE_COUNTS, leftovers, runStorageLab, STORAGE_REQUIREMENTS, type StorageReport } from "../../lab/storage-lab.ts";
import { LabRun } from "../../lab/run.ts";
import { haveTool, needRoot } from "../support/tools.ts";

/** Partition rounds in this tier (the issue's 20 run in `npm run lab:storage`). */
const TIER_PARTITIONS = 5;

const ready = haveTool("systemd-nspawn", "systemd-container") && haveTool("debootstrap", "debootstrap") && haveTool("ip", "iproute2") && needRoot("the storage lab (namespaces, containers, FUSE)");

describe.runIf(ready)("storage lab", () => {
  const run = new LabRun("storage-test");
  let report: StorageReport | undefined;

  afterAll(async () => {
    await run.cleanup();
  }, 120_000);

  it("GIVEN 3 storage hosts and 2 clients booted from their user-data WHEN every scenario of the issue is played while the clients write THEN each requirement holds", async () => {
    report = await runStorageLab(run, { runs: ISSUE_COUNTS.runs, partitions: TIER_PARTITIONS, baseline: false });
    mkdirSync(join(import.meta.dirname, "../../reports"), { recursive: true });
    writeFileSync(join(import.meta.dirname, "../../reports/storage-failover.test.json"), `${JSON.stringify(report, null, 2)}\n`);
    const s = report.scenarios;
    expect.soft(report.volfile.differences, "the kept volume file against glusterd's").toEqual([]);
    expect.soft(report.brick_ports.every((p) => p >= 49152 && p <= 49251), "brick ports inside the firewall's range").toBe(true);
    expect.soft(s.brick_kill.runs).toBe(ISSUE_COUNTS.runs);
    expect.soft(s.brick_kill.max_stall_s, "a: brick SIGKILL, longest stall s").toBeLessThanOrEqual(STORAGE_REQUIREMENTS.brick_kill_max_stall_s);
    expect.soft(s.host_loss.max_stall_s, "b: link cut, longest stall s").toBeLessThanOrEqual(STORAGE_REQUIREMENTS.host_loss_max_stall_s);
    expect.soft(s.mount_first_down.max_s, "c: mount with the first volfile server cut off, s").toBeLessThanOrEqual(STORAGE_REQUIREMENTS.mount_first_down_s);
    expect.soft(s.partitions.rounds).toBe(TIER_PARTITIONS);
    expect.soft(s.partitions.split_brain, "d: split-brain entries").toBe(0);
    expect.soft(s.partitions.checksum_mismatches, "d: checksum mismatches").toBe(0);
    expect.soft(s.partitions.lost_files, "d: lost files").toBe(0);
    expect.soft(s.partitions.heal_complete, "d: heal complete").toBe(true);
    expect.soft(s.partitions.brick_copies_differing, "d: files whose brick copies differ after the heal").toBe(0);
    expect(s.partitions.files_written).toBeGreaterThan(1000);
    expect.soft(s.bootstrap_rerun.changed, "e: bootstrap rerun changed something").toBe(false);
    expect(s.bootstrap_rerun.errors, "e: bootstrap rerun errors").toBe(0);
  }, 30 * 60_000);

  it("GIVEN the run WHEN cleaned up THEN no namespace, mount or process of it is left", async () => {
    await run.cleanup();
    expect(leftovers(run.prefix)).toEqual({ namespaces: [], mounts: [], processes: [] });
  }, 120_000);
});
