/**
 * The generated hcloud bindings Bulwark uses, imported from one place. The classes are
 * generated from providers/hcloud/schema.json by scripts/gen-providers.ts (`npm run gen`).
 */
export { HcloudProvider } from "../.gen/providers/hcloud/provider/index.ts";
export { Firewall } from "../.gen/providers/hcloud/firewall/index.ts";
export { FloatingIp } from "../.gen/providers/hcloud/floating-ip/index.ts";
export { FloatingIpAssignment } from "../.gen/providers/hcloud/floating-ip-assignment/index.ts";
export { Network } from "../.gen/providers/hcloud/network/index.ts";
export { NetworkSubnet } from "../.gen/providers/hcloud/network-subnet/index.ts";
export { PlacementGroup } from "../.gen/providers/hcloud/placement-group/index.ts";
export { Server } from "../.gen/providers/hcloud/server/index.ts";
export { SshKey } from "../.gen/providers/hcloud/ssh-key/index.ts";
export { Volume } from "../.gen/providers/hcloud/volume/index.ts";
export { VolumeAttachment } from "../.gen/providers/hcloud/volume-attachment/index.ts";
