import { describe, expect, it } from "vitest";
import {
  cidrContains,
  cidrProblem,
  coverage,
  formatIpv6,
  hostAddress,
  isAnywhere,
  isIpCidr,
  isPrivateCidr,
  parseIpRange,
  parseIpv4Cidr,
} from "../../topology/cidr.ts";

describe("IPv4 CIDRs", () => {
  it("GIVEN a valid network CIDR WHEN parsed THEN base, prefix and size are right", () => {
    expect(parseIpv4Cidr("10.0.1.0/24")).toEqual({ base: 0x0a000100, prefix: 24, size: 256 });
  });

  it.each([
    "10.0.0.0/33",
    "10.0.0.256/24",
    "10.0.1.5/24",
    "10.0.0/24",
    "10.0.0.0",
    "a.b.c.d/8",
    "010.0.0.0/8",
    "10.0.0.0/08",
    "0.0.0.0/00",
    "10.0.0.0/24 ",
    "2001:db8::/32",
  ])("GIVEN %s WHEN parsed THEN it is rejected", (text) => {
    expect(parseIpv4Cidr(text)).toBeUndefined();
  });

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
});

describe("IP CIDRs of either family", () => {
  it.each([
    "2001:db8::/32",
    "2001:DB8:0:0::/64",
    "2001:0db8::/32",
    "::/0",
    "::1/128",
    "fe80::/10",
    "2001:db8:1:2:3:4:5:6/128",
    "203.0.113.0/24",
    "198.51.100.7/32",
    "0.0.0.0/0",
  ])("GIVEN %s WHEN validated THEN it is accepted", (text) => {
    expect(isIpCidr(text)).toBe(true);
  });

  it.each([
    ["2001:db8::/129", /prefix length above 128/, /0 to 128/],
    ["2001:db8::1/32", /host bits set/, /network address 2001:db8::\/32, or 2001:db8::1\/128/],
    ["10.0.1.7/24", /host bits set/, /network address 10\.0\.1\.0\/24, or 10\.0\.1\.7\/32/],
    ["fe80::1%eth0/128", /zone id/, /remove it: fe80::1\/128/],
    ["0.0.0.0/00", /leading zeros/, /without them: 0\.0\.0\.0\/0$/],
    ["010.001.0.0/16", /leading zeros/, /without them: 10\.1\.0\.0\/16$/],
    ["2001:db8::/032", /leading zeros/, /without them: 2001:db8::\/32$/],
    ["64:ff9b::192.0.2.0/120", /dotted IPv4/, /in hex: 64:ff9b::c000:200\/120/],
    ["::ffff:c000:200/120", /IPv4-mapped/, /the IPv4 range itself: 192\.0\.2\.0\/24/],
    ["1:2:3:4:5:6:7:8:9/128", /not a valid IPv6 address/, /up to 8 groups/],
    ["1::2::3/128", /not a valid IPv6 address/, /at most one '::'/],
    ["12345::/16", /not a valid IPv6 address/, /1 to 4 hex digits/],
    ["203.0.113.5", /no \/prefix length/, /203\.0\.113\.5\/32 for that one address/],
    ["10.0.0.300/32", /above 255/, /0 to 255/],
    ["example.com/24", /not an IPv4 or IPv6 CIDR/, /203\.0\.113\.0\/24/],
  ])("GIVEN %s WHEN validated THEN the problem and the fix say what to write", (text, problem, fix) => {
    expect(isIpCidr(text)).toBe(false);
    const found = cidrProblem(text, "ip")!;
    expect(found.problem).toMatch(problem);
    expect(found.fix).toMatch(fix);
  });

  it("GIVEN an IPv6 range where an IPv4 CIDR is needed WHEN validated THEN it is named as IPv6", () => {
    expect(cidrProblem("2001:db8::/32", "ipv4")?.problem).toMatch(/IPv6 range where an IPv4 CIDR is needed/);
  });

  it("GIVEN 128-bit values WHEN formatted THEN the RFC 5952 form comes out", () => {
    expect(formatIpv6(parseIpRange("2001:0DB8:0000:0000:0001:0000:0000:0000/128")!.base)).toBe("2001:db8:0:0:1::");
    expect(formatIpv6(parseIpRange("2001:db8:0:0:1:0:0:1/128")!.base)).toBe("2001:db8::1:0:0:1");
    expect(formatIpv6(0n)).toBe("::");
    expect(formatIpv6(1n)).toBe("::1");
    expect(formatIpv6(parseIpRange("2001:db8:0:1:1:1:1:1/128")!.base)).toBe("2001:db8:0:1:1:1:1:1");
  });
});

describe("how much a list of ranges opens", () => {
  it("GIVEN single ranges WHEN checked THEN a prefix below the floor (/8 IPv4, /16 IPv6) counts as anywhere", () => {
    expect(isAnywhere("::/0")).toBe(true);
    expect(isAnywhere("0.0.0.0/0")).toBe(true);
    expect(isAnywhere("0.0.0.0/1")).toBe(true);
    expect(isAnywhere("2.0.0.0/7")).toBe(true);
    expect(isAnywhere("10.0.0.0/8")).toBe(false);
    expect(isAnywhere("2000::/15")).toBe(true);
    expect(isAnywhere("2001::/16")).toBe(false);
  });

  it("GIVEN two halves of IPv4 WHEN covered THEN together they are the whole space", () => {
    const [v4, v6] = coverage(["0.0.0.0/1", "128.0.0.0/1"]);
    expect(v4).toMatchObject({ family: "IPv4", indexes: [0, 1], addresses: 2n ** 32n, whole: true, anywhere: true });
    expect(v6).toMatchObject({ family: "IPv6", indexes: [], addresses: 0n, anywhere: false });
  });

  it("GIVEN 256 /8s WHEN covered THEN they count as anywhere though each is allowed alone", () => {
    const all = Array.from({ length: 256 }, (_, i) => `${i}.0.0.0/8`);
    expect(coverage(all)[0]).toMatchObject({ whole: true, anywhere: true });
    expect(coverage(all.slice(0, 1))[0]).toMatchObject({ whole: false, anywhere: false });
    expect(coverage(all.slice(0, 2))[0]).toMatchObject({ whole: false, anywhere: true });
  });

  it("GIVEN overlapping ranges WHEN covered THEN overlaps count once", () => {
    const [v4, v6] = coverage(["10.0.0.0/8", "10.1.0.0/16", "10.0.0.0/9", "2001:db8::/32", "2001:db8:1::/48"]);
    expect(v4!.addresses).toBe(2n ** 24n);
    expect(v4!.anywhere).toBe(false);
    expect(v6!.addresses).toBe(2n ** 96n);
  });
});
