/**
 * The Floating IP takeover script (templates/lb/fip-takeover.sh.hbs), run for real by sh with
 * curl and jq against a scripted Hetzner API on loopback, with the witnesses as loopback
 * listeners (127.0.0.x: a missing one refuses at once). What this proves: the script's decisions
 * (claim only as MASTER, only when the address is elsewhere, and only with a majority of the
 * witnesses), the calls it makes and what it logs. What it does not prove: Hetzner's answers (the
 * scripted ones follow the API's documented shapes; the lb and stack labs run the script against
 * the lab's emulator on booted hosts).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../../plan/model.ts";
import { buildPlan } from "../../plan/plan.ts";
import { DEPLOY_VALUES, substituteDeployValues } from "../../render/deploy-values.ts";
import { renderHost } from "../../render/host.ts";
import { LB_PATHS } from "../../render/lb.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";
import { haveTool } from "../support/tools.ts";

const ready = haveTool("curl", "curl") && haveTool("jq", "jq") && haveTool("bash", "bash") && haveTool("timeout", "coreutils");
const run = promisify(execFile);

const ME = 11;
const PEER = 12;
const FIP_ID = 1001;
/** Loopback addresses for the three witnesses; which of them listen is up to each test. */
const WITNESSES = ["127.0.0.21", "127.0.0.22", "127.0.0.23"];

interface Api {
  holder: number | null;
  calls: string[];
}

