import { describe, expect, it } from "vitest";
import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { buildPlan } from "../../plan/plan.ts";
import { renderTemplate } from "../../render/handlebars.ts";
import { renderAll, renderHost } from "../../render/host.ts";
import { USER_DATA_LIMIT_BYTES } from "../../render/cloud-config.ts";
import { worstCaseLength } from "../../render/deploy-values.ts";
import { EXAMPLE_ADMIN_KEY } from "../../topology/defaults.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const planOf = (patch: Record<string, unknown> = {}) => buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS);

describe("rendering", () => {
  it("GIVEN a template value is missing WHEN rendered THEN handlebars' strict mode throws instead of writing an empty string", () => {
    expect(() => renderTemplate("base/host.env", { project: "p", host: "h", role: "app", privateIp: "10.0.1.100" })).toThrow(/"subnet" not defined/);
  });

  it("GIVEN a value with HTML characters WHEN rendered THEN it is placed as is (no HTML escaping)", () => {
    const out = renderTemplate("base/host.env", { project: "a&b<c>", host: "h", role: "app", privateIp: "1", subnet: "s" });
    expect(out).toContain("BULWARK_PROJECT=a&b<c>");
  });

  it("GIVEN a host WHEN rendered THEN user_data is #cloud-config YAML whose write_files hold every file byte for byte", () => {
    const plan = planOf();
    const r = renderHost(plan, plan.hosts[0]!);
    expect(r.userData.startsWith("#cloud-config\n")).toBe(true);
    const doc = parse(r.userData) as { write_files: { path: string; content: string; encoding?: string }[]; packages: string[]; hostname: string };
    expect(doc.hostname).toBe("lb-1");
    const decoded = doc.write_files.map((f) => [
      f.path,
      f.encoding === "gz+b64" ? gunzipSync(Buffer.from(f.content, "base64")).toString("utf8") : f.content,
    ]);
    // Every file but the host agent and its settings, which travel with each rollout instead.
    const rolloutOnly = [plan.rollout.paths.agent, plan.rollout.paths.config];
    expect(r.files.slice(-2).map((f) => f.path)).toEqual(rolloutOnly);
    expect(decoded).toEqual(r.files.filter((f) => !rolloutOnly.includes(f.path)).map((f) => [f.path, f.content]));
    expect(doc.packages).toEqual(["openssh-server", "sudo", "nftables", "haproxy", "keepalived", "curl", "jq"]);
  });

  it("GIVEN the admin settings WHEN rendered THEN root login and passwords are off and the admin user gets the keys", () => {
    const plan = planOf();
    const doc = parse(renderHost(plan, plan.hosts[2]!).userData) as Record<string, unknown>;
    expect(doc).toMatchObject({ disable_root: true, ssh_pwauth: false });
    expect(doc["users"]).toEqual([expect.objectContaining({ name: "bulwark", lock_passwd: true, ssh_authorized_keys: [EXAMPLE_ADMIN_KEY] })]);
  });

  it("GIVEN an app host WHEN its firewall is rendered THEN 8080 is open to the two lb addresses only and the policy is drop", () => {
    const plan = planOf();
    const nft = renderHost(plan, plan.hosts.find((h) => h.name === "app-1")!).files.find((f) => f.path === "/etc/nftables.conf")!.content;
    expect(nft).toContain("policy drop;");
    expect(nft).toContain('ip saddr { 10.0.1.10, 10.0.1.11 } tcp dport 8080 accept comment "mail API / web app behind haproxy"');
    expect(nft).not.toMatch(/dport (80|443) accept/);
  });

  it("GIVEN IPv6 admin CIDRs WHEN the firewall is rendered THEN they go into an ip6 rule", () => {
    const plan = planOf({ admin: { sshSourceCidrs: ["203.0.113.0/24", "2001:db8::/32"] } });
    const nft = renderHost(plan, plan.hosts[0]!).files.find((f) => f.path === "/etc/nftables.conf")!.content;
    expect(nft).toContain("ip saddr { 203.0.113.0/24 } tcp dport 22 accept");
    expect(nft).toContain("ip6 saddr { 2001:db8::/32 } tcp dport 22 accept");
  });

  it("GIVEN user_data over 32 KiB WHEN every host is rendered THEN the error names each host and its size", () => {
    const keys = Array.from({ length: 400 }, (_, i) => ({ name: `k${i}`, publicKey: EXAMPLE_ADMIN_KEY }));
    // The topology rules keep the keys to 6 KiB, so the plan is given these directly.
    const base = planOf();
    const plan = { ...base, admin: { ...base.admin, sshKeys: keys } };
    expect(() => renderAll(plan)).toThrow(/^hosts\.lb-1\.user_data: is \d+ bytes, above Hetzner's 32768-byte limit; got \d+\. Fix: /);
    try {
      renderAll(plan);
    } catch (err) {
      expect((err as Error).message.split("\n")).toHaveLength(18);
    }
  });

  it("GIVEN a long file without deploy-time markers WHEN rendered THEN it travels gzip+base64; one with a marker stays text", () => {
    const plan = planOf();
    const doc = parse(renderHost(plan, plan.hosts[0]!).userData) as { write_files: { path: string; content: string; encoding?: string }[] };
    const byPath = new Map(doc.write_files.map((f) => [f.path, f]));
    expect(byPath.get("/etc/haproxy/haproxy.cfg")!.encoding).toBe("gz+b64");
    expect(byPath.get("/etc/keepalived/keepalived.conf")!.encoding).toBeUndefined();
    expect(byPath.get("/etc/keepalived/keepalived.conf")!.content).toContain("@@deploy:floating_ip_address@@");
    expect(byPath.get("/etc/bulwark/host.env")!.encoding).toBeUndefined();
  });

  it("GIVEN the seed and TLS WHEN rendered THEN every user_data leaves at least 4 KiB of the limit for later layers", () => {
    for (const r of renderAll(planOf({ roles: { lb: { tls: true } } })))
      expect(worstCaseLength(r.userData), r.host.name).toBeLessThan(USER_DATA_LIMIT_BYTES - 4096);
  });
});
