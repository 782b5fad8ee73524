/**
 * Renders everything a host holds: its files (base layer plus its role's layer) and the
 * cloud-config that installs them, checked against Hetzner's user_data limit.
 */
import { UserError, UserErrors } from "../topology/errors.ts";
import type { Plan, PlannedHost } from "../plan/model.ts";
import { cloudConfig, serializeCloudConfig, USER_DATA_LIMIT_BYTES, type CloudConfig } from "./cloud-config.ts";
import { worstCaseLength } from "./deploy-values.ts";
import type { HostFile } from "./host-file.ts";
import { LAYERS } from "./layers.ts";

export interface RenderedHost {
  readonly host: PlannedHost;
  /** Every file the host will hold, in write order. */
  readonly files: readonly HostFile[];
  readonly cloudConfig: CloudConfig;
  /** The user_data: `#cloud-config` YAML, with deploy-time values as markers (deploy-values.ts). */
  readonly userData: string;
}

export function renderHost(plan: Plan, host: PlannedHost): RenderedHost {
  const layers = LAYERS[host.component].map((build) => build({ plan, host }));
  const doc = cloudConfig(plan, host, layers);
  return { host, files: layers.flatMap((l) => l.files), cloudConfig: doc, userData: serializeCloudConfig(doc) };
}

/** Renders every host; fails with one error per host whose user_data is over the limit. */
export function renderAll(plan: Plan): RenderedHost[] {
  const rendered = plan.hosts.map((h) => renderHost(plan, h));
  const tooBig = rendered.flatMap((r) => {
    const size = worstCaseLength(r.userData);
    return size <= USER_DATA_LIMIT_BYTES
      ? []
      : [new UserError(`hosts.${r.host.name}.user_data`, `is ${size} bytes, above Hetzner's ${USER_DATA_LIMIT_BYTES}-byte limit`, size, "move large files out of user_data (fetch them at boot) or trim the role's files")];
  });
  if (tooBig.length > 0) throw new UserErrors(tooBig);
  return rendered;
}
