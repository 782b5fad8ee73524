import { Construct } from "constructs";
import { Token } from "cdktf";
import { Volume, VolumeAttachment } from "./hcloud.ts";
import type { BulwarkHost } from "./host.ts";

export interface BrickVolumeProps {
  /** Hetzner volume name. */
  readonly name: string;
  /** Size in GB (Hetzner: at least 10; grows in place). */
  readonly sizeGb: number;
  /** Same location as the server. */
  readonly location: string;
  /**
   * Labels on the volume.
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
  /**
   * Delete protection: a brick holds data.
   * @default false - so `cdktf destroy` works; set true in production
   */
  readonly protection?: boolean;
}

/**
 * A storage server's brick: a Hetzner volume formatted XFS by Hetzner at creation, attached
 * without automount (the host's cloud-config mounts it by id with `nofail`).
 */
export class BrickVolume extends Construct {
  private readonly volume: Volume;

  constructor(scope: Construct, id: string, props: BrickVolumeProps) {
    super(scope, id);
    this.volume = new Volume(this, "Volume", {
      name: props.name,
      size: props.sizeGb,
      location: props.location,
      format: "xfs",
      automount: false,
      labels: props.labels ?? {},
      deleteProtection: props.protection ?? false,
    });
  }

  /** Attaches the volume to its storage host. */
  attachTo(host: BulwarkHost): VolumeAttachment {
    return new VolumeAttachment(this, "Attachment", {
      volumeId: Token.asNumber(this.volume.id),
      serverId: Token.asNumber(host.serverId),
      automount: false,
    });
  }
}
