import { describe, expect, it } from "vitest";
import { cidrContains, hostAddress, isAnywhere, isIpCidr, isPrivateCidr, parseIpv4Cidr } from "../../topology/cidr.ts";

describe("IPv4 CIDRs", () => {
  it("GIVEN a valid network CIDR WHEN parsed THEN base, prefix and size are right", () => {
    expect(parseIpv4Cidr("10.0.1.0/24")).toEqual({ base: 0x0a000100, prefix: 24, size: 256 });
  });

  it.each(["10.0.0.0/33", "10.0.0.256/24", "10.0.1.5/24", "10.0.0/24", "10.0.0.0", "a.b.c.d/8"])(
    "GIVEN %s WHEN parsed THEN it is rejected",
    (text) => {
      expect(parseIpv4Cidr(text)).toBeUndefined();
    },
  );

  it("GIVEN a subnet WHEN checked against ranges THEN containment is exact at the edges", () => {
    const net = parseIpv4Cidr("10.0.0.0/16")!;
    expect(cidrContains(net, parseIpv4Cidr("10.0.255.0/24")!)).toBe(true);
    expect(cidrContains(net, parseIpv4Cidr("10.1.0.0/24")!)).toBe(false);
    expect(cidrContains(net, parseIpv4Cidr("10.0.0.0/15")!)).toBe(false);
  });

  it("GIVEN RFC 1918 and public ranges WHEN checked THEN only the private ones are private", () => {
    expect(isPrivateCidr(parseIpv4Cidr("172.20.0.0/16")!)).toBe(true);
    expect(isPrivateCidr(parseIpv4Cidr("172.32.0.0/16")!)).toBe(false);
    expect(isPrivateCidr(parseIpv4Cidr("8.8.8.0/24")!)).toBe(false);
  });

  it("GIVEN an offset WHEN a host address is made THEN it lies in the range, and outside offsets throw", () => {
    const subnet = parseIpv4Cidr("10.0.1.0/24")!;
    expect(hostAddress(subnet, 10)).toBe("10.0.1.10");
    expect(() => hostAddress(subnet, 256)).toThrow(/outside/);
  });

  it("GIVEN IPv6 and IPv4 source CIDRs WHEN validated THEN both forms pass and /0 counts as anywhere", () => {
    expect(isIpCidr("2001:db8::/32")).toBe(true);
    expect(isIpCidr("2001:db8::/129")).toBe(false);
    expect(isIpCidr("203.0.113.0/24")).toBe(true);
    expect(isAnywhere("::/0")).toBe(true);
    expect(isAnywhere("0.0.0.0/0")).toBe(true);
    expect(isAnywhere("0.0.0.0/1")).toBe(false);
  });
});
