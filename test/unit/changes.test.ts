/** review/CHANGES.md: what a deploy of a change does, against a base review bundle. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { synthesize } from "../../synth/pipeline.ts";
import { withInput } from "../support/fixtures.ts";

describe("CHANGES.md", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-changes-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = join(dir, "base");
  synthesize({ kind: "object", topology: withInput({}) }, join(dir, "out"), base);

  it(
    "GIVEN one more admin range WHEN synthesized against the base THEN every host shows " +
      "its nftables diff, the atomic nft action, no disruption and no server replaced",
    () => {
      const review = join(dir, "cidr");
      synthesize(
        { kind: "object", topology: withInput({ admin: { sshSourceCidrs: ["198.51.100.0/24", "203.0.113.0/24"] } }) },
        join(dir, "out"),
        review,
        { base },
      );
      const page = readFileSync(join(review, "CHANGES.md"), "utf8");
      expect(page).toContain("None: servers ignore user_data, so a configuration change replaces no server.");
      expect(page).toContain("| 1 | lb-2 | lb | 1 | none: a hitless reload or an atomic command |");
      expect(page).toContain("| 18 | mongo-s2-1 | mongo | 1 | none: a hitless reload or an atomic command |");
      expect(page).toContain("`/etc/nftables.conf` (changed; on the host: run /usr/sbin/nft -f /etc/nftables.conf)");
      expect(page).toMatch(
        /```diff\n--- a\/etc\/nftables\.conf\n\+\+\+ b\/etc\/nftables\.conf\n@@ [^\n]+\n[\s\S]*?\n- {4}ip saddr \{ 198\.51\.100\.0\/24 \} tcp dport 22 accept comment "SSH for admins"\n\+ {4}ip saddr \{ 198\.51\.100\.0\/24, 203\.0\.113\.0\/24 \} tcp dport 22/,
      );
      expect(page).toContain("Untouched: none.");
    },
  );

  it(
    "GIVEN a new mail-api build and a third app host WHEN synthesized against the base THEN the " +
      "apps are drained in order, app-3 is created, the rest untouched, and secrets stay placeholders",
    () => {
      const review = join(dir, "apps");
      synthesize({ kind: "object", topology: withInput({ roles: { app: { count: 3 } } }) }, join(dir, "out"), review, {
        base,
        artifacts: { parser: { sha256: "a".repeat(64) }, "mail-api": { sha256: "b".repeat(64) }, ingress: { sha256: "c".repeat(64) } },
      });
      const page = readFileSync(join(review, "CHANGES.md"), "utf8");
      expect(page).toContain("| app-3 | created (a new host) |");
      expect(page).toMatch(/\| 3 \| app-1 \| app \| \d+ \| drained from haproxy first, then restarted and gated: no failed request in the lab \|/);
      expect(page).toContain("`/etc/systemd/system/bulwark-mail-api.service` (changed; on the host: restart bulwark-mail-api.service)");
      expect(page).not.toMatch(/@@deploy/);
      expect(page).toContain("<secret set at deploy: mail_api_token>");
    },
  );

  it("GIVEN a base that is not a review bundle WHEN synthesized THEN a user error names --base and the fix, and nothing is written", () => {
    const notBundle = join(dir, "home");
    mkdirSync(notBundle);
    writeFileSync(join(notBundle, "notes.txt"), "mine\n");
    const review = join(dir, "never");
    expect(() => synthesize({ kind: "seed" }, join(dir, "out"), review, { base: notBundle })).toThrow(
      /--base: holds no \.bulwark-review, so it is not a review bundle; got ".*home"\. Fix: pass a review directory an earlier `npm run synth` wrote/,
    );
    expect(() => readFileSync(join(review, "CHANGES.md"))).toThrow();
  });
});
