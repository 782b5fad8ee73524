/**
 * Mail ingress in the plan and the rendered files: off by default (no port 25, no receiver), and
 * with `mail.ingress` on: the receiver on every app host only, haproxy's TCP frontend on :25 with
 * PROXY v1 to the receivers, port 25 public on the lbs only, the receiver's port open to the lbs
 * only. `haproxy -c`, shellcheck, systemd-analyze and the sandbox scores of the same files run in
 * the validate tier (its variant has the ingress on).
 */
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { INGRESS_PORT } from "../../plan/catalog.ts";
import { rolloutBundle } from "../../constructs/rollout.ts";
import { renderHost } from "../../render/host.ts";
import { USER_DATA_LIMIT_BYTES } from "../../render/cloud-config.ts";
import { worstCaseLength } from "../../render/deploy-values.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const planOf = (patch: Record<string, unknown> = {}) => buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS);
const file = (plan: ReturnType<typeof planOf>, host: string, path: string) =>
  renderHost(plan, plan.hosts.find((h) => h.name === host)!).files.find((f) => f.path === path)?.content;
const ON = { mail: { ingress: true, domains: ["example.com", "mx.example.org"] } };

describe("mail ingress", () => {
  it("GIVEN the seed WHEN planned THEN no receiver, no SMTP section in haproxy, and port 25 is in no firewall", () => {
    const plan = planOf();
    expect(plan.services.ingress).toBeUndefined();
    expect(file(plan, "lb-1", "/etc/haproxy/haproxy.cfg")).not.toMatch(/smtp/);
    expect(file(plan, "app-1", "/etc/systemd/system/bulwark-ingress.service")).toBeUndefined();
    expect(plan.firewall.public.flatMap((f) => f.rules).map((r) => r.port)).not.toContain("25");
    expect(
      Object.values(plan.firewall.hosts)
        .flat()
        .map((r) => r.service),
    ).not.toContain("smtp-ingress");
  });

  it(
    "GIVEN the ingress on WHEN planned THEN each app host runs a receiver " +
      "that takes PROXY headers from the lbs only, with the topology's limits",
    () => {
      const plan = planOf(ON);
      const ingress = plan.services.ingress!;
      const lbs = plan.hosts.filter((h) => h.role === "lb").map((h) => h.privateIp);
      expect(ingress.proxyFrom).toEqual(lbs);
      expect(Object.keys(ingress.hosts)).toEqual(plan.hosts.filter((h) => h.role === "app").map((h) => h.name));
      expect(ingress.hosts["app-1"]).toMatchObject({
        service: "ingress",
        listenHost: plan.hosts.find((h) => h.name === "app-1")!.privateIp,
        listenPort: INGRESS_PORT,
      });
      const unit = file(plan, "app-1", "/etc/systemd/system/bulwark-ingress.service")!;
      expect(unit).toMatch(/^User=bulwark-parser$/m);
      expect(unit).toContain("INGRESS_DOMAINS=example.com,mx.example.org");
      expect(unit).toContain(`INGRESS_PROXY_FROM=${lbs.join(",")}`);
      expect(unit).toContain(`INGRESS_MAX_MESSAGE_BYTES=${10 * 1024 * 1024}`);
      expect(unit).toContain("INGRESS_SOCKET_TIMEOUT_MS=300000");
      // One writable mount for the spool (tmp/ to new/ is a rename on one file system), the parser's dirs read-only.
      expect(unit).toMatch(/^ReadWritePaths=-\/srv\/shared\/spool$/m);
      expect(unit).toMatch(/^ReadOnlyPaths=-\/srv\/shared\/spool\/cur -\/srv\/shared\/spool\/quarantine$/m);
      expect(file(plan, "parser-1", "/etc/systemd/system/bulwark-ingress.service")).toBeUndefined();
      for (const h of plan.hosts) expect(worstCaseLength(renderHost(plan, h).userData), h.name).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
    },
  );

  it(
    "GIVEN the ingress and roles.lb.tls on WHEN rendered THEN each receiver gets the " +
      "entry's PEM as a credential and offers STARTTLS with it; without tls it gets neither",
    () => {
      const plan = planOf({ ...ON, roles: { lb: { tls: true } } });
      expect(plan.services.ingress!.tls).toBe(true);
      const unit = file(plan, "app-1", "/etc/systemd/system/bulwark-ingress.service")!;
      expect(unit).toMatch(/^LoadCredential=tls-pem:\/etc\/bulwark\/ingress-tls\.pem$/m);
      expect(unit).toContain("INGRESS_TLS_KEY_FILE=%d/tls-pem");
      expect(unit).toContain("INGRESS_TLS_CERT_FILE=%d/tls-pem");
      const app = renderHost(plan, plan.hosts.find((h) => h.name === "app-1")!);
      const pem = app.files.find((f) => f.path === "/etc/bulwark/ingress-tls.pem")!;
      expect(pem).toMatchObject({
        permissions: "0600",
        encoding: "b64",
        content: "@@deploy-b64:tls_certificate_pem@@",
        action: { kind: "restart", unit: "bulwark-ingress.service" },
      });
      // Not in user_data (it would not fit): the first rollout writes it, and the unit waits for it.
      expect(app.userData).not.toContain("tls_certificate_pem");
      expect(unit).toMatch(/^ConditionPathExists=\/etc\/bulwark\/ingress-tls\.pem$/m);
      expect(rolloutBundle(plan, app).files).toContainEqual(expect.objectContaining({ path: "/etc/bulwark/ingress-tls.pem", encoding: "b64" }));
      // The same certificate the lbs serve on 443, from the same variable.
      expect(renderHost(plan, plan.hosts.find((h) => h.name === "lb-1")!).files.some((f) => f.content === pem.content)).toBe(true);
      expect(renderHost(plan, plan.hosts.find((h) => h.name === "parser-1")!).files.some((f) => f.content.includes("tls_certificate_pem"))).toBe(
        false,
      );
      for (const h of plan.hosts) expect(worstCaseLength(renderHost(plan, h).userData), h.name).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);

      const plain = planOf(ON);
      expect(plain.services.ingress!.tls).toBe(false);
      const plainUnit = file(plain, "app-1", "/etc/systemd/system/bulwark-ingress.service")!;
      expect(plainUnit).not.toMatch(/LoadCredential|INGRESS_TLS|ConditionPathExists/);
      expect(file(plain, "app-1", "/etc/bulwark/ingress-tls.pem")).toBeUndefined();
    },
  );

  it("GIVEN the ingress on WHEN haproxy is rendered THEN :25 is a TCP frontend balancing to every receiver with send-proxy and an SMTP check", () => {
    const plan = planOf(ON);
    const cfg = file(plan, "lb-1", "/etc/haproxy/haproxy.cfg")!;
    expect(cfg).toMatch(/^defaults smtp\n {4}mode tcp$/m);
    expect(cfg).toMatch(/^frontend smtp\n {4}bind :25$/m);
    expect(cfg).toMatch(/^ {4}timeout client 300s$/m);
    expect(cfg).toContain("option smtpchk EHLO lb-1");
    for (const [name, r] of Object.entries(plan.services.ingress!.hosts)) {
      expect(cfg).toContain(`server ${name} ${r.listenHost}:${INGRESS_PORT} send-proxy check-send-proxy`);
    }
  });

  it("GIVEN the ingress on WHEN the firewalls are planned THEN 25 is public on the lbs only, and the receiver's port is open to the lbs only", () => {
    const plan = planOf(ON);
    const lbProfile = plan.firewall.public.find((f) => f.name === "lb")!;
    const base = plan.firewall.public.find((f) => f.name === "base")!;
    expect(lbProfile.rules.find((r) => r.port === "25")).toMatchObject({ service: "smtp", openToAll: true });
    expect(base.rules.map((r) => r.port)).not.toContain("25");
    const appRule = plan.firewall.hosts["app-1"]!.find((r) => r.service === "smtp-ingress")!;
    expect(appRule).toMatchObject({ ports: String(INGRESS_PORT), sourceHosts: ["lb-1", "lb-2"] });
    expect(plan.firewall.hosts["parser-1"]!.map((r) => r.service)).not.toContain("smtp-ingress");
  });

  it.each([
    [
      "the ingress on without domains",
      { mail: { ingress: true } },
      /^mail\.domains: is empty while mail\.ingress is on.*Fix: list the domains to receive mail for/,
    ],
    ["an uppercase domain", { mail: { ingress: true, domains: ["Example.com"] } }, /^mail\.domains\[0\]: .*Fix: write a lowercase domain name/],
    ["a single-label domain", { mail: { ingress: true, domains: ["localhost"] } }, /^mail\.domains\[0\]: /],
    ["a timeout under RFC 5321's 5 minutes", { mail: { timeoutS: 60 } }, /^mail\.timeoutS: .*Fix: use a whole number of seconds from 300 to 3600/],
    ["a message limit over the parser's", { mail: { maxMessageBytes: 12 * 1024 * 1024 } }, /^mail\.maxMessageBytes: /],
  ])("GIVEN %s WHEN validated THEN the error names the field and the fix", (_name, patch, expected) => {
    expect(() => validateTopology(withInput(patch))).toThrow(expected);
  });
});
