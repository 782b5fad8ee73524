/**
 * The validate tier: the real tools that will load the rendered files, run on every host "as
 * deployed" (deploy-time values replaced by samples) of the seed and of a variant (vrrp-vip,
 * TLS, IPv6 admin range, replica 2 + arbiter). Each tool is also shown a broken file, so a
 * check that cannot fail would be caught.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { prepare, synthesize } from "../../synth/pipeline.ts";
import { sampleDeployValues, withSamples, writeDeployedHosts } from "../support/deployed.ts";
import { DEPLOY_VALUES } from "../../render/deploy-values.ts";
import { listFiles as files } from "../support/files.ts";
import { withInput } from "../support/fixtures.ts";
import { haveTool, needRoot } from "../support/tools.ts";

const VARIANT = withInput({
  name: "variant",
  roles: { lb: { failover: "vrrp-vip", vip: { address: "10.0.1.9", interface: "eth1" }, tls: true }, storage: { replica: 2, arbiter: true } },
  admin: { sshSourceCidrs: ["203.0.113.0/24", "2001:db8::/32"] },
  mail: { ingress: true, domains: ["example.com", "mail.example.org"] },
});

const tmp = mkdtempSync(join(tmpdir(), "bulwark-validate-"));
writeDeployedHosts(join(tmp, "seed"), prepare({ kind: "seed" }).rendered);
writeDeployedHosts(join(tmp, "variant"), prepare({ kind: "object", topology: VARIANT }).rendered);
synthesize({ kind: "seed" }, join(tmp, "review-out"), join(tmp, "review"));

const deployed = [...files(join(tmp, "seed")), ...files(join(tmp, "variant"))];
const rel = (f: string) => f.slice(tmp.length + 1);
const userData = deployed.filter((f) => f.endsWith("/user-data.yaml"));
const yamlFiles = [...deployed, ...files(join(tmp, "review"))].filter((f) => /\.ya?ml$/.test(f));
const shellScripts = deployed.filter((f) => /^#!\/(usr\/)?bin\/(env )?(ba|da)?sh\b/.test(readFileSync(f, "utf8")));
const nftConfigs = deployed.filter((f) => f.endsWith("/etc/nftables.conf"));
const pythonScripts = deployed.filter((f) => readFileSync(f, "utf8").startsWith("#!/usr/bin/python3"));
const haproxyConfigs = deployed.filter((f) => f.endsWith("/etc/haproxy/haproxy.cfg"));
const keepalivedConfigs = deployed.filter((f) => f.endsWith("/etc/keepalived/keepalived.conf"));

function tool(command: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("rendered files found", () => {
  it("GIVEN two topologies WHEN rendered THEN every host has user-data, a firewall and shell scripts, and both lbs haproxy and keepalived", () => {
    expect(userData).toHaveLength(36);
    expect(nftConfigs).toHaveLength(36);
    expect(shellScripts.length).toBeGreaterThanOrEqual(36);
    expect(haproxyConfigs).toHaveLength(4);
    expect(keepalivedConfigs).toHaveLength(4);
  });
});

describe.runIf(haveTool("cloud-init", "cloud-init"))("cloud-init schema", () => {
  it("GIVEN a broken cloud-config WHEN checked THEN cloud-init rejects it", () => {
    const bad = join(tmp, "bad-user-data.yaml");
    writeFileSync(bad, "#cloud-config\npackages: 5\nwrite_files: [{content: x}]\n");
    expect(tool("cloud-init", ["schema", "--config-file", bad]).status).not.toBe(0);
  });

  it.each(userData.map((f) => [rel(f), f]))("GIVEN %s WHEN checked THEN it is valid cloud-config", (_name, f) => {
    const r = tool("cloud-init", ["schema", "--config-file", f]);
    expect(r.output).toContain("Valid cloud-config");
    expect(r.status).toBe(0);
  });
});

describe("YAML parse", () => {
  it.each(yamlFiles.map((f) => [rel(f), f]))("GIVEN %s WHEN parsed strictly THEN it has no errors or warnings", (_name, f) => {
    expect(() => parse(readFileSync(f, "utf8"), { strict: true, uniqueKeys: true, prettyErrors: true })).not.toThrow();
  });
});

describe.runIf(haveTool("shellcheck", "shellcheck"))("shellcheck", () => {
  it("GIVEN a script with an unquoted expansion WHEN checked THEN shellcheck objects", () => {
    const bad = join(tmp, "bad.sh");
    writeFileSync(bad, "#!/bin/sh\nrm -rf $1/*\n");
    expect(tool("shellcheck", [bad]).status).not.toBe(0);
  });

  it.each(shellScripts.map((f) => [rel(f), f]))("GIVEN %s WHEN checked THEN shellcheck finds nothing", (_name, f) => {
    const r = tool("shellcheck", ["--severity=style", f]);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });
});

describe.runIf(haveTool("python3", "python3"))("python3 compile", () => {
  // compile() parses and compiles without writing a .pyc anywhere.
  const compile = (f: string) => tool("python3", ["-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", f]);

  it("GIVEN a script with a syntax error WHEN compiled THEN python3 rejects it", () => {
    const bad = join(tmp, "bad.py");
    writeFileSync(bad, "#!/usr/bin/python3\ndef f(:\n    pass\n");
    expect(compile(bad).status).not.toBe(0);
  });

  it("GIVEN the lbs WHEN listed THEN each has its haproxy watcher", () => {
    expect(pythonScripts.filter((f) => f.endsWith("/bulwark-haproxy-watch"))).toHaveLength(4);
  });

  it.each(pythonScripts.map((f) => [rel(f), f]))("GIVEN %s WHEN compiled THEN python3 accepts it", (_name, f) => {
    const r = compile(f);
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

  it.each(nftConfigs.map((f) => [rel(f), f]))("GIVEN %s WHEN checked with nft -c THEN the ruleset loads", (_name, f) => {
    const r = tool("nft", ["-c", "-f", f]);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });
});

/**
 * haproxy -c loads the certificate at its absolute path: each check runs in a private mount
 * namespace (unshare -m) with the host's deployed /etc/haproxy bound over the real one.
 */
