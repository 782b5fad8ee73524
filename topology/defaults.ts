/**
 * The embedded seed topology: what `npm run synth` builds when no topology is given.
 * The schema takes its defaults from here, so a user file only states what differs.
 */
import type { Topology } from "./model.ts";

/**
 * The seed's admin key is an example: nobody holds its private half, so a deploy of the
 * seed as-is gives no one SSH access. Set `admin.sshKeys` in your own topology.
 */
export const EXAMPLE_ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINs3CRhnARuTlOItsK8cE+5E8VKxrHt49yuxuwUY+7H5 example-admin@bulwark.invalid";

export const SEED_TOPOLOGY: Topology = {
  name: "bulwark",
  location: "fsn1",
  networkZone: "eu-central",
  image: "debian-13",
  network: { ipRange: "10.0.0.0/16", subnet: "10.0.1.0/24" },
  labels: { app: "bulwark" },
  admin: {
    user: "bulwark",
    sshKeys: [{ name: "example-admin", publicKey: EXAMPLE_ADMIN_KEY }],
    // RFC 5737 documentation range: a placeholder that reaches nobody. Set your own.
    sshSourceCidrs: ["198.51.100.0/24"],
    allowSshFromAnywhere: false,
  },
  roles: {
    lb: { count: 2, serverType: "cx23", namePrefix: "lb", failover: "floating-ip", tls: false },
    app: { count: 2, serverType: "cx33", namePrefix: "app" },
    parser: { count: 2, serverType: "cx33", namePrefix: "parser" },
    storage: { count: 3, serverType: "cx23", namePrefix: "storage", volumeSizeGb: 100, replica: 3, arbiter: false },
    mongo: { serverType: "cx33", namePrefix: "mongo", configServers: 3, shards: 2, membersPerShard: 3 },
  },
  // A placeholder (.invalid never resolves): synth works offline with it, a deploy does not.
  // Upload dist/services/* to your own https location and set services.artifactBaseUrl.
  services: { artifactBaseUrl: "https://artifacts.bulwark.invalid/" },
  // Off: a receiver needs the domains it accepts mail for (mail.domains). Limits: topology/schema.ts.
  mail: {
    ingress: false,
    domains: [],
    maxMessageBytes: 10 * 1024 * 1024,
    maxRecipients: 100,
    maxConnections: 500,
    maxCommandsBeforeMail: 10,
    timeoutS: 300,
  },
};
