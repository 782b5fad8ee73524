/**
 * Every difference between what a lab host runs and what production gets, in one place.
 * A lab boots the rendered user-data of the real plan, changed only here:
 *
 * 1. Addresses: private addresses are the plan's own (they live only inside this run's
 *    namespaces); public addresses, the Floating IP and its id are lab values (LabAddresses).
 * 2. The Hetzner API endpoint: the lab's emulator instead of https://api.hetzner.cloud/v1.
 * 3. Deploy-time values: a token made per run, sample passwords (never real ones), glusterd UUIDs
 *    made per run.
 * 4. The image: a debootstrapped Debian 13 with every role package preinstalled and no network
 *    to a mirror, so `package_update` is off and the `packages` list is dropped (installing
 *    them is the image's job here, cloud-init's on Hetzner).
 * 5. Service artifacts (labs that run the services): fetched from the run's own HTTP server on the
 *    private bridge (plain http inside the run's namespaces) instead of `artifactBaseUrl`; the
 *    files and the sha256 check are the same.
 * 6. The document store of those labs: the filesystem store on the shared volume (there is no
 *    MongoDB here: docs/facts.md#the-build-and-test-machines; production keeps documents in MongoDB).
 * 7. The rollout and stack labs (the booted stack, lab/stack.ts): the admin key and SSH source range are the run's own;
 *    each host's SSH host key is made by ssh-keygen instead of Terraform's tls provider; a storage
 *    host's brick is a directory of the run bound at the brick mount point, and the clients get
 *    /dev/fuse (as in the storage lab); the rollout chain holds the booted hosts only (no Mongo),
 *    and the app gate's bound is shortened so a failing canary stops the run in seconds, not
 *    minutes. A new service build is served as `<tag>/<service>.tar.gz` (the artifact's file
 *    name in the plan), so only that service's hosts see a change.
 * 8. The rollout and stack labs' parsers log each message they complete (PARSER_PROCESSED_LOG, a
 *    systemd drop-in the lab adds and the bundles do not manage) to a file of their own beside the
 *    spool, so a message parsed twice across restarts and losses is counted.
 * 9. The stack lab turns the SMTP receiver on (`mail.ingress`, for the domain example.net), as a
 *    topology does; nothing of its files is changed.
 * 10. The lb lab boots no storage servers, so the Floating IP's witnesses (plan/lb.ts) are its two
 *    app backends on the mail API's port instead of the storage servers' sshd; both must answer
 *    (the majority of two). The rollout and stack labs keep the production witnesses.
 */
import { witnessOf } from "../plan/lb.ts";
import { cmdSync } from "../synth/cmd.ts";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import type { Plan } from "../plan/model.ts";
import { serializeCloudConfig, type CloudConfig } from "../render/cloud-config.ts";
import { DEPLOY_VALUES, substituteDeployValues } from "../render/deploy-values.ts";
import type { RenderedHost } from "../render/host.ts";
import { buildPlan } from "../plan/plan.ts";
import { SEED_TOPOLOGY } from "../topology/defaults.ts";
import { serviceArtifacts } from "../services/build.ts";

export interface LabOverrides {
  /** The emulator's base URL, in place of the Hetzner API. */
  readonly apiEndpoint: string;
  /** Deploy-time value name → lab value. */
  readonly deployValues: Readonly<Record<string, string>>;
}

/** The lab's public side: documentation/benchmark ranges (RFC 2544), inside the run's namespaces only. */
export const LAB_PUBLIC = {
  subnet: "198.18.0.0/24",
  router: "198.18.0.1",
  emulatorPort: 8080,
  /** Public address of the n-th lb (1-based). */
  lb: (n: number) => `198.18.0.${10 + n}`,
  floatingIp: "198.18.100.10",
  floatingIpId: 1001,
  clientSubnet: "198.19.0.0/24",
  routerClientSide: "198.19.0.1",
  client: "198.19.0.2",
} as const;

