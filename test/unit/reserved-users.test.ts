/**
 * admin.user may not be an account or group the hosts already use (topology/users.ts). The
 * list lives in topology/ (which does not import the plan), so this test renders every kind of
 * host and checks that each user and group their files, units and commands name is reserved:
 * a new service user in the plan or a template fails here until it is added to the list.
 */
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { renderHost } from "../../render/host.ts";
import { validateTopology } from "../../topology/load.ts";
import { reservedUserReason } from "../../topology/users.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const VARIANTS = [
  withInput({}),
  withInput({
    roles: { lb: { failover: "vrrp-vip", vip: { address: "10.0.1.9", interface: "eth1" }, tls: true }, storage: { replica: 2, arbiter: true } },
  }),
];

/** Every user and group named by the rendered hosts of both variants. */
function namedAccounts(): Set<string> {
  const names = new Set<string>();
  const add = (...found: (string | undefined)[]) => {
    for (const n of found) if (n) names.add(n);
  };
  for (const input of VARIANTS) {
    const plan = buildPlan(validateTopology(input), TEST_PLAN_INPUTS);
    for (const a of Object.values(plan.services.artifacts)) add(a.user);
    for (const host of plan.hosts) {
      const rendered = renderHost(plan, host);
      for (const f of rendered.files) {
        add(...f.owner.split(":"));
        const unit = /\/([^/]+)\.service$/.exec(f.path)?.[1];
        if (unit && /^DynamicUser=yes$/m.test(f.content) && !/^User=/m.test(f.content)) add(unit);
        for (const m of f.content.matchAll(/^(?:User|Group|SupplementaryGroups)=(.+)$/gm)) add(...m[1]!.trim().split(/\s+/));
        if (f.path.startsWith("/etc/sysusers.d/")) for (const m of f.content.matchAll(/^[ugm][ \t]+(\S+)/gm)) add(m[1]);
        if (f.path.endsWith("haproxy.cfg")) for (const m of f.content.matchAll(/^[ \t]*(?:user|group)[ \t]+(\S+)/gm)) add(m[1]);
        if (f.path.endsWith("keepalived.conf"))
          for (const m of f.content.matchAll(/^[ \t]*script_user[ \t]+(\S+)(?:[ \t]+(\S+))?/gm)) add(m[1], m[2]);
      }
      for (const cmd of rendered.cloudConfig.runcmd) {
        if (cmd.includes("useradd") || cmd.includes("groupadd")) add(cmd[cmd.length - 1]);
        if (cmd[0] === "chown") add(...cmd[1]!.split(":"));
      }
    }
  }
  return names;
}

describe("reserved admin user names", () => {
  const accounts = namedAccounts();

  it("GIVEN every kind of rendered host WHEN its accounts are collected THEN the scan finds the service users", () => {
    for (const expected of ["root", "haproxy", "mongodb", "bulwark-parser", "bulwark-mail-api", "bulwark-mongo-bootstrap"])
      expect(accounts).toContain(expected);
  });

  it.each([...accounts].sort().map((name) => [name]))("GIVEN %s, which the hosts use WHEN checked THEN admin.user may not be it", (name) => {
    expect(reservedUserReason(name)).toBeDefined();
  });

  it.each([
    "root",
    "daemon",
    "nobody",
    "sshd",
    "messagebus",
    "polkitd",
    "haproxy",
    "mongodb",
    "gluster",
    "www-data",
    "sudo",
    "systemd-network",
    "systemd-timesync",
    "bulwark-parser",
  ])("GIVEN the system name %s WHEN checked THEN it is reserved", (name) => {
    expect(reservedUserReason(name)).toBeDefined();
  });

  it.each(["bulwark", "ops", "alice", "deploy"])("GIVEN the login name %s WHEN checked THEN it is free", (name) => {
    expect(reservedUserReason(name)).toBeUndefined();
  });
});
