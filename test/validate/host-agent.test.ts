/**
 * The host agent (templates/base/bulwark-host.py.hbs), run for real by python3 against a scratch
 * root (BULWARK_HOST_ROOT) with scripted stand-ins for systemctl, cloud-init, gluster and
 * mongosh on PATH that log every call. What this proves: the agent's file handling (atomic
 * writes, modes, drift, corrupt bundles, the managed set), the order of actions inside the
 * handoff or drain, and its gate decisions on the answers given. What it does not prove: that a
 * real systemd, glusterd or mongod answers that way (the rollout lab runs real systemd, haproxy
 * and keepalived; MongoDB is proven against these scripted answers only).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type Server as NetServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../plan/plan.ts";
import type { Plan } from "../../plan/model.ts";
import { rolloutBundle } from "../../constructs/rollout.ts";
import { substituteDeployValues } from "../../render/deploy-values.ts";
import { renderHost, type RenderedHost } from "../../render/host.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";
import { haveTool } from "../support/tools.ts";

const ready = haveTool("python3", "python3");
const PYTHON = "/usr/bin/python3";
const execFileP = promisify(execFile);
/** A directory with only the shell tools the stand-ins use (printf, cat, echo are builtins or here). */
const TOOLS = (() => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-agent-tools-"));
  for (const tool of ["cat"]) symlinkSync(`/usr/bin/${tool}`, join(dir, tool));
  return dir;
})();

/** Scripted commands: each logs its argv (one line, tab-separated) and answers from the scenario file. */
const FAKE = {
  systemctl: `#!/bin/sh
printf 'systemctl' >> "$FAKE_LOG"; for a in "$@"; do printf '\\t%s' "$a" >> "$FAKE_LOG"; done
[ -e "$BULWARK_HOST_ROOT/run/bulwark/mail-api.drain" ] && printf '\\tDRAINING' >> "$FAKE_LOG"
printf '\\n' >> "$FAKE_LOG"
case "$1" in
  is-active) cat "$FAKE_DIR/active" 2>/dev/null || echo active ;;
  restart) [ -e "$FAKE_DIR/fail-restart" ] && { echo "Job for $2 failed" >&2; exit 1; } ;;
esac
exit 0
`,
  "cloud-init": `#!/bin/sh
printf 'cloud-init\\t%s\\n' "$*" >> "$FAKE_LOG"
echo "status: done"
`,
  gluster: `#!/bin/sh
printf 'gluster\\t%s\\n' "$*" >> "$FAKE_LOG"
case "$1 $2" in
  "peer status") cat "$FAKE_DIR/peers" ;;
  "volume status") cat "$FAKE_DIR/status" ;;
  "volume heal") cat "$FAKE_DIR/heal" ;;
esac
`,
  nft: `#!/bin/sh
printf 'nft\t%s\n' "$*" >> "$FAKE_LOG"
`,
  "systemd-sysusers": `#!/bin/sh
printf 'systemd-sysusers\t%s\n' "$*" >> "$FAKE_LOG"
`,
  mongosh: `#!/bin/sh
for a in "$@"; do last="$a"; done
case "$last" in
  *balancerStop*|*balancerStart*|*balancerStatus*)
    case "$last" in
      *balancerStop*) printf 'mongosh\\tbalancerStop\\n' >> "$FAKE_LOG"; [ -e "$FAKE_DIR/balancer-stuck" ] || echo off > "$FAKE_DIR/balancer-mode" ;;
      *balancerStart*) printf 'mongosh\\tbalancerStart\\n' >> "$FAKE_LOG"; echo full > "$FAKE_DIR/balancer-mode" ;;
      *) printf 'mongosh\\tbalancerStatus\\n' >> "$FAKE_LOG" ;;
    esac
    rounds=$(cat "$FAKE_DIR/balancer-rounds" 2>/dev/null || echo 0)
    if [ "$rounds" -gt 0 ]; then echo $((rounds - 1)) > "$FAKE_DIR/balancer-rounds"; in_round=true; else in_round=false; fi
    echo "{\\"ok\\":true,\\"error\\":null,\\"mode\\":\\"$(cat "$FAKE_DIR/balancer-mode")\\",\\"inRound\\":$in_round}"
    exit 0 ;;
  *stepDown*) printf 'mongosh\\tstepDown\\n' >> "$FAKE_LOG"; echo secondary > "$FAKE_DIR/mongo-state" ;;
  *) printf 'mongosh\\thello\\n' >> "$FAKE_LOG" ;;
esac
case "$(cat "$FAKE_DIR/mongo-state")" in
  primary) echo '{"isWritablePrimary":true,"secondary":false,"setName":"shard1","lastWriteS":100,"majorityWriteS":100}' ;;
  secondary) echo '{"isWritablePrimary":false,"secondary":true,"setName":"shard1","lastWriteS":100,"majorityWriteS":101}' ;;
  *) echo '{"isWritablePrimary":false,"secondary":false,"setName":"shard1","lastWriteS":null,"majorityWriteS":null}' ;;
esac
`,
} as const;

