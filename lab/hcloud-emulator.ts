/**
 * A small emulator of the Hetzner Cloud API endpoints the failover hook uses, run by the lab in
 * its router namespace. Like Hetzner, it checks the bearer token, and an assign re-routes the
 * Floating IP to the assigned server (here: `ip route replace <fip>/32 via <server's address>`
 * in the router namespace). What it does not model: Hetzner's own propagation delay after an
 * assign, rate limits, and every endpoint and field the hook does not read.
 *
 *   GET  /v1/servers?name=<name>                      → {servers: [{id, name}]}
 *   GET  /v1/floating_ips/<id>                        → {floating_ip: {id, ip, server}}
 *   POST /v1/floating_ips/<id>/actions/assign {server} → {action: {id, command, status}}
 *   GET  /v1/actions/<id>                             → {action: {id, command, status}}
 *
 * Run: ip netns exec <router> node --import tsx lab/hcloud-emulator.ts <config.json>
 * (the config holds the token; it is never on a command line). The emulator writes its state
 * (holder and every assignment, with times) to the config's stateFile after each change.
 */
import { cmdSync } from "../synth/cmd.ts";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export interface EmulatorConfig {
  readonly listen: { readonly host: string; readonly port: number };
  readonly token: string;
  /** `holder: null`: unassigned, as Terraform creates it (the MASTER's takeover assigns it). */
  readonly floatingIp: { readonly id: number; readonly ip: string; readonly holder: number | null };
  /** Servers by id: name and the address the Floating IP is routed to when assigned. */
  readonly servers: readonly { readonly id: number; readonly name: string; readonly routeVia: string }[];
  readonly stateFile: string;
}

export interface EmulatorState {
  readonly holder: number | null;
  readonly assignments: readonly { readonly at: number; readonly server: number; readonly from: number | null }[];
  readonly requests: number;
  readonly unauthorized: number;
}

function main(): void {
  const config = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as EmulatorConfig;
  let holder: number | null = config.floatingIp.holder;
  const assignments: { at: number; server: number; from: number | null }[] = [];
  const actions = new Map<number, { id: number; command: string; status: string }>();
  let nextAction = 1;
  let requests = 0;
  let unauthorized = 0;

  const saveState = () => {
    const state: EmulatorState = { holder, assignments, requests, unauthorized };
    writeFileSync(`${config.stateFile}.tmp`, JSON.stringify(state));
    renameSync(`${config.stateFile}.tmp`, config.stateFile);
  };
  const route = (server: number | null) => {
    if (server === null) return;
    const via = config.servers.find((s) => s.id === server)!.routeVia;
    cmdSync("ip", ["route", "replace", `${config.floatingIp.ip}/32`, "via", via], { timeoutMs: 5000 });
  };
  route(holder);
  saveState();

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: string, message: string) => send(res, status, { error: { code, message } });

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    requests++;
    if (req.headers.authorization !== `Bearer ${config.token}`) {
      unauthorized++;
      saveState();
      return error(res, 401, "unauthorized", "unable to authenticate");
    }
    const url = new URL(req.url ?? "/", "http://emulator");
    const fip = `/v1/floating_ips/${config.floatingIp.id}`;
    if (req.method === "GET" && url.pathname === "/v1/servers") {
      const name = url.searchParams.get("name");
      return send(res, 200, { servers: config.servers.filter((s) => s.name === name).map((s) => ({ id: s.id, name: s.name })) });
    }
    if (req.method === "GET" && url.pathname === fip) {
      return send(res, 200, { floating_ip: { id: config.floatingIp.id, ip: config.floatingIp.ip, type: "ipv4", server: holder } });
    }
    if (req.method === "POST" && url.pathname === `${fip}/actions/assign`) {
      let server: unknown;
      try {
        server = (JSON.parse(body) as { server?: unknown }).server;
      } catch {
        return error(res, 400, "json_error", "invalid JSON body");
      }
      if (typeof server !== "number" || !config.servers.some((s) => s.id === server)) {
        return error(res, 422, "invalid_input", `server ${String(server)} does not exist`);
      }
      const action = { id: nextAction++, command: "assign_floating_ip", status: "running" };
      actions.set(action.id, action);
      route(server);
      assignments.push({ at: Date.now(), server, from: holder });
      holder = server;
      action.status = "success";
      saveState();
      return send(res, 201, { action: { ...action, status: "running" } });
    }
    const actionMatch = /^\/v1\/actions\/(\d+)$/.exec(url.pathname);
    if (req.method === "GET" && actionMatch) {
      const action = actions.get(Number(actionMatch[1]));
      return action ? send(res, 200, { action }) : error(res, 404, "not_found", "action not found");
    }
    return error(res, 404, "not_found", `no such endpoint in the lab emulator: ${req.method} ${url.pathname}`);
  };

  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      if (body.length < 65536) body += chunk;
    });
    req.on("end", () => handle(req, res, body));
  });
  server.listen(config.listen.port, config.listen.host, () =>
    process.stdout.write(`hcloud-emulator: listening on ${config.listen.host}:${config.listen.port}\n`),
  );
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (process.argv[1]?.endsWith("hcloud-emulator.ts")) main();
