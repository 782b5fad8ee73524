/**
 * The one way Bulwark's scripts, labs and `npm run replace` run a command (ip, nsenter, gluster,
 * systemd-nspawn, terraform, ssh, tar, ssh-keygen): through zx, with every argument quoted by zx,
 * a time bound on each call, and a failure that names the command, how it ended and what it said.
 * Long-running processes a lab owns (nspawn, the traffic clients) are started by LabRun.start
 * instead, so that the lab can end them by pid.
 */
import { $, type ProcessOutput } from "zx";

const DEFAULT_TIMEOUT_MS = 60_000;

export interface CmdOptions {
  /**
   * Ends the command (SIGTERM) after this long and fails; `Infinity` sets no bound (only for a
   * command whose own steps are bounded and that the user watches, such as an interactive apply).
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
  /**
   * The command shares this terminal: its prompts, output and errors go straight to the user
   * (so the result's stdout and stderr are empty).
   * @default false
   */
  readonly interactive?: boolean;
}

/** How a command ended. */
export interface CmdResult {
  readonly ok: boolean;
  /** The exit code; null when a signal ended it. 127: the shell did not find the command. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** When not ok: the command, how it ended and the last of what it said, in one message. */
  readonly failure?: string;
}

/** `cmd args...` as a person would type it, for messages (not for a shell). */
export function describeCmd(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}

function zxOptions(options: CmdOptions) {
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    quiet: true,
    verbose: false,
    nothrow: true,
    timeout: Number.isFinite(timeout) ? timeout : undefined,
    env: options.replaceEnv ? { ...options.env } : { ...process.env, ...options.env },
    input: options.input,
    cwd: options.cwd,
    stdio: options.interactive ? ("inherit" as const) : ("pipe" as const),
  };
}

function result(command: string, args: readonly string[], out: ProcessOutput, options: CmdOptions): CmdResult {
  if (out.ok) return { ok: true, exitCode: 0, stdout: out.stdout, stderr: out.stderr };
  const how = out.signal
    ? `was ended by ${out.signal}${out.signal === "SIGTERM" ? ` (the ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms bound)` : ""}`
    : out.exitCode === 127
      ? "could not run (exit 127: not found on PATH?)"
      : `exited ${out.exitCode}`;
  const said = (out.stderr || out.stdout).trim();
  return {
    ok: false,
    exitCode: out.exitCode,
    stdout: out.stdout,
    stderr: out.stderr,
    failure: `${describeCmd(command, args)} ${how}${said ? `: ${said}` : ""}`,
  };
}

function settle(r: CmdResult, options: CmdOptions): string {
  if (r.ok) return r.stdout;
  if (options.allowFail) return "";
  throw new Error(r.failure);
}

/** Runs a command and returns how it ended, never throwing: for output that matters either way (a terraform apply's log). */
export async function cmdOutput(command: string, args: readonly string[], options: Omit<CmdOptions, "allowFail"> = {}): Promise<CmdResult> {
  return result(command, args, await $(zxOptions(options))`${command} ${args}`, options);
}

/** The same, blocking: for the CLI's sequential steps, setup and the cleanup check. */
export function cmdOutputSync(command: string, args: readonly string[], options: Omit<CmdOptions, "allowFail"> = {}): CmdResult {
  return result(command, args, $({ ...zxOptions(options), sync: true })`${command} ${args}`, options);
}

/** Runs a command and returns its stdout; throws (see the module comment) unless allowFail. */
export async function cmd(command: string, args: readonly string[], options: CmdOptions = {}): Promise<string> {
  return settle(await cmdOutput(command, args, options), options);
}

/** The same, blocking. */
export function cmdSync(command: string, args: readonly string[], options: CmdOptions = {}): string {
  return settle(cmdOutputSync(command, args, options), options);
}