const VALUES: Record<string, string> = {
  floating_ip_address: "203.0.113.7",
  floating_ip_id: "4711",
  failover_api_token: "t".repeat(64),
  mongo_keyfile: "k".repeat(1008),
  mongo_admin_password: "p".repeat(32),
  mongo_app_password: "q".repeat(32),
  mail_api_token: "m".repeat(48),
  ssh_host_ed25519_key: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
  ssh_host_ed25519_public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test",
  glusterd_pool_uuids:
    "10.0.1.20=00000000-0000-4000-8000-000000000001 10.0.1.21=00000000-0000-4000-8000-000000000002 10.0.1.22=00000000-0000-4000-8000-000000000003",
};

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly calls: string[];
}

class Scratch {
  readonly root: string;
  readonly fake: string;
  readonly agent: string;
  readonly log: string;
  constructor(
    readonly base: string,
    readonly rendered: RenderedHost,
  ) {
    this.root = join(base, "root");
    this.fake = join(base, "fake");
    this.log = join(base, "calls.log");
    mkdirSync(join(this.root, "etc"), { recursive: true });
    mkdirSync(this.fake, { recursive: true });
    writeFileSync(join(this.root, "etc/hostname"), `${rendered.host.name}\n`);
    for (const [name, body] of Object.entries(FAKE)) {
      writeFileSync(join(this.fake, name), body);
      chmodSync(join(this.fake, name), 0o755);
    }
    this.agent = join(base, "bulwark-host");
    writeFileSync(this.agent, rendered.files.find((f) => f.path === "/usr/local/sbin/bulwark-host")!.content);
  }

  /** The host's bundle with test values, its settings edited by `tweak`. */
  bundle(
    plan: Plan,
    rendered: RenderedHost = this.rendered,
    tweak: (b: { config: Record<string, unknown>; files: Record<string, unknown>[] }) => void = () => {},
  ): string {
    const b = rolloutBundle(plan, rendered) as unknown as { config: Record<string, unknown>; files: Record<string, unknown>[] };
    tweak(b);
    return substituteDeployValues(JSON.stringify(b), (name, base64) => {
      const v = VALUES[name]!;
      return JSON.stringify(base64 ? Buffer.from(v).toString("base64") : v).slice(1, -1);
    });
  }

  apply(text: string, ...args: string[]): Promise<Run> {
    const file = join(this.base, "bundle.json");
    writeFileSync(file, text);
    return this.run(["apply", file, ...args]);
  }

