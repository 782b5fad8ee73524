/**
 * MongoDB's apt signing key kept in the repository (render/keys/), checked with the real gpg: its
 * full fingerprint is the pin, its user id is MongoDB's 8.0 release key, its self-signature is
 * good, and the block cloud-init gets is that key. A changed copy is refused (the check can fail).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MONGODB_KEY_FILE, MONGODB_KEY_FINGERPRINT, mongodbSigningKey } from "../../render/mongo-apt.ts";
import { haveTool } from "../support/tools.ts";

describe.runIf(haveTool("gpg", "gpg"))("MongoDB's signing key with gpg", () => {
  const home = mkdtempSync(join(tmpdir(), "bulwark-gpg-"));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  /** gpg in a throwaway home, machine-readable output. */
  function gpg(...args: string[]): { status: number | null; out: string } {
    const r = spawnSync("gpg", ["--batch", "--no-tty", "--with-colons", ...args], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, GNUPGHOME: home },
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  }
  const fingerprints = (out: string) =>
    out
      .split("\n")
      .filter((l) => l.startsWith("fpr:"))
      .map((l) => l.split(":")[9]);

  it("GIVEN the kept file WHEN gpg shows it THEN it is one key, MongoDB's 8.0 release key, with the pinned fingerprint", () => {
    const r = gpg("--show-keys", "--with-fingerprint", MONGODB_KEY_FILE);
    expect(r.status, r.out).toBe(0);
    expect(fingerprints(r.out)).toEqual([MONGODB_KEY_FINGERPRINT]);
    expect(r.out).toContain("MongoDB 8.0 Release Signing Key <packaging@mongodb.com>");
  });

  it("GIVEN the block cloud-init gets WHEN imported THEN it is the same key and its self-signature checks", () => {
    const block = join(home, "block.asc");
    writeFileSync(block, mongodbSigningKey());
    expect(gpg("--import", block).status).toBe(0);
    const r = gpg("--check-sigs", MONGODB_KEY_FINGERPRINT);
    expect(r.status, r.out).toBe(0);
    expect(fingerprints(r.out)).toEqual([MONGODB_KEY_FINGERPRINT]);
    // `sig:!:`: a signature gpg verified; the key's own over its user id.
    expect(r.out).toMatch(new RegExp(`^sig:!:(?:[^:]*:){2}${MONGODB_KEY_FINGERPRINT.slice(-16)}:`, "m"));
  });

  it("GIVEN a copy with one byte of the key changed WHEN shown THEN gpg does not give the pinned fingerprint", () => {
    const text = readFileSync(MONGODB_KEY_FILE, "utf8");
    const at = text.indexOf("mQINBGWgEhwBEAD") + 20;
    const bad = join(home, "bad.asc");
    writeFileSync(bad, `${text.slice(0, at)}${text[at] === "A" ? "B" : "A"}${text.slice(at + 1)}`);
    expect(fingerprints(gpg("--show-keys", "--with-fingerprint", bad).out)).not.toContain(MONGODB_KEY_FINGERPRINT);
  });
});
