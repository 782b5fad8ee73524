/** Day-2 in the plan and the review: the order, the gates, each file's action, the managed set. */
import { describe, expect, it } from "vitest";
import { rolloutPage } from "../../bundle/rollout-md.ts";
import { buildPlan } from "../../plan/plan.ts";
import { renderAll } from "../../render/host.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const planOf = (patch: Record<string, unknown> = {}) => buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS);

describe("rollout plan", () => {
  it(
    "GIVEN the seed WHEN planned THEN every host has one step: lbs (second first), " +
      "apps, parsers, storage, then Mongo with each set's bootstrap member last",
    () => {
      const plan = planOf();
      expect(plan.rollout.steps.map((s) => `${s.host}:${s.gate}`)).toEqual([
        "lb-2:lb",
        "lb-1:lb",
        "app-1:app",
        "app-2:app",
        "parser-1:parser",
        "parser-2:parser",
        "storage-1:storage",
        "storage-2:storage",
        "storage-3:storage",
        "mongo-cfg-2:mongo",
        "mongo-cfg-3:mongo",
        "mongo-cfg-1:mongo",
        "mongo-s1-2:mongo",
        "mongo-s1-3:mongo",
        "mongo-s1-1:mongo",
        "mongo-s2-2:mongo",
        "mongo-s2-3:mongo",
        "mongo-s2-1:mongo",
      ]);
      expect(new Set(plan.rollout.steps.map((s) => s.host)).size).toBe(plan.hosts.length);
    },
  );

  it("GIVEN every rendered file WHEN checked THEN it lies in the managed set the agent accepts, and declares an action", () => {
    const plan = planOf({ roles: { lb: { tls: true } } });
    const roots = plan.rollout.managedRoots;
    for (const r of renderAll(plan)) {
      for (const f of r.files) {
        expect(
          roots.some((root) => f.path === root || f.path.startsWith(`${root}/`)),
          `${r.host.name}:${f.path}`,
        ).toBe(true);
        expect(["none", "reload", "restart", "run"], `${r.host.name}:${f.path}`).toContain(f.action.kind);
      }
    }
  });

  it(
    "GIVEN the lb files WHEN rendered THEN haproxy.cfg reloads, keepalived.conf " +
      "restarts, and the Floating IP address script waits for the next boot, saying why",
    () => {
      const plan = planOf();
      const lb = renderAll(plan).find((r) => r.host.name === "lb-1")!;
      const action = (path: string) => lb.files.find((f) => f.path === path)!.action;
      expect(action("/etc/haproxy/haproxy.cfg")).toEqual({ kind: "reload", unit: "haproxy.service" });
      expect(action("/etc/keepalived/keepalived.conf")).toEqual({ kind: "restart", unit: "keepalived.service" });
      expect(action("/usr/local/sbin/bulwark-floating-ip-address")).toEqual({
        kind: "none",
        why: "applies at the next boot: re-adding the address on a live host would drop traffic",
      });
      expect(action("/etc/nftables.conf")).toEqual({ kind: "run", argv: ["/usr/sbin/nft", "-f", "/etc/nftables.conf"] });
    },
  );

  it("GIVEN the plan WHEN ROLLOUT.md is written THEN it lists the order with each gate's bound and every host's files with their action", () => {
    const plan = planOf();
    const page = rolloutPage(plan, renderAll(plan));
    expect(page).toContain("| 1 | lb-2 | lb | 60 s |");
    expect(page).toContain("| 3 | app-1 | app | 300 s |");
    // The balancer's stop and start frame the Mongo members.
    expect(page).toMatch(
      /\| 9 \| storage-3 \| storage \| 900 s \|\n\| – \| app-1 \| `bulwark-host balancer stop` [^\n]*\n\| 10 \| mongo-cfg-2 \| mongo \| 1800 s \|/,
    );
    expect(page).toMatch(/\| 18 \| mongo-s2-1 \| mongo \| 1800 s \|\n\| – \| app-1 \| `bulwark-host balancer start` /);
    expect(page).toContain("| `/etc/haproxy/haproxy.cfg` | 0644 root:root | reload haproxy.service |");
    expect(page).toContain("| `/etc/systemd/system/bulwark-mail-api.service` | 0644 root:root | restart bulwark-mail-api.service |");
    expect(page).not.toMatch(/@@deploy/);
  });
});
