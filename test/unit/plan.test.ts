import { describe, expect, it } from "vitest";
import { ADDRESS_BLOCKS, MAX_PER_PLACEMENT_GROUP } from "../../plan/catalog.ts";
import { buildPlan } from "../../plan/plan.ts";
import { cidrContains, parseIpv4Cidr } from "../../topology/cidr.ts";
import { validateTopology } from "../../topology/load.ts";
import { sizedInput, TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const planOf = (patch: Record<string, unknown> = {}) => buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS);

describe("plan", () => {
  it("GIVEN the seed WHEN planned THEN it has 18 hosts per role as designed, each on a unique static IP in the subnet", () => {
    const plan = planOf();
    const count = (role: string) => plan.hosts.filter((h) => h.role === role).length;
    expect([count("lb"), count("app"), count("parser"), count("storage"), count("mongo")]).toEqual([2, 2, 2, 3, 9]);
    const subnet = parseIpv4Cidr(plan.network.subnet)!;
    for (const h of plan.hosts) expect(cidrContains(subnet, parseIpv4Cidr(`${h.privateIp}/32`)!), h.name).toBe(true);
    expect(new Set(plan.hosts.map((h) => h.privateIp)).size).toBe(18);
  });

  it("GIVEN the seed WHEN planned THEN the Mongo hosts form a config set and two shards of 3", () => {
    const plan = planOf();
    expect(plan.mongo.replicaSets.map((rs) => [rs.name, rs.kind, rs.port, rs.members.length])).toEqual([
      ["cfg", "config", 27019, 3],
      ["shard1", "shard", 27018, 3],
      ["shard2", "shard", 27018, 3],
    ]);
  });

  it("GIVEN a role that grows WHEN planned again THEN no existing host changes address or group", () => {
    const before = planOf();
    const after = planOf({ roles: { app: { count: 12 }, mongo: { shards: 3 } } });
    for (const h of before.hosts) {
      const same = after.hosts.find((a) => a.name === h.name)!;
      expect([same.privateIp, same.placementGroup], h.name).toEqual([h.privateIp, h.placementGroup]);
    }
  });

  it("GIVEN 100 hosts WHEN planned THEN no placement group holds more than 10 and every Mongo set has its own group", () => {
    const plan = buildPlan(validateTopology(sizedInput(100)), TEST_PLAN_INPUTS);
    expect(plan.hosts).toHaveLength(100);
    for (const g of plan.placementGroups) expect(g.hosts.length, g.name).toBeLessThanOrEqual(MAX_PER_PLACEMENT_GROUP);
    expect(plan.placementGroups.filter((g) => g.role === "app").map((g) => g.name)).toEqual([
      "pg-app-1",
      "pg-app-2",
      "pg-app-3",
      "pg-app-4",
      "pg-app-5",
    ]);
    for (const rs of plan.mongo.replicaSets) {
      const groups = new Set(plan.hosts.filter((h) => h.replicaSet === rs.name).map((h) => h.placementGroup));
      expect([...groups]).toEqual([`pg-mongo-${rs.name}`]);
    }
  });

  it("GIVEN more hosts than a role's address block WHEN planned THEN the error names the role and the block size", () => {
    expect(() => planOf({ roles: { app: { count: 80 } } })).toThrow(
      /^roles\.app: has 80 hosts, but the app address block of 10\.0\.1\.0\/24 holds 75 .*Fix: use at most 75 app hosts$/,
    );
    expect(ADDRESS_BLOCKS.app.size).toBe(75);
  });

  it(
    "GIVEN the seed WHEN planned THEN the app port is open only to the lbs, VRRP only " +
      "between the lbs, and SSH on the private side only from the lbs (the rollout's bastion)",
    () => {
      const plan = planOf();
      const ip = (name: string) => plan.hosts.find((h) => h.name === name)!.privateIp;
      const bastion = (...from: string[]) => expect.objectContaining({ service: "ssh-bastion", protocol: "tcp", ports: "22", sources: from.map(ip) });
      expect(plan.firewall.hosts["app-1"]).toEqual([
        bastion("lb-1", "lb-2"),
        expect.objectContaining({ service: "mail-api", protocol: "tcp", ports: "8080", sources: [ip("lb-1"), ip("lb-2")] }),
      ]);
      expect(plan.firewall.hosts["lb-1"]).toEqual([bastion("lb-2"), expect.objectContaining({ service: "vrrp", sources: [ip("lb-2")] })]);
      expect(plan.firewall.hosts["parser-1"]).toEqual([bastion("lb-1", "lb-2")]);
    },
  );

  it("GIVEN the seed WHEN planned THEN gluster ports are open to storage peers and clients but not to the lbs or Mongo", () => {
    const plan = planOf();
    const bricks = plan.firewall.hosts["storage-1"]!.find((r) => r.service === "gluster-bricks")!;
    expect(bricks.sourceHosts).toEqual(["app-1", "app-2", "parser-1", "parser-2", "storage-2", "storage-3"]);
  });

  it("GIVEN the seed (TLS off) WHEN planned THEN the public side opens 80 on the lbs, 22 from the admin CIDRs only, and 443 nowhere", () => {
    const plan = planOf({ admin: { sshSourceCidrs: ["203.0.113.0/24", "2001:db8::/32"] } });
    const summary = plan.firewall.public.map((fw) => [fw.name, fw.rules.map((r) => `${r.port}<-${r.sourceIps.join("+")}`)]);
    expect(summary).toEqual([
      ["lb", ["80<-0.0.0.0/0+::/0", "22<-203.0.113.0/24+2001:db8::/32"]],
      ["base", ["22<-203.0.113.0/24+2001:db8::/32"]],
    ]);
  });

  it("GIVEN TLS on WHEN planned THEN 443 is open on the lbs only", () => {
    const plan = planOf({ roles: { lb: { tls: true } } });
    expect(plan.firewall.public.map((fw) => [fw.name, fw.rules.map((r) => r.port)])).toEqual([
      ["lb", ["80", "443", "22"]],
      ["base", ["22"]],
    ]);
  });

  it("GIVEN no admin CIDRs WHEN planned THEN no SSH rule exists at all", () => {
    const plan = planOf({ admin: { sshSourceCidrs: [] } });
    expect(plan.firewall.public.flatMap((fw) => fw.rules.map((r) => r.service))).toEqual(["http"]);
  });

  it("GIVEN the same topology twice WHEN planned THEN the plans are identical", () => {
    expect(JSON.stringify(planOf())).toBe(JSON.stringify(planOf()));
  });
});