describe.runIf(haveTool("haproxy", "haproxy") && haveTool("unshare", "util-linux") && needRoot("haproxy -c in a mount namespace"))(
  "haproxy -c",
  () => {
    function check(cfg: string): { status: number | null; output: string } {
      const etc = join(cfg, "..");
      return tool("unshare", ["-m", "sh", "-c", `mount --bind '${etc}' /etc/haproxy && haproxy -c -f /etc/haproxy/haproxy.cfg`]);
    }

    it("GIVEN a config with an unknown balance algorithm WHEN checked THEN haproxy rejects it", () => {
      const dir = mkdtempSync(join(tmp, "bad-haproxy-"));
      writeFileSync(join(dir, "haproxy.cfg"), readFileSync(haproxyConfigs[0]!, "utf8").replace("balance roundrobin", "balance no-such-algorithm"));
      expect(check(join(dir, "haproxy.cfg")).status).not.toBe(0);
    });

    it.each(haproxyConfigs.map((f) => [rel(f), f]))("GIVEN %s WHEN checked THEN haproxy accepts it without warnings", (_name, f) => {
      const r = check(f);
      expect(r.output).not.toMatch(/WARNING|ALERT/);
      expect(r.status).toBe(0);
    });
  },
);

/**
 * keepalived -t needs the instance's interface and source address to exist, and reads the
 * interface include at its absolute path: each check runs in a network namespace of its own
 * (ip netns exec also gives it a private mount namespace) with a veth pair holding the lb's
 * private address and a bind mount over /etc/keepalived.
 */
describe.runIf(haveTool("keepalived", "keepalived") && haveTool("ip", "iproute2") && needRoot("keepalived -t in a network namespace"))(
  "keepalived -t",
  () => {
    const ns = `bwkv${process.pid}`;

    function check(conf: string, privateIp: string, iface: string): { status: number | null; output: string } {
      const etc = mkdtempSync(join(tmp, "ka-etc-"));
      writeFileSync(join(etc, "keepalived.conf"), readFileSync(conf, "utf8"));
      writeFileSync(join(etc, "bulwark-interface.conf"), `interface ${iface}\n`);
      const script = [
        "set -e",
        `ip link add ${iface} type veth peer name ${iface}p`,
        `ip addr add ${privateIp}/24 dev ${iface}`,
        `ip link set ${iface} up`,
        "ip link set lo up",
        `mount --bind ${etc} /etc/keepalived`,
        "keepalived -t -l -f /etc/keepalived/keepalived.conf",
      ].join("\n");
      spawnSync("ip", ["netns", "add", ns]);
      try {
        return tool("ip", ["netns", "exec", ns, "sh", "-c", script]);
      } finally {
        spawnSync("ip", ["netns", "del", ns]);
      }
    }

    it("GIVEN a config with an unknown keyword WHEN checked THEN keepalived rejects it", () => {
      const bad = join(tmp, "bad-keepalived.conf");
      writeFileSync(bad, readFileSync(keepalivedConfigs[0]!, "utf8").replace(/^(\s*)nopreempt$/m, "$1no_such_keyword"));
      expect(check(bad, "10.0.1.10", "priv0").status).not.toBe(0);
    });

    it.each(keepalivedConfigs.map((f) => [rel(f), f]))("GIVEN %s WHEN checked THEN keepalived accepts it", (_name, f) => {
      const text = readFileSync(f, "utf8");
      const privateIp = /unicast_src_ip (\S+)/.exec(text)![1]!;
      const iface = /dev (eth1)\b/.exec(text)?.[1] ?? "priv0";
      const r = check(f, privateIp, iface);
      expect(r.output).toBe("");
      expect(r.status).toBe(0);
      expect(existsSync(`/run/netns/${ns}`)).toBe(false);
    });
  },
);

