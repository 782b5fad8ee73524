import { describe, expect, it } from "vitest";
import { validateTopology } from "../../topology/load.ts";
import { withInput } from "../support/fixtures.ts";

describe("lb topology errors", () => {
  it.each([
    [
      "vrrp-vip without a VIP",
      { roles: { lb: { failover: "vrrp-vip" } } },
      /^roles\.lb\.vip: is required when failover is vrrp-vip; got nothing\. Fix: set roles\.lb\.vip/,
    ],
    [
      "a VIP in floating-ip mode",
      { roles: { lb: { vip: { address: "10.0.1.9", interface: "eth1" } } } },
      /^roles\.lb\.vip: is only used with failover vrrp-vip/,
    ],
    [
      "a VIP outside the subnet",
      { roles: { lb: { failover: "vrrp-vip", vip: { address: "10.0.2.9", interface: "eth1" } } } },
      /^roles\.lb\.vip\.address: is not a host address inside network\.subnet 10\.0\.1\.0\/24; got "10\.0\.2\.9"/,
    ],
    [
      "a VIP among the hosts",
      { roles: { lb: { failover: "vrrp-vip", vip: { address: "10.0.1.100", interface: "eth1" } } } },
      /^roles\.lb\.vip\.address: is outside offsets 2-9 .*Fix: use one of the subnet's offsets 2-9, e.g\. 10\.0\.1\.9$/,
    ],
    [
      "a VIP interface with a space",
      { roles: { lb: { failover: "vrrp-vip", vip: { address: "10.0.1.9", interface: "eth 1" } } } },
      /^roles\.lb\.vip\.interface: has characters .*got "eth 1"/,
    ],
    [
      "a VIP that is not an address",
      { roles: { lb: { failover: "vrrp-vip", vip: { address: "10.0.1", interface: "eth1" } } } },
      /^roles\.lb\.vip\.address: is not a valid ipv4; got "10\.0\.1"/,
    ],
  ])("GIVEN %s WHEN validated THEN the message names path, value and fix", (_name, patch, expected) => {
    expect(() => validateTopology(withInput(patch))).toThrow(expected);
  });
});
