/**
 * The public side every entry lab shares: a router namespace (the internet's edge, which also
 * serves the Hetzner API emulator and routes the Floating IP to its holder) and a client
 * namespace behind it, plus the emulator and the client that sends a GET through the Floating IP
 * at a fixed interval. Used by lab/lb-lab.ts and lab/stack.ts.
 */
import { createWriteStream, existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EmulatorConfig } from "./hcloud-emulator.ts";
import type { LabNetwork } from "./net.ts";
import { LAB_PUBLIC } from "./overrides.ts";
import type { LabRun } from "./run.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Makes the router and the client namespaces on the `brpub` and `brcli` bridges. */
export async function publicSide(run: LabRun, net: LabNetwork): Promise<{ router: string; client: string }> {
  const router = await net.addNamespace(`${run.prefix}-rt`);
  const client = await net.addNamespace(`${run.prefix}-cl`);
  await net.connect(router, "brpub", "pub0", `${LAB_PUBLIC.router}/24`);
  await net.connect(router, "brcli", "cli0", `${LAB_PUBLIC.routerClientSide}/24`);
  await net.connect(client, "brcli", "eth0", `${LAB_PUBLIC.client}/24`);
  await net.ip(client, ["route", "add", "default", "via", LAB_PUBLIC.routerClientSide]);
  await net.inNs(router, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
  return { router, client };
}

/**
 * Starts the emulator in the router namespace with the Floating IP unassigned, as Terraform
 * creates it (the first MASTER's takeover routes it to itself). Returns its state file.
 */
export async function startEmulator(
  run: LabRun,
  router: string,
  dir: string,
  token: string,
  lbs: readonly { readonly id: number; readonly name: string; readonly routeVia: string }[],
): Promise<string> {
  const stateFile = join(dir, "emulator-state.json");
  const config: EmulatorConfig = {
    listen: { host: LAB_PUBLIC.router, port: LAB_PUBLIC.emulatorPort },
    token,
    floatingIp: { id: LAB_PUBLIC.floatingIpId, ip: LAB_PUBLIC.floatingIp, holder: null },
    servers: lbs,
    stateFile,
  };
  const configFile = join(dir, "emulator.json");
  writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
  run.start(
    "ip",
    ["netns", "exec", router, process.execPath, "--import", "tsx", join(ROOT, "lab/hcloud-emulator.ts"), configFile],
    createWriteStream(join(dir, "emulator.log")),
  );
  await run.waitFor("the emulator", () => (existsSync(stateFile) ? true : undefined), 20_000);
  return stateFile;
}

/** Starts lab/client.ts in `client`: a GET of `path` (default /api/messages) through the Floating IP every `intervalMs`, with the API token. */
export function startClient(
  run: LabRun,
  client: string,
  intervalMs: number,
  timeoutMs: number,
  recordFile: string,
  tokenFile: string,
  path = "/api/messages",
): void {
  run.start("ip", [
    "netns",
    "exec",
    client,
    process.execPath,
    "--import",
    "tsx",
    join(ROOT, "lab/client.ts"),
    `http://${LAB_PUBLIC.floatingIp}${path}`,
    String(intervalMs),
    String(timeoutMs),
    "3600",
    recordFile,
    tokenFile,
  ]);
}
