/**
 * IPv4/IPv6 CIDR parsing and the little address arithmetic the plan needs.
 * Pure functions; the schema uses `isIpv4Cidr` / `isIpCidr` as ajv formats.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface Ipv4Cidr {
  /** The network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
  /** Number of addresses in the range. */
  readonly size: number;
}

export function ipv4ToInt(address: string): number {
  return address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Parses `a.b.c.d/n`; undefined unless the address is valid, n ≤ 32 and no host bits are set. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const match = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  if (!match || !isIPv4(match[1]!)) return undefined;
  const prefix = Number(match[2]);
  if (prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const base = ipv4ToInt(match[1]!);
  if (base % size !== 0) return undefined;
  return { base, prefix, size };
}

export function isIpv4Cidr(text: string): boolean {
  return parseIpv4Cidr(text) !== undefined;
}

/** IPv4 CIDR as above, or an IPv6 address with a /0..128 prefix. */
export function isIpCidr(text: string): boolean {
  if (isIpv4Cidr(text)) return true;
  const slash = text.lastIndexOf("/");
  if (slash < 0) return false;
  const prefix = text.slice(slash + 1);
  return isIPv6(text.slice(0, slash)) && /^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= 128;
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.base >= outer.base && inner.base + inner.size <= outer.base + outer.size;
}

/** RFC 1918 private ranges. */
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((c) => parseIpv4Cidr(c)!);

export function isPrivateCidr(cidr: Ipv4Cidr): boolean {
  return PRIVATE_RANGES.some((range) => cidrContains(range, cidr));
}

/** The address `offset` places after the network address. */
export function hostAddress(cidr: Ipv4Cidr, offset: number): string {
  if (offset < 0 || offset >= cidr.size) {
    throw new RangeError(`offset ${offset} lies outside a /${cidr.prefix}`);
  }
  return intToIpv4(cidr.base + offset);
}

/** Open to everyone: any /0 (0.0.0.0/0, ::/0). */
export function isAnywhere(text: string): boolean {
  return text.endsWith("/0");
}