  /** Async: the test's own HTTP and socket stand-ins answer from this process meanwhile. */
  async run(args: string[]): Promise<Run> {
    writeFileSync(this.log, "");
    // PATH holds the stand-ins and the shell tools they use only: no real systemctl, nft or
    // gluster can run from here (the agent resolves every command on PATH under BULWARK_HOST_ROOT).
    const r = await execFileP(PYTHON, [this.agent, ...args], {
      encoding: "utf8",
      timeout: 20_000,
      env: {
        ...process.env,
        PATH: `${this.fake}:${TOOLS}`,
        BULWARK_HOST_ROOT: this.root,
        BULWARK_HOST_FAKE_TIME: "1",
        FAKE_LOG: this.log,
        FAKE_DIR: this.fake,
      },
    }).then(
      (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
      (err: { code?: number | string; stdout?: string; stderr?: string }) => ({
        code: typeof err.code === "number" ? err.code : -1,
        stdout: err.stdout ?? "",
        stderr: err.stderr ?? "",
      }),
    );
    return { ...r, calls: readFileSync(this.log, "utf8").split("\n").filter(Boolean) };
  }

  file(path: string): string | undefined {
    return existsSync(join(this.root, path)) ? readFileSync(join(this.root, path), "utf8") : undefined;
  }

  mode(path: string): string {
    return (statSync(join(this.root, path)).mode & 0o777).toString(8).padStart(4, "0");
  }
}

const planOf = (patch: Record<string, unknown> = {}) => buildPlan(validateTopology(withInput(patch)), TEST_PLAN_INPUTS);
const hostOf = (plan: Plan, name: string) => renderHost(plan, plan.hosts.find((h) => h.name === name)!);

describe.runIf(ready)("host agent", () => {
  const base = mkdtempSync(join(tmpdir(), "bulwark-agent-"));
  let health: Server;
  let healthPort = 0;
  let healthStatus = 200;
  let ingressStatus = 200;

  beforeAll(async () => {
    health = createServer((req, res) => res.writeHead(req.url?.endsWith("?ingress") ? ingressStatus : healthStatus).end());
    await new Promise<void>((r) => health.listen(0, "127.0.0.1", r));
    healthPort = (health.address() as AddressInfo).port;
  });
  afterAll(() => {
    health?.close();
    rmSync(base, { recursive: true, force: true });
    rmSync(TOOLS, { recursive: true, force: true });
  });

  const appTweak = (b: { config: Record<string, unknown> }) => {
    (b.config["service"] as Record<string, unknown>)["healthUrl"] = `http://127.0.0.1:${healthPort}/healthz`;
  };

  describe("on an app host", () => {
    const plan = planOf();
    const s = new Scratch(join(base, "app"), hostOf(plan, "app-1"));
    const unit = "/etc/systemd/system/bulwark-mail-api.service";

    it(
      "GIVEN a new host WHEN the first bundle is applied THEN it waits for cloud-init, writes " +
        "every file with its mode, runs each action once inside the drain and passes the gate",
      async () => {
        healthStatus = 200;
        const r = await s.apply(s.bundle(plan, s.rendered, appTweak));
        expect(r.stderr).toContain("first rollout; waiting for cloud-init");
        expect(r.code, r.stderr).toBe(0);
        expect(r.calls[0]).toBe("cloud-init\tstatus --wait");
        for (const f of s.rendered.files) {
          expect(existsSync(join(s.root, f.path)), f.path).toBe(true);
          expect(s.mode(f.path), f.path).toBe(f.permissions);
        }
        expect(s.file("/etc/bulwark/mail-api-token")).toBe(`${"m".repeat(48)}\n`);
        const systemctl = r.calls.filter((c) => c.startsWith("systemctl\t") && !c.includes("is-active"));
        expect(systemctl[0]).toBe("systemctl\tdaemon-reload");
        // The drain file exists while the service restarts, and is gone after.
        expect(systemctl.filter((c) => c.includes("restart\tbulwark-mail-api.service"))).toEqual([
          "systemctl\trestart\tbulwark-mail-api.service\tDRAINING",
        ]);
        expect(systemctl.filter((c) => c.includes("restart"))).toEqual([...new Set(systemctl.filter((c) => c.includes("restart")))]);
        expect(s.file("/run/bulwark/mail-api.drain")).toBeUndefined();
        expect(JSON.parse(r.stdout)).toMatchObject({ host: "app-1", health: { unit: "bulwark-mail-api.service", active: true, healthz: 200 } });
        expect(s.file("/usr/local/sbin/bulwark-host")).toBe(readFileSync(s.agent, "utf8"));
      },
    );

    it("GIVEN the same bundle again WHEN applied THEN nothing is written and no action runs; only the gate is checked", async () => {
      const r = await s.apply(s.bundle(plan, s.rendered, appTweak));
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).changed).toEqual([]);
      expect(r.calls.filter((c) => !c.includes("is-active"))).toEqual([]);
    });

    it("GIVEN a new mail-api build WHEN applied THEN the install unit and the service restart, in file order, drained", async () => {
      const next = planOf();
      const built = {
        ...next,
        services: {
          ...next.services,
          artifacts: { ...next.services.artifacts, "mail-api": { ...next.services.artifacts["mail-api"], sha256: "c".repeat(64) } },
        },
      };
      const r = await s.apply(s.bundle(built, hostOf(built, "app-1"), appTweak));
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).changed).toEqual(["/usr/local/sbin/bulwark-install-mail-api", unit]);
      expect(r.calls.filter((c) => c.startsWith("systemctl\t") && !c.includes("is-active"))).toEqual([
        "systemctl\tdaemon-reload",
        "systemctl\trestart\tbulwark-mail-api-install.service\tDRAINING",
        "systemctl\trestart\tbulwark-mail-api.service\tDRAINING",
      ]);
    });