describe.runIf(ready)("Floating IP takeover script, against a scripted API", () => {
  const api: Api = { holder: PEER, calls: [] };
  let server: Server;
  let dir: string;
  let witnessPort: number;
  const listeners: NetServer[] = [];
  const plan = buildPlan(validateTopology(withInput({})), TEST_PLAN_INPUTS);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bulwark-fip-"));
    server = createServer((req, res) => {
      api.calls.push(`${req.method} ${req.url}`);
      const json = (body: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.headers.authorization !== "Bearer test-token") return void res.writeHead(401).end();
      if (req.method === "GET" && req.url?.startsWith("/servers?name=")) return json({ servers: [{ id: ME }] });
      if (req.method === "GET" && req.url === `/floating_ips/${FIP_ID}`) return json({ floating_ip: { id: FIP_ID, server: api.holder } });
      if (req.method === "POST" && req.url === `/floating_ips/${FIP_ID}/actions/assign`) {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
          api.holder = (JSON.parse(body) as { server: number }).server;
          json({ action: { id: 7, command: "assign_floating_ip", status: "running" } });
        });
        return;
      }
      if (req.method === "GET" && req.url === "/actions/7") return json({ action: { id: 7, status: "success" } });
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    // One port free on every loopback address: take one from the first listener.
    const first = createNetServer((s) => s.destroy());
    await new Promise<void>((r) => first.listen(0, WITNESSES[0], r));
    witnessPort = (first.address() as AddressInfo).port;
    listeners.push(first);
  });

  afterAll(async () => {
    await Promise.all(listeners.map((l) => new Promise((r) => l.close(r))));
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  async function listen(address: string): Promise<void> {
    const l = createNetServer((s) => s.destroy());
    await new Promise<void>((r) => l.listen(witnessPort, address, r));
    listeners.push(l);
  }

  /** lb-1's rendered script with its paths moved into this test's directory and the witnesses set. */
  function script(name: string, port = witnessPort): string {
    const p: Plan = {
      ...plan,
      lb: {
        ...plan.lb,
        apiEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        witness: { ...plan.lb.witness, addresses: WITNESSES, port },
      },
    };
    const host = renderHost(p, p.hosts.find((h) => h.name === "lb-1")!);
    const content = (path: string) => host.files.find((f) => f.path === path)!.content;
    const sub = (text: string) =>
      substituteDeployValues(
        text,
        (v) => ({ [DEPLOY_VALUES.floatingIpId.name]: String(FIP_ID), [DEPLOY_VALUES.failoverToken.name]: "test-token" })[v],
      );
    const caseDir = join(dir, name);
    mkdirSync(join(caseDir, "creds"), { recursive: true });
    writeFileSync(join(caseDir, "failover.env"), sub(content(LB_PATHS.failoverEnv)));
    writeFileSync(join(caseDir, "creds", "hcloud-token"), sub(content(LB_PATHS.tokenFile)));
    let text = content(LB_PATHS.takeoverScript);
    for (const [from, to] of [
      [LB_PATHS.failoverEnv, join(caseDir, "failover.env")],
      [LB_PATHS.vrrpStateFile, join(caseDir, "vrrp-state")],
      [LB_PATHS.serverIdCache, join(caseDir, "server-id")],
    ] as const) {
      expect(text).toContain(from);
      text = text.replaceAll(from, to);
    }
    writeFileSync(join(caseDir, "takeover.sh"), text, { mode: 0o755 });
    return caseDir;
  }

  async function takeover(caseDir: string, state: "MASTER" | "BACKUP"): Promise<{ code: number; out: string }> {
    writeFileSync(join(caseDir, "vrrp-state"), `${state}\n`);
    try {
      const r = await run("sh", [join(caseDir, "takeover.sh")], {
        env: { PATH: process.env.PATH, CREDENTIALS_DIRECTORY: join(caseDir, "creds") },
        timeout: 60_000,
      });
      return { code: 0, out: r.stdout + r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, out: err.stdout + err.stderr };
    }
  }

  it("GIVEN the seed WHEN planned THEN the witnesses are the three storage servers' sshd and a claim needs two", () => {
    const storage = plan.hosts.filter((h) => h.role === "storage").map((h) => h.privateIp);
    expect(plan.lb.witness).toEqual({ addresses: storage, port: 22, need: 2, connectTimeoutS: 1 });
    expect(storage).toHaveLength(3);
  });

  // The tests below run in order and share the API's state and the listeners.
  it(
    "GIVEN a MASTER that reaches only one of three witnesses WHEN the " + "address is on the peer THEN it makes no assign call and leaves it there",
    async () => {
      const caseDir = script("minority");
      api.calls = [];
      const r = await takeover(caseDir, "MASTER");
      expect(r.code).toBe(0);
      expect(api.calls.some((c) => c.startsWith("POST"))).toBe(false);
      expect(api.holder).toBe(PEER);
      expect(r.out).toContain(`reached 1 of the 3 witnesses (${WITNESSES.join(" ")}, port ${witnessPort}), need 2`);
      expect(r.out).toContain(`Floating IP ${FIP_ID} stays on server ${PEER}: this side is the minority`);
    },
  );

  it("GIVEN a BACKUP WHEN run THEN it calls nothing", async () => {
    const caseDir = script("backup");
    api.calls = [];
    const r = await takeover(caseDir, "BACKUP");
    expect(r.code).toBe(0);
    expect(api.calls).toEqual([]);
  });

  it(
    "GIVEN a MASTER that reaches two of three witnesses WHEN the address " + "is on the peer THEN it assigns it to itself and waits for the action",
    async () => {
      await listen(WITNESSES[2]!);
      const caseDir = script("majority");
      api.calls = [];
      const r = await takeover(caseDir, "MASTER");
      expect(r.code, r.out).toBe(0);
      expect(api.calls).toContain(`POST /floating_ips/${FIP_ID}/actions/assign`);
      expect(api.holder).toBe(ME);
      expect(r.out).toContain(`Floating IP ${FIP_ID} now routed to server ${ME} (action 7)`);
    },
  );

  it("GIVEN the holder WHEN it reaches no witness at all THEN it keeps the address: only a claim needs the majority", async () => {
    // Nothing listens on port 9 (discard) of these addresses: every probe is refused.
    const caseDir = script("holder", 9);
    api.calls = [];
    const r = await takeover(caseDir, "MASTER");
    expect(r.code).toBe(0);
    expect(api.calls.some((c) => c.startsWith("POST"))).toBe(false);
    expect(api.holder).toBe(ME);
    expect(r.out).toContain("already routed to server");
  });
});
