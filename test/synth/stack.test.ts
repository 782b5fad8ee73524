/**
 * The synthesized Terraform JSON of the seed: resources and counts per role, static IPs,
 * placement, firewalls, the Floating IP, and every attribute checked against the provider schema.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { BulwarkStack } from "../../constructs/stack.ts";
import { renderAll } from "../../render/host.ts";
import { prepare } from "../../synth/pipeline.ts";
import { cidrContains, parseIpv4Cidr } from "../../topology/cidr.ts";
import { constructId as idOfHost } from "../../topology/ids.ts";
import type { TopologySource } from "../../topology/load.ts";
import { withInput } from "../support/fixtures.ts";

type Json = Record<string, any>;

function synth(source: TopologySource = { kind: "seed" }): Json {
  const prepared = prepare(source);
  const app = Testing.app();
  const stack = new BulwarkStack(app, prepared.plan.name, { plan: prepared.plan, rendered: prepared.rendered });
  return JSON.parse(Testing.synth(stack)) as Json;
}

const resources = (tf: Json, type: string): Json[] => Object.values(tf["resource"]?.[type] ?? {});

const SCHEMA = JSON.parse(readFileSync(join(import.meta.dirname, "../../providers/hcloud/schema.json"), "utf8")) as Json;
const RESOURCE_SCHEMAS = SCHEMA["provider_schemas"]["registry.terraform.io/hetznercloud/hcloud"]["resource_schemas"] as Json;
/** Terraform meta-arguments and cdktf's metadata key, allowed on any resource. */
const META = new Set(["//", "depends_on", "lifecycle", "provider", "count", "for_each", "connection", "provisioner"]);

/** Attribute paths in `value` that the schema block does not define. */
function unknownAttributes(block: Json, value: Json, path: string, meta: boolean): string[] {
  return Object.entries(value).flatMap(([key, v]) => {
    if (meta && META.has(key)) return [];
    if (block["attributes"]?.[key])
      return block["attributes"][key].computed && !block["attributes"][key].optional && !block["attributes"][key].required
        ? [`${path}.${key} (computed only)`]
        : [];
    const nested = block["block_types"]?.[key];
    if (!nested) return [`${path}.${key}`];
    return (Array.isArray(v) ? v : [v]).flatMap((item: Json, i: number) => unknownAttributes(nested.block, item, `${path}.${key}[${i}]`, false));
  });
}

