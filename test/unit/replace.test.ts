/** `npm run replace`: finds the host's server in the synthesized stack and asks terraform to replace it (a scripted terraform here). */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { replaceHost, replaceTarget } from "../../synth/replace.ts";
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
    expect(() => replaceTarget(join(dir, "out"), "storage-9")).toThrow(/host: is not a host of the synthesized stack \(servers: bulwark-app-1, .*bulwark-storage-3\); got "storage-9"\. Fix: name a host as the plan names it/);
    expect(() => replaceTarget(join(dir, "nothing"), "storage-2")).toThrow(/--out: holds 0 synthesized stacks \(none\).*Fix: run `npm run synth` first/);
  });

  it("GIVEN terraform on PATH WHEN a host is replaced THEN terraform apply -replace runs in the stack directory, and its exit code is returned", () => {
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
      expect(readFileSync(join(dir, "tf-args"), "utf8").trim()).toMatch(new RegExp(`^-chdir=${join(dir, "out", "stacks", "bulwark")} apply -replace=hcloud_server\\.Lb1_Server_[0-9A-F]{8} -auto-approve$`));
      expect(lines[1]).toMatch(/its rollout step terraform_data\.HostRollout_Lb1_[0-9A-F]{8} runs again and waits for the role's gate/);
    } finally {
      process.env["PATH"] = path;
    }
  });
});
