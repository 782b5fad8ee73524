/**
 * User strings in the synthesized Terraform JSON. Terraform evaluates `${...}` and `%{...}` in
 * every JSON string of cdk.tf.json on the deployer's machine, so no user text may open one, or
 * stand inside one. Every string field of the topology carries a marker here (the free-text ones
 * also every character Terraform gives meaning to that validation admits: `$`, `%`, `{`, `}`,
 * and a `$` or `%` at the very end), the stack is synthesized, and the whole JSON is walked: no
 * Terraform template sequence may touch a marked value. The template sequences themselves are
 * refused at validation (rule no-terraform-templates, test/unit/topology.errors.test.ts).
 */
import { Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { BulwarkStack } from "../../constructs/stack.ts";
import { escapeTerraformTemplate } from "../../render/deploy-values.ts";
import { prepare } from "../../synth/pipeline.ts";
import { EXAMPLE_ADMIN_KEY } from "../../topology/defaults.ts";
import type { TopologyInput } from "../../topology/model.ts";
import { TOPOLOGY_SCHEMA } from "../../topology/schema.ts";
import { TEST_PLAN_INPUTS } from "../support/fixtures.ts";
import { ed25519Key } from "../support/ssh-keys.ts";

type Json = Record<string, any>;

/** Lowercase letters and digits: fits every name pattern. Construct ids capitalise it (Zq7x...), so a Terraform reference never matches it. */
const MARK = "zq7x";

/** Free text: printable ASCII that validation admits, with no '${' or '%{', ending in '$' and '%' to test what follows it. */
const COMMENTS = [`${MARK}-c1 $ {a} % {b} $$ %% }{ $}`, `${MARK}-c2 {x}$`, `${MARK}-c3 {y}%`];
const REASON = `${MARK}-reason $ {x} % {y} <b> **z** $`;

const roleLabels = (role: string) => ({ [`${MARK}-${role}`]: `${MARK}-${role}-v` });

/** Every string field of the topology, marked (the lb in floating-ip mode). */
const MARKED: TopologyInput = {
  name: `${MARK}-p`,
  labels: { [`${MARK}.example/${MARK}-k`]: `${MARK}-v`, [`${MARK}-k2`]: "" },
  admin: {
    user: `${MARK}-admin`,
    sshKeys: COMMENTS.map((comment, i) => ({
      name: `${MARK}-key${i}`,
      publicKey: i === 0 ? `${EXAMPLE_ADMIN_KEY.split(" ").slice(0, 2).join(" ")} ${comment}` : ed25519Key(i + 1, comment),
    })),
    sshSourceCidrs: ["203.0.113.0/24"],
  },
  roles: {
    lb: { namePrefix: `${MARK}-lb`, labels: roleLabels("lb"), tls: true },
    app: { namePrefix: `${MARK}-app`, labels: roleLabels("app") },
    parser: { namePrefix: `${MARK}-parser`, labels: roleLabels("parser") },
    storage: { namePrefix: `${MARK}-storage`, labels: roleLabels("storage") },
    mongo: { namePrefix: `${MARK}-mongo`, labels: roleLabels("mongo") },
  },
  services: { artifactBaseUrl: `https://${MARK}.example/${MARK}-artifacts/` },
  mail: { ingress: true, domains: [`${MARK}-d.example`] },
  allowSinglePointsOfFailure: { reason: REASON },
} as TopologyInput;

/** The same in vrrp-vip mode, for the VIP's interface. */
const MARKED_VIP: TopologyInput = {
  ...MARKED,
  roles: { ...MARKED.roles, lb: { ...MARKED.roles!.lb, tls: false, failover: "vrrp-vip", vip: { address: "10.0.1.9", interface: `${MARK}eth1` } } },
} as TopologyInput;

/**
 * String fields that cannot hold the marker, and why: a closed list or a format Bulwark checks,
 * whose characters cannot make a template sequence either.
 */
const UNMARKABLE: Readonly<Record<string, string>> = {
  "network.ipRange": "ipv4-cidr",
  "network.subnet": "ipv4-cidr",
  "admin.sshSourceCidrs[]": "ip-cidr",
  "roles.*.vip.address": "ipv4 (roles.lb.vip.address)",
  "roles.*.serverType": "^[a-z]{2,4}[0-9]{2}$, and one of Hetzner's current types",
};

function synth(topology: TopologyInput): Json {
  const prepared = prepare({ kind: "object", topology }, { artifacts: TEST_PLAN_INPUTS.artifacts });
  return JSON.parse(Testing.synth(new BulwarkStack(Testing.app(), prepared.plan.name, { plan: prepared.plan, rendered: prepared.rendered }))) as Json;
}

/** Every string in `value`, object keys too, with its path. */
function strings(value: unknown, path: string): { path: string; text: string }[] {
  if (typeof value === "string") return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [{ path: `${path}{key}`, text: k }, ...strings(v, `${path}.${k}`)]);
  }
  return [];
}

