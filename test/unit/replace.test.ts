/** `npm run replace`: finds the host's server in the synthesized stack and asks terraform to replace it (a scripted terraform here). */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { knownHostsLine, replaceHost, replaceTarget, retireArgv, retireTarget, type RetireTarget } from "../../synth/replace.ts";
import { synthesize } from "../../synth/pipeline.ts";

describe("replace", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-replace-"));
  synthesize({ kind: "seed" }, join(dir, "out"), join(dir, "review"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("GIVEN a synthesized stack WHEN storage-2 is named THEN its server's address and its rollout step are found", () => {
    const t = replaceTarget(join(dir, "out"), "storage-2");
    expect(t.stackDir).toBe(join(dir, "out", "stacks", "bulwark"));
    expect(t.address).toMatch(/^hcloud_server\.Storage2_Server_[0-9A-F]{8}$/);
    expect(t.step).toMatch(/^terraform_data\.HostRollout_Storage2_[0-9A-F]{8}$/);
  });

  it("GIVEN an unknown host or no stack WHEN replaced THEN a user error names it and the fix", () => {
    expect(() => replaceTarget(join(dir, "out"), "storage-9")).toThrow(
      /host: is not a host of the synthesized stack \(servers: bulwark-app-1, .*bulwark-storage-3\); got "storage-9"\. Fix: name a host as the plan names it/,
    );
    expect(() => replaceTarget(join(dir, "nothing"), "storage-2")).toThrow(
      /--out: holds 0 synthesized stacks \(none\).*Fix: run `npm run synth` first/,
    );
  });

  it(
    "GIVEN terraform on PATH WHEN a host is replaced THEN terraform apply " + "-replace runs in the stack directory, and its exit code is returned",
    () => {
      const bin = join(dir, "bin");
      mkdirSync(bin);
      writeFileSync(join(bin, "terraform"), `#!/bin/sh\necho "$@" > ${join(dir, "tf-args")}\nexit 3\n`);
      chmodSync(join(bin, "terraform"), 0o755);
      const path = process.env["PATH"];
      process.env["PATH"] = `${bin}:${path}`;
      try {
        const lines: string[] = [];
        const code = replaceHost({ host: "lb-1", outdir: join(dir, "out"), autoApprove: true }, { out: (l) => lines.push(l) });
        expect(code).toBe(3);
        expect(readFileSync(join(dir, "tf-args"), "utf8").trim()).toMatch(
          new RegExp(`^-chdir=${join(dir, "out", "stacks", "bulwark")} apply -replace=hcloud_server\\.Lb1_Server_[0-9A-F]{8} -auto-approve$`),
        );
        expect(lines[1]).toMatch(/its rollout step terraform_data\.HostRollout_Lb1_[0-9A-F]{8} runs again and waits for the role's gate/);
      } finally {
        process.env["PATH"] = path;
      }
    },
  );
});

describe("replace: retire first", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-retire-"));
  synthesize({ kind: "seed" }, join(dir, "out"), join(dir, "review"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const stackDir = join(dir, "out", "stacks", "bulwark");
  const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample1";

  it(
    "GIVEN the applied stack's outputs WHEN lb-1 is retired THEN ssh pins its " +
      "key, runs the agent's retire as the admin user, and trusts nothing else",
    () => {
      const t = retireTarget(stackDir, "lb-1", () => ({ "lb-1": { private_ip: "10.0.1.10", public_ipv4: "203.0.113.5", ssh_host_key: KEY } }));
      expect(t).toEqual({ user: "bulwark", address: "203.0.113.5", hostKey: KEY, agent: "/usr/local/sbin/bulwark-host" });
      const argv = retireArgv(t as RetireTarget, "/tmp/kh");
      expect(argv).toEqual(
        expect.arrayContaining(["StrictHostKeyChecking=yes", "UserKnownHostsFile=/tmp/kh", "GlobalKnownHostsFile=/dev/null", "BatchMode=yes"]),
      );
      expect(argv.slice(-4)).toEqual(["bulwark@203.0.113.5", "sudo", "/usr/local/sbin/bulwark-host", "retire"]);
      expect(knownHostsLine(t as RetireTarget)).toBe(`203.0.113.5 ${KEY}\n`);
    },
  );

  it("GIVEN no outputs yet WHEN retiring THEN the reason is given and nothing is tried", () => {
    expect(retireTarget(stackDir, "lb-1", () => "terraform output hosts failed: No outputs found")).toBe(
      "terraform output hosts failed: No outputs found",
    );
    expect(retireTarget(stackDir, "lb-1", () => ({}))).toMatch(/no address or host key for lb-1/);
  });

  it(
    "GIVEN terraform and ssh on PATH WHEN lb-1 is replaced THEN retire runs over " +
      "ssh before terraform apply -replace, and a failed retire does not stop it",
    () => {
      const bin = join(dir, "bin");
      mkdirSync(bin);
      const calls = join(dir, "calls");
      writeFileSync(calls, "");
      writeFileSync(
        join(bin, "terraform"),
        `#!/bin/sh\necho "terraform $*" >> ${calls}\ncase "$*" in *output*) echo ` +
          `'{"lb-1":{"private_ip":"10.0.1.10","public_ipv4":"203.0.113.5","ssh_host_key":"${KEY}"}}';; esac\nexit 0\n`,
      );
      writeFileSync(join(bin, "ssh"), `#!/bin/sh\necho "ssh $*" >> ${calls}\nexit \${SSH_EXIT:-0}\n`);
      chmodSync(join(bin, "terraform"), 0o755);
      chmodSync(join(bin, "ssh"), 0o755);
      const path = process.env["PATH"];
      process.env["PATH"] = `${bin}:${path}`;
      try {
        const lines: string[] = [];
        expect(replaceHost({ host: "lb-1", outdir: join(dir, "out"), autoApprove: true }, { out: (l) => lines.push(l) })).toBe(0);
        const seen = readFileSync(calls, "utf8").trim().split("\n");
        expect(seen.map((l) => l.split(" ")[0] + (l.includes(" apply ") ? " apply" : l.includes(" output ") ? " output" : ""))).toEqual([
          "terraform output",
          "ssh",
          "terraform apply",
        ]);
        expect(seen[1]).toMatch(/bulwark@203\.0\.113\.5 sudo \/usr\/local\/sbin\/bulwark-host retire$/);
        process.env["SSH_EXIT"] = "255";
        writeFileSync(calls, "");
        expect(replaceHost({ host: "lb-1", outdir: join(dir, "out"), autoApprove: true }, { out: (l) => lines.push(l) })).toBe(0);
        expect(lines.some((l) => /warning: could not retire 203\.0\.113\.5 .*replacing it anyway/.test(l))).toBe(true);
        writeFileSync(calls, "");
        replaceHost({ host: "lb-1", outdir: join(dir, "out"), autoApprove: true, noRetire: true }, { out: () => {} });
        expect(readFileSync(calls, "utf8")).not.toMatch(/ssh|output/);
      } finally {
        process.env["PATH"] = path;
        delete process.env["SSH_EXIT"];
      }
    },
  );
});
