/**
 * Renders everything a host holds: its files (base layer plus its role's layer) and the
 * cloud-config that installs them, checked against Hetzner's user_data limit.
 */
import { UserError, UserErrors } from "../topology/errors.ts";
import type { NamedCheck } from "../topology/rules.ts";
import type { Plan, PlannedHost } from "../plan/model.ts";
import { agentFiles } from "./agent.ts";
import { cloudConfig, serializeCloudConfig, USER_DATA_LIMIT_BYTES, type CloudConfig } from "./cloud-config.ts";
import { worstCaseLength } from "./deploy-values.ts";
import type { HostFile } from "./host-file.ts";
import { LAYERS } from "./layers.ts";

export interface RenderedHost {
  readonly host: PlannedHost;
  /**
   * Every file Bulwark manages on the host, in write order: what user_data writes at first boot,
   * then the host agent and its settings, which every rollout hands over (render/agent.ts).
   */
  readonly files: readonly HostFile[];
  readonly cloudConfig: CloudConfig;
  /** The user_data: `#cloud-config` YAML, with deploy-time values as markers (deploy-values.ts). */
  readonly userData: string;
}

export function renderHost(plan: Plan, host: PlannedHost): RenderedHost {
  const layers = LAYERS[host.component].map((build) => build({ plan, host }));
  const doc = cloudConfig(plan, host, layers);
  const bootFiles = layers.flatMap((l) => l.files);
  // The host agent and its settings travel with every rollout, not in user_data (they would
  // take about 10 KB of its 32 KiB): the first rollout step, in the same deploy that creates
  // the server, installs them (render/agent.ts). So do the layers' rollout files.
  const managed = [...bootFiles, ...layers.flatMap((l) => l.rolloutFiles ?? [])];
  return { host, files: [...managed, ...agentFiles(plan, host, managed)], cloudConfig: doc, userData: serializeCloudConfig(doc) };
}

/** renderAll's check, as the README's rules table lists it. */
export const USER_DATA_CHECK: NamedCheck = {
  id: "user-data-size",
  description:
    `Every host's user_data is at most ${USER_DATA_LIMIT_BYTES / 1024} KiB (Hetzner's limit), ` +
    `deploy-time values counted at their longest; the error names the host and the size.`,
};

/** Renders every host; fails with one error per host whose user_data is over the limit. */
export function renderAll(plan: Plan): RenderedHost[] {
  const rendered = plan.hosts.map((h) => renderHost(plan, h));
  const tooBig = rendered.flatMap((r) => {
    const size = worstCaseLength(r.userData);
    return size <= USER_DATA_LIMIT_BYTES
      ? []
      : [
          new UserError(
            `hosts.${r.host.name}.user_data`,
            `is ${size} bytes, above Hetzner's ${USER_DATA_LIMIT_BYTES}-byte limit`,
            size,
            "move large files out of user_data (fetch them at boot) or trim the role's files",
          ),
        ];
  });
  if (tooBig.length > 0) throw new UserErrors(tooBig);
  return rendered;
}