/**
 * Where Terraform would evaluate something in a JSON string: each `${...}` or `%{...}` as
 * [start, end] indexes (end at the closing brace, nesting and quoted strings followed). Its
 * escapes `$${` and `%%{` are literal text; a `$` or `%` before anything else is too.
 */
function templateSpans(s: string): [number, number][] {
  const spans: [number, number][] = [];
  let i = 0;
  while (i < s.length) {
    if (s.startsWith("$${", i) || s.startsWith("%%{", i)) {
      i += 3;
    } else if ((s[i] === "$" || s[i] === "%") && s[i + 1] === "{") {
      let depth = 0;
      let j = i + 1;
      for (; j < s.length; j++) {
        if (s[j] === '"') {
          for (j++; j < s.length && s[j] !== '"'; j++) if (s[j] === "\\") j++;
        } else if (s[j] === "{") {
          depth++;
        } else if (s[j] === "}" && --depth === 0) {
          break;
        }
      }
      spans.push([i, Math.min(j, s.length - 1)]);
      i = j + 1;
    } else {
      i++;
    }
  }
  return spans;
}

/**
 * The places in `tf` where a template sequence touches user text: starts inside it, or holds it.
 * User text is each occurrence of a value from `userTexts` (found verbatim), and of MARK.
 */
function taintedTemplates(tf: unknown, userTexts: readonly string[]): string[] {
  return strings(tf, "").flatMap(({ path, text }) => {
    if (!text.includes(MARK)) return [];
    const spans = templateSpans(text);
    if (spans.length === 0) return [];
    const user: [number, number][] = [];
    for (const u of [MARK, ...userTexts]) {
      for (let at = text.indexOf(u); at >= 0; at = text.indexOf(u, at + 1)) user.push([at, at + u.length - 1]);
    }
    return spans
      .filter(([start, end]) => user.some(([from, to]) => start <= to && end >= from))
      .map(([start, end]) => `${path}: ${JSON.stringify(text.slice(Math.max(0, start - 40), end + 1))}`);
  });
}

/** Paths of the schema's string fields (map values as `.*`, list items as `[]`, each role's as `roles.*`). */
function stringFields(node: Json, path: string): string[] {
  if (node["type"] === "string") return [path];
  const out: string[] = [];
  for (const [name, child] of Object.entries((node["properties"] ?? {}) as Json)) out.push(...stringFields(child, path ? `${path}.${name}` : name));
  if (node["type"] === "object" && typeof node["additionalProperties"] === "object")
    out.push(...stringFields(node["additionalProperties"], `${path}.*`));
  if (node["items"]) out.push(...stringFields(node["items"], `${path}[]`));
  return out;
}

/** The same paths for an input: where MARK is, in a value or a map key. */
function markedFields(input: unknown, path = ""): string[] {
  if (typeof input === "string") return input.includes(MARK) ? [path] : [];
  if (Array.isArray(input)) return input.flatMap((v) => markedFields(v, `${path}[]`));
  if (input !== null && typeof input === "object") {
    const isMap = /(^|\.)labels$/.test(path);
    return Object.entries(input).flatMap(([k, v]) => {
      const child = isMap ? `${path}.*` : path ? `${path}.${k}` : k;
      return [...(isMap && k.includes(MARK) ? [`${child}{key}`] : []), ...markedFields(v, child)];
    });
  }
  return [];
}