/**
 * What Terraform hands each server: the synthesized user_data, evaluated by the real terraform
 * (offline: a config with no provider needs no download) with every resource reference bound
 * to a variable holding a sample value. The result must be, byte for byte, the rendered
 * user-data with the same samples: so `${...}` in scripts reaches the host unharmed, and each
 * deploy-time value lands where its marker was.
 */
describe.runIf(haveTool("terraform", "terraform (HashiCorp's build; not in Debian)"))("Terraform's view of user_data", () => {
  it("GIVEN the synthesized stack WHEN terraform evaluates every user_data THEN it equals the rendered user-data", () => {
    const prepared = prepare({ kind: "seed" });
    const stack = JSON.parse(readFileSync(join(tmp, "review-out", "stacks", "bulwark", "cdk.tf.json"), "utf8"));
    const servers = Object.values(stack.resource.hcloud_server as Record<string, { name: string; user_data: string }>);
    // The pool's UUIDs are one random_uuid per storage server, formatted into one value: each is bound to this sample.
    const sampleUuid = "00000000-0000-4000-8000-000000000000";
    const samples: Record<string, string> = {
      ...sampleDeployValues(),
      [DEPLOY_VALUES.glusterdPoolUuids.name]: prepared.plan.storage.peers.map((p) => `${p.address}=${sampleUuid}`).join(" "),
    };
    const variables: Record<string, { type: string; default: string }> = {};
    const refVar = new Map<string, string>();
    const locals: Record<string, string> = {};
    const outputs: Record<string, { value: string }> = {};
    const expected: Record<string, string> = {};
    servers.forEach((server, i) => {
      const rendered = prepared.rendered.find((r) => r.host.serverName === server.name)!;
      const markers = [...rendered.userData.matchAll(/@@deploy(?:-b64)?:([a-z0-9_]+)@@/g)].map((m) => m[1]!);
      let k = 0;
      locals[`ud${i}`] = server.user_data.replace(/(?<!\$)\$\{(.+?)\}/g, (_m, expr: string) => {
        const marker = markers[k++];
        if (marker === undefined) throw new Error(`${server.name}: more Terraform expressions than markers`);
        const bound = expr.replace(/\b(var|hcloud_[a-z_]+|random_[a-z_]+|tls_[a-z_]+)\.[A-Za-z0-9_]+(\.[a-z0-9_]+)?/g, (ref) => {
          if (!refVar.has(ref)) {
            const name = `v${refVar.size}`;
            refVar.set(ref, name);
            variables[name] = { type: "string", default: ref.startsWith("random_uuid.") ? sampleUuid : samples[marker]! };
          }
          return `var.${refVar.get(ref)}`;
        });
        return `\${${bound}}`;
      });
      expect(k, server.name).toBe(markers.length);
      outputs[server.name] = { value: `\${local.ud${i}}` };
      expected[server.name] = withSamples(rendered.userData, samples);
    });
    const dir = join(tmp, "terraform");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ variable: variables, locals, output: outputs }));
    const env = { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null", CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" };
    for (const args of [
      ["init", "-input=false", "-no-color"],
      ["apply", "-auto-approve", "-input=false", "-no-color"],
    ]) {
      const r = spawnSync("terraform", args, { cwd: dir, env, encoding: "utf8", timeout: 120_000 });
      expect(r.status, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(0);
    }
    const r = spawnSync("terraform", ["output", "-json", "-no-color"], { cwd: dir, env, encoding: "utf8" });
    const evaluated = JSON.parse(r.stdout) as Record<string, { value: string }>;
    expect(Object.keys(evaluated).sort()).toEqual(Object.keys(expected).sort());
    for (const [serverName, { value }] of Object.entries(evaluated)) expect(value, serverName).toBe(expected[serverName]);
  });
});