describe("synthesized stack of the seed", () => {
  const tf = synth();
  const servers = resources(tf, "hcloud_server");

  it("GIVEN the seed WHEN synthesized THEN there are 18 servers: 2 lb, 2 app, 2 parser, 3 storage, 9 mongo", () => {
    const byRole: Record<string, number> = {};
    for (const s of servers) byRole[s.labels["bulwark/role"]] = (byRole[s.labels["bulwark/role"]] ?? 0) + 1;
    expect(byRole).toEqual({ lb: 2, app: 2, parser: 2, storage: 3, mongo: 9 });
  });

  it("GIVEN the seed WHEN synthesized THEN the other hcloud resources are there in the expected numbers", () => {
    const counts = Object.fromEntries(
      Object.entries(tf["resource"] as Json)
        .filter(([type]) => type.startsWith("hcloud_"))
        .map(([type, r]) => [type, Object.keys(r).length]),
    );
    expect(counts).toEqual({
      hcloud_firewall: 2,
      hcloud_floating_ip: 1,
      hcloud_network: 1,
      hcloud_network_subnet: 1,
      hcloud_placement_group: 7,
      hcloud_server: 18,
      hcloud_ssh_key: 1,
      hcloud_volume: 3,
      hcloud_volume_attachment: 3,
    });
  });

  it("GIVEN the seed WHEN synthesized THEN every server sits on a distinct static private IP inside the subnet", () => {
    const subnet = parseIpv4Cidr("10.0.1.0/24")!;
    const ips = servers.map((s) => s.network[0].ip as string);
    for (const ip of ips) expect(cidrContains(subnet, parseIpv4Cidr(`${ip}/32`)!), ip).toBe(true);
    expect(new Set(ips).size).toBe(18);
    for (const s of servers) expect(s.depends_on).toEqual([expect.stringMatching(/^hcloud_network_subnet\./)]);
  });

  it("GIVEN the seed WHEN synthesized THEN no placement group holds more than 10 servers, and all are spread", () => {
    const perGroup = new Map<string, number>();
    for (const s of servers) perGroup.set(s.placement_group_id, (perGroup.get(s.placement_group_id) ?? 0) + 1);
    expect(perGroup.size).toBe(7);
    for (const n of perGroup.values()) expect(n).toBeLessThanOrEqual(10);
    for (const g of resources(tf, "hcloud_placement_group")) expect(g.type).toBe("spread");
  });

  it("GIVEN the provider schema WHEN every resource is compared THEN no attribute is unknown to it and none is datacenter", () => {
    const hcloud = Object.entries(tf["resource"] as Json).filter(([type]) => type.startsWith("hcloud_"));
    const problems = hcloud.flatMap(([type, byId]) => {
      const schema = RESOURCE_SCHEMAS[type];
      if (!schema) return [`${type}: not in providers/hcloud/schema.json`];
      return Object.entries(byId as Json).flatMap(([id, value]) => unknownAttributes(schema.block, value as Json, `${type}.${id}`, true));
    });
    expect(problems).toEqual([]);
    expect(JSON.stringify(tf)).not.toContain('"datacenter"');
  });

  it("GIVEN a server with datacenter or a misspelt block field WHEN compared THEN the checker reports both", () => {
    const bad = { name: "x", server_type: "cx23", datacenter: "fsn1-dc14", network: [{ ip: "10.0.1.9", netwrk_id: 1 }] };
    expect(unknownAttributes(RESOURCE_SCHEMAS["hcloud_server"].block, bad, "s", true)).toEqual(["s.datacenter", "s.network[0].netwrk_id"]);
  });

  it("GIVEN the provider schema WHEN every resource is compared THEN every required attribute is set", () => {
    const hcloud = Object.entries(tf["resource"] as Json).filter(([type]) => type.startsWith("hcloud_"));
    const missing = hcloud.flatMap(([type, byId]) => {
      const required = Object.entries(RESOURCE_SCHEMAS[type].block.attributes as Json)
        .filter(([, a]) => a.required)
        .map(([k]) => k);
      return Object.entries(byId as Json).flatMap(([id, v]) => required.filter((k) => (v as Json)[k] === undefined).map((k) => `${type}.${id}.${k}`));
    });
    expect(missing).toEqual([]);
  });

  it(
    "GIVEN the lb pair WHEN synthesized THEN one Floating IP exists, unassigned " +
      "by Terraform: no apply ever moves it, keepalived's MASTER takes it",
    () => {
      const [fip, ...more] = resources(tf, "hcloud_floating_ip");
      expect(more).toEqual([]);
      expect(fip).toMatchObject({ type: "ipv4", home_location: "fsn1", lifecycle: { ignore_changes: ["server_id"] } });
      expect(fip!.server_id).toBeUndefined();
      expect(resources(tf, "hcloud_floating_ip_assignment")).toEqual([]);
      // Nothing else refers to a server from the Floating IP either.
      expect(JSON.stringify(fip)).not.toContain("hcloud_server");
      expect(tf["output"]["floating_ip_address"].value).toMatch(/^\$\{hcloud_floating_ip\..*\.ip_address\}$/);
    },
  );

  it(
    "GIVEN the public firewalls (TLS off) WHEN synthesized THEN the lb " + "one opens 80 and 22, the other only 22, all inbound; 443 stays closed",
    () => {
      const rules = Object.fromEntries(
        resources(tf, "hcloud_firewall").map((f) => [f.name, f.rule.map((r: Json) => `${r.direction} ${r.protocol}/${r.port}`)]),
      );
      expect(rules).toEqual({ "bulwark-lb": ["in tcp/80", "in tcp/22"], "bulwark-base": ["in tcp/22"] });
      const lbFirewall = Object.entries(tf["resource"]["hcloud_firewall"] as Json).find(([, f]) => (f as Json).name === "bulwark-lb")![0];
      for (const s of servers) {
        expect(s.firewall_ids, s.name).toEqual([expect.stringContaining(s.labels["bulwark/role"] === "lb" ? lbFirewall : "PublicFirewalls_Base")]);
      }
    },
  );

  it("GIVEN the storage hosts WHEN synthesized THEN each has a 100 GB XFS volume attached without automount", () => {
    expect(resources(tf, "hcloud_volume").map((v) => [v.name, v.size, v.format, v.automount])).toEqual([
      ["bulwark-storage-1-brick", 100, "xfs", false],
      ["bulwark-storage-2-brick", 100, "xfs", false],
      ["bulwark-storage-3-brick", 100, "xfs", false],
    ]);
    expect(resources(tf, "hcloud_volume_attachment").map((a) => a.server_id)).toEqual([
      expect.stringMatching(/Storage1_Server/),
      expect.stringMatching(/Storage2_Server/),
      expect.stringMatching(/Storage3_Server/),
    ]);
  });

  it("GIVEN host names WHEN synthesized THEN construct IDs come from them, not from positions", () => {
    const ids = Object.keys(tf["resource"]["hcloud_server"] as Json).map((id) => id.replace(/_Server_[0-9A-F]+$/, ""));
    expect(ids.sort()).toEqual([
      "App1",
      "App2",
      "Lb1",
      "Lb2",
      "MongoCfg1",
      "MongoCfg2",
      "MongoCfg3",
      "MongoS11",
      "MongoS12",
      "MongoS13",
      "MongoS21",
      "MongoS22",
      "MongoS23",
      "Parser1",
      "Parser2",
      "Storage1",
      "Storage2",
      "Storage3",
    ]);
  });

  it("GIVEN the provider WHEN synthesized THEN it is pinned ~> 1.68 and carries no token (HCLOUD_TOKEN is read at deploy)", () => {
    expect(tf["terraform"]["required_providers"]["hcloud"]).toEqual({ source: "hetznercloud/hcloud", version: "~> 1.68" });
    expect(tf["provider"]["hcloud"]).toEqual([{}]);
  });

  it("GIVEN vrrp-vip failover WHEN synthesized THEN no Floating IP is created", () => {
    const vip = synth({
      kind: "object",
      topology: withInput({ roles: { lb: { failover: "vrrp-vip", vip: { address: "10.0.1.9", interface: "eth1" } } } }),
    });
    expect(resources(vip, "hcloud_floating_ip")).toEqual([]);
    expect(vip["output"]["floating_ip_address"]).toBeUndefined();
    expect(vip["variable"]?.["failover_api_token"]).toBeUndefined();
  });

  it("GIVEN floating-ip failover WHEN synthesized THEN the lb hosts alone receive the token, from a sensitive variable", () => {
    expect(tf["variable"]["failover_api_token"]).toMatchObject({ type: "string", sensitive: true, nullable: false });
    for (const server of servers) {
      const refs = (server.user_data as string).includes("${var.failover_api_token}");
      expect(refs, server.name).toBe(server.labels["bulwark/role"] === "lb");
    }
  });

  it("GIVEN TLS on WHEN synthesized THEN the certificate comes base64-encoded from a sensitive, size-checked variable", () => {
    const tls = synth({ kind: "object", topology: withInput({ roles: { lb: { tls: true } } }) });
    expect(tls["variable"]["tls_certificate_pem"]).toMatchObject({
      sensitive: true,
      validation: [expect.objectContaining({ condition: expect.stringContaining("length(var.tls_certificate_pem) <= 6144") })],
    });
    const lb = resources(tls, "hcloud_server").find((s) => s.name === "bulwark-lb-1")!;
    expect(lb.user_data).toContain("${base64encode(var.tls_certificate_pem)}");
    expect(lb.user_data).toContain("encoding: b64");
  });

  it("GIVEN every secret WHEN synthesized THEN it is a Terraform reference: sensitive variables or random resources, no literal", () => {
    // The two switches (bool variables) are no secrets; every other variable is.
    const switches = ["rollout_via_bastion", "rollout_accept_drift"];
    for (const [name, v] of Object.entries((tf["variable"] ?? {}) as Json)) if (!switches.includes(name)) expect(v.sensitive, name).toBe(true);
    const lb = servers.find((s) => s.name === "bulwark-lb-1")!;
    expect(lb.user_data).toMatch(/content: \|\n\s+\$\{var\.failover_api_token\}\n/);
  });

  it(
    "GIVEN the mail API WHEN synthesized THEN its bearer token is a random " + "password that only app hosts hold, exported as a sensitive output",
    () => {
      const password = Object.entries(tf["resource"]["random_password"] as Json).find(([id]) => id.startsWith("DeploySecrets_MailApiToken"));
      expect(password?.[1]).toMatchObject({ length: 48, special: false });
      const ref = `\${random_password.${password![0]}.result}`;
      const holders = servers.filter((s) => s.user_data.includes(ref)).map((s) => s.name);
      expect(holders).toEqual(["bulwark-app-1", "bulwark-app-2"]);
      expect(tf["output"]["mail_api_token"]).toMatchObject({ sensitive: true, value: ref });
    },
  );
});

