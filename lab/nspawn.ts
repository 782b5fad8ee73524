/**
 * A lab host: a systemd-nspawn container booted from the shared image in its own network
 * namespace, with the host's rendered user-data as a NoCloud seed. cloud-init inside runs it
 * exactly as on a Hetzner server.
 */
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import type { LabRun } from "./run.ts";

export interface LabHostOptions {
  /** Host name (also the container's machine name, prefixed by the run). */
  readonly name: string;
  /** The network namespace the container uses. */
  readonly ns: string;
  /** The image (a root filesystem, booted read-only with a volatile overlay). */
  readonly root: string;
  /** The user-data cloud-init runs. */
  readonly userData: string;
  /** Extra `--bind=` arguments (e.g. /dev/fuse). */
  readonly binds?: readonly string[];
  /**
   * A replacement of the host (1, 2, ...): its own machine name, cgroup and cloud-init instance id,
   * as a new server has.
   * @default 0 - the first server of that name
   */
  readonly generation?: number;
}

export class LabHost {
  private constructor(
    private readonly run: LabRun,
    readonly name: string,
    private readonly nspawn: ChildProcess,
    /** The container's PID 1 (systemd), as the machine sees it. */
    readonly leader: number,
    readonly logPath: string,
    /** Its cgroups (one per hierarchy): the v2 one has the freezer. */
    private readonly cgroups: readonly string[],
  ) {}

