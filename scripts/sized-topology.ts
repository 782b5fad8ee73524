/**
 * Valid topologies of a chosen size, for the synth benchmark and scale tests: the seed's fixed
 * roles (2 lb, 3 storage, 9 mongo) plus app and parser hosts split evenly.
 */
import { EXAMPLE_ADMIN_KEY } from "../topology/defaults.ts";
import type { TopologyInput } from "../topology/model.ts";

/** Hosts every sized topology has besides app and parser. */
const FIXED_HOSTS = 2 + 3 + 9;

export function sizedTopology(hosts: number): TopologyInput {
  if (hosts < FIXED_HOSTS + 2) throw new RangeError(`sizedTopology: ${hosts} hosts is below the ${FIXED_HOSTS + 2} minimum`);
  const rest = hosts - FIXED_HOSTS;
  const app = Math.ceil(rest / 2);
  return {
    admin: { sshKeys: [{ name: "ops", publicKey: EXAMPLE_ADMIN_KEY }] },
    roles: { app: { count: app }, parser: { count: rest - app } },
  };
}
