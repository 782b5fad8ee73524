/**
 * A layer is what one concern adds to a host: its files, its first-boot commands and any apt
 * sources. Every host gets the base layer; each component adds its own (render/layers.ts).
 */
import type { Plan, PlannedHost } from "../plan/model.ts";
import type { HostFile } from "./host-file.ts";

export type AptSource = AptSourceWithKey | AptSourceWithKeyId;

export interface AptSourceWithKey {
  /** The deb line; `$KEY_FILE` stands for the key cloud-init stores. */
  readonly source: string;
  /** The ASCII-armoured signing key, pinned in the repo. */
  readonly key: string;
}

/** A source whose key cloud-init fetches at boot from `keyserver`, pinned by its full fingerprint. */
interface AptSourceWithKeyId {
  /** The deb line; `$KEY_FILE` stands for the key cloud-init stores. */
  readonly source: string;
  /** The signing key's full 40-hex-digit fingerprint (gpg imports only the key with this fingerprint). */
  readonly keyid: string;
  /** The keyserver cloud-init asks for `keyid`. */
  readonly keyserver: string;
}

export interface Layer {
  readonly files: readonly HostFile[];
  /**
   * Files the host's first rollout writes instead of user_data (and every later rollout keeps):
   * a large secret that would push user_data past Hetzner's 32 KiB, such as the receiver's TLS
   * PEM. Whatever needs one must wait for it (a unit's ConditionPathExists=); its action starts it.
   * @default - none
   */
  readonly rolloutFiles?: readonly HostFile[];
  /** Commands (argv arrays, no shell) run once at first boot, after files and packages. */
  readonly runcmd: readonly (readonly string[])[];
  readonly aptSources?: Readonly<Record<string, AptSource>>;
}

export interface RenderContext {
  readonly plan: Plan;
  readonly host: PlannedHost;
}

export type LayerBuilder = (ctx: RenderContext) => Layer;
