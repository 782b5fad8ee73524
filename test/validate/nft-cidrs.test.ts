/**
 * The admin SSH ranges the topology accepts, however unusually written (compressed or
 * zero-padded IPv6 groups, upper case, /128 and /32, mixed families, overlaps, the /8 and /16
 * floors, "anywhere" with the opt-in), render host firewalls that nft loads. A range nft cannot
 * read would leave the host booting with no firewall at all; the control below shows nft refuses
 * one such file (an IPv6 zone id, which the topology now rejects).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { renderHost } from "../../render/host.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";
import { haveTool, needRoot } from "../support/tools.ts";

const VARIANTS: Record<string, { cidrs: string[]; anywhere?: true }> = {
  "IPv4 /32, /25 and /24": { cidrs: ["198.51.100.7/32", "192.0.2.128/25", "203.0.113.0/24"] },
  "IPv6 written unusually": {
    cidrs: ["2001:db8::/32", "::1/128", "2001:DB8:0:0:1::/80", "2001:0db8:abcd::/48", "fe80::/64", "2001:db8:1:2:3:4:5:6/128"],
  },
  "mixed families, overlapping": { cidrs: ["203.0.113.0/24", "2001:db8::/32", "203.0.113.128/25", "2001:db8:ffff::/48"] },
  "at the floors (/8, /16)": { cidrs: ["1.0.0.0/8", "2001::/16"] },
  "anywhere, with the opt-in": { cidrs: ["0.0.0.0/1", "128.0.0.0/1", "::/0"], anywhere: true },
};

const dir = mkdtempSync(join(tmpdir(), "bulwark-nft-cidrs-"));

/** One nftables.conf per kind of host (lb, app, parser, storage, mongo config, mongo shard) of a variant. */
function firewalls(name: string, cidrs: string[], anywhere?: true): { file: string; content: string }[] {
  const topology = validateTopology(withInput({ admin: { sshSourceCidrs: cidrs, ...(anywhere ? { allowSshFromAnywhere: true } : {}) } }));
  expect(topology.admin.sshSourceCidrs).toEqual(cidrs);
  const plan = buildPlan(topology, TEST_PLAN_INPUTS);
  const oneEach = [...new Map(plan.hosts.map((h) => [h.component, h])).values()];
  return oneEach.map((host) => {
    const content = renderHost(plan, host).files.find((f) => f.path === "/etc/nftables.conf")!.content;
    const file = join(dir, `${name.replace(/[^a-z0-9]+/gi, "-")}-${host.name}.nft`);
    writeFileSync(file, content);
    return { file, content };
  });
}

function nftCheck(file: string): { status: number | null; output: string } {
  const r = spawnSync("nft", ["-c", "-f", file], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe.runIf(haveTool("nft", "nftables") && needRoot("nft -c (checking a ruleset)"))("nft on the admin ranges the topology accepts", () => {
  it.each(Object.entries(VARIANTS))(
    "GIVEN sshSourceCidrs %s WHEN every kind of host's firewall is checked with nft -c THEN each loads, with every range in it",
    (name, { cidrs, anywhere }) => {
      const rendered = firewalls(name, cidrs, anywhere);
      expect(rendered).toHaveLength(6);
      for (const { file, content } of rendered) {
        for (const cidr of cidrs) expect(content, file).toContain(cidr);
        const r = nftCheck(file);
        expect(r.output, file).toBe("");
        expect(r.status, file).toBe(0);
      }
    },
  );

  it("GIVEN a rendered firewall with an IPv6 zone id put in WHEN checked THEN nft refuses the whole file (the host would have none)", () => {
    const [{ file, content }] = firewalls("control", ["2001:db8::/32"]);
    const broken = `${file}.zone.nft`;
    writeFileSync(broken, content.replace("2001:db8::/32", "fe80::1%eth0/128"));
    expect(nftCheck(file!).status).toBe(0);
    expect(nftCheck(broken).status).not.toBe(0);
  });
});