describe("Day-2: no apply replaces a server for a config change; the rollout chain does the work", () => {
  const prepared = prepare({ kind: "seed" });
  const tf = synth();
  const servers = resources(tf, "hcloud_server");
  const steps = tf["resource"]["terraform_data"] as Json;

  it("GIVEN every server WHEN synthesized THEN user_data, image and ssh_keys are ignored after creation", () => {
    for (const s of servers) expect(s.lifecycle, s.name).toEqual({ ignore_changes: ["user_data", "image", "ssh_keys"] });
  });

  it("GIVEN the plan's rollout order WHEN synthesized THEN one terraform_data per host, each depending on the one before, in that order", () => {
    const order = prepared.plan.rollout.steps.map((s) => s.host);
    expect(order.slice(0, 7)).toEqual(["lb-2", "lb-1", "app-1", "app-2", "parser-1", "parser-2", "storage-1"]);
    const ids = Object.keys(steps).filter((id) => !id.startsWith("HostRollout_MongoBalancer"));
    expect(ids).toHaveLength(18);
    const idOf = (host: string) =>
      ids.find((id) =>
        id.startsWith(
          `HostRollout_${host
            .split("-")
            .map((p) => p[0]!.toUpperCase() + p.slice(1))
            .join("")}_`,
        ),
      )!;
    const balancer = (verb: string) => Object.keys(steps).find((id) => id.startsWith(`HostRollout_MongoBalancer${verb}_`))!;
    const firstMongo = prepared.plan.rollout.steps.findIndex((x) => x.gate === "mongo");
    for (const [i, host] of order.entries()) {
      const step = steps[idOf(host)];
      if (i === 0) expect(step.depends_on, host).toEqual(expect.arrayContaining([expect.stringMatching(/^hcloud_volume_attachment\./)]));
      else if (i === firstMongo) expect(step.depends_on, host).toEqual([`terraform_data.${balancer("Stop")}`]);
      else expect(step.depends_on, host).toEqual([`terraform_data.${idOf(order[i - 1]!)}`]);
    }
    // The balancer: stopped after the last storage server, started after the last Mongo member.
    expect(steps[balancer("Stop")].depends_on).toEqual([`terraform_data.${idOf(order[firstMongo - 1]!)}`]);
    expect(steps[balancer("Start")].depends_on).toEqual([`terraform_data.${idOf(order.at(-1)!)}`]);
  });

  it(
    "GIVEN Mongo steps WHEN synthesized THEN the balancer steps run the agent on the cluster's " +
      "bootstrap mongos, and run again whenever a Mongo step does",
    () => {
      const [stop, start] = ["Stop", "Start"].map(
        (v) => Object.entries(steps).find(([id]) => id.startsWith(`HostRollout_MongoBalancer${v}_`))![1] as Json,
      );
      expect(prepared.plan.rollout.balancer!.host).toBe("app-1");
      expect(stop.provisioner).toEqual([{ "remote-exec": { inline: ["sudo /usr/local/sbin/bulwark-host balancer stop"] } }]);
      expect(start.provisioner).toEqual([{ "remote-exec": { inline: ["sudo /usr/local/sbin/bulwark-host balancer start"] } }]);
      expect(stop.connection.host_key).toMatch(/^\$\{trimspace\(tls_private_key\.HostKeys_App1_[0-9A-F]+\.public_key_openssh\)\}$/);
      expect(stop.triggers_replace).toEqual(start.triggers_replace);
      expect(stop.triggers_replace.mongo_steps_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(stop.triggers_replace.servers).toMatch(/^\$\{join\(",", \[hcloud_server\.MongoCfg2_Server_[0-9A-F]+\.id, /);
      // A Mongo config change changes the balancer's trigger; an lb change does not.
      const trigger = (plan: typeof prepared.plan) => {
        const t = JSON.parse(Testing.synth(new BulwarkStack(Testing.app(), plan.name, { plan, rendered: renderAll(plan) }))) as Json;
        const found = Object.entries(t["resource"]["terraform_data"] as Json).find(([id]) => id.startsWith("HostRollout_MongoBalancerStop_"))!;
        return (found[1] as Json).triggers_replace.mongo_steps_sha256 as string;
      };
      const p = prepared.plan;
      expect(trigger({ ...p, lb: { ...p.lb, connectTimeoutMs: p.lb.connectTimeoutMs + 50 } })).toBe(stop.triggers_replace.mongo_steps_sha256);
      expect(trigger({ ...p, rollout: { ...p.rollout, mongo: { ...p.rollout.mongo, maxLagS: 11 } } })).not.toBe(
        stop.triggers_replace.mongo_steps_sha256,
      );
    },
  );

  it("GIVEN the drift override WHEN synthesized THEN every apply passes --accept-drift only when TF_VAR_rollout_accept_drift is true", () => {
    expect(tf["variable"]["rollout_accept_drift"]).toMatchObject({ type: "bool", default: false, nullable: false });
    for (const [id, step] of Object.entries(steps) as [string, Json][]) {
      if (id.startsWith("HostRollout_MongoBalancer")) continue;
      const apply = step.provisioner.at(-1)["remote-exec"].inline[0] as string;
      expect(apply, id).toContain('--sha256 ${nonsensitive(sha256(self.input.bundle))}${var.rollout_accept_drift ? " --accept-drift" : ""}; rc=$?');
    }
  });

  it(
    "GIVEN the bastion mode WHEN synthesized THEN every step, with TF_VAR_rollout_via_bastion, " +
      "goes through lb-1's public address with lb-1's pinned key to the host's private address",
    () => {
      const lb1 = Object.keys(tf["resource"]["hcloud_server"] as Json).find((id) => id.startsWith("Lb1_Server_"))!;
      const lb1Key = Object.keys(tf["resource"]["tls_private_key"] as Json).find((id) => id.startsWith("HostKeys_Lb1_"))!;
      expect(tf["variable"]["rollout_via_bastion"]).toMatchObject({ type: "bool", default: false });
      for (const [id, step] of Object.entries(steps) as [string, Json][]) {
        const host = id.startsWith("HostRollout_MongoBalancer")
          ? "app-1"
          : prepared.plan.hosts.find((h) => id.startsWith(`HostRollout_${idOfHost(h.name)}_`))!.name;
        const privateIp = prepared.plan.hosts.find((h) => h.name === host)!.privateIp;
        const c = step.connection as Json;
        expect(c.bastion_host, id).toBe(`\${var.rollout_via_bastion ? hcloud_server.${lb1}.ipv4_address : ""}`);
        expect(c.bastion_host_key, id).toBe(`\${var.rollout_via_bastion ? trimspace(tls_private_key.${lb1Key}.public_key_openssh) : ""}`);
        expect(c.bastion_user, id).toBe("bulwark");
        expect(c.bastion_private_key, id).toBe("${var.rollout_ssh_private_key}");
        expect(c.host, id).toMatch(new RegExp(`^\\$\\{var\\.rollout_via_bastion \\? "${privateIp.replace(/\./g, "\\.")}" : hcloud_server\\.`));
      }
    },
  );

  it(
    "GIVEN a step WHEN synthesized THEN it is replaced when the host's files or its " +
      "server change, pins the host key, and runs the agent with the bundle's sha256",
    () => {
      const step = Object.entries(steps).find(([id]) => id.startsWith("HostRollout_App1_"))![1] as Json;
      expect(Object.keys(step.triggers_replace).sort()).toEqual(["agent_sha256", "bundle_sha256", "server"]);
      expect(step.triggers_replace.bundle_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(step.triggers_replace.server).toMatch(/^\$\{hcloud_server\.App1_Server_[0-9A-F]+\.id\}$/);
      expect(step.connection.host_key).toMatch(/^\$\{trimspace\(tls_private_key\.HostKeys_App1_[0-9A-F]+\.public_key_openssh\)\}$/);
      expect(step.connection.user).toBe("bulwark");
      const [mkdir, agent, bundle, apply] = step.provisioner;
      expect(mkdir["remote-exec"].inline).toEqual(["install -d -m 0700 /home/bulwark/.bulwark-rollout"]);
      expect(agent.file.content).toMatch(/^\$\{local\.HostRollout_Agent_[0-9A-F]+\}$/);
      expect(bundle.file).toEqual({ content: "${self.input.bundle}", destination: "/home/bulwark/.bulwark-rollout/app-1.json" });
      expect(apply["remote-exec"].inline[0]).toContain(
        "sudo /usr/bin/python3 /home/bulwark/.bulwark-rollout/bulwark-host apply " +
          "/home/bulwark/.bulwark-rollout/app-1.json --sha256 ${nonsensitive(sha256(self.input.bundle))}",
      );
      // The bundle is sensitive (a plan prints no file of it), and secrets reach it as JSON-escaped
      // Terraform expressions, never as text.
      const local = /^\$\{sensitive\(local\.(HostRollout_BundleApp1_[0-9A-F]+)\)\}$/.exec(step.input.bundle)![1]!;
      expect(tf["locals"][local]).toContain("${replace(jsonencode(random_password.DeploySecrets_MailApiToken_");
    },
  );

  it(
    "GIVEN a template edit (haproxy retries) WHEN synthesized again THEN only the " +
      "lb steps' triggers change; servers and their user_data are untouched by the plan",
    () => {
      const changedPlan = { ...prepared.plan, lb: { ...prepared.plan.lb, connectTimeoutMs: prepared.plan.lb.connectTimeoutMs + 50 } };
      const app = Testing.app();
      const stack = new BulwarkStack(app, changedPlan.name, { plan: changedPlan, rendered: renderAll(changedPlan) });
      const after = JSON.parse(Testing.synth(stack)) as Json;
      const triggers = (t: Json) =>
        Object.fromEntries(
          Object.entries(t["resource"]["terraform_data"] as Json).map(([id, s]: [string, Json]) => [
            id.split("_")[1],
            s.triggers_replace.bundle_sha256,
          ]),
        );
      const before = triggers(tf);
      const now = triggers(after);
      const changed = Object.keys(now).filter((k) => now[k] !== before[k]);
      expect(changed.sort()).toEqual(["Lb1", "Lb2"]);
      // The servers' user_data changes too, but is ignored after creation (previous test): no replacement.
      expect(resources(after, "hcloud_server").map((s) => s.lifecycle.ignore_changes)).toEqual(servers.map(() => ["user_data", "image", "ssh_keys"]));
    },
  );

  it(
    "GIVEN each host WHEN synthesized THEN its user_data carries its own " +
      "host key from the tls provider, and every connection pins that host's key",
    () => {
      for (const s of servers) {
        const host = s.name.replace(/^bulwark-/, "");
        const id = host
          .split("-")
          .map((p: string) => p[0]!.toUpperCase() + p.slice(1))
          .join("");
        expect(s.user_data, host).toMatch(new RegExp(`\\$\\{base64encode\\(tls_private_key\\.HostKeys_${id}_[0-9A-F]+\\.private_key_openssh\\)\\}`));
      }
      expect(Object.values(tf["resource"]["tls_private_key"] as Json).every((k: Json) => k.algorithm === "ED25519")).toBe(true);
    },
  );
});
