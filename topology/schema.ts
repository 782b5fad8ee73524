/**
 * The JSON Schema of the topology input (draft 2020-12, checked by ajv in `load.ts`).
 *
 * Shape only: what spans several fields is in `rules.ts`. Every field has a `description`
 * (the README table is generated from it) and, where a value is constrained, an `x-fix`
 * annotation that the loader quotes when the value is rejected. Defaults come from the seed
 * topology, so the seed is what an empty file gives.
 */
import { IMAGES, LOCATIONS_BY_ZONE } from "./model.ts";
import { SEED_TOPOLOGY as SEED } from "./defaults.ts";
import type { NamedCheck } from "./rules.ts";

/** The pattern of `allowSinglePointsOfFailure.reason` below, as the README's rules table lists it. */
export const REASON_TEXT_CHECK: NamedCheck = {
  id: "reason-text",
  description:
    "`allowSinglePointsOfFailure.reason` is one line of 3 to 200 printable characters: no control characters (tab, newline, escape), " +
    "no invisible format characters (bidi overrides, zero-width spaces), no line separators; TOPOLOGY.md escapes its Markdown (`<`, " +
    "`>`, `&` as entities; `` ` `` `*` `_` `[` `]` `!` `~` `|` `#` `$` `\\` with a backslash), so it shows as written in a PR view.",
};

/** `^[a-z][a-z0-9-]{0,62}$`: safe in host names, shell words, YAML and systemd units. */
const NAME_PATTERN = "^[a-z][a-z0-9-]{0,62}$";
const NAME_FIX = "use lowercase letters, digits and '-', starting with a letter, at most 63 characters";

/**
 * Hetzner label keys (optional DNS prefix + name) and values, as the Hetzner Cloud API defines
 * them (https://docs.hetzner.cloud/reference/cloud, "Labels"; hcloud-go checks the same in
 * hcloud/labels.go ValidateResourceLabels): a name of at most 63 letters, digits, '-', '_' or
 * '.', starting and ending alphanumeric; a prefix that is a DNS subdomain of at most 253
 * characters (here lowercase only); a value empty or name-shaped. So no label can carry a
 * space, a quote, '$', '%' or '{' into the synthesized JSON.
 */
const LABEL_KEY_PATTERN = "^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
const LABEL_VALUE_PATTERN = "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";

/**
 * The artifact base URL reaches a shell script and a systemd unit as is, so it is limited to
 * characters that need no quoting there: https, a host name, an optional port and a path ending in `/`.
 */
const ARTIFACT_BASE_URL_PATTERN = "^https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?/([A-Za-z0-9._~-]+/)*$";

/** Server types are checked against the current list by a rule, which also names retired ones. */
const SERVER_TYPE_PATTERN = "^[a-z]{2,4}[0-9]{2}$";

const labels = (description: string) => ({
  type: "object",
  description,
  propertyNames: {
    pattern: LABEL_KEY_PATTERN,
    "x-fix": "label keys are an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.'",
  },
  additionalProperties: {
    type: "string",
    pattern: LABEL_VALUE_PATTERN,
    "x-fix": "label values are at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric (no spaces or newlines)",
  },
});

const roleCommon = (role: string, seed: { serverType: string; namePrefix: string }, nameForm = "`<namePrefix>-<n>`") => ({
  serverType: {
    type: "string",
    pattern: SERVER_TYPE_PATTERN,
    default: seed.serverType,
    description: `Hetzner server type of every ${role} host.`,
    "x-fix": "use a current Hetzner server type such as cx23 or ccx13",
  },
  image: {
    enum: [...IMAGES],
    description: "OS image of this role; the topology-wide `image` when unset.",
    "x-fix": `use one of ${IMAGES.join(", ")}`,
  },
  namePrefix: {
    type: "string",
    pattern: NAME_PATTERN,
    default: seed.namePrefix,
    description: `Host names are ${nameForm}.`,
    "x-fix": NAME_FIX,
  },
  labels: labels(`Extra labels on the ${role} servers.`),
});

/** A lowercase DNS name of two or more LDH labels, each 1-63 characters, not starting or ending with a hyphen. */
const DOMAIN_PATTERN = "^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";

const count = (description: string, seed: number, minimum: number) => ({
  type: "integer",
  minimum,
  maximum: 100,
  default: seed,
  description,
  "x-fix": `use a whole number from ${minimum} to 100`,
});

const R = SEED.roles;

