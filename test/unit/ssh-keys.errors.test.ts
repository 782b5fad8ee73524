/**
 * Admin SSH public keys are checked before Hetzner or sshd see them: type, decoded body, length,
 * duplicates, and their total (they are copied into every host's user_data).
 */
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { USER_DATA_LIMIT_BYTES } from "../../render/cloud-config.ts";
import { worstCaseLength } from "../../render/deploy-values.ts";
import { renderAll } from "../../render/host.ts";
import { EXAMPLE_ADMIN_KEY } from "../../topology/defaults.ts";
import { UserError, UserErrors } from "../../topology/errors.ts";
import { validateTopology } from "../../topology/load.ts";
import { MAX_PUBLIC_KEY_CHARS, MAX_PUBLIC_KEYS_TOTAL_BYTES } from "../../topology/ssh-keys.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";
import { blob, ecdsaKey, ed25519Key, offCurveEcdsaKey, rsaKey, skEcdsaKey, skEd25519Key } from "../support/ssh-keys.ts";

const keysInput = (...publicKeys: string[]) => withInput({ admin: { sshKeys: publicKeys.map((publicKey, i) => ({ name: `k${i}`, publicKey })) } });

function rejection(...publicKeys: string[]): string[] {
  try {
    validateTopology(keysInput(...publicKeys));
  } catch (err) {
    if (err instanceof UserErrors) return err.errors.map((e) => e.message);
    if (err instanceof UserError) return [err.message];
    throw err;
  }
  throw new Error(`accepted: ${publicKeys.join(", ")}`);
}

const ED_BODY = EXAMPLE_ADMIN_KEY.split(" ")[1]!;

