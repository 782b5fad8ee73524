/**
 * What every `npm run lab:*` script does around its lab: one LabRun, cleaned up on every exit
 * path; the cleanup checked (leftovers) and added to the requirements as `clean`; the report
 * written to reports/<report>.json; a line saying whether the requirements were met; and, last,
 * `RESULT <report> {...}` with the lab's headline figures and `pass`. A lab that throws still ends
 * with a RESULT line, carrying the error. The exit code is 0 only when every requirement is met.
 */
import { writeReport } from "../measure/report.ts";
import { LabRun, leftovers } from "./run.ts";

/** What a lab returns: its report, with one boolean per requirement. */
export interface LabReport {
  readonly pass: Readonly<Record<string, boolean>>;
}

export interface LabMainOptions<R extends LabReport> {
  /** The lab's name: messages say `lab:<name>`, and the run's names derive from it. */
  readonly name: string;
  /** The report's name: reports/<report>.json and the `RESULT <report>` line. */
  readonly report: string;
  /** Runs the lab on the run and returns its report. */
  readonly run: (run: LabRun) => Promise<R>;
  /** The RESULT line's figures, taken from the written report (`pass` is added). */
  readonly result: (report: R & { readonly leftovers: ReturnType<typeof leftovers> }) => Record<string, unknown>;
}

/** Runs the lab as a script and exits the process (see the module comment). */
export async function labMain<R extends LabReport>(o: LabMainOptions<R>): Promise<never> {
  const run = new LabRun(o.name);
  let report: R | undefined;
  let failure: unknown;
  try {
    report = await o.run(run);
  } catch (err) {
    failure = err;
  } finally {
    await run.cleanup();
  }
  const left = leftovers(run.prefix);
  const clean = Object.values(left).every((l) => l.length === 0);
  console.log(
    `lab:${o.name} cleanup: ${clean ? "no namespace, mount, process, temp file or cgroup of the run left" : `LEFT BEHIND ${JSON.stringify(left)}`}`,
  );
  if (!report) {
    console.error(`lab:${o.name} failed: ${(failure as Error)?.stack ?? String(failure)}`);
    console.log(`RESULT ${o.report} ${JSON.stringify({ error: String((failure as Error)?.message ?? failure), clean })}`);
    process.exit(1);
  }
  const full = { ...report, leftovers: left, pass: { ...report.pass, clean } };
  const path = writeReport(o.report, full);
  const allPass = Object.values(full.pass).every(Boolean);
  console.log(`lab:${o.name} wrote ${path}; requirements ${allPass ? "met" : "MISSED"}: ${JSON.stringify(full.pass)}`);
  console.log(`RESULT ${o.report} ${JSON.stringify({ ...o.result(full), pass: allPass })}`);
  process.exit(allPass ? 0 : 1);
}
