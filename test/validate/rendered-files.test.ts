/**
 * The validate tier: the real tools that will load the rendered files, run on every host's
 * files of the seed and of a variant (vrrp-vip, IPv6 admin range, replica 2 + arbiter).
 * Each tool is also shown a broken file, so a check that cannot fail would be caught.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { synthesize } from "../../synth/pipeline.ts";
import { haveTool, needRoot } from "../support/tools.ts";
import { listFiles as files } from "../support/files.ts";
import { withInput } from "../support/fixtures.ts";

const tmp = mkdtempSync(join(tmpdir(), "bulwark-validate-"));
synthesize({ kind: "seed" }, join(tmp, "seed-out"), join(tmp, "seed"));
synthesize(
  { kind: "object", topology: withInput({ name: "variant", roles: { lb: { failover: "vrrp-vip" }, storage: { replica: 2, arbiter: true } }, admin: { sshSourceCidrs: ["203.0.113.0/24", "2001:db8::/32"] } }) },
  join(tmp, "variant-out"),
  join(tmp, "variant"),
);
const all = [...files(join(tmp, "seed")), ...files(join(tmp, "variant"))];
const userData = all.filter((f) => f.endsWith("/user-data.yaml"));
const yamlFiles = all.filter((f) => /\.ya?ml$/.test(f));
const shellScripts = all.filter((f) => /^#!\/(usr\/)?bin\/(env )?(ba|da)?sh\b/.test(readFileSync(f, "utf8")));
const nftConfigs = all.filter((f) => f.endsWith("/etc/nftables.conf"));

function tool(command: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("rendered files found", () => {
  it("GIVEN two synthesized topologies WHEN listed THEN every host has user-data, a firewall and a shell script", () => {
    expect(userData).toHaveLength(36);
    expect(nftConfigs).toHaveLength(36);
    expect(shellScripts.length).toBeGreaterThanOrEqual(36);
  });
});

describe.runIf(haveTool("cloud-init", "cloud-init"))("cloud-init schema", () => {
  it("GIVEN a broken cloud-config WHEN checked THEN cloud-init rejects it", () => {
    const bad = join(tmp, "bad-user-data.yaml");
    writeFileSync(bad, "#cloud-config\npackages: 5\nwrite_files: [{content: x}]\n");
    expect(tool("cloud-init", ["schema", "--config-file", bad]).status).not.toBe(0);
  });

  it.each(userData.map((f) => [f.slice(tmp.length + 1), f]))("GIVEN %s WHEN checked THEN it is valid cloud-config", (_name, f) => {
    const r = tool("cloud-init", ["schema", "--config-file", f]);
    expect(r.output).toContain("Valid cloud-config");
    expect(r.status).toBe(0);
  });
});

describe("YAML parse", () => {
  it.each(yamlFiles.map((f) => [f.slice(tmp.length + 1), f]))("GIVEN %s WHEN parsed strictly THEN it has no errors or warnings", (_name, f) => {
    expect(() => parse(readFileSync(f, "utf8"), { strict: true, uniqueKeys: true, prettyErrors: true })).not.toThrow();
  });
});

describe.runIf(haveTool("shellcheck", "shellcheck"))("shellcheck", () => {
  it("GIVEN a script with an unquoted expansion WHEN checked THEN shellcheck objects", () => {
    const bad = join(tmp, "bad.sh");
    writeFileSync(bad, "#!/bin/sh\nrm -rf $1/*\n");
    expect(tool("shellcheck", [bad]).status).not.toBe(0);
  });

  it.each(shellScripts.map((f) => [f.slice(tmp.length + 1), f]))("GIVEN %s WHEN checked THEN shellcheck finds nothing", (_name, f) => {
    const r = tool("shellcheck", ["--severity=style", f]);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });
});

describe.runIf(haveTool("nft", "nftables") && needRoot("nft -c (checking a ruleset)"))("nftables", () => {
  it("GIVEN a ruleset with a syntax error WHEN checked THEN nft rejects it", () => {
    const bad = join(tmp, "bad.nft");
    writeFileSync(bad, "table inet t { chain c { type filter hook input priority filter; policy drop; tcp dport { accept } }\n");
    expect(tool("nft", ["-c", "-f", bad]).status).not.toBe(0);
  });

  it.each(nftConfigs.map((f) => [f.slice(tmp.length + 1), f]))("GIVEN %s WHEN checked with nft -c THEN the ruleset loads", (_name, f) => {
    const r = tool("nft", ["-c", "-f", f]);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });
});
