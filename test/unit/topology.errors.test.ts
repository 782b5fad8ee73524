/**
 * Every bad input is rejected with a message that names the field path, the value received
 * and the fix. One case per rule and per kind of shape error.
 */
import { describe, expect, it } from "vitest";
import { UserError, UserErrors } from "../../topology/errors.ts";
import { validateTopology } from "../../topology/load.ts";
import { withInput } from "../support/fixtures.ts";
import { ed25519Key } from "../support/ssh-keys.ts";

/** The messages a topology is rejected with (fails the test when it is accepted). */
function rejection(patch: Record<string, unknown>): string[] {
  try {
    validateTopology(withInput(patch));
  } catch (err) {
    if (err instanceof UserErrors) return err.errors.map((e) => e.message);
    if (err instanceof UserError) return [err.message];
    throw err;
  }
  throw new Error(`accepted: ${JSON.stringify(patch)}`);
}

describe("topology errors", () => {
  it.each([
    [
      "a bad network CIDR",
      { network: { ipRange: "10.0.0.0/33" } },
      /^network\.ipRange: is not a valid ipv4-cidr: it has a prefix length above 32; got "10\.0\.0\.0\/33"\. Fix: use a prefix length from 0 to 32$/,
    ],
    [
      "host bits set in a subnet",
      { network: { subnet: "10.0.1.7/24" } },
      /^network\.subnet: is not a valid ipv4-cidr: it has host bits set.*got "10\.0\.1\.7\/24"\. Fix: write the network address 10\.0\.1\.0\/24/,
    ],
    [
      "an IPv6 network range",
      { network: { ipRange: "fd00::/8" } },
      /^network\.ipRange: is not a valid ipv4-cidr: it is an IPv6 range where an IPv4 CIDR is needed/,
    ],
    [
      "a leading zero in a network octet",
      { network: { subnet: "10.0.01.0/24" } },
      /^network\.subnet: .*leading zeros.*Fix: write it without them: 10\.0\.1\.0\/24$/,
    ],
    [
      "a bad admin CIDR",
      { admin: { sshSourceCidrs: ["300.1.1.1/8"] } },
      /^admin\.sshSourceCidrs\[0\]: is not a valid ip-cidr: it has an address part above 255/,
    ],
    [
      "a zero-padded /00 prefix",
      { admin: { sshSourceCidrs: ["0.0.0.0/00"] } },
      /^admin\.sshSourceCidrs\[0\]: is not a valid ip-cidr: it has a number with leading zeros .*got "0\.0\.0\.0\/00"\. Fix: write it without them: 0\.0\.0\.0\/0$/,
    ],
    [
      "a zero-padded octet",
      { admin: { sshSourceCidrs: ["203.000.113.0/24"] } },
      /^admin\.sshSourceCidrs\[0\]: .*leading zeros.*Fix: write it without them: 203\.0\.113\.0\/24$/,
    ],
    [
      "an IPv6 zone id",
      { admin: { sshSourceCidrs: ["fe80::1%eth0/128"] } },
      /^admin\.sshSourceCidrs\[0\]: is not a valid ip-cidr: it has an IPv6 zone id .*Fix: remove it: fe80::1\/128$/,
    ],
    [
      "IPv6 host bits",
      { admin: { sshSourceCidrs: ["2001:db8::1/32"] } },
      /^admin\.sshSourceCidrs\[0\]: .*host bits set.*Fix: write the network address 2001:db8::\/32, or 2001:db8::1\/128 for that one address$/,
    ],
    [
      "IPv4 host bits",
      { admin: { sshSourceCidrs: ["203.0.113.9/24"] } },
      /^admin\.sshSourceCidrs\[0\]: .*host bits set.*Fix: write the network address 203\.0\.113\.0\/24, or 203\.0\.113\.9\/32/,
    ],
    [
      "an IPv6 address with a dotted IPv4 tail",
      { admin: { sshSourceCidrs: ["64:ff9b::192.0.2.0/120"] } },
      /^admin\.sshSourceCidrs\[0\]: .*dotted IPv4.*Fix: write them in hex: 64:ff9b::c000:200\/120$/,
    ],
    [
      "an IPv4-mapped IPv6 range",
      { admin: { sshSourceCidrs: ["::ffff:0:0/96"] } },
      /^admin\.sshSourceCidrs\[0\]: .*IPv4-mapped.*Fix: write the IPv4 range itself: 0\.0\.0\.0\/0$/,
    ],
    [
      "an address without a prefix",
      { admin: { sshSourceCidrs: ["203.0.113.5"] } },
      /^admin\.sshSourceCidrs\[0\]: .*no \/prefix length.*203\.0\.113\.5\/32/,
    ],
    [
      "an even number of shard members",
      { roles: { mongo: { membersPerShard: 4 } } },
      /^roles\.mongo\.membersPerShard: .*odd number.*got 4\. Fix: use 3, 5 or 7$/,
    ],
    ["an even config replica set", { roles: { mongo: { configServers: 2 } } }, /^roles\.mongo\.configServers: .*got 2\./],
    ["more than 7 voters", { roles: { mongo: { membersPerShard: 9 } } }, /^roles\.mongo\.membersPerShard: .*from 3 to 7/],
    [
      "more than 100 servers",
      { roles: { app: { count: 50 }, parser: { count: 50 } } },
      /^roles: asks for 114 servers, above the 100 .* Fix: reduce the counts/,
    ],
    [
      "a retired server type",
      { roles: { app: { serverType: "cx22" } } },
      /^roles\.app\.serverType: was retired .*got "cx22"\. Fix: use a current type: cx23, cx33/,
    ],
    ["an unknown server type", { roles: { lb: { serverType: "zz99" } } }, /^roles\.lb\.serverType: is not a known Hetzner server type; got "zz99"/],
    [
      "a host name with ';'",
      { roles: { app: { namePrefix: "app;rm" } } },
      /^roles\.app\.namePrefix: has characters .*got "app;rm"\. Fix: use lowercase letters/,
    ],
    ["a host name with a space", { roles: { parser: { namePrefix: "my parser" } } }, /^roles\.parser\.namePrefix: .*got "my parser"/],
    ["a label value with a newline", { labels: { env: "prod\nx" } }, /^labels\.env: .*got "prod\\nx"\. Fix: label values/],
    [
      "a label key with a space",
      { roles: { app: { labels: { "team name": "x" } } } },
      /^roles\.app\.labels\."team name": is not an allowed key; got "team name"/,
    ],
    [
      "a location outside the zone",
      { location: "ash" },
      /^location: is not in network zone eu-central; got "ash"\. Fix: use one of fsn1, nbg1, hel1/,
    ],
    [
      "a public network range",
      { network: { ipRange: "8.8.0.0/16", subnet: "8.8.1.0/24" } },
      /^network\.ipRange: is not a private \(RFC 1918\) range/,
    ],
    ["a subnet outside the network", { network: { subnet: "10.1.1.0/24" } }, /^network\.subnet: lies outside network\.ipRange 10\.0\.0\.0\/16/],
    ["a subnet smaller than /24", { network: { subnet: "10.0.1.0/25" } }, /^network\.subnet: is smaller than a \/24/],
    [
      "replica 2 without an arbiter",
      { roles: { storage: { replica: 2, arbiter: false } } },
      /^roles\.storage\.arbiter: replica 2 without an arbiter risks split brain; got false\. Fix: set arbiter: true/,
    ],
    ["replica 3 with an arbiter", { roles: { storage: { arbiter: true } } }, /^roles\.storage\.arbiter: an arbiter only goes with replica 2/],
    ["4 storage servers", { roles: { storage: { count: 4 } } }, /^roles\.storage\.count: must be a multiple of 3/],
    [
      "two roles making the same host names",
      { roles: { parser: { namePrefix: "app" } } },
      /^roles\.parser\.namePrefix: makes host name app-1, which roles\.app also makes/,
    ],
    [
      "SSH open to the internet",
      { admin: { sshSourceCidrs: ["0.0.0.0/0"] } },
      /^admin\.sshSourceCidrs\[0\]: opens SSH to the whole IPv4 internet; got "0\.0\.0\.0\/0"\. Fix: .*allowSshFromAnywhere: true/,
    ],
    [
      "SSH open to all of IPv6",
      { admin: { sshSourceCidrs: ["203.0.113.0/24", "::/0"] } },
      /^admin\.sshSourceCidrs\[1\]: opens SSH to the whole IPv6 internet; got "::\/0"/,
    ],
    [
      "SSH open to two halves of IPv4",
      { admin: { sshSourceCidrs: ["0.0.0.0/1", "128.0.0.0/1"] } },
      /^admin\.sshSourceCidrs: together open SSH to the whole IPv4 internet; got \["0\.0\.0\.0\/1","128\.0\.0\.0\/1"\]\. Fix: list your admin networks instead \(at most a \/8 of IPv4 and a \/16 of IPv6 in total\)/,
    ],
    [
      "SSH open to two halves of IPv6",
      { admin: { sshSourceCidrs: ["::/1", "8000::/1"] } },
      /^admin\.sshSourceCidrs: together open SSH to the whole IPv6 internet/,
    ],
    [
      "SSH open to a /7",
      { admin: { sshSourceCidrs: ["198.51.100.0/24", "2.0.0.0/7"] } },
      /^admin\.sshSourceCidrs\[1\]: opens SSH to more IPv4 addresses than a \/8, which counts as anywhere; got "2\.0\.0\.0\/7"/,
    ],
    [
      "SSH open to an IPv6 /15",
      { admin: { sshSourceCidrs: ["2000::/15"] } },
      /^admin\.sshSourceCidrs\[0\]: opens SSH to more IPv6 addresses than a \/16/,
    ],
    [
      "SSH open to two /8s",
      { admin: { sshSourceCidrs: ["11.0.0.0/8", "12.0.0.0/8"] } },
      /^admin\.sshSourceCidrs: together open SSH to more IPv4 addresses than a \/8/,
    ],
    [
      "the admin user root",
      { admin: { user: "root" } },
      /^admin\.user: is a system or service account or group name; cloud-init would give that account sudo .*got "root"\. Fix: choose a login name of your own/,
    ],
    ["the admin user haproxy", { admin: { user: "haproxy" } }, /^admin\.user: is a system or service account/],
    ["the admin user mongodb", { admin: { user: "mongodb" } }, /^admin\.user: is a system or service account/],
    ["the admin user sshd", { admin: { user: "sshd" } }, /^admin\.user: is a system or service account/],
    ["the admin user sudo (a group)", { admin: { user: "sudo" } }, /^admin\.user: is a system or service account or group name/],
    [
      "a Bulwark service user",
      { admin: { user: "bulwark-parser" } },
      /^admin\.user: starts with bulwark-, which names Bulwark's own service accounts/,
    ],
    ["a systemd user", { admin: { user: "systemd-network" } }, /^admin\.user: starts with systemd-/],
    [
      "host names whose construct ids clash",
      { roles: { lb: { namePrefix: "app-1" }, app: { count: 12 } } },
      /^roles\.app\.namePrefix: makes host app-11, whose construct id App11 is also that of app-1-1 \(roles\.lb\); construct ids drop the '-'; got "app"/,
    ],
    [
      "prefixes that differ only in '-'",
      { roles: { parser: { namePrefix: "web--a" }, app: { namePrefix: "web-a" } } },
      /^roles\.parser\.namePrefix: makes host web--a-1, whose construct id WebA1 is also that of web-a-1/,
    ],
    [
      "key names whose construct ids clash",
      {
        admin: {
          sshKeys: [
            { name: "ops-1", publicKey: ed25519Key(1) },
            { name: "ops1", publicKey: ed25519Key(2) },
          ],
        },
      },
      /^admin\.sshKeys\[1\]\.name: makes construct id Ops1, as key ops-1 does/,
    ],
    [
      "a duplicate SSH key name",
      {
        admin: {
          sshKeys: [
            { name: "a", publicKey: ed25519Key(1) },
            { name: "a", publicKey: ed25519Key(2) },
          ],
        },
      },
      /^admin\.sshKeys\[1\]\.name: repeats/,
    ],
    [
      "a public key with a newline",
      { admin: { sshKeys: [{ name: "a", publicKey: "ssh-ed25519 AAAA\nssh-rsa BBBB" }] } },
      /^admin\.sshKeys\[0\]\.publicKey: .*Fix: paste one line/,
    ],
    [
      "an unknown field",
      { roels: {} },
      /^roels: unknown field; got "roels"\. Fix: remove it or correct its spelling; known fields here: name, location/,
    ],
    ["a wrong type", { roles: { app: { count: "three" } } }, /^roles\.app\.count: must be integer; got "three"/],
    ["an lb count other than 2", { roles: { lb: { count: 3 } } }, /^roles\.lb\.count: must be 2; got 3\. Fix: the lb role is a pair/],
    [
      "an unknown image",
      { image: "centos-7" },
      /^image: is not an allowed value; got "centos-7"\. Fix: use one of debian-12, debian-13, ubuntu-24\.04/,
    ],
    // Terraform template sequences: evaluated on the deployer's machine if they reached cdk.tf.json
    [
      "a key comment reading a local file (${...})",
      { admin: { sshKeys: [{ name: "ops", publicKey: ed25519Key(1, 'ops ${file("/etc/passwd")}') }] } },
      /^admin\.sshKeys\[0\]\.publicKey: has in its comment the Terraform template sequence '\$\{', which Terraform would evaluate on the deployer's machine when it reads the synthesized JSON; got "ops \$\{file\(\\"\/etc\/passwd\\"\)\}"\. Fix: remove the template sequence from the key comment, or drop the comment \('<type> <base64>' is the whole key\)$/,
    ],
    [
      "a key comment with a directive (%{...})",
      { admin: { sshKeys: [{ name: "ops", publicKey: ed25519Key(1, "%{ if true }x%{ endif }") }] } },
      /^admin\.sshKeys\[0\]\.publicKey: has in its comment the Terraform template sequence '%\{'.* got "%\{ if true \}x%\{ endif \}"\. Fix: remove the template sequence from the key comment/,
    ],
    [
      "a second key's comment",
      {
        admin: {
          sshKeys: [
            { name: "a", publicKey: ed25519Key(1) },
            { name: "b", publicKey: ed25519Key(2, "b@${path.cwd}") },
          ],
        },
      },
      /^admin\.sshKeys\[1\]\.publicKey: has in its comment the Terraform template sequence '\$\{'/,
    ],
    [
      "a reason with ${...}",
      { allowSinglePointsOfFailure: { reason: 'staging ${file("x")}' } },
      /^allowSinglePointsOfFailure\.reason: holds the Terraform template sequence '\$\{', .*; got "staging \$\{file\(\\"x\\"\)\}"\. Fix: remove the '\$\{' \(no Bulwark field needs it\)$/,
    ],
    // The reason heads TOPOLOGY.md: printable text only, bounded
    [
      "a reason with a newline",
      { allowSinglePointsOfFailure: { reason: "staging\n# Looks fine" } },
      /^allowSinglePointsOfFailure\.reason: has characters or a form that is not allowed; got "staging\\n# Looks fine"\. Fix: write one line of 3 to 200 printable characters/,
    ],
    [
      "a reason with a tab",
      { allowSinglePointsOfFailure: { reason: "staging\tx" } },
      /^allowSinglePointsOfFailure\.reason: has characters .*got "staging\\tx"/,
    ],
    [
      "a reason with an escape sequence",
      { allowSinglePointsOfFailure: { reason: "staging \u001b[8mhidden" } },
      /^allowSinglePointsOfFailure\.reason: has characters .*got "staging \\u001b\[8mhidden"/,
    ],
    [
      "a reason with a C1 control",
      { allowSinglePointsOfFailure: { reason: "staging \u009bx" } },
      /^allowSinglePointsOfFailure\.reason: has characters .*got "staging \\u009bx"/,
    ],
    [
      "a reason with a bidi override",
      { allowSinglePointsOfFailure: { reason: "staging \u202Eenilno" } },
      /^allowSinglePointsOfFailure\.reason: has characters .*got "staging \\u202eenilno"\. Fix: .*bidirectional overrides/,
    ],
    [
      "a reason with a zero-width space",
      { allowSinglePointsOfFailure: { reason: "stag\u200Bing" } },
      /^allowSinglePointsOfFailure\.reason: has characters .*got "stag\\u200bing"/,
    ],
    [
      "a reason with a line separator",
      { allowSinglePointsOfFailure: { reason: "staging\u2028x" } },
      /^allowSinglePointsOfFailure\.reason: has characters .*got "staging\\u2028x"/,
    ],
    [
      "a reason of 201 characters",
      { allowSinglePointsOfFailure: { reason: "x".repeat(201) } },
      /^allowSinglePointsOfFailure\.reason: has characters or a form that is not allowed; .*Fix: write one line of 3 to 200 printable characters/,
    ],
    [
      "a reason of 2 characters",
      { allowSinglePointsOfFailure: { reason: "ok" } },
      /^allowSinglePointsOfFailure\.reason: has characters or a form that is not allowed; got "ok"/,
    ],
  ])("GIVEN %s WHEN validated THEN the message names path, value and fix", (_case, patch, expected) => {
    const messages = rejection(patch);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(expected);
    expect(messages[0]).not.toContain("\n");
  });

  it("GIVEN no admin WHEN validated THEN admin is named as required", () => {
    expect(() => validateTopology({})).toThrow(/^admin: is required; got nothing\. Fix: add admin$/);
  });

  it("GIVEN SSH open to the internet with the opt-in WHEN validated THEN it is accepted", () => {
    const t = validateTopology(withInput({ admin: { sshSourceCidrs: ["0.0.0.0/0"], allowSshFromAnywhere: true } }));
    expect(t.admin.sshSourceCidrs).toEqual(["0.0.0.0/0"]);
    const halves = validateTopology(withInput({ admin: { sshSourceCidrs: ["0.0.0.0/1", "128.0.0.0/1", "::/0"], allowSshFromAnywhere: true } }));
    expect(halves.admin.sshSourceCidrs).toHaveLength(3);
  });

  it("GIVEN ranges up to the floor, unusual but valid forms WHEN validated THEN they are accepted as written", () => {
    for (const cidrs of [
      ["10.0.0.0/8"],
      ["2001::/16"],
      ["10.0.0.0/9", "10.128.0.0/9", "2001::/17", "2001:8000::/17"],
      ["198.51.100.7/32", "2001:DB8:0:0::/64", "2001:0db8:1::/48", "::1/128", "fe80::/64"],
    ]) {
      expect(validateTopology(withInput({ admin: { sshSourceCidrs: cidrs } })).admin.sshSourceCidrs).toEqual(cidrs);
    }
  });

  it("GIVEN an ordinary admin user WHEN validated THEN it is accepted, the default bulwark too", () => {
    expect(validateTopology(withInput({ admin: { user: "ops" } })).admin.user).toBe("ops");
    expect(validateTopology(withInput({})).admin.user).toBe("bulwark");
  });

  it("GIVEN free text with '$', '%', '{' and Markdown, but no template sequence WHEN validated THEN it is accepted as written", () => {
    const key = ed25519Key(1, "ops $HOME {x} 100% $ {y} % {z} $$ %%");
    const reason = "staging: <b>one</b> **parser** | `host` [x](y) # é 中文 🚀 $5 {ok} 50%";
    const t = validateTopology(withInput({ admin: { sshKeys: [{ name: "ops", publicKey: key }] }, allowSinglePointsOfFailure: { reason } }));
    expect(t.admin.sshKeys[0]!.publicKey).toBe(key);
    expect(t.allowSinglePointsOfFailure?.reason).toBe(reason);
  });

  it("GIVEN several problems WHEN validated THEN each is reported on its own line", () => {
    const messages = rejection({ location: "ash", roles: { app: { serverType: "cx22" } } });
    expect(messages).toHaveLength(2);
  });
});
