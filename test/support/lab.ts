/**
 * The frame of every lab-tier test: the tools the lab needs and root (skipped with a reason, or a
 * failure under BULWARK_REQUIRE_ALL=1), one LabRun cleaned up after the tests, and a last test
 * asserting that nothing of the run is left (namespaces, mounts, processes, temp files, cgroups).
 */
import { afterAll, describe, expect, it } from "vitest";
import { LabRun, leftovers } from "../../lab/run.ts";
import { haveTool, needRoot } from "./tools.ts";

/** Every lab needs these: containers, their root images, and network namespaces. */
const LAB_TOOLS: readonly (readonly [command: string, debianPackage: string])[] = [
  ["systemd-nspawn", "systemd-container"],
  ["debootstrap", "debootstrap"],
  ["ip", "iproute2"],
];

export interface LabTierOptions {
  /** The LabRun's name (its names and messages derive from it). */
  readonly runName: string;
  /** What needs root, for the skip message. */
  readonly rootFor: string;
  /**
   * Tools this lab needs beyond the containers', as [command, Debian package or where to get it].
   * @default - none
   */
  readonly tools?: readonly (readonly [command: string, source: string])[];
}

/** Declares a lab's describe block: `body` registers its tests on the run; the cleanup test comes last. */
export function describeLab(title: string, o: LabTierOptions, body: (run: LabRun) => void): void {
  const ready = [...LAB_TOOLS, ...(o.tools ?? [])].every(([command, source]) => haveTool(command, source)) && needRoot(o.rootFor);
  describe.runIf(ready)(title, () => {
    const run = new LabRun(o.runName);
    afterAll(async () => {
      await run.cleanup();
    }, 120_000);

    body(run);

    it("GIVEN the run WHEN cleaned up THEN no namespace, mount, process, file or cgroup of it is left", async () => {
      await run.cleanup();
      expect(leftovers(run.prefix)).toEqual({ namespaces: [], mounts: [], processes: [], files: [], cgroups: [] });
    }, 120_000);
  });
}
