// A staging topology as a TS object: one app and one parser host, smaller servers, and an
// explicit opt-out of the single-host-failure gate. Run: npx tsx examples/staging.ts
import { synthesize } from "../synth/pipeline.ts";
import type { TopologyInput } from "../topology/model.ts";

const staging: TopologyInput = {
  name: "bulwark-staging",
  location: "nbg1",
  admin: {
    sshKeys: [{ name: "ops", publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINs3CRhnARuTlOItsK8cE+5E8VKxrHt49yuxuwUY+7H5 ops@example.invalid" }],
    sshSourceCidrs: ["203.0.113.0/24"],
  },
  roles: {
    app: { count: 1, serverType: "cx23" },
    parser: { count: 1, serverType: "cx23" },
  },
  allowSinglePointsOfFailure: { reason: "staging: one app and one parser host" },
};

const result = synthesize({ kind: "object", topology: staging }, "cdktf.out", "review");
console.log(`${result.prepared.plan.hosts.length} hosts; wrote ${result.stackFile}`);