  static async boot(run: LabRun, options: LabHostOptions): Promise<LabHost> {
    const seed = mkdtempSync(join(tmpdir(), `${run.prefix}-${options.name}-seed-`));
    run.defer(`seed of ${options.name}`, () => rmSync(seed, { recursive: true, force: true }));
    writeFileSync(join(seed, "user-data"), options.userData);
    const instance = `${run.prefix}-${options.name}${options.generation ? `-g${options.generation}` : ""}`;
    writeFileSync(join(seed, "meta-data"), `instance-id: ${instance}\nlocal-hostname: ${options.name}\n`);
    const logPath = join(seed, "console.log");
    const log = createWriteStream(logPath);
    const machine = instance.slice(0, 64);
    // Each container in a cgroup of its own. nspawn with --keep-unit (no systemd on this machine
    // to give it a scope) puts its payload under its own cgroup: started from the same cgroup,
    // every container's systemd managed the same /payload tree, so `systemctl kill` of a unit in
    // one container killed the unit of the same name in every other (the storage lab's kill -9
    // scenario took down both parsers). A wrapper moves itself into the container's cgroup, then
    // execs nspawn (same pid, so the run still ends it by pid).
    const cgroups = CGROUP_ROOTS.map((r) => join(r, machine));
    run.defer(`cgroups of ${options.name}`, () => cgroups.forEach(removeCgroupTree));
    for (const dir of cgroups) mkdirSync(dir, { recursive: true });
    const enter = cgroups.map((dir) => `echo $$ > '${dir}/cgroup.procs'`).join(" && ");
    const child = run.start(
      "sh",
      [
        "-c",
        `${enter ? `${enter} && ` : ""}exec systemd-nspawn "$@"`,
        "sh",
        "-D",
        options.root,
        "--volatile=overlay",
        `--network-namespace-path=/run/netns/${options.ns}`,
        // nspawn drops CAP_NET_ADMIN for a namespace it did not make; a server's root has it
        // (nftables, keepalived's addresses, ip addr).
        "--capability=CAP_NET_ADMIN",
        `--bind-ro=${seed}:/var/lib/cloud/seed/nocloud`,
        ...(options.binds ?? []).map((b) => `--bind=${b}`),
        "--register=no",
        "--keep-unit",
        "--console=pipe",
        `--machine=${machine}`,
        "-b",
      ],
      log,
      // A pure cgroup v2 tree inside the container, as on a Debian 12/13 server. Without it
      // (this machine's hybrid hierarchy, no systemd as PID 1) the container's systemd does not
      // always learn that a killed service's cgroup emptied, and stops take 90 s.
      { SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1" },
    );
    run.defer(`container ${options.name}`, () => run.stop(child, 15_000));
    const leader = await run.waitFor(`${options.name}'s systemd to start`, () => findSystemd(child.pid!), 30_000, 50);
    const host = new LabHost(run, options.name, child, leader, logPath, cgroups);
    run.defer(`thaw ${options.name}`, () => host.freeze(false));
    return host;
  }

  /** Runs a command inside the container (all its namespaces). */
  exec(cmd: string, args: readonly string[], options: { timeoutMs?: number; allowFail?: boolean } = {}): Promise<string> {
    return this.run.exec("nsenter", ["-t", String(this.leader), "-a", cmd, ...args], options);
  }

  /** `systemctl show -p <props> <unit>` inside the container, as a map (empty when the call fails). */
  async unitProperties(unit: string, props: readonly string[]): Promise<Record<string, string>> {
    const out = await this.exec("systemctl", ["show", "-p", props.join(","), unit], { allowFail: true });
    return Object.fromEntries(
      out
        .trim()
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  }

  /** A file inside the container, read through /proc (undefined if absent). */
  read(path: string): string | undefined {
    const full = `/proc/${this.leader}/root${path}`;
    return existsSync(full) ? readFileSync(full, "utf8") : undefined;
  }

  /** Waits until cloud-init has finished (boot-finished written) and reports its status. */
  async waitForCloudInit(timeoutMs: number): Promise<string> {
    await this.run.waitFor(
      `${this.name}: cloud-init to finish`,
      () => (this.read("/var/lib/cloud/data/result.json") !== undefined ? true : undefined),
      timeoutMs,
      100,
    );
    return (await this.exec("cloud-init", ["status", "--long"], { allowFail: true })).trim();
  }

  /** Shuts the container down (SIGTERM to nspawn asks systemd inside to power off). */
  async shutdown(graceMs = 15_000): Promise<void> {
    await this.run.stop(this.nspawn, graceMs);
  }

  /**
   * Freezes every process of the container (the cgroup v2 freezer: they stop where they are, as
   * on a hung server, and keep their sockets), or thaws them. Nothing can run inside it meanwhile:
   * do not exec into a frozen host.
   */
  freeze(frozen: boolean): void {
    const v2 = this.cgroups.map((c) => join(c, "cgroup.freeze")).filter((f) => existsSync(f));
    if (v2.length === 0) {
      if (frozen) throw new Error(`lab: no cgroup v2 freezer for ${this.name} (${this.cgroups.join(", ")}); the hard-loss drill needs cgroup.freeze`);
      return;
    }
    for (const f of v2) writeFileSync(f, frozen ? "1" : "0");
  }

  get running(): boolean {
    return this.nspawn.exitCode === null && this.nspawn.signalCode === null;
  }

  consoleLog(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : "";
  }
}

/**
 * Where a container's cgroup is made: the cgroup v2 root, and on a hybrid machine (like this
 * one: v1 controllers, v2 at /sys/fs/cgroup/unified) also the v1 name=systemd hierarchy.
 */
const CGROUP_ROOTS: readonly string[] = (
  existsSync("/sys/fs/cgroup/cgroup.procs") ? ["/sys/fs/cgroup"] : ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"]
).filter((r) => existsSync(r));

/** The cgroups of a run still on the machine (its containers' cgroups are named after its prefix). */
export function labCgroups(prefix: string): string[] {
  return CGROUP_ROOTS.flatMap((r) =>
    readdirSync(r)
      .filter((n) => n.startsWith(prefix))
      .map((n) => join(r, n)),
  );
}

/** Removes a cgroup and everything below it, deepest first (a cgroup goes only when empty). */
function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  rmdirSync(dir);
}

/** The descendant of `pid` whose command is systemd (the container's init). */
function findSystemd(pid: number): number | undefined {
  const queue = [pid];
  for (let i = 0; i < queue.length && i < 64; i++) {
    const p = queue[i]!;
    const comm = readOrEmpty(`/proc/${p}/comm`).trim();
    if (p !== pid && comm === "systemd") return p;
    for (const child of readOrEmpty(`/proc/${p}/task/${p}/children`).trim().split(/\s+/).filter(Boolean)) queue.push(Number(child));
  }
  return undefined;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
