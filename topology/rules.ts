/**
 * The named cross-field rules of a topology: what the schema cannot say alone.
 * Each rule returns the errors it finds (empty when satisfied); `checkTopologyRules` runs all.
 * Checks that need the plan (address blocks, placement groups) live in plan/plan.ts and
 * plan/mongo-checks.ts. Every check's id and description make a row of the README's rules
 * table (scripts/gen-readme.ts).
 */
import { ANYWHERE_FLOOR, cidrContains, coverage, intToIpv4, isPrivateCidr, parseIpRange, parseIpv4Cidr } from "./cidr.ts";
import { dottedPath, UserError } from "./errors.ts";
import { hostSpecs } from "./hosts.ts";
import { constructId } from "./ids.ts";
import { CURRENT_SERVER_TYPES, LOCATIONS_BY_ZONE, RETIRED_SERVER_TYPES, ROLES, type Topology } from "./model.ts";
import { keyBody, MAX_PUBLIC_KEY_CHARS, MAX_PUBLIC_KEYS_TOTAL_BYTES, publicKeyProblem } from "./ssh-keys.ts";
import { reservedUserReason } from "./users.ts";

/** Hetzner: a network holds at most 100 servers (a reported limit: docs/facts.md#hetzner-cloud). */
const MAX_SERVERS_PER_NETWORK = 100;
/** Above 7 voting members a replica set cannot be configured (docs/facts.md#mongodb). */
export const MAX_VOTERS = 7;

/**
 * A named check, as the README's rules table lists it: its id, and what it demands in one line
 * of Markdown. The topology rules below are named checks; so are the checks of the loader
 * (topology/cidr.ts, topology/schema.ts), the plan (plan/plan.ts, plan/mongo-checks.ts), the
 * renderer (render/cloud-config.ts) and the failure gate (plan/failure.ts).
 */
export interface NamedCheck {
  readonly id: string;
  readonly description: string;
}

export interface Rule extends NamedCheck {
  readonly check: (t: Topology) => UserError[];
}

