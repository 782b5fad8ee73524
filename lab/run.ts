/**
 * One lab run: a name prefix unique to it, the commands it runs, the processes it starts and a
 * cleanup stack that is unwound on success, on failure and on Ctrl-C. Every wait is bounded in
 * count and time. Processes are ended by the pid this run started, never by name.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { cmd, cmdSync } from "../synth/cmd.ts";
import { labCgroups } from "./nspawn.ts";

export class LabRun {
  /** Short and unique: namespace and interface names are built from it (IFNAMSIZ is 16). */
  readonly prefix: string;
  private readonly cleanups: { what: string; fn: () => Promise<void> | void }[] = [];
  private readonly children = new Set<ChildProcess>();
  private cleaning: Promise<void> | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.log(`${signal}: cleaning up`);
    void this.cleanup().finally(() => process.exit(130));
  };

  constructor(
    readonly name: string,
    private readonly verbose = true,
  ) {
    this.prefix = `bw${(process.pid % 10000).toString(36)}${Date.now().toString(36).slice(-3)}`;
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
  }

  log(line: string): void {
    if (this.verbose) process.stdout.write(`lab:${this.name} ${line}\n`);
  }

  /** Registers an undo step; steps run in reverse order. */
  defer(what: string, fn: () => Promise<void> | void): void {
    this.cleanups.push({ what, fn });
  }

  /** Runs a command through zx (synth/cmd.ts); throws with the command and its output when it fails or outlasts its bound. */
  exec(command: string, args: readonly string[], options: { timeoutMs?: number; allowFail?: boolean } = {}): Promise<string> {
    return cmd(command, args, options);
  }

  /** Starts a long-running process this run owns; it is ended by pid at cleanup (so not through zx). */
  start(cmd: string, args: readonly string[], logFile?: NodeJS.WritableStream, env?: Readonly<Record<string, string>>): ChildProcess {
    const child = spawn(cmd, [...args], { stdio: ["ignore", "pipe", "pipe"], ...(env ? { env: { ...process.env, ...env } } : {}) });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    if (logFile) {
      child.stdout?.pipe(logFile, { end: false });
      child.stderr?.pipe(logFile, { end: false });
    } else {
      child.stdout?.resume();
      child.stderr?.resume();
    }
    return child;
  }

  /** Ends a child this run started: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(child: ChildProcess, graceMs = 5000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Polls `probe` every `intervalMs` until it returns a value, at most `timeoutMs`. */
  async waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 50): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = await probe();
      if (value !== undefined) return value;
      await sleep(intervalMs);
    }
    throw new Error(`lab:${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  /** Unwinds everything: deferred steps in reverse, then any child still running. Every caller
   *  (the signal handler, a finally block) waits for the same single unwinding. */
  cleanup(): Promise<void> {
    this.cleaning ??= this.unwind();
    return this.cleaning;
  }

  private async unwind(): Promise<void> {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
    for (const step of this.cleanups.reverse()) {
      try {
        await step.fn();
      } catch (err) {
        process.stderr.write(`lab:${this.name} cleanup of ${step.what} failed: ${(err as Error).message}\n`);
      }
    }
    for (const child of [...this.children]) await this.stop(child, 2000);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What is left of a run on the machine after its cleanup: namespaces, mounts, processes, temp files, cgroups. */
export function leftovers(prefix: string): { namespaces: string[]; mounts: string[]; processes: string[]; files: string[]; cgroups: string[] } {
  const namespaces = cmdSync("ip", ["netns", "list"])
    .split("\n")
    .filter((l) => l.startsWith(prefix));
  const mounts = cmdSync("findmnt", ["-rn", "-o", "TARGET,SOURCE"])
    .split("\n")
    .filter((l) => l.includes(prefix));
  const processes = cmdSync("ps", ["-eo", "pid=,args="])
    .split("\n")
    .filter((l) => l.includes(prefix) && !l.includes("ps -eo"));
  const files = readdirSync(tmpdir()).filter((f) => f.startsWith(prefix));
  return { namespaces, mounts, processes, files, cgroups: labCgroups(prefix) };
}