describe("admin SSH public keys", () => {
  it("GIVEN a key of every accepted type WHEN validated THEN all are accepted together", () => {
    const keys = [
      EXAMPLE_ADMIN_KEY,
      rsaKey(1024, 1),
      rsaKey(3072, 2),
      ecdsaKey("nistp256"),
      ecdsaKey("nistp384"),
      ecdsaKey("nistp521"),
      skEd25519Key(),
      skEcdsaKey(),
    ];
    expect(validateTopology(keysInput(...keys)).admin.sshKeys.map((k) => k.publicKey)).toEqual(keys);
  });

  it("GIVEN the longest RSA key OpenSSH makes (16384 bits) WHEN validated THEN it is accepted", () => {
    const key = rsaKey(16384);
    expect(key.length).toBeLessThanOrEqual(MAX_PUBLIC_KEY_CHARS);
    expect(validateTopology(keysInput(key)).admin.sshKeys).toHaveLength(1);
  });

  it.each([
    [
      "an unknown key type",
      [`ssh-dss ${ED_BODY}`],
      /^admin\.sshKeys\[0\]\.publicKey: has key type ssh-dss, which is not accepted; got "ssh-dss AAAA.*Fix: use a key of type ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/,
    ],
    [
      "base64 that does not decode",
      [`ssh-ed25519 ${ED_BODY.slice(0, -1)} x`],
      /^admin\.sshKeys\[0\]\.publicKey: has a base64 part that does not decode \(cut short, or changed\); got .*Fix: paste the whole first line of the \.pub file$/,
    ],
    [
      "non-canonical base64 (padding bits set)",
      [`ssh-ed25519 ${blob("ssh-ed25519", Buffer.alloc(31, 1)).replace(/.=$/, "B=")}`],
      /^admin\.sshKeys\[0\]\.publicKey: has a base64 part that does not decode/,
    ],
    [
      "a key cut short",
      [`ssh-ed25519 ${ED_BODY.slice(0, 64)}`],
      /^admin\.sshKeys\[0\]\.publicKey: has a base64 part that is not a valid ssh-ed25519 key/,
    ],
    [
      "a type that does not match the body",
      [`ssh-rsa ${ED_BODY} ops`],
      /^admin\.sshKeys\[0\]\.publicKey: says ssh-rsa but its base64 part holds a "ssh-ed25519" key; got .*Fix: paste the whole first line of the \.pub file, unchanged$/,
    ],
    [
      "a body that is no key at all",
      [`ssh-ed25519 ${Buffer.from("hello world!").toString("base64")}`],
      /^admin\.sshKeys\[0\]\.publicKey: has a base64 part that is too short to be a key/,
    ],
    [
      "extra bytes after the key",
      [`ssh-ed25519 ${blob("ssh-ed25519", Buffer.alloc(32, 7), "extra")}`],
      /^admin\.sshKeys\[0\]\.publicKey: has a base64 part that is not a valid ssh-ed25519 key \(extra bytes after the key\)/,
    ],
    [
      "an ECDSA point off its curve",
      [offCurveEcdsaKey()],
      /^admin\.sshKeys\[0\]\.publicKey: has a base64 part that is not a valid ecdsa-sha2-nistp256 key/,
    ],
    [
      "an RSA key below 1024 bits",
      [rsaKey(1023)],
      /^admin\.sshKeys\[0\]\.publicKey: is an RSA key of 1023 bits; sshd accepts 1024 to 16384; got .*Fix: use an ed25519 key/,
    ],
    ["an RSA key above 16384 bits", [rsaKey(16385)], /^admin\.sshKeys\[0\]\.publicKey: is an RSA key of 16385 bits/],
    [
      "a key line too long",
      [`ssh-ed25519 ${"A".repeat(4000)}`],
      /^admin\.sshKeys\[0\]\.publicKey: is 4012 characters long, above the 3072 of the longest key OpenSSH makes \(RSA 16384\); got "ssh-ed25519 A+\.\.\.\. Fix: paste the whole first line of the \.pub file, or use an ed25519 key/,
    ],
    [
      "the same key twice with other comments",
      [ed25519Key(1, "alice@laptop"), ed25519Key(2), ed25519Key(1, "alice@desktop")],
      /^admin\.sshKeys\[2\]\.publicKey: is the same key as admin\.sshKeys\[0\] \(k0\); only the comment or name differs; got .*Fix: list each key once$/,
    ],
  ])("GIVEN %s WHEN validated THEN the key is named with the problem and the fix", (_case, keys, expected) => {
    const messages = rejection(...keys);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(expected);
    expect(messages[0]).not.toContain("\n");
  });

  it("GIVEN keys above the total budget WHEN validated THEN the list is named, not user_data", () => {
    const keys = Array.from({ length: 9 }, (_, i) => rsaKey(4096, i + 1));
    const total = keys.reduce((sum, k) => sum + k.length, 0);
    expect(total).toBeGreaterThan(MAX_PUBLIC_KEYS_TOTAL_BYTES);
    expect(rejection(...keys)).toEqual([
      `admin.sshKeys: hold ${total} bytes of keys, above the ${MAX_PUBLIC_KEYS_TOTAL_BYTES} bytes they may take in every host's ` +
        `32 KiB user_data; got ${total}. Fix: list fewer keys, or use ed25519 keys (about 100 bytes each instead of 750 for RSA-4096)`,
    ]);
  });

  it("GIVEN keys filling the whole budget and TLS on the lbs WHEN every host is rendered THEN every user_data still fits", () => {
    const keys = [rsaKey(16384, 1), rsaKey(4096, 2)];
    let seed = 100;
    while (keys.reduce((sum, k) => sum + k.length, 0) + ed25519Key(seed).length <= MAX_PUBLIC_KEYS_TOTAL_BYTES) keys.push(ed25519Key(seed++));
    const total = keys.reduce((sum, k) => sum + k.length, 0);
    expect(total).toBeGreaterThan(MAX_PUBLIC_KEYS_TOTAL_BYTES - 100);
    const topology = validateTopology(
      withInput({ roles: { lb: { tls: true } }, admin: { sshKeys: keys.map((publicKey, i) => ({ name: `k${i}`, publicKey })) } }),
    );
    for (const r of renderAll(buildPlan(topology, TEST_PLAN_INPUTS))) {
      expect(worstCaseLength(r.userData), r.host.name).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
    }
  });
});
