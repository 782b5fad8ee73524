/**
 * The one way the labs and scripts run a command (ip, nsenter, gluster, systemd-nspawn,
 * terraform, tar, ssh-keygen): through zx, with every argument quoted by zx, a time bound on each
 * call, and an error that names the command, how it ended and what it said. Long-running
 * processes a run owns (nspawn, the traffic clients) are started by LabRun.start instead, so that
 * the run can end them by pid.
 */
import { $, type ProcessOutput } from "zx";

export interface CmdOptions {
  /**
   * Ends the command (SIGTERM) after this long and fails.
   * @default 60000
   */
  readonly timeoutMs?: number;
  /**
   * Returns "" instead of throwing when the command fails or times out.
   * @default false
   */
  readonly allowFail?: boolean;
  /**
   * Environment for the command, on top of this process's.
   * @default - this process's environment
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Whether `env` is the whole environment (for a tool that must not see this process's).
   * @default false
   */
  readonly replaceEnv?: boolean;
  /**
   * Working directory of the command.
   * @default - this process's
   */
  readonly cwd?: string;
  /**
   * Text on the command's stdin.
   * @default - none
   */
  readonly input?: string;
}

/** `cmd args...` as a person would type it, for messages (not for a shell). */
export function describeCmd(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}

function zxOptions(options: CmdOptions) {
  return {
    quiet: true,
    verbose: false,
    nothrow: true,
    timeout: options.timeoutMs ?? 60_000,
    env: options.replaceEnv ? { ...options.env } : { ...process.env, ...options.env },
    input: options.input,
    cwd: options.cwd,
  };
}

function failure(cmd: string, args: readonly string[], out: ProcessOutput, options: CmdOptions): string {
  const how = out.signal
    ? `was ended by ${out.signal}${out.signal === "SIGTERM" ? ` (the ${options.timeoutMs ?? 60_000} ms bound)` : ""}`
    : `exited ${out.exitCode}`;
  const said = (out.stderr || out.stdout).trim();
  return `${describeCmd(cmd, args)} ${how}${said ? `: ${said}` : ""}`;
}

function settle(cmd: string, args: readonly string[], out: ProcessOutput, options: CmdOptions): string {
  if (out.ok) return out.stdout;
  if (options.allowFail) return "";
  throw new Error(failure(cmd, args, out, options));
}

/** Runs a command and returns how it ended without throwing: for output that matters either way (a terraform apply's log). */
export async function cmdOutput(
  command: string,
  args: readonly string[],
  options: Omit<CmdOptions, "allowFail"> = {},
): Promise<{ ok: boolean; stdout: string; stderr: string; failure?: string }> {
  const out = await $(zxOptions(options))`${command} ${args}`;
  return { ok: out.ok, stdout: out.stdout, stderr: out.stderr, ...(out.ok ? {} : { failure: failure(command, args, out, options) }) };
}

/** Runs a command and returns its stdout; throws (see the module comment) unless allowFail. */
export async function cmd(command: string, args: readonly string[], options: CmdOptions = {}): Promise<string> {
  return settle(command, args, await $(zxOptions(options))`${command} ${args}`, options);
}

/** The same, blocking: for the few places that must stay synchronous (setup and the cleanup check). */
export function cmdSync(command: string, args: readonly string[], options: CmdOptions = {}): string {
  return settle(command, args, $({ ...zxOptions(options), sync: true })`${command} ${args}`, options);
}
