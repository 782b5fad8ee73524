/**
 * A layer is what one concern adds to a host: its files, its first-boot commands and any apt
 * sources. Every host gets the base layer; each component adds its own (render/layers.ts).
 */
import type { Plan, PlannedHost } from "../plan/model.ts";
import type { HostFile } from "./host-file.ts";

export interface AptSource {
  /** The deb line; `$KEY_FILE` stands for the key cloud-init stores. */
  readonly source: string;
  /** The ASCII-armoured signing key, pinned in the repo. */
  readonly key: string;
}

export interface Layer {
  readonly files: readonly HostFile[];
  /** Commands (argv arrays, no shell) run once at first boot, after files and packages. */
  readonly runcmd: readonly (readonly string[])[];
  readonly aptSources?: Readonly<Record<string, AptSource>>;
}

export interface RenderContext {
  readonly plan: Plan;
  readonly host: PlannedHost;
}

export type LayerBuilder = (ctx: RenderContext) => Layer;
