/**
 * Every bad input is rejected with a message that names the field path, the value received
 * and the fix. One case per rule and per kind of shape error.
 */
import { describe, expect, it } from "vitest";
import { UserError, UserErrors } from "../../topology/errors.ts";
import { validateTopology } from "../../topology/load.ts";
import { withInput } from "../support/fixtures.ts";

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
    ["a bad network CIDR", { network: { ipRange: "10.0.0.0/33" } }, /^network\.ipRange: is not a valid ipv4-cidr; got "10\.0\.0\.0\/33"\. Fix: write an IPv4 CIDR/],
    ["host bits set in a subnet", { network: { subnet: "10.0.1.7/24" } }, /^network\.subnet: .*got "10\.0\.1\.7\/24"/],
    ["a bad admin CIDR", { admin: { sshSourceCidrs: ["300.1.1.1/8"] } }, /^admin\.sshSourceCidrs\[0\]: is not a valid ip-cidr/],
    ["an even number of shard members", { roles: { mongo: { membersPerShard: 4 } } }, /^roles\.mongo\.membersPerShard: .*odd number.*got 4\. Fix: use 3, 5 or 7$/],
    ["an even config replica set", { roles: { mongo: { configServers: 2 } } }, /^roles\.mongo\.configServers: .*got 2\./],
    ["more than 7 voters", { roles: { mongo: { membersPerShard: 9 } } }, /^roles\.mongo\.membersPerShard: .*from 3 to 7/],
    ["more than 100 servers", { roles: { app: { count: 50 }, parser: { count: 50 } } }, /^roles: asks for 114 servers, above the 100 .* Fix: reduce the counts/],
    ["a retired server type", { roles: { app: { serverType: "cx22" } } }, /^roles\.app\.serverType: was retired .*got "cx22"\. Fix: use a current type: cx23, cx33/],
    ["an unknown server type", { roles: { lb: { serverType: "zz99" } } }, /^roles\.lb\.serverType: is not a known Hetzner server type; got "zz99"/],
    ["a host name with ';'", { roles: { app: { namePrefix: "app;rm" } } }, /^roles\.app\.namePrefix: has characters .*got "app;rm"\. Fix: use lowercase letters/],
    ["a host name with a space", { roles: { parser: { namePrefix: "my parser" } } }, /^roles\.parser\.namePrefix: .*got "my parser"/],
    ["a label value with a newline", { labels: { env: "prod\nx" } }, /^labels\.env: .*got "prod\\nx"\. Fix: label values/],
    ["a label key with a space", { roles: { app: { labels: { "team name": "x" } } } }, /^roles\.app\.labels\."team name": is not an allowed key; got "team name"/],
    ["a location outside the zone", { location: "ash" }, /^location: is not in network zone eu-central; got "ash"\. Fix: use one of fsn1, nbg1, hel1/],
    ["a public network range", { network: { ipRange: "8.8.0.0/16", subnet: "8.8.1.0/24" } }, /^network\.ipRange: is not a private \(RFC 1918\) range/],
    ["a subnet outside the network", { network: { subnet: "10.1.1.0/24" } }, /^network\.subnet: lies outside network\.ipRange 10\.0\.0\.0\/16/],
    ["a subnet smaller than /24", { network: { subnet: "10.0.1.0/25" } }, /^network\.subnet: is smaller than a \/24/],
    ["replica 2 without an arbiter", { roles: { storage: { replica: 2, arbiter: false } } }, /^roles\.storage\.arbiter: replica 2 without an arbiter risks split brain; got false\. Fix: set arbiter: true/],
    ["replica 3 with an arbiter", { roles: { storage: { arbiter: true } } }, /^roles\.storage\.arbiter: an arbiter only goes with replica 2/],
    ["4 storage servers", { roles: { storage: { count: 4 } } }, /^roles\.storage\.count: must be a multiple of 3/],
    ["two roles making the same host names", { roles: { parser: { namePrefix: "app" } } }, /^roles\.parser\.namePrefix: makes host name app-1, which roles\.app also makes/],
    ["SSH open to the internet", { admin: { sshSourceCidrs: ["0.0.0.0/0"] } }, /^admin\.sshSourceCidrs\[0\]: opens SSH to the whole internet; got "0\.0\.0\.0\/0"\. Fix: .*allowSshFromAnywhere/],
    ["SSH open to all of IPv6", { admin: { sshSourceCidrs: ["::/0"] } }, /^admin\.sshSourceCidrs\[0\]: opens SSH/],
    ["a duplicate SSH key name", { admin: { sshKeys: [{ name: "a", publicKey: "ssh-ed25519 AAAA" }, { name: "a", publicKey: "ssh-ed25519 BBBB" }] } }, /^admin\.sshKeys\[1\]\.name: repeats/],
    ["a public key with a newline", { admin: { sshKeys: [{ name: "a", publicKey: "ssh-ed25519 AAAA\nssh-rsa BBBB" }] } }, /^admin\.sshKeys\[0\]\.publicKey: .*Fix: paste one line/],
    ["an unknown field", { roels: {} }, /^roels: unknown field; got "roels"\. Fix: remove it or correct its spelling; known fields here: name, location/],
    ["a wrong type", { roles: { app: { count: "three" } } }, /^roles\.app\.count: must be integer; got "three"/],
    ["an lb count other than 2", { roles: { lb: { count: 3 } } }, /^roles\.lb\.count: must be 2; got 3\. Fix: the lb role is a pair/],
    ["an unknown image", { image: "centos-7" }, /^image: is not an allowed value; got "centos-7"\. Fix: use one of debian-12, debian-13, ubuntu-24\.04/],
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
  });

  it("GIVEN several problems WHEN validated THEN each is reported on its own line", () => {
    const messages = rejection({ location: "ash", roles: { app: { serverType: "cx22" } } });
    expect(messages).toHaveLength(2);
  });
});
