/**
 * The lab tier for the whole stack: the stack lab (lab/stack-lab.ts) at CI's counts (every host
 * lost once and one restart per role; the 3-minute cut only: `npm run lab:stack` restarts every
 * host and adds the 10-minute cut), its requirements asserted, and nothing of the run left
 * behind. Needs root, systemd-nspawn, debootstrap, nftables and ssh-keygen.
 */
import { expect, it } from "vitest";
import { writeReport } from "../../measure/report.ts";
import { CI_COUNTS, runStackLab } from "../../lab/stack-lab.ts";
import { describeLab } from "../support/lab.ts";

describeLab(
  "stack lab",
  {
    runName: "stack-test",
    rootFor: "the stack lab (namespaces, containers)",
    tools: [
      ["nft", "nftables"],
      ["ssh-keygen", "openssh-client"],
    ],
  },
  (run) => {
    it(
      "GIVEN the 9 non-Mongo hosts booted from their user-data WHEN each is lost in turn and the network splits " +
        "THEN no acknowledged message is lost and each host comes back by itself",
      async () => {
        const report = await runStackLab(run, CI_COUNTS);
        writeReport("stack", report);
        for (const d of report.drills) {
          expect.soft(d.smtp.lost, `${d.drill}: acknowledged messages lost`).toBe(0);
          expect.soft(d.smtp.refused, `${d.drill}: messages refused (5xx)`).toBe(0);
        }
        expect.soft(report.totals.lost, "acknowledged messages never seen as a document").toBe(0);
        expect(report.pass).toEqual(Object.fromEntries(Object.keys(report.pass).map((k) => [k, true])));
      },
      50 * 60_000,
    );
  },
);