export const TOPOLOGY_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://bulwark.invalid/topology.schema.json",
  title: "Bulwark topology",
  type: "object",
  additionalProperties: false,
  required: ["admin"],
  properties: {
    name: {
      type: "string",
      pattern: "^[a-z][a-z0-9-]{0,20}$",
      default: SEED.name,
      description: "Project name: prefixes every Hetzner resource and names the cdktf stack.",
      "x-fix": "use lowercase letters, digits and '-', starting with a letter, at most 21 characters",
    },
    location: {
      enum: Object.values(LOCATIONS_BY_ZONE).flat(),
      default: SEED.location,
      description: "Hetzner location of every server, volume and the Floating IP.",
      "x-fix": `use one of ${Object.values(LOCATIONS_BY_ZONE).flat().join(", ")}`,
    },
    networkZone: {
      enum: Object.keys(LOCATIONS_BY_ZONE),
      default: SEED.networkZone,
      description: "Network zone of the subnet; must contain `location`.",
      "x-fix": `use one of ${Object.keys(LOCATIONS_BY_ZONE).join(", ")}`,
    },
    image: {
      enum: [...IMAGES],
      default: SEED.image,
      description: "Default OS image of every role.",
      "x-fix": `use one of ${IMAGES.join(", ")}`,
    },
    network: {
      type: "object",
      additionalProperties: false,
      default: {},
      description: "The private network.",
      properties: {
        ipRange: {
          type: "string",
          format: "ipv4-cidr",
          default: SEED.network.ipRange,
          description: "Range of the private network (RFC 1918 CIDR).",
          "x-fix": "write an IPv4 CIDR with no host bits set, such as 10.0.0.0/16",
        },
        subnet: {
          type: "string",
          format: "ipv4-cidr",
          default: SEED.network.subnet,
          description: "The cloud subnet the hosts live in; inside `network.ipRange`.",
          "x-fix": "write an IPv4 CIDR with no host bits set, such as 10.0.1.0/24",
        },
      },
    },
    labels: { ...labels("Labels on every resource."), default: SEED.labels },
    admin: {
      type: "object",
      additionalProperties: false,
      required: ["sshKeys"],
      description: "Who may log in, and from where.",
      properties: {
        user: {
          type: "string",
          pattern: "^[a-z][a-z0-9-]{0,30}$",
          default: SEED.admin.user,
          description:
            "Login user created on every host (sudo, SSH key only, no password). Not a system, " +
            "package or service account (root, sshd, haproxy, mongodb, systemd-*, bulwark-*, ...).",
          "x-fix": "use lowercase letters, digits and '-', starting with a letter, at most 31 characters",
        },
        sshKeys: {
          type: "array",
          minItems: 1,
          description: "Public keys allowed to log in. Required in a topology file.",
          "x-fix": "list at least one {name, publicKey}",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["name", "publicKey"],
            properties: {
              name: { type: "string", pattern: NAME_PATTERN, description: "Name of the Hetzner SSH key.", "x-fix": NAME_FIX },
              publicKey: {
                type: "string",
                // The shape only; the type, the decoded key and the length are checked by rule ssh-public-keys.
                pattern: "^[a-z][a-z0-9@.-]{0,63} [A-Za-z0-9+/]+={0,2}( [ -~]{0,200})?$",
                description:
                  "OpenSSH public key line: ed25519, RSA (1024-16384 bits), ECDSA or " +
                  "sk- (security key) type, at most 3072 characters; each key once.",
                "x-fix": "paste one line of a .pub file: '<type> <base64> [comment]', with no newline",
              },
            },
          },
        },
        sshSourceCidrs: {
          type: "array",
          default: SEED.admin.sshSourceCidrs,
          description:
            "Source CIDRs from which SSH (22) is open on the public side. Empty: SSH is closed. " +
            "Network addresses only (no host bits, leading zeros, zone ids or dotted IPv6 tails).",
          items: {
            type: "string",
            format: "ip-cidr",
            "x-fix": "write an IPv4 or IPv6 CIDR such as 203.0.113.0/24",
          },
        },
        allowSshFromAnywhere: {
          type: "boolean",
          default: false,
          description:
            "Explicit opt-in needed before `sshSourceCidrs` may cover more than a /8 " +
            "of IPv4 or a /16 of IPv6 addresses in total (such as 0.0.0.0/0 or ::/0).",
        },
      },
    },
    roles: {
      type: "object",
      additionalProperties: false,
      default: {},
      description: "The hosts, by role.",
      properties: {
        lb: {
          type: "object",
          additionalProperties: false,
          default: {},
          description: "The load-balancer pair (haproxy + keepalived).",
          properties: {
            count: { const: 2, default: 2, description: "Always 2.", "x-fix": "the lb role is a pair: set 2 or leave it out" },
            failover: {
              enum: ["floating-ip", "vrrp-vip"],
              default: R.lb.failover,
              description:
                "`floating-ip`: keepalived moves a Hetzner Floating IP by API. `vrrp-vip`: keepalived holds a layer-2 VIP (private clouds only).",
              "x-fix": "use floating-ip (Hetzner Cloud) or vrrp-vip (layer-2 networks)",
            },
            vip: {
              type: "object",
              additionalProperties: false,
              required: ["address", "interface"],
              description: "`vrrp-vip` mode only: the virtual IP keepalived holds, and the interface it goes on.",
              properties: {
                address: {
                  type: "string",
                  format: "ipv4",
                  description: "The VIP: a free address in `network.subnet` (offsets 2-9: 1 is the usual gateway, 10 and up are hosts).",
                  "x-fix": "write an IPv4 address such as 10.0.1.9",
                },
                interface: {
                  type: "string",
                  pattern: "^[a-z][a-z0-9]{0,14}$",
                  description: "The private interface of the lb hosts (e.g. eth1).",
                  "x-fix": "use the interface name: lowercase letters and digits, at most 15 characters",
                },
              },
            },
            tls: {
              type: "boolean",
              default: R.lb.tls,
              description:
                "Serve HTTPS on 443 with the PEM (certificate + key) from the sensitive Terraform variable `tls_certificate_pem`, " +
                "and redirect 80 to 443. With `mail.ingress`, the SMTP receivers offer STARTTLS with the same PEM (docs/mail.md).",
            },
            ...roleCommon("lb", R.lb),
          },
        },
        app: {
          type: "object",
          additionalProperties: false,
          default: {},
          description: "App hosts: the web app and the mail API behind haproxy.",
          properties: { count: count("Number of app hosts.", R.app.count, 1), ...roleCommon("app", R.app) },
        },
        parser: {
          type: "object",
          additionalProperties: false,
          default: {},
          description: "Parser worker hosts.",
          properties: { count: count("Number of parser hosts.", R.parser.count, 1), ...roleCommon("parser", R.parser) },
        },
        storage: {
          type: "object",
          additionalProperties: false,
          default: {},
          description: "GlusterFS servers, one Hetzner volume each as the brick.",
          properties: {
            count: count("Number of gluster servers: a multiple of 3.", R.storage.count, 3),
            volumeSizeGb: {
              type: "integer",
              minimum: 10,
              maximum: 10240,
              default: R.storage.volumeSizeGb,
              description: "Size of each server's brick volume, in GB.",
              "x-fix": "use a whole number of GB from 10 to 10240",
            },
            replica: {
              enum: [2, 3],
              default: R.storage.replica,
              description: "Copies of each file: 3, or 2 with `arbiter`.",
              "x-fix": "use 3, or 2 with arbiter: true",
            },
            arbiter: {
              type: "boolean",
              default: R.storage.arbiter,
              description: "With replica 2, a third brick per set holds metadata only (required for replica 2).",
            },
            ...roleCommon("storage", R.storage),
          },
        },
        mongo: {
          type: "object",
          additionalProperties: false,
          default: {},
          description: "The sharded MongoDB cluster.",
          properties: {
            configServers: count("Members of the config-server replica set.", R.mongo.configServers, 1),
            shards: count("Number of shards.", R.mongo.shards, 1),
            membersPerShard: count("Members of each shard's replica set.", R.mongo.membersPerShard, 1),
            ...roleCommon("mongo", R.mongo, "`<namePrefix>-cfg-<n>` and `<namePrefix>-s<shard>-<n>`"),
          },
        },
      },
    },
    services: {
      type: "object",
      additionalProperties: false,
      default: {},
      description: "The project's services (parser, mail API) installed on the app and parser hosts.",
      properties: {
        artifactBaseUrl: {
          type: "string",
          pattern: ARTIFACT_BASE_URL_PATTERN,
          default: SEED.services.artifactBaseUrl,
          description:
            "https URL, ending in `/`, that hosts fetch `parser.tar.gz`, `mail-api.tar.gz` (and `ingress.tar.gz` " +
            "with `mail.ingress`) from at first boot; each is checked against the sha256 computed at synth. " +
            "Upload `dist/services/*` there before deploying (the default is a placeholder that resolves nowhere).",
          "x-fix":
            "write an https URL ending in '/', such as https://artifacts.example.com/bulwark/ " +
            "(letters, digits and . _ ~ - / only; no query, user or spaces)",
        },
      },
    },
    mail: {
      type: "object",
      additionalProperties: false,
      default: {},
      description:
        "Mail ingress: an SMTP receiver on the app hosts behind port 25 of the entry " +
        "(services/ingress). A message gets 250 only once it is on the replicated spool.",
      properties: {
        ingress: {
          type: "boolean",
          default: SEED.mail.ingress,
          description: "Run the SMTP receiver on every app host and open port 25 on the lbs (both firewalls). Needs `mail.domains`.",
          "x-fix": "write true or false",
        },
        domains: {
          type: "array",
          default: SEED.mail.domains,
          maxItems: 100,
          uniqueItems: true,
          description:
            "Recipient domains the receiver accepts, lowercase; any other recipient " +
            "gets 550 (never an open relay). Point their MX record at the Floating IP.",
          items: {
            type: "string",
            maxLength: 253,
            pattern: DOMAIN_PATTERN,
            "x-fix": "write a lowercase domain name such as example.com (letters, digits, hyphens, dots)",
          },
          "x-fix": "list at most 100 distinct lowercase domain names",
        },
        maxMessageBytes: {
          type: "integer",
          minimum: 64 * 1024,
          maximum: 11 * 1024 * 1024,
          default: SEED.mail.maxMessageBytes,
          description:
            "Largest message accepted (SIZE, and counted while reading DATA: 552 above it). At most " +
            "11 MiB: the parser quarantines a spool file over 12 MiB, the envelope line included.",
          "x-fix": "use a whole number of bytes from 65536 to 11534336",
        },
        maxRecipients: {
          type: "integer",
          minimum: 1,
          maximum: 1000,
          default: SEED.mail.maxRecipients,
          description: "Recipients per message (452 above it). RFC 5321 asks a server to take at least 100.",
          "x-fix": "use a whole number from 1 to 1000",
        },
        maxConnections: {
          type: "integer",
          minimum: 1,
          maximum: 10000,
          default: SEED.mail.maxConnections,
          description: "Concurrent SMTP connections per app host; more are refused with 421.",
          "x-fix": "use a whole number from 1 to 10000",
        },
        maxCommandsBeforeMail: {
          type: "integer",
          minimum: 3,
          maximum: 100,
          default: SEED.mail.maxCommandsBeforeMail,
          description: "Commands a client may send outside a mail transaction before it is dropped (421): bounds a client that never sends mail.",
          "x-fix": "use a whole number from 3 to 100",
        },
        timeoutS: {
          type: "integer",
          minimum: 300,
          maximum: 3600,
          default: SEED.mail.timeoutS,
          description: "Idle socket and DATA timeout, seconds. At least 300: RFC 5321 section 4.5.3.2 asks a server to wait at least 5 minutes.",
          "x-fix": "use a whole number of seconds from 300 to 3600",
        },
      },
    },
    allowSinglePointsOfFailure: {
      type: "object",
      additionalProperties: false,
      required: ["reason"],
      description: "Opt out of the single-host-failure gate (staging). The reason heads the review.",
      properties: {
        reason: {
          type: "string",
          // Printable text only (ajv compiles patterns with the u flag): no control characters
          // (\p{Cc}: newline, tab, escape), no invisible format characters (\p{Cf}: bidi
          // overrides, zero-width spaces), no line or paragraph separators, and nothing unassigned,
          // private-use or surrogate: any of these could hide or reorder the rest of the review
          // in a PR view. Markdown in it is escaped where TOPOLOGY.md places it.
          pattern: "^[^\\p{C}\\p{Zl}\\p{Zp}]{3,200}$",
          description:
            "Why this topology may lose service when one host dies: one line of 3 to 200 printable characters " +
            "(no control or invisible formatting characters); shown as written at the top of TOPOLOGY.md.",
          "x-fix":
            "write one line of 3 to 200 printable characters (no tabs, newlines, escape " +
            "sequences or invisible formatting characters such as bidirectional overrides)",
        },
      },
    },
  },
} as const;