    it(
      "GIVEN a file edited on the host WHEN a bundle that changes it arrives THEN " +
        "drift: exit 3, the file named, nothing written; --accept-drift goes ahead",
      async () => {
        const edited = s.file(unit)!.replace("Restart=always", "Restart=no");
        writeFileSync(join(s.root, unit), edited);
        const before = s.file("/usr/local/sbin/bulwark-install-mail-api");
        const r = await s.apply(s.bundle(plan, s.rendered, appTweak));
        expect(r.code).toBe(3);
        expect(r.stderr.trim().split("\n")).toEqual([
          `bulwark-host: host app-1: drift: ${unit} changed on the host since the last rollout ` +
            `and differ from the new version; nothing written (accept with --accept-drift)`,
        ]);
        expect(s.file(unit)).toBe(edited);
        expect(s.file("/usr/local/sbin/bulwark-install-mail-api")).toBe(before);
        const forced = await s.apply(s.bundle(plan, s.rendered, appTweak), "--accept-drift");
        expect(forced.code, forced.stderr).toBe(0);
        expect(s.file(unit)).not.toBe(edited);
      },
    );

    it.each([
      ["a truncated bundle", (t: string) => t.slice(0, Math.floor(t.length / 2)), [], /is not valid JSON .*corrupt or truncated/],
      [
        "a bundle whose sha256 does not match",
        (t: string) => t.replace("Restart=always", "Restart=never"),
        ["--sha256", "SHA"],
        /is corrupt or truncated \(sha256 [0-9a-f]{64}, expected [0-9a-f]{64}\)/,
      ],
      [
        "a path outside the managed set",
        (t: string) => t.replace('"path":"/etc/bulwark/host.env"', '"path":"/root/.ssh/authorized_keys"'),
        [],
        /bundle path \/root\/\.ssh\/authorized_keys is outside the managed set/,
      ],
      [
        "a path with ..",
        (t: string) => t.replace('"path":"/etc/bulwark/host.env"', '"path":"/etc/bulwark/../shadow"'),
        [],
        /bundle path '\/etc\/bulwark\/\.\.\/shadow' is not a normalised absolute path/,
      ],
      ["another host's bundle", (t: string) => t.replaceAll('"host":"app-1"', '"host":"app-2"'), [], /bundle .* is for host 'app-2'; refusing it/],
      ["an unknown action", (t: string) => t.replace('"kind":"none"', '"kind":"reboot"'), [], /has the unknown action 'reboot'/],
    ] as const)("GIVEN %s WHEN applied THEN exit 2 with one line naming the host, and nothing is written", async (_what, corrupt, extra, message) => {
      const good = s.bundle(plan, s.rendered, appTweak);
      const sha = createHash("sha256").update(good).digest("hex");
      const snapshot = s.rendered.files.map((f) => s.file(f.path));
      const r = await s.apply(corrupt(good), ...extra.map((a) => (a === "SHA" ? sha : a)));
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^bulwark-host: host app-1: /);
      expect(r.stderr).toMatch(message);
      expect(s.rendered.files.map((f) => s.file(f.path))).toEqual(snapshot);
      expect(r.calls).toEqual([]);
    });

    it("GIVEN a managed path behind a symlink on the host WHEN applied THEN refused, and the link's target untouched", async () => {
      const other = new Scratch(join(base, "app-link"), s.rendered);
      mkdirSync(join(other.root, "tmp/elsewhere"), { recursive: true });
      mkdirSync(dirname(join(other.root, "etc/bulwark")), { recursive: true });
      symlinkSync(join(other.root, "tmp/elsewhere"), join(other.root, "etc/bulwark"));
      const r = await other.apply(other.bundle(plan, s.rendered, appTweak));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/goes through the symlink \/etc\/bulwark/);
      expect(existsSync(join(other.root, "tmp/elsewhere/host.env"))).toBe(false);
    });

    it(
      "GIVEN a build whose /healthz fails WHEN applied THEN exit 5 within the gate's " +
        "bound, naming the host and the gate, and the actions stay pending for the next run",
      async () => {
        healthStatus = 500;
        const next = planOf();
        const built = {
          ...next,
          services: {
            ...next.services,
            artifacts: { ...next.services.artifacts, "mail-api": { ...next.services.artifacts["mail-api"], sha256: "d".repeat(64) } },
          },
        };
        const bundle = s.bundle(built, hostOf(built, "app-1"), appTweak);
        const r = await s.apply(bundle);
        expect(r.code).toBe(5);
        expect(r.stderr).toMatch(/host app-1: gate app did not hold within 300 s: bulwark-mail-api\.service is active, \/healthz answered 500/);
        healthStatus = 200;
        const again = await s.apply(bundle);
        expect(again.code, again.stderr).toBe(0);
        expect(JSON.parse(again.stdout).changed).toEqual([]);
        expect(JSON.parse(again.stdout).actions.map((a: { unit: string }) => a.unit)).toEqual([
          "bulwark-mail-api-install.service",
          "bulwark-mail-api.service",
        ]);
      },
    );
  });

  describe("on an app host with the SMTP receiver", () => {
    const plan = planOf({ mail: { ingress: true, domains: ["example.com"] } });
    const s = new Scratch(join(base, "app-ingress"), hostOf(plan, "app-1"));
    // Both services' /healthz on the test's server; the receiver's answers what ingressStatus says.
    const tweak = (b: { config: Record<string, unknown> }) => {
      appTweak(b);
      const svc = b.config["service"] as { also: { healthUrl: string }[] };
      svc.also = svc.also.map((o) => ({ ...o, healthUrl: `http://127.0.0.1:${healthPort}/healthz?ingress` }));
    };

    it(
      "GIVEN the receiver's /healthz failing WHEN the gate is checked THEN " + "it fails naming the receiver; healthy, it passes with both reported",
      async () => {
        healthStatus = 200;
        ingressStatus = 503;
        const bundle = s.bundle(plan, s.rendered, tweak);
        const first = await s.apply(bundle);
        expect(first.code).toBe(5);
        expect(first.stderr).toMatch(/host app-1: gate app did not hold within 300 s: bulwark-ingress\.service is active, \/healthz answered 503/);
        expect(s.rendered.files.map((f) => f.path)).toContain("/etc/systemd/system/bulwark-ingress.service");
        ingressStatus = 200;
        const ok = await s.apply(bundle);
        expect(ok.code, ok.stderr).toBe(0);
        expect(JSON.parse(ok.stdout).health).toMatchObject({
          unit: "bulwark-mail-api.service",
          healthz: 200,
          also: [{ unit: "bulwark-ingress.service", active: true, healthz: 200 }],
        });
      },
    );
  });

  describe("on an lb host", () => {
    const plan = planOf({ roles: { lb: { failover: "vrrp-vip", vip: { address: "10.0.1.9", interface: "eth1" } } } });
    const s = new Scratch(join(base, "lb"), hostOf(plan, "lb-1"));
    let sock: NetServer;
    // The peer lb's sshd, as the gate reaches it: a listener on loopback.
    let peer: NetServer;
    let peerPort = 0;
    beforeAll(async () => {
      mkdirSync(join(s.root, "run/haproxy"), { recursive: true });
      mkdirSync(join(s.root, "run/bulwark"), { recursive: true });
      writeFileSync(join(s.root, "run/bulwark/haproxy-down"), "0\n");
      sock = createNetServer((c) =>
        c.end("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state\n3 api 1 app-1 10.0.1.100 2\n3 api 2 app-2 10.0.1.101 2\n"),
      );
      await new Promise<void>((r) => sock.listen(join(s.root, "run/haproxy/admin.sock"), r));
      peer = createNetServer((c) => c.end());
      await new Promise<void>((r) => peer.listen(0, "127.0.0.1", r));
      peerPort = (peer.address() as AddressInfo).port;
    });
    afterAll(() => {
      sock?.close();
      peer?.close();
    });
    const lbTweak = (b: { config: Record<string, unknown> }) => {
      const lb = b.config["lb"] as Record<string, unknown>;
      expect(lb["peer"]).toEqual({ host: "lb-2", address: plan.hosts.find((h) => h.name === "lb-2")!.privateIp, port: 22 });
      lb["peer"] = { host: "lb-2", address: "127.0.0.1", port: peerPort };
    };
    /** Edits the settings the last apply left on the host (what `gate` and `state` read). */
    const editSettings = (edit: (c: { lb: Record<string, unknown> }) => void) => {
      const path = join(s.root, "etc/bulwark/host-agent.json");
      const c = JSON.parse(readFileSync(path, "utf8")) as { lb: Record<string, unknown> };
      edit(c);
      writeFileSync(path, JSON.stringify(c));
    };

    it("GIVEN the MASTER and a haproxy.cfg change WHEN applied THEN haproxy is reloaded and keepalived is left alone (no handoff)", async () => {
      writeFileSync(join(s.root, "run/bulwark/vrrp-state"), "MASTER\n");
      expect((await s.apply(s.bundle(plan, s.rendered, lbTweak))).code).toBe(0);
      const changed = { ...plan, lb: { ...plan.lb, connectTimeoutMs: 300 } };
      const r = await s.apply(s.bundle(changed, hostOf(changed, "lb-1"), lbTweak));
      expect(r.code, r.stderr).toBe(0);
      expect(r.calls.filter((c) => !c.includes("is-active"))).toEqual(["systemctl\treload\thaproxy.service"]);
    });

    it(
      "GIVEN the MASTER and a keepalived.conf change WHEN applied THEN " + "keepalived is stopped first (the peer takes over), then restarted",
      async () => {
        const changed = { ...plan, lb: { ...plan.lb, connectTimeoutMs: 300, advertIntervalS: 0.2 } };
        const r = await s.apply(s.bundle(changed, hostOf(changed, "lb-1"), lbTweak));
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain("host lb-1 is MASTER: handing the entry to its peer first");
        expect(r.calls.filter((c) => !c.includes("is-active"))).toEqual([
          "systemctl\tstop\tkeepalived.service",
          "systemctl\trestart\tkeepalived.service",
        ]);
      },
    );

    it("GIVEN the BACKUP and a keepalived.conf change WHEN applied THEN it is restarted without a handoff", async () => {
      writeFileSync(join(s.root, "run/bulwark/vrrp-state"), "BACKUP\n");
      const changed = { ...plan, lb: { ...plan.lb, connectTimeoutMs: 300, advertIntervalS: 0.3 } };
      const r = await s.apply(s.bundle(changed, hostOf(changed, "lb-1"), lbTweak));
      expect(r.code, r.stderr).toBe(0);
      expect(r.calls.filter((c) => !c.includes("is-active"))).toEqual(["systemctl\trestart\tkeepalived.service"]);
    });

    it(
      "GIVEN the MASTER WHEN retired before a replacement THEN keepalived " + "is stopped (the peer takes the Floating IP) and not started again",
      async () => {
        writeFileSync(join(s.root, "run/bulwark/vrrp-state"), "MASTER\n");
        const r = await s.run(["retire"]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.calls.filter((c) => !c.includes("is-active"))).toEqual(["systemctl\tstop\tkeepalived.service"]);
        expect(JSON.parse(r.stdout)).toEqual({ host: "lb-1", retired: ["handed the Floating IP to the peer; keepalived stopped"] });
        writeFileSync(join(s.root, "run/bulwark/vrrp-state"), "BACKUP\n");
        const backup = await s.run(["retire"]);
        expect(backup.calls.filter((c) => !c.includes("is-active"))).toEqual([]);
        expect(JSON.parse(backup.stdout).retired).toEqual(["nothing to hand over"]);
      },
    );

    it(
      "GIVEN the applied host WHEN its state is asked THEN every managed file's sha256 " + "and the lb's health, peer included, come as JSON",
      async () => {
        const r = await s.run(["state"]);
        expect(r.code, r.stderr).toBe(0);
        const state = JSON.parse(r.stdout) as {
          host: string;
          role: string;
          files: Record<string, string | null>;
          health: Record<string, unknown>;
          healthy: boolean;
        };
        expect(state).toMatchObject({ host: "lb-1", role: "lb", healthy: true });
        const cfg = s.file("/etc/haproxy/haproxy.cfg")!;
        expect(state.files["/etc/haproxy/haproxy.cfg"]).toBe(createHash("sha256").update(cfg).digest("hex"));
        expect(Object.keys(state.files)).toEqual(expect.arrayContaining(["/etc/keepalived/keepalived.conf", "/usr/local/sbin/bulwark-host"]));
        expect(state.health).toMatchObject({ vrrp_state: "BACKUP", haproxy: true, backends: { "app-1": 2, "app-2": 2 } });
        expect(state.health["peer"]).toEqual({ host: "lb-2", reachable: true });
      },
    );

    it("GIVEN the peer lb not answering WHEN the gate is checked THEN it fails naming the peer", async () => {
      const closed = createNetServer();
      await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
      const deadPort = (closed.address() as AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      editSettings((c) => {
        c.lb["peer"] = { host: "lb-2", address: "127.0.0.1", port: deadPort };
      });
      const r = await s.run(["gate"]);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(new RegExp(`host lb-1: gate lb did not hold within 60 s: peer lb-2 does not answer on 127\\.0\\.0\\.1:${deadPort}`));
      editSettings((c) => {
        c.lb["peer"] = { host: "lb-2", address: "127.0.0.1", port: peerPort };
      });
      expect((await s.run(["gate"])).code).toBe(0);
    });

    it("GIVEN an lb WHEN asked to stop the balancer THEN it refuses: that runs on the cluster's bootstrap mongos only", async () => {
      const r = await s.run(["balancer", "stop"]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(
        "bulwark-host: host lb-1: has no balancer settings; the balancer is stopped and started on the mongos that bootstraps the cluster",
      );
      expect(r.calls).toEqual([]);
    });

    it("GIVEN a backend down in haproxy WHEN the gate is checked THEN it fails naming the backends", async () => {
      sock.close();
      const r = await s.run(["gate"]);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/host lb-1: gate lb did not hold within 60 s: backends not all up/);
    });
  });

  describe("on a storage host", () => {
    const plan = planOf();
    const s = new Scratch(join(base, "storage"), hostOf(plan, "storage-2"));
    // The stand-in answers every `volume heal` the same: the summary lines, and the entries `info` lists.
    const heal = (pending: number[]) =>
      pending
        .map(
          (n, i) =>
            `Brick 10.0.1.2${i}:/srv/brick/shared\n${n ? "/rollout-app-1\n" : ""}Status: ` +
            `Connected\nNumber of entries in heal pending: ${n}\nNumber of entries in split-brain: 0\n`,
        )
        .join("\n");

    it(
      "GIVEN heal entries pending WHEN glusterd is restarted THEN the " + "gate holds the rollout until they reach 0, and fails past its bound",
      async () => {
        writeFileSync(join(s.fake, "peers"), "Number of Peers: 2\n\nState: Peer in Cluster (Connected)\n\nState: Peer in Cluster (Connected)\n");
        writeFileSync(join(s.fake, "status"), "Online : Y\nOnline : Y\nOnline : Y\n");
        writeFileSync(join(s.fake, "heal"), heal([0, 4, 0]));
        const r = await s.apply(s.bundle(plan));
        expect(r.code).toBe(5);
        expect(r.stderr).toMatch(/host storage-2: gate storage did not hold within 900 s: 4 heal entries pending; entries: \/rollout-app-1$/m);
        // No progress for 120 s (60 rounds 2 s apart): an index heal is launched, once per 120 s.
        expect(r.stderr).toMatch(
          /host storage-2: 4 heal entries pending for 120 s without progress: launching an index heal \(gluster volume heal shared\)/,
        );
        const kicks = readFileSync(s.log, "utf8")
          .split("\n")
          .filter((l) => l === "gluster\tvolume heal shared");
        expect(kicks.length).toBe(Math.floor((900 / 2 - 1) / 60));
        writeFileSync(join(s.fake, "heal"), heal([0, 0, 0]));
        const ok = await s.run(["gate"]);
        expect(ok.code, ok.stderr).toBe(0);
        expect(JSON.parse(ok.stdout).health).toEqual({
          peers_connected: 2,
          peers_expected: 2,
          bricks_online: 3,
          bricks_expected: 3,
          heal_pending: 0,
          split_brain: 0,
        });
      },
    );
  });

  describe("on the cluster's bootstrap mongos (scripted mongosh: what this does not prove is a real mongos)", () => {
    const plan = planOf();
    const s = new Scratch(join(base, "balancer"), hostOf(plan, "app-1"));
    const fake = (name: string, text: string | undefined) =>
      text === undefined ? rmSync(join(s.fake, name), { force: true }) : writeFileSync(join(s.fake, name), text);

    it("GIVEN the plan WHEN rendered THEN app-1 (the cluster's bootstrap mongos) alone has balancer settings", async () => {
      expect(plan.rollout.balancer?.host).toBe(plan.mongo.clusterBootstrapHost);
      const settings = (name: string) =>
        JSON.parse(hostOf(plan, name).files.find((f) => f.path === "/etc/bulwark/host-agent.json")!.content) as { balancer?: unknown };
      expect(settings("app-1").balancer).toMatchObject({ port: 27017, adminEnv: "/etc/bulwark/mongo-bootstrap.env", timeoutS: 1800 });
      expect(settings("app-2").balancer).toBeUndefined();
      expect(settings("mongo-s1-1").balancer).toBeUndefined();
      fake("balancer-mode", "full\n");
      const r = await s.apply(s.bundle(plan, s.rendered, appTweak));
      expect(r.code, r.stderr).toBe(0);
    });

    it("GIVEN a balancing round in progress WHEN stopped THEN it waits for the round to end, then reports off", async () => {
      fake("balancer-mode", "full\n");
      fake("balancer-rounds", "2\n");
      const r = await s.run(["balancer", "stop"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.calls.filter((c) => c.startsWith("mongosh"))).toEqual(["mongosh\tbalancerStop", "mongosh\tbalancerStop", "mongosh\tbalancerStop"]);
      expect(JSON.parse(r.stdout)).toEqual({ host: "app-1", balancer: "off" });
    });

    it("GIVEN the cluster bootstrap still running WHEN stopped THEN it waits for the bootstrap, and fails past its bound", async () => {
      fake("active", "activating\n");
      const r = await s.run(["balancer", "stop"]);
      fake("active", undefined);
      expect(r.code).toBe(4);
      expect(r.stderr.trim().split("\n").at(-1)).toBe(
        "bulwark-host: host app-1: could not stop the cluster's balancer within 1800 s: bulwark-mongo-bootstrap.service is still running",
      );
      expect(r.calls.filter((c) => c.startsWith("mongosh"))).toEqual([]);
    });

    it("GIVEN a balancer that stays on WHEN stopped THEN it fails past its bound, naming what mongos answered", async () => {
      fake("balancer-mode", "full\n");
      fake("balancer-stuck", "");
      const r = await s.run(["balancer", "stop"]);
      fake("balancer-stuck", undefined);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(
        /could not stop the cluster's balancer within 1800 s: mongos answered \{"error": null, "inRound": false, "mode": "full", "ok": true\}/,
      );
    });

    it("GIVEN the rollout's last Mongo step done WHEN started THEN the balancer runs again, and state shows it", async () => {
      fake("balancer-mode", "off\n");
      const r = await s.run(["balancer", "start"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ host: "app-1", balancer: "full" });
      const state = await s.run(["state"]);
      expect(JSON.parse(state.stdout).balancer).toEqual({ ok: true, error: null, mode: "full", inRound: false });
    });

    it("GIVEN a wrong verb WHEN asked THEN usage, exit 2", async () => {
      expect((await s.run(["balancer", "pause"])).code).toBe(2);
    });
  });

  describe("on a mongo member (scripted mongosh: what this does not prove is a real mongod)", () => {
    const plan = planOf();
    const s = new Scratch(join(base, "mongo"), hostOf(plan, "mongo-s1-1"));
    const changed = (p: Plan) => ({ ...p, mongo: { ...p.mongo, serviceUrl: p.mongo.serviceUrl } });

    it("GIVEN the order WHEN planned THEN each set's bootstrap member (priority 2, the usual PRIMARY) comes last, config servers first", () => {
      const mongo = plan.rollout.steps.filter((x) => x.gate === "mongo").map((x) => x.host);
      expect(mongo).toEqual([
        "mongo-cfg-2",
        "mongo-cfg-3",
        "mongo-cfg-1",
        "mongo-s1-2",
        "mongo-s1-3",
        "mongo-s1-1",
        "mongo-s2-2",
        "mongo-s2-3",
        "mongo-s2-1",
      ]);
    });

    it(
      "GIVEN the PRIMARY and a mongod.conf change WHEN applied THEN it " + "steps down first, then restarts mongod, then passes as SECONDARY",
      async () => {
        writeFileSync(join(s.fake, "mongo-state"), "secondary\n");
        expect((await s.apply(s.bundle(changed(plan)))).code).toBe(0);
        writeFileSync(join(s.fake, "mongo-state"), "primary\n");
        const r = await s.apply(
          s.bundle(plan, hostOf(plan, "mongo-s1-1"), (b) => {
            const conf = b.files.find((f) => f["path"] === "/etc/mongod.conf")!;
            conf["content"] = `${conf["content"] as string}# changed\n`;
          }),
        );
        expect(r.code, r.stderr).toBe(0);
        const order = r.calls.filter((c) => c.includes("stepDown") || c.includes("restart"));
        expect(order).toEqual(["mongosh\tstepDown", "systemctl\trestart\tmongod.service"]);
        expect(JSON.parse(r.stdout).health.state).toBe("SECONDARY");
      },
    );

    it("GIVEN a member stuck in STARTUP2 WHEN the gate is checked THEN the rollout stops there", async () => {
      writeFileSync(join(s.fake, "mongo-state"), "startup2\n");
      const r = await s.run(["gate"]);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/host mongo-s1-1: gate mongo did not hold within 1800 s: member is neither PRIMARY nor SECONDARY/);
    });
  });
});