export const TOPOLOGY_RULES: readonly Rule[] = [
  {
    id: "mail-domains",
    description: "With `mail.ingress` on, `mail.domains` lists at least one domain (the receiver accepts mail for those only).",
    check: (t) =>
      t.mail.ingress && t.mail.domains.length === 0
        ? [
            new UserError(
              "mail.domains",
              "is empty while mail.ingress is on: the receiver would accept mail for no one",
              "[]",
              "list the domains to receive mail for, e.g. [example.com], or set mail.ingress: false",
            ),
          ]
        : [],
  },
  {
    id: "location-in-zone",
    description: `The location lies in the network zone (${Object.entries(LOCATIONS_BY_ZONE)
      .map(([zone, locations]) => `${zone}: ${locations.join(", ")}`)
      .join("; ")}).`,
    check: (t) => {
      const inZone: readonly string[] = LOCATIONS_BY_ZONE[t.networkZone];
      return inZone.includes(t.location)
        ? []
        : [
            new UserError(
              "location",
              `is not in network zone ${t.networkZone}`,
              t.location,
              `use one of ${inZone.join(", ")}, or the zone that holds ${t.location}`,
            ),
          ];
    },
  },
  {
    id: "network-private",
    description: "The network range is RFC 1918 private space.",
    check: (t) => {
      const range = parseIpv4Cidr(t.network.ipRange)!;
      return isPrivateCidr(range)
        ? []
        : [
            new UserError(
              "network.ipRange",
              "is not a private (RFC 1918) range",
              t.network.ipRange,
              "use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
            ),
          ];
    },
  },
  {
    id: "subnet-inside-network",
    description: "The subnet lies inside the network range and is at least a /24.",
    check: (t) => {
      const range = parseIpv4Cidr(t.network.ipRange)!;
      const subnet = parseIpv4Cidr(t.network.subnet)!;
      if (!cidrContains(range, subnet)) {
        return [
          new UserError(
            "network.subnet",
            `lies outside network.ipRange ${t.network.ipRange}`,
            t.network.subnet,
            `choose a subnet inside ${t.network.ipRange}`,
          ),
        ];
      }
      if (subnet.prefix > 24) {
        return [
          new UserError("network.subnet", "is smaller than a /24, which the host address blocks need", t.network.subnet, "use a /24 or larger"),
        ];
      }
      return [];
    },
  },
  {
    id: "current-server-types",
    description:
      `Every role uses a server type Hetzner still sells: no retired type ` +
      `(${RETIRED_SERVER_TYPES.join(", ")}); the message lists the current ones.`,
    check: (t) =>
      ROLES.flatMap((role) => {
        const type: string = t.roles[role].serverType;
        if ((CURRENT_SERVER_TYPES as readonly string[]).includes(type)) return [];
        const retired = (RETIRED_SERVER_TYPES as readonly string[]).includes(type);
        return [
          new UserError(
            `roles.${role}.serverType`,
            retired ? "was retired by Hetzner at the end of 2025" : "is not a known Hetzner server type",
            type,
            `use a current type: ${CURRENT_SERVER_TYPES.join(", ")}`,
          ),
        ];
      }),
  },
  {
    id: "odd-voters",
    description: `Every Mongo replica set has an odd number of voters, from 3 to ${MAX_VOTERS}.`,
    check: (t) =>
      (["configServers", "membersPerShard"] as const).flatMap((field) => {
        const n = t.roles.mongo[field];
        if (n >= 3 && n <= MAX_VOTERS && n % 2 === 1) return [];
        return [
          new UserError(
            `roles.mongo.${field}`,
            "a replica set needs an odd number of voting members from 3 to 7 to keep a majority when one dies",
            n,
            "use 3, 5 or 7",
          ),
        ];
      }),
  },
  {
    id: "mongo-debian-amd64",
    description:
      "Hosts that run mongod or mongos (mongo, app, parser) use an x86 server type on Debian: MongoDB publishes Debian packages for amd64 only.",
    check: (t) =>
      (["mongo", "app", "parser"] as const).flatMap((role) => {
        const r = t.roles[role];
        const image = r.image ?? t.image;
        if (!image.startsWith("debian-") || !r.serverType.startsWith("cax")) return [];
        return [
          new UserError(
            `roles.${role}.serverType`,
            `is an Arm (cax) type, but MongoDB publishes its ${image} packages for amd64 only`,
            r.serverType,
            `use an x86 type (cx, cpx or ccx), or set roles.${role}.image: ubuntu-24.04`,
          ),
        ];
      }),
  },
  {
    id: "gluster-arbiter",
    description: "Replica 2 needs an arbiter (split brain otherwise); replica 3 has none.",
    check: (t) => {
      const s = t.roles.storage;
      if (s.replica === 2 && !s.arbiter) {
        return [
          new UserError("roles.storage.arbiter", "replica 2 without an arbiter risks split brain", s.arbiter, "set arbiter: true, or use replica: 3"),
        ];
      }
      if (s.replica === 3 && s.arbiter) {
        return [new UserError("roles.storage.arbiter", "an arbiter only goes with replica 2", s.arbiter, "set arbiter: false, or use replica: 2")];
      }
      return [];
    },
  },
  {
    id: "gluster-set-size",
    description: "Storage servers come in whole replica sets of 3 bricks.",
    check: (t) =>
      t.roles.storage.count % 3 === 0
        ? []
        : [
            new UserError(
              "roles.storage.count",
              "must be a multiple of 3 (each replica set has 3 bricks: 3 data, or 2 data + 1 arbiter)",
              t.roles.storage.count,
              "use 3, 6, 9, ...",
            ),
          ],
  },
  {
    id: "max-servers",
    description: `At most ${MAX_SERVERS_PER_NETWORK} servers on the network (the limit reported for Hetzner networks).`,
    check: (t) => {
      const n = hostSpecs(t).length;
      return n <= MAX_SERVERS_PER_NETWORK
        ? []
        : [
            new UserError(
              "roles",
              `asks for ${n} servers, above the ${MAX_SERVERS_PER_NETWORK} a Hetzner network is reported to hold`,
              n,
              `reduce the counts to at most ${MAX_SERVERS_PER_NETWORK} servers in total`,
            ),
          ];
    },
  },
  {
    id: "unique-host-names",
    description: "Host names are unique, and `<name>-<host>` fits Hetzner's 63-character server names.",
    check: (t) => {
      const seen = new Map<string, string>();
      const errors: UserError[] = [];
      for (const host of hostSpecs(t)) {
        const field = `roles.${host.role}.namePrefix`;
        const other = seen.get(host.name);
        if (other !== undefined && other !== host.role) {
          errors.push(
            new UserError(
              field,
              `makes host name ${host.name}, which roles.${other} also makes`,
              t.roles[host.role].namePrefix,
              "give each role a distinct namePrefix",
            ),
          );
        }
        seen.set(host.name, host.role);
        if (`${t.name}-${host.name}`.length > 63) {
          errors.push(
            new UserError(field, `makes server name ${t.name}-${host.name}, longer than 63 characters`, host.name, "shorten name or namePrefix"),
          );
        }
      }
      return dedupeByPath(errors);
    },
  },
  {
    id: "lb-vip",
    description: "`vrrp-vip` mode has a VIP in the subnet that no host uses; `floating-ip` mode has none.",
    check: (t) => {
      const lb = t.roles.lb;
      if (lb.failover === "floating-ip") {
        return lb.vip
          ? [new UserError("roles.lb.vip", "is only used with failover vrrp-vip", lb.vip, "remove roles.lb.vip, or set roles.lb.failover: vrrp-vip")]
          : [];
      }
      if (!lb.vip)
        return [
          new UserError(
            "roles.lb.vip",
            "is required when failover is vrrp-vip",
            undefined,
            "set roles.lb.vip: {address: <free IP in the subnet, e.g. offset 9>, interface: <private NIC>}",
          ),
        ];
      const subnet = parseIpv4Cidr(t.network.subnet)!;
      const vip = parseIpv4Cidr(`${lb.vip.address}/32`)!;
      if (!cidrContains(subnet, vip) || vip.base === subnet.base || vip.base === subnet.base + subnet.size - 1) {
        return [
          new UserError(
            "roles.lb.vip.address",
            `is not a host address inside network.subnet ${t.network.subnet}`,
            lb.vip.address,
            "choose a free address inside the subnet",
          ),
        ];
      }
      const offset = vip.base - subnet.base;
      return offset >= 2 && offset <= 9
        ? []
        : [
            new UserError(
              "roles.lb.vip.address",
              "is outside offsets 2-9 of the subnet (1 is the usual gateway, 10 and up are hosts)",
              lb.vip.address,
              `use one of the subnet's offsets 2-9, e.g. ${intToIpv4(subnet.base + 9)}`,
            ),
          ];
    },
  },
  {
    id: "unique-construct-ids",
    description:
      "Host names, and SSH key names, make distinct construct ids (the Terraform " +
      "resource names): ids drop the '-', so `app-1-1` and `app-11` would clash.",
    // Host ids share the stack's scope with fixed ids (PrivateNetwork, AdminSshKeys, ...) and the
    // `<HostId>Brick` volumes; host names end in `-<n>`, so their ids end in a digit and meet
    // neither. Key ids live in the AdminSshKeys scope (constructs/ use the same constructId).
    check: (t) => {
      const errors: UserError[] = [];
      const hosts = new Map<string, { name: string; role: string }>();
      for (const host of hostSpecs(t)) {
        const id = constructId(host.name);
        const other = hosts.get(id);
        if (other === undefined) hosts.set(id, { name: host.name, role: host.role });
        else if (other.name !== host.name) {
          errors.push(
            new UserError(
              `roles.${host.role}.namePrefix`,
              `makes host ${host.name}, whose construct id ${id} is also that of ${other.name} (roles.${other.role}); construct ids drop the '-'`,
              t.roles[host.role].namePrefix,
              "give the roles name prefixes that differ in more than '-' and digits",
            ),
          );
        }
      }
      const keys = new Map<string, string>();
      t.admin.sshKeys.forEach((k, i) => {
        const id = constructId(k.name);
        const other = keys.get(id);
        if (other === undefined) keys.set(id, k.name);
        else if (other !== k.name) {
          errors.push(
            new UserError(
              `admin.sshKeys[${i}].name`,
              `makes construct id ${id}, as key ${other} does; construct ids drop the '-'`,
              k.name,
              "give the keys names that differ in more than '-'",
            ),
          );
        }
      });
      return dedupeByPath(errors);
    },
  },
  {
    id: "admin-user-not-reserved",
    description:
      "`admin.user` is no system, package or Bulwark service account or group (root, daemon, sshd, sudo, haproxy, mongodb, " +
      "gluster, `systemd-*`, Bulwark's `bulwark-*` service users, ...): cloud-init would give it sudo and the admin keys.",
    check: (t) => {
      const reason = reservedUserReason(t.admin.user);
      return reason === undefined
        ? []
        : [
            new UserError(
              "admin.user",
              `${reason}; cloud-init would give that account sudo and the admin keys, or fail to create the user`,
              t.admin.user,
              "choose a login name of your own, such as ops or the default bulwark",
            ),
          ];
    },
  },
  {
    id: "ssh-not-open-to-all",
    description:
      `Unless \`admin.allowSshFromAnywhere\` is set, \`sshSourceCidrs\` may open SSH to at most a /${ANYWHERE_FLOOR.IPv4} of IPv4 and a ` +
      `/${ANYWHERE_FLOOR.IPv6} of IPv6 addresses in total, counted over the union of the ranges: 0.0.0.0/0, a /7, or two /1 halves all count ` +
      `as anywhere (a /8 is the largest IPv4 block ever assigned to one organisation; a /16 of IPv6 is larger than any single allocation).`,
    check: (t) => {
      if (t.admin.allowSshFromAnywhere) return [];
      const fix =
        `list your admin networks instead (at most a /${ANYWHERE_FLOOR.IPv4} of IPv4 and a ` +
        `/${ANYWHERE_FLOOR.IPv6} of IPv6 in total), or set admin.allowSshFromAnywhere: true to accept the risk`;
      const cidrs = t.admin.sshSourceCidrs;
      return coverage(cidrs).flatMap((c) => {
        if (!c.anywhere) return [];
        const floor = ANYWHERE_FLOOR[c.family];
        const wide = c.indexes.filter((i) => parseIpRange(cidrs[i]!)!.prefix < floor);
        if (wide.length === 1) {
          const i = wide[0]!;
          const problem =
            parseIpRange(cidrs[i]!)!.prefix === 0
              ? `opens SSH to the whole ${c.family} internet`
              : `opens SSH to more ${c.family} addresses than a /${floor}, which counts as anywhere`;
          return [new UserError(`admin.sshSourceCidrs[${i}]`, problem, cidrs[i], fix)];
        }
        // One error per family: several wide entries, or narrow ones that add up (two halves, 256 /8s).
        const problem = c.whole
          ? `together open SSH to the whole ${c.family} internet`
          : `together open SSH to more ${c.family} addresses than a /${floor}, which counts as anywhere`;
        return [
          new UserError(
            "admin.sshSourceCidrs",
            problem,
            c.indexes.map((i) => cidrs[i]),
            fix,
          ),
        ];
      });
    },
  },
  {
    id: "ssh-public-keys",
    description:
      `Each admin key is ed25519, RSA (1024-16384 bits), ECDSA (nistp256/384/521) or a security key (\`sk-\`), its base64 decodes to a key ` +
      `of that type, and the line is at most ${MAX_PUBLIC_KEY_CHARS} characters (an RSA-16384 key, the largest OpenSSH makes, with a comment); ` +
      `all keys together at most ${MAX_PUBLIC_KEYS_TOTAL_BYTES / 1024} KiB, since every key is copied into every host's 32 KiB user_data.`,
    check: (t) => {
      const errors = t.admin.sshKeys.flatMap((k, i) => {
        const bad = publicKeyProblem(k.publicKey);
        return bad ? [new UserError(`admin.sshKeys[${i}].publicKey`, bad.problem, k.publicKey, bad.fix)] : [];
      });
      const total = t.admin.sshKeys.reduce((sum, k) => sum + Buffer.byteLength(k.publicKey), 0);
      if (errors.length === 0 && total > MAX_PUBLIC_KEYS_TOTAL_BYTES) {
        errors.push(
          new UserError(
            "admin.sshKeys",
            `hold ${total} bytes of keys, above the ${MAX_PUBLIC_KEYS_TOTAL_BYTES} bytes they may take in every host's 32 KiB user_data`,
            total,
            "list fewer keys, or use ed25519 keys (about 100 bytes each instead of 750 for RSA-4096)",
          ),
        );
      }
      return errors;
    },
  },
  {
    id: "unique-ssh-key-names",
    description: "SSH key names are unique.",
    check: (t) => {
      const names = t.admin.sshKeys.map((k) => k.name);
      return names.flatMap((name, i) =>
        names.indexOf(name) === i
          ? []
          : [new UserError(`admin.sshKeys[${i}].name`, "repeats an earlier key's name", name, "give each key its own name")],
      );
    },
  },
  {
    id: "unique-ssh-keys",
    description: "No key is listed twice: the same base64 part with another comment or name is the same key.",
    check: (t) => {
      const bodies = t.admin.sshKeys.map((k) => keyBody(k.publicKey));
      return t.admin.sshKeys.flatMap((k, i) => {
        const first = bodies.indexOf(bodies[i]!);
        return first === i
          ? []
          : [
              new UserError(
                `admin.sshKeys[${i}].publicKey`,
                `is the same key as admin.sshKeys[${first}] (${t.admin.sshKeys[first]!.name}); only the comment or name differs`,
                k.publicKey,
                "list each key once",
              ),
            ];
      });
    },
  },
  {
    id: "no-terraform-templates",
    description:
      "No string in the topology holds `${` or `%{` (a key's comment, the failure-gate reason, any field): in `cdk.tf.json` " +
      'Terraform evaluates them on the deployer\'s machine, where a comment such as `${file("/etc/passwd")}` would read a local ' +
      "file into the key sent to Hetzner and shown in plan output. Every other field's pattern admits no `$`, `%` or `{` at all " +
      "(labels follow Hetzner's label syntax: [API reference, Labels](https://docs.hetzner.cloud/reference/cloud)); " +
      "`test/synth/user-strings.test.ts` marks every string field and walks the whole synthesized JSON for a template sequence touching one.",
    // Most fields cannot hold `$`, `%` or `{` at all (names, labels, URL: schema patterns);
    // this covers the ones that may hold free text (a key's comment, the failure-gate reason)
    // and any field added later. No legitimate value needs either sequence.
    check: (t) =>
      stringsIn(t, []).flatMap(({ path, text }) => {
        const sequence = TEMPLATE_SEQUENCE.exec(text)?.[0];
        if (sequence === undefined) return [];
        const field = dottedPath(path);
        const problem =
          `holds the Terraform template sequence '${sequence}', which Terraform ` +
          `would evaluate on the deployer's machine when it reads the synthesized JSON`;
        if (/^admin\.sshKeys\[\d+\]\.publicKey$/.test(field)) {
          // The template can only be in the comment: the type and the base64 part have no '{'.
          const comment = text.split(" ").slice(2).join(" ");
          return [
            new UserError(
              field,
              problem.replace("holds", "has in its comment"),
              comment,
              "remove the template sequence from the key comment, or drop the comment ('<type> <base64>' is the whole key)",
            ),
          ];
        }
        return [new UserError(field, problem, text, `remove the '${sequence}' (no Bulwark field needs it)`)];
      }),
  },
];

/** Terraform's template sequences: `${ expression }` and `%{ directive }` (its escapes `$${` and `%%{` contain them too). */
const TEMPLATE_SEQUENCE = /[$%]\{/;

/** Every string in `value` (map keys too), with its path. */
function stringsIn(value: unknown, path: (string | number)[]): { path: (string | number)[]; text: string }[] {
  if (typeof value === "string") return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringsIn(v, [...path, i]));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [{ path: [...path, k], text: k }, ...stringsIn(v, [...path, k])]);
  }
  return [];
}

function dedupeByPath(errors: UserError[]): UserError[] {
  return errors.filter((e, i) => errors.findIndex((o) => o.path === e.path) === i);
}

/** Runs every rule; returns all errors found. */
export function checkTopologyRules(t: Topology): UserError[] {
  return TOPOLOGY_RULES.flatMap((rule) => rule.check(t));
}
