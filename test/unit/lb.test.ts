/** The lb layer: what both load balancers get, in each failover mode. */
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import { renderHost } from "../../render/host.ts";
import { LB_PATHS } from "../../render/lb.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

const VIP = { roles: { lb: { failover: "vrrp-vip", vip: { address: "10.0.1.9", interface: "eth1" } } } };

function lbFiles(patch: Record<string, unknown> = {}, host = "lb-1") {
  const plan = buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS);
  const r = renderHost(plan, plan.hosts.find((h) => h.name === host)!);
  const content = (path: string) => r.files.find((f) => f.path === path)?.content;
  return { plan, r, content, paths: r.files.map((f) => f.path) };
}

describe("lb layer", () => {
  it("GIVEN the seed WHEN lb-1 is rendered THEN keepalived runs unicast VRRPv3 to lb-2 with sub-second adverts, nopreempt and priority 150", () => {
    const conf = lbFiles().content(LB_PATHS.keepalivedConf)!;
    expect(conf).toContain("vrrp_version 3");
    expect(conf).toMatch(/unicast_src_ip 10\.0\.1\.10\n\s+unicast_peer \{\n\s+10\.0\.1\.11\n/);
    expect(conf).toMatch(/^\s+advert_int 0\.1$/m);
    expect(conf).toMatch(/^\s+nopreempt$/m);
    expect(conf).toMatch(/^\s+priority 150$/m);
    expect(conf).toMatch(/^\s+state BACKUP$/m);
    expect(lbFiles({}, "lb-2").content(LB_PATHS.keepalivedConf)).toMatch(/^\s+priority 100$/m);
  });

  it("GIVEN the seed WHEN rendered THEN haproxy's death is tracked through a file a pidfd watcher and systemd write, with weight 0 (FAULT)", () => {
    const { content } = lbFiles();
    expect(content(LB_PATHS.keepalivedConf)).toMatch(/track_file haproxy_down \{\n\s+file "\/run\/bulwark\/haproxy-down"\n\s+weight 0\n/);
    const dropin = content(LB_PATHS.haproxyDropin)!;
    expect(dropin).toContain(
      "[Service]\nRestartSec=1s\nTimeoutStopSec=5s\nExecStartPost=/usr/local/sbin/bulwark-haproxy-state " +
        "up\nExecStopPost=/usr/local/sbin/bulwark-haproxy-state down\n",
    );
    const watch = content(LB_PATHS.watchScript)!;
    expect(watch).toContain('PID_FILE = "/run/haproxy.pid"');
    expect(watch).toContain("os.pidfd_open(pid)");
    expect(content(LB_PATHS.watchService)).toContain("ExecStart=/usr/local/sbin/bulwark-haproxy-watch");
    expect(dropin).toContain("[Unit]\nStartLimitIntervalSec=0\n");
  });

  it("GIVEN the seed WHEN haproxy.cfg is rendered THEN both app hosts are backends with the fast health checks of the plan", () => {
    const { content, plan } = lbFiles();
    const cfg = content(LB_PATHS.haproxyCfg)!;
    expect(cfg).toContain("default-server check inter 250ms fastinter 100ms downinter 250ms fall 2 rise 3");
    expect(cfg).toContain("timeout check 500ms");
    expect(cfg.match(/^\s+server app-1 10\.0\.1\.100:8080$/gm)).toHaveLength(3);
    expect(cfg).toContain("retry-on conn-failure empty-response response-timeout 502 503 504");
    expect(cfg).toContain("http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS");
    expect(cfg).toContain("stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners");
    expect(cfg).not.toContain(":443");
    expect(plan.lb.healthCheck.interMs + plan.lb.healthCheck.fastInterMs * (plan.lb.healthCheck.fall - 1)).toBeLessThan(1000);
  });

  it(
    "GIVEN the seed WHEN haproxy.cfg is rendered THEN /api needs a bearer token, " +
      "/healthz is haproxy's own, backend names never leave and 443 is not bound",
    () => {
      const cfg = lbFiles().content(LB_PATHS.haproxyCfg)!;
      const entry = cfg.slice(cfg.indexOf("frontend entry"), cfg.indexOf("backend app"));
      expect(entry).toMatch(/^\s+acl api_path path \/api$/m);
      expect(entry).toMatch(/^\s+acl api_path path_beg \/api\/$/m);
      expect(entry).toMatch(/^\s+http-request deny deny_status 401 if api_path !\{ req\.hdr\(authorization\) -m beg "Bearer " \}$/m);
      expect(entry).toMatch(
        /^\s+http-request return status 200 content-type text\/plain string "ok" if \{ path \/healthz \} \{ nbsrv\(app\) gt 0 \}$/m,
      );
      expect(entry).toMatch(/^\s+http-request return status 503 .* if \{ path \/healthz \}$/m);
      expect(entry).toMatch(/^\s+http-response del-header X-Served-By$/m);
      expect(entry).toMatch(/^\s+use_backend api if api_path$/m);
      // The token check comes before routing: no unauthenticated request reaches the api backend.
      expect(entry.indexOf("deny_status 401")).toBeLessThan(entry.indexOf("use_backend api"));
      expect(entry).not.toContain(":443");
    },
  );

  it("GIVEN TLS WHEN haproxy.cfg is rendered THEN 443 serves the certificate and 80 redirects, and the PEM is a 0600 base64 file", () => {
    const { content, r } = lbFiles({ roles: { lb: { tls: true } } });
    expect(content(LB_PATHS.haproxyCfg)).toMatch(
      /bind :443 ssl crt \/etc\/haproxy\/certs\/bulwark\.pem alpn h2,http\/1\.1\n\s+http-request redirect scheme https code 301 unless \{ ssl_fc \}/,
    );
    expect(r.files.find((f) => f.path === LB_PATHS.certificate)).toMatchObject({
      permissions: "0600",
      encoding: "b64",
      content: "@@deploy-b64:tls_certificate_pem@@",
    });
  });

  it("GIVEN floating-ip mode WHEN rendered THEN the takeover hook, its units, the token (0600) and the address service are there", () => {
    const { r, content } = lbFiles();
    expect(r.files.find((f) => f.path === LB_PATHS.tokenFile)).toMatchObject({ permissions: "0600", content: "@@deploy:failover_api_token@@\n" });
    expect(content(LB_PATHS.failoverEnv)).toContain(
      "BULWARK_API=https://api.hetzner.cloud/v1\nBULWARK_FLOATING_IP_ID=@@deploy:floating_ip_id@@\nBULWARK_SERVER_NAME=bulwark-lb-1\n",
    );
    expect(content(LB_PATHS.notifyScript)).toContain('systemctl start --no-block "bulwark-fip-takeover.service"');
    expect(content(LB_PATHS.reconcileTimer)).toContain("OnUnitActiveSec=10s");
    expect(content(LB_PATHS.addressScript)).toContain('address="@@deploy:floating_ip_address@@"');
    expect(r.cloudConfig.runcmd).toContainEqual(["systemctl", "enable", "--now", "bulwark-fip-reconcile.timer"]);
  });

  it("GIVEN floating-ip mode WHEN the takeover script is rendered THEN it reads the holder first and keeps the token off command lines", () => {
    const script = lbFiles().content(LB_PATHS.takeoverScript)!;
    expect(script.indexOf('api GET "/floating_ips/')).toBeLessThan(script.indexOf('api POST "/floating_ips/'));
    expect(script).toContain("--config -");
    expect(script).not.toMatch(/curl[^\n]*Authorization/);
    expect(script).toContain('while [ "${try}" -le 5 ]');
    // The token is the unit's credential: systemd copies the 0600 file, the script reads the copy.
    expect(lbFiles().content(LB_PATHS.takeoverService)).toContain(`LoadCredential=hcloud-token:${LB_PATHS.tokenFile}\n`);
    expect(script).toContain('token_file="${CREDENTIALS_DIRECTORY:?');
    expect(script).not.toContain(`token_file="${LB_PATHS.tokenFile}"`);
  });

  it("GIVEN vrrp-vip mode WHEN rendered THEN keepalived holds the VIP and nothing calls an API", () => {
    const { content, paths } = lbFiles(VIP);
    expect(content(LB_PATHS.keepalivedConf)).toMatch(/virtual_ipaddress \{\n\s+10\.0\.1\.9\/32 dev eth1\n/);
    expect(paths).not.toContain(LB_PATHS.takeoverScript);
    expect(paths).not.toContain(LB_PATHS.tokenFile);
    expect(content(LB_PATHS.notifyScript)).not.toContain("systemctl start");
  });
});
