/** synth/cmd.ts: how the labs and scripts run commands through zx (quoting, bounds, errors). */
import { describe, expect, it } from "vitest";
import { cmd, cmdOutput, cmdOutputSync, cmdSync, describeCmd } from "../../synth/cmd.ts";

describe("lab commands through zx", () => {
  it("GIVEN arguments with spaces, quotes and shell syntax WHEN run THEN each arrives as one argument, unexpanded", async () => {
    const args = ["a b", "it's", "$HOME", "x;y", "`id`", "*"];
    expect(await cmd("printf", ["%s\\n", ...args])).toBe(args.map((a) => `${a}\n`).join(""));
    expect(cmdSync("printf", ["%s|", ...args])).toBe(args.map((a) => `${a}|`).join(""));
  });

  it("GIVEN a failing command WHEN run THEN the error names the command, its exit and its stderr", async () => {
    await expect(cmd("sh", ["-c", "echo broken >&2; exit 3"])).rejects.toThrow('sh -c "echo broken >&2; exit 3" exited 3: broken');
    expect(() => cmdSync("sh", ["-c", "exit 4"])).toThrow('sh -c "exit 4" exited 4');
    expect(await cmd("false", [], { allowFail: true })).toBe("");
  });

  it("GIVEN a command that outlasts its bound WHEN run THEN it is ended and the error says which bound", async () => {
    const t0 = Date.now();
    await expect(cmd("sleep", ["30"], { timeoutMs: 300 })).rejects.toThrow("sleep 30 was ended by SIGTERM (the 300 ms bound)");
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("GIVEN input, an added and a replaced environment WHEN run THEN the command sees exactly those", async () => {
    expect(await cmd("cat", [], { input: "hello" })).toBe("hello");
    expect(await cmd("sh", ["-c", 'echo "$BW_A:${HOME:+home}"'], { env: { BW_A: "1" } })).toBe("1:home\n");
    expect(await cmd("sh", ["-c", 'echo "$BW_A:${HOME:-none}"'], { env: { BW_A: "2", PATH: process.env["PATH"]! }, replaceEnv: true })).toBe(
      "2:none\n",
    );
  });

  it("GIVEN a failure whose output matters WHEN run with cmdOutput THEN both streams and the failure come back", async () => {
    const r = await cmdOutput("sh", ["-c", "echo out; echo err >&2; exit 1"]);
    expect(r).toMatchObject({ ok: false, stdout: "out\n", stderr: "err\n" });
    expect(r.failure).toContain("exited 1: err");
    expect(describeCmd("ip", ["netns", "exec", "ns 1"])).toBe('ip netns exec "ns 1"');
  });

  it("GIVEN a command not on PATH WHEN run THEN the result says it could not run (exit 127), and an interactive run returns its exit code", () => {
    const missing = cmdOutputSync("bulwark-no-such-command", ["x"]);
    expect(missing).toMatchObject({ ok: false, exitCode: 127 });
    expect(missing.failure).toMatch(/^bulwark-no-such-command x could not run \(exit 127: not found on PATH\?\)/);
    expect(cmdOutputSync("sh", ["-c", "exit 5"], { interactive: true, timeoutMs: Number.POSITIVE_INFINITY })).toMatchObject({
      ok: false,
      exitCode: 5,
      stdout: "",
    });
  });
});