const byRole = (path: string) => path.replace(/^roles\.(lb|app|parser|storage|mongo)\./, "roles.*.");

describe("user strings in the synthesized JSON", () => {
  const tf = synth(MARKED);
  const tfVip = synth(MARKED_VIP);
  const userTexts = [...COMMENTS, REASON];

  it("GIVEN the topology schema WHEN its string fields are listed THEN the marked topologies mark every one that can hold text", () => {
    const fields = [...new Set(stringFields(TOPOLOGY_SCHEMA as unknown as Json, "").map(byRole))].sort();
    const marked = new Set([...markedFields(MARKED), ...markedFields(MARKED_VIP)].map(byRole));
    expect(fields.filter((f) => !marked.has(f) && !(f in UNMARKABLE))).toEqual([]);
    expect([...marked].filter((f) => f.endsWith("{key}")).sort()).toEqual(["labels.*{key}", "roles.*.labels.*{key}"]);
  });

  it("GIVEN every string field marked WHEN synthesized THEN the marks reach the JSON where Hetzner and the hosts get them", () => {
    const places = new Set(
      strings(tf, "")
        .filter((s) => s.text.includes(MARK))
        .map((s) => s.path.replace(/\[\d+\]/g, "[]").replace(/^\.resource\.([a-z_]+)\.[^.{]+/, ".resource.$1.*")),
    );
    for (const place of [
      ".resource.hcloud_ssh_key.*.public_key",
      ".resource.hcloud_ssh_key.*.name",
      ".resource.hcloud_server.*.name",
      ".resource.hcloud_server.*.user_data",
      ".resource.hcloud_server.*.labels{key}",
      ".resource.hcloud_network.*.labels{key}",
    ]) {
      expect(places, place).toContain(place);
    }
    const keys = Object.values(tf["resource"]["hcloud_ssh_key"] as Json).map((k) => k.public_key as string);
    for (const comment of COMMENTS)
      expect(
        keys.filter((k) => k.endsWith(` ${comment}`)),
        comment,
      ).toHaveLength(1);
    expect(JSON.stringify(tfVip)).toContain(`${MARK}eth1`);
  });

  it("GIVEN every string field marked WHEN the whole JSON is walked THEN no Terraform template sequence starts in, or holds, user text", () => {
    expect(taintedTemplates(tf, userTexts)).toEqual([]);
    expect(taintedTemplates(tfVip, userTexts)).toEqual([]);
  });

  it("GIVEN the walker WHEN user text opens or stands in a template THEN it reports it, and not Terraform's own references or escapes", () => {
    const comment = `${MARK}-evil \${file("/etc/passwd")}`;
    const injected = {
      resource: {
        // a user value holding a template, unescaped; a user value's last '$' meeting a '{'
        a: { public_key: `ssh-ed25519 AAAA ${comment}`, user_data: `x: ${COMMENTS[1]}{var.t}` },
        // user text inside Terraform's own expression or directive
        b: { value: `\${lookup(var.hosts, "${MARK}-app-1")}`, directive: `%{ if "${MARK}" != "" }x%{ endif }` },
        // escaped user text, and Terraform's own references next to user text
        ok: {
          user_data: `- ${escapeTerraformTemplate(comment)} %%{b}\ntoken: \${var.failover_api_token}`,
          id: `\${hcloud_server.Zq7xApp1_Server_0.id}`,
          around: `%{ if true }${MARK}%{ endif }`,
        },
      },
    };
    expect(taintedTemplates(injected, [...userTexts, comment]).map((t) => t.split(":")[0])).toEqual([
      ".resource.a.public_key",
      ".resource.a.user_data",
      ".resource.b.value",
      ".resource.b.directive",
    ]);
  });
});