/** An ed25519 key pair made by ssh-keygen: [private (OpenSSH), public line without a comment]. */
export function sshKeyPair(comment: string): [string, string] {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-lab-key-"));
  try {
    cmdSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", join(dir, "key")]);
    return [readFileSync(join(dir, "key"), "utf8"), readFileSync(join(dir, "key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ")];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The seed's storage servers' addresses: every lab boots the seed's private network. */
function seedStorageAddresses(): string[] {
  return buildPlan(SEED_TOPOLOGY, { artifacts: serviceArtifacts() }).storage.peers.map((p) => p.address);
}

export function labOverrides(storageAddresses: readonly string[] = seedStorageAddresses()): LabOverrides {
  const samplePassword = randomBytes(16).toString("hex");
  // One SSH host key for every host of a lab that does not pin them (the rollout lab gives each its own).
  const [hostKey, hostKeyPublic] = sshKeyPair("bulwark-lab-host");
  return {
    apiEndpoint: `http://${LAB_PUBLIC.router}:${LAB_PUBLIC.emulatorPort}/v1`,
    deployValues: {
      [DEPLOY_VALUES.floatingIpAddress.name]: LAB_PUBLIC.floatingIp,
      [DEPLOY_VALUES.floatingIpId.name]: String(LAB_PUBLIC.floatingIpId),
      [DEPLOY_VALUES.failoverToken.name]: randomBytes(32).toString("hex"),
      [DEPLOY_VALUES.mongoKeyFile.name]: randomBytes(756).toString("base64"),
      [DEPLOY_VALUES.mongoAdminPassword.name]: samplePassword,
      [DEPLOY_VALUES.mongoAppPassword.name]: samplePassword.split("").reverse().join(""),
      [DEPLOY_VALUES.mailApiToken.name]: randomBytes(24).toString("hex"),
      [DEPLOY_VALUES.sshHostKey.name]: hostKey,
      [DEPLOY_VALUES.sshHostKeyPublic.name]: hostKeyPublic,
      // A glusterd UUID per storage server, made per run as Terraform's random_uuid makes them per stack.
      [DEPLOY_VALUES.glusterdPoolUuids.name]: storageAddresses.map((a) => `${a}=${randomUUID()}`).join(" "),
    },
  };
}

/** The plan as the lab renders it: only the API endpoint differs. */
export function labPlan(plan: Plan, overrides: LabOverrides): Plan {
  return { ...plan, lb: { ...plan.lb, apiEndpoint: overrides.apiEndpoint } };
}

/** The lb lab's plan: the Floating IP's witnesses are the app backends it runs (item 10). */
export function lbLabPlan(plan: Plan): Plan {
  const witness = witnessOf(
    plan.lb.backends.map((b) => b.address),
    plan.lb.appPort,
  );
  return { ...plan, lb: { ...plan.lb, witness } };
}

/**
 * A host's user-data as the lab boots it: deploy values filled in (`hostValues`: the host's own,
 * e.g. its SSH host key), no package installation.
 */
export function labUserData(rendered: RenderedHost, overrides: LabOverrides, hostValues: Readonly<Record<string, string>> = {}): string {
  const filled = substituteDeployValues(rendered.userData, (name, base64) => {
    const value = hostValues[name] ?? overrides.deployValues[name];
    return value !== undefined && base64 ? Buffer.from(value).toString("base64") : value;
  });
  const doc = parse(filled) as CloudConfig & { packages?: unknown };
  const { packages: _preinstalled, ...rest } = doc;
  return serializeCloudConfig({ ...rest, package_update: false } as CloudConfig);
}

/** Where a lab serves the service artifacts: an address of the private subnet no role uses, and a port. */
export const LAB_ARTIFACTS = {
  /** Offset in the private subnet: past every role's block (plan/catalog.ts ADDRESS_BLOCKS ends at 249). */
  offset: 250,
  port: 8000,
} as const;

/** The plan of a lab that runs the services: artifacts from `artifactBaseUrl` (the run's server), documents in the fs store. */
export function labServicesPlan(plan: Plan, artifactBaseUrl: string): Plan {
  return { ...plan, services: { ...plan.services, artifactBaseUrl, storeKind: "fs" } };
}
