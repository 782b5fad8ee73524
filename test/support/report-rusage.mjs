// Loaded with `node --import` into a process under test: when it exits, it writes its own peak
// memory and CPU time (process.resourceUsage) as JSON to $BULWARK_RUSAGE_FILE. A process that
// never exits (or is killed) writes nothing, which the test reports.
import { writeFileSync } from "node:fs";

const out = process.env.BULWARK_RUSAGE_FILE;
if (out) {
  process.on("exit", () => {
    const u = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ maxRssKb: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }));
  });
}
