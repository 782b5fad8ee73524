/**
 * `npm run lab:stack`: the stack lab (lab/stack-lab.ts): the 9 non-Mongo hosts lose each host in
 * turn while GETs and SMTP deliveries flow through the Floating IP. Needs root, systemd-nspawn,
 * debootstrap, nftables and ssh-keygen. Writes reports/stack.json; the last line is
 * `RESULT stack {...}`. LAB_COUNTS=ci runs CI's reduced counts (one restart per role, the
 * 3-minute cut only); the default is the full counts. LAB_HOSTS=lb-1,app-1 (or none) limits the
 * per-host drills to those hosts, to look at one part; such a run does not meet the requirements.
 */
import { labMain } from "../lab/main.ts";
import { ACCEPTANCE_COUNTS, CI_COUNTS, runStackLab } from "../lab/stack-lab.ts";
import { STACK_LAB_HOSTS } from "../lab/stack.ts";

const mode = process.env["LAB_COUNTS"] ?? "full";
if (mode !== "full" && mode !== "ci") {
  console.error(`lab:stack: LAB_COUNTS is "${mode}"; use "full" (the default) or "ci"`);
  process.exit(2);
}
const hostsEnv = process.env["LAB_HOSTS"];
const hosts = hostsEnv === undefined ? undefined : hostsEnv === "none" ? [] : hostsEnv.split(",").map((h) => h.trim());
const unknown = (hosts ?? []).filter((h) => !(STACK_LAB_HOSTS as readonly string[]).includes(h));
if (unknown.length > 0) {
  console.error(`lab:stack: LAB_HOSTS names ${unknown.join(", ")}: use "none" or some of ${STACK_LAB_HOSTS.join(", ")}, comma-separated`);
  process.exit(2);
}
const counts = mode === "ci" ? CI_COUNTS : ACCEPTANCE_COUNTS;
await labMain({
  name: "stack",
  report: "stack",
  run: (run) => runStackLab(run, hosts ? { ...counts, hosts } : counts),
  result: (report) => {
    const t = report.totals;
    return {
      drills: report.drills.length,
      messages: t.messages,
      acknowledged: t.acknowledged,
      lost: t.lost,
      deferrals: t.deferrals,
      acknowledged_twice: t.acknowledged_twice,
      parsed_more_than_once: t.parsed_more_than_once,
      max_failed_gets_non_lb: Math.max(0, ...report.table.filter((r) => !r.host!.startsWith("lb")).map((r) => r.failed_gets)),
      max_lb_gap_ms: Math.max(0, ...report.table.filter((r) => r.host!.startsWith("lb")).map((r) => r.longest_gap_ms)),
      long_cuts: report.long_cuts,
      partition: report.partition,
      seconds: report.conditions.seconds,
      memory_used_mb: report.conditions.memory_used_mb,
      goals_met: Object.fromEntries(Object.entries(report.goals).map(([k, g]) => [k, g.met])),
    };
  },
});
