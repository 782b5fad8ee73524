/**
 * The storage lab's workload: a small Python program run inside each client container (python3
 * is there for cloud-init). It writes checksummed files to the mounted volume, fsyncs each, reads
 * an earlier one back and checks it, and prints one line per operation with its start and end on
 * CLOCK_MONOTONIC (the same clock the lab reads with process.hrtime: containers share the
 * kernel's clock). Bounded: it stops after `max_s` seconds or `max_ops` writes, or when the stop
 * file exists. Arguments: root name period_s max_s max_ops stop_file min_bytes max_bytes.
 *
 *   W <t0> <t1> <path> <sha256>   a write that was fsynced and closed
 *   R <t0> <t1> <path> ok|bad     a read-back of an earlier write
 *   E <t0> <t1> <path> <errno>    a failed operation
 */

import type { LabHost } from "./nspawn.ts";
import { sleep, type LabRun } from "./run.ts";

export const WRITER_PY = `
import hashlib, os, random, sys, time
root, name, period, max_s, max_ops, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
min_size, max_size = int(sys.argv[7]), int(sys.argv[8])
rnd = random.Random(name)
d = os.path.join(root, name)
began = time.monotonic()
written = []
seq = 0
made_dir = False
while seq < max_ops and time.monotonic() - began < max_s and not os.path.exists(stop):
    seq += 1
    path = "%s/f%06d" % (d, seq)
    data = os.urandom(rnd.randint(min_size, max_size))
    t0 = time.monotonic()
    try:
        if not made_dir:
            os.makedirs(d, exist_ok=True)
            made_dir = True
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        digest = hashlib.sha256(data).hexdigest()
        print("W %.6f %.6f %s %s" % (t0, time.monotonic(), path, digest), flush=True)
        written.append((path, digest))
    except OSError as e:
        print("E %.6f %.6f %s %d" % (t0, time.monotonic(), path, e.errno or 0), flush=True)
    if written:
        p, want = written[rnd.randrange(len(written))]
        t0 = time.monotonic()
        try:
            with open(p, "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            print("R %.6f %.6f %s %s" % (t0, time.monotonic(), p, "ok" if got == want else "bad"), flush=True)
        except OSError as e:
            print("E %.6f %.6f %s %d" % (t0, time.monotonic(), p, e.errno or 0), flush=True)
    time.sleep(period)
print("DONE %d" % seq, flush=True)
`;

export interface WriterRecord {
  readonly kind: "W" | "R" | "E";
  readonly t0: number;
  readonly t1: number;
  readonly path: string;
  /** sha256 (W), ok|bad (R), errno (E). */
  readonly detail: string;
}

export function parseWriterLine(line: string): WriterRecord | undefined {
  const m = /^([WRE]) (\d+\.\d+) (\d+\.\d+) (\S+) (\S+)$/.exec(line.trim());
  if (!m) return undefined;
  return { kind: m[1] as WriterRecord["kind"], t0: Number(m[2]), t1: Number(m[3]), path: m[4]!, detail: m[5]! };
}

/**
 * The longest time with no completed operation among the gaps that overlap [from, to] (seconds,
 * CLOCK_MONOTONIC). A stall still going on at `to` counts up to `to`.
 */
export function longestStall(records: readonly WriterRecord[], from: number, to: number): number {
  const done = records
    .filter((r) => r.kind !== "E")
    .map((r) => r.t1)
    .sort((a, b) => a - b);
  let worst = 0;
  for (let i = 1; i < done.length; i++) {
    const a = done[i - 1]!;
    const b = done[i]!;
    if (b < from || a > to) continue;
    worst = Math.max(worst, b - a);
  }
  const last = done[done.length - 1];
  if (last === undefined) return to - from;
  if (last < to) worst = Math.max(worst, to - last);
  return worst;
}

export interface Writer {
  readonly client: string;
  readonly records: WriterRecord[];
  done: Promise<void>;
}

export interface WriterOptions {
  /** Seconds between writes. */
  readonly periodS: number;
  /** Bounds: it stops after this many seconds or writes, or when `stopFile` exists on the host. */
  readonly maxS: number;
  readonly maxOps: number;
  readonly stopFile: string;
  readonly bytes: { readonly min: number; readonly max: number };
}

/** Starts the writer inside `on` (in all its namespaces), writing under `mountPoint`/`name`; ended by the run's cleanup if still going. */
export function startWriter(run: LabRun, on: LabHost, name: string, mountPoint: string, o: WriterOptions): Writer {
  const records: WriterRecord[] = [];
  const args = [mountPoint, name, String(o.periodS), String(o.maxS), String(o.maxOps), o.stopFile, String(o.bytes.min), String(o.bytes.max)];
  const child = run.start("nsenter", ["-t", String(on.leader), "-a", "python3", "-c", WRITER_PY, ...args]);
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const rec = parseWriterLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      if (rec) records.push(rec);
    }
  });
  const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { client: name, records, done };
}

/**
 * Stops writers started with `o`: creates the stop file on each host, waits for every writer to
 * end (at most 30 s, then the run's cleanup ends any still going), and removes the stop file
 * again so that a later writer on the host can start.
 */
export async function stopWriters(hosts: readonly LabHost[], writers: readonly Writer[], o: Pick<WriterOptions, "stopFile">): Promise<void> {
  for (const h of hosts) await h.exec("touch", [o.stopFile]);
  await Promise.race([Promise.all(writers.map((w) => w.done)), sleep(30_000)]);
  for (const h of hosts) await h.exec("rm", ["-f", o.stopFile]);
}

/**
 * Every file below `dirs` of the mount, as `on` reads it now: absolute path → sha256. A listing
 * that fails (allowFail) or is cut short leaves files out, so they count as lost.
 */
export async function mountChecksums(
  on: LabHost,
  mount: string,
  dirs: readonly string[],
  options: { timeoutMs: number; allowFail?: boolean },
): Promise<Map<string, string>> {
  const quoted = dirs.map((d) => `'${d}'`).join(" ");
  const listing = await on.exec("sh", ["-c", `cd '${mount}' && find ${quoted} -type f -print0 | xargs -0 -r sha256sum`], options);
  const sums = new Map<string, string>();
  for (const line of listing.split("\n")) {
    const m = /^([0-9a-f]{64}) {2}(?:\.\/)?(.+)$/.exec(line);
    if (m) sums.set(`${mount}/${m[2]}`, m[1]!);
  }
  return sums;
}

/** The files the writers wrote: path → the sha256 of its (only) write. */
export function writtenFiles(records: readonly WriterRecord[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const r of records) if (r.kind === "W") files.set(r.path, r.detail);
  return files;
}

export interface WriteCheck {
  readonly files: number;
  readonly lost: number;
  readonly mismatched: number;
  readonly write_errors: number;
  readonly bad_reads: number;
}

/** Every written file against what the mount holds now (mountChecksums), and the writers' own errors and bad read-backs. */
export function checkWrites(records: readonly WriterRecord[], onMount: ReadonlyMap<string, string>): WriteCheck {
  const written = writtenFiles(records);
  let lost = 0;
  let mismatched = 0;
  for (const [path, sum] of written) {
    const got = onMount.get(path);
    if (got === undefined) lost++;
    else if (got !== sum) mismatched++;
  }
  return {
    files: written.size,
    lost,
    mismatched,
    write_errors: records.filter((r) => r.kind === "E").length,
    bad_reads: records.filter((r) => r.kind === "R" && r.detail !== "ok").length,
  };
}
