/**
 * IPv4/IPv6 CIDR parsing and the little address arithmetic the plan needs.
 * Pure functions; the schema uses `isIpv4Cidr` / `isIpCidr` as ajv formats, and the loader
 * quotes `cidrProblem` when one is rejected.
 *
 * Parsing is strict, because the same text reaches a Hetzner firewall, nftables and a reviewer:
 * one spelling per range. Rejected: leading zeros (`010.0.0.0/8`, `/08`: some tools read them
 * as octal, and `/00` once slipped past a check that looked for `/0`), host bits set (which
 * range was meant?), IPv6 zone ids (`%eth0`: meaningless off-link, and nft refuses the file),
 * IPv6 with an embedded dotted IPv4 part (nft 1.0 refuses `64:ff9b::192.0.2.0`), and
 * IPv4-mapped IPv6 ranges (`::ffff:a.b.c.d`: IPv4 clients are matched by their IPv4 address).
 */
import type { NamedCheck } from "./rules.ts";

/** The strictness above, as the README's rules table lists it (the loader applies it to every CIDR field). */
export const CIDR_FORMAT_CHECK: NamedCheck = {
  id: "cidr-format",
  description:
    "CIDRs are strict: no leading zeros (`/00`, `010.0.0.0`), no host bits set (the fix names the " +
    "network address), no IPv6 zone ids (`%eth0`), no dotted IPv4 tail in IPv6, no IPv4-mapped IPv6.",
};

export interface Ipv4Cidr {
  /** The network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
  /** Number of addresses in the range. */
  readonly size: number;
}

/** A CIDR of either family, as 128-bit-safe numbers. */
export interface IpRange {
  readonly family: "IPv4" | "IPv6";
  readonly base: bigint;
  readonly prefix: number;
  /** Number of addresses in the range. */
  readonly size: bigint;
}

/** Why a CIDR text is rejected, and how to write it instead. */
export interface CidrProblem {
  readonly problem: string;
  readonly fix: string;
}

function ipv4ToInt(address: string): number {
  return address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

const V4_CIDR = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\/([0-9]{1,3})$/;
const V6_CIDR = /^([0-9A-Fa-f:.]+)(%[^/]*)?\/([0-9]{1,3})$/;
const hasLeadingZero = (digits: string) => digits.length > 1 && digits.startsWith("0");

/** Parses `a.b.c.d/n` strictly; undefined unless the address is valid, n ≤ 32 and no host bits are set. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const range = parseCidr(text);
  if (!range.ok || range.value.family !== "IPv4") return undefined;
  const { base, prefix, size } = range.value;
  return { base: Number(base), prefix, size: Number(size) };
}

/** Parses an IPv4 or IPv6 CIDR strictly (see the file comment); undefined when rejected. */
export function parseIpRange(text: string): IpRange | undefined {
  const range = parseCidr(text);
  return range.ok ? range.value : undefined;
}

export function isIpv4Cidr(text: string): boolean {
  return parseIpv4Cidr(text) !== undefined;
}

/** An IPv4 or IPv6 CIDR, strict as above. */
export function isIpCidr(text: string): boolean {
  return parseCidr(text).ok;
}

/** Why `text` is not a valid CIDR of `family` (`ipv4`: IPv4 only), or undefined when it is. */
export function cidrProblem(text: string, family: "ipv4" | "ip"): CidrProblem | undefined {
  const range = parseCidr(text);
  if (!range.ok) return range;
  if (family === "ipv4" && range.value.family !== "IPv4") {
    return { problem: "is an IPv6 range where an IPv4 CIDR is needed", fix: "write an IPv4 CIDR such as 10.0.0.0/16" };
  }
  return undefined;
}

type Parsed = { readonly ok: true; readonly value: IpRange } | ({ readonly ok: false } & CidrProblem);

const fail = (problem: string, fix: string): Parsed => ({ ok: false, problem, fix });

function parseCidr(text: string): Parsed {
  if (typeof text !== "string") return fail("is not text", "write a CIDR such as 203.0.113.0/24");
  if (!text.includes("/")) {
    const one = /^[0-9.]+$/.test(text) ? `${text}/32` : /^[0-9A-Fa-f:]+$/.test(text) ? `${text}/128` : undefined;
    return fail(
      "has no /prefix length",
      one ? `write the range with its prefix length, such as ${one} for that one address` : "write a CIDR such as 203.0.113.0/24",
    );
  }
  const v4 = V4_CIDR.exec(text);
  if (v4) return parseV4(v4.slice(1, 5), v4[5]!);
  const v6 = V6_CIDR.exec(text);
  if (v6 && text.includes(":")) return parseV6(v6[1]!, v6[2], v6[3]!);
  return fail(
    "is not an IPv4 or IPv6 CIDR",
    "write a.b.c.d/n (IPv4) or an IPv6 address in hex groups with /n, such as 203.0.113.0/24 or 2001:db8::/32",
  );
}

function parseV4(octets: string[], prefixText: string): Parsed {
  const normal = `${octets.map(Number).join(".")}/${Number(prefixText)}`;
  if (octets.some(hasLeadingZero) || hasLeadingZero(prefixText)) {
    return fail("has a number with leading zeros (some tools read those as octal)", `write it without them: ${normal}`);
  }
  if (octets.some((o) => Number(o) > 255)) return fail("has an address part above 255", "each of the four parts is 0 to 255");
  const prefix = Number(prefixText);
  if (prefix > 32) return fail("has a prefix length above 32", "use a prefix length from 0 to 32");
  const address = BigInt(ipv4ToInt(octets.join(".")));
  return withNetwork("IPv4", address, prefix, 32, (base) => intToIpv4(Number(base)));
}

function parseV6(address: string, zone: string | undefined, prefixText: string): Parsed {
  if (zone !== undefined) {
    return fail(
      "has an IPv6 zone id (%...), which only means something on one link and which firewalls cannot match",
      `remove it: ${address}/${prefixText}`,
    );
  }
  if (hasLeadingZero(prefixText)) return fail("has a prefix length with leading zeros", `write it without them: ${address}/${Number(prefixText)}`);
  const prefix = Number(prefixText);
  if (address.includes(".")) {
    const hex = dottedTailToHex(address);
    return fail(
      "writes the last 32 bits as a dotted IPv4 address, which nft cannot read",
      hex ? `write them in hex: ${hex}/${prefix}` : "write every part as hex groups",
    );
  }
  const value = ipv6ToBigInt(address);
  if (value === undefined)
    return fail(
      "is not a valid IPv6 address",
      "write up to 8 groups of 1 to 4 hex digits separated by ':', with at most one '::', such as 2001:db8::/32",
    );
  if (prefix > 128) return fail("has a prefix length above 128", "use a prefix length from 0 to 128");
  const parsed = withNetwork("IPv6", value, prefix, 128, formatIpv6);
  if (parsed.ok && prefix >= 96 && parsed.value.base >> 32n === 0xffffn) {
    const v4Base = intToIpv4(Number(parsed.value.base & 0xffffffffn));
    return fail(
      "is an IPv4-mapped IPv6 range (::ffff:0:0/96); IPv4 clients are matched by their IPv4 address",
      `write the IPv4 range itself: ${v4Base}/${prefix - 96}`,
    );
  }
  return parsed;
}

/** The range when no host bits are set; otherwise a problem naming the network address. */
function withNetwork(family: "IPv4" | "IPv6", address: bigint, prefix: number, bits: number, show: (v: bigint) => string): Parsed {
  const size = 1n << BigInt(bits - prefix);
  const base = address - (address % size);
  if (base !== address) {
    return fail(
      "has host bits set: the address is not the first of its range",
      `write the network address ${show(base)}/${prefix}, or ${show(address)}/${bits} for that one address`,
    );
  }
  return { ok: true, value: { family, base, prefix, size } };
}

/** `x:y::z` → 128-bit number; undefined unless 8 groups (or fewer with one `::`) of 1-4 hex digits. */
function ipv6ToBigInt(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const all = [...head, ...tail];
  if (all.some((g) => !/^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  if (halves.length === 1 ? all.length !== 8 : all.length > 7) return undefined;
  const full = [...head, ...Array<string>(8 - all.length).fill("0"), ...tail];
  return full.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** `64:ff9b::192.0.2.0` → `64:ff9b::c000:200`, when the rest is valid. */
function dottedTailToHex(address: string): string | undefined {
  const at = address.lastIndexOf(":");
  const dotted = address.slice(at + 1);
  const octets = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/.exec(dotted)?.slice(1);
  if (!octets || octets.some((o) => hasLeadingZero(o) || Number(o) > 255)) return undefined;
  const n = ipv4ToInt(octets.join("."));
  const hex = `${address.slice(0, at + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  const value = ipv6ToBigInt(hex);
  return value === undefined ? undefined : formatIpv6(value);
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as `::`. */
export function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
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

/**
 * How much of an address family counts as "anywhere" for SSH: more addresses in total than one
 * range of this prefix length. IPv4 /8: the largest block ever assigned to a single organisation,
 * so no admin network is bigger. IPv6 /16: larger than any single allocation (the largest ISP
 * allocations are around a /19; most organisations get a /32 to /48). Counted over the union of all the listed ranges, so two halves (0.0.0.0/1 and
 * 128.0.0.0/1), 256 /8s or a /7 all count, however they are spelled.
 */
export const ANYWHERE_FLOOR = { IPv4: 8, IPv6: 16 } as const;

/** The addresses a list of ranges opens, per family (overlaps counted once). */
export interface FamilyCoverage {
  readonly family: "IPv4" | "IPv6";
  /** Indexes of the list's entries of this family. */
  readonly indexes: readonly number[];
  /** Addresses covered by their union. */
  readonly addresses: bigint;
  /** The union is the whole address space. */
  readonly whole: boolean;
  /** The union holds more addresses than a range of `ANYWHERE_FLOOR` (then it counts as anywhere). */
  readonly anywhere: boolean;
}

const FAMILY_BITS = { IPv4: 32, IPv6: 128 } as const;

/** True when the range alone counts as anywhere (see `ANYWHERE_FLOOR`). */
export function isAnywhere(text: string): boolean {
  const range = parseIpRange(text);
  return range !== undefined && range.prefix < ANYWHERE_FLOOR[range.family];
}

/** Coverage of valid CIDRs (invalid ones are skipped; the schema reports them). */
export function coverage(cidrs: readonly string[]): FamilyCoverage[] {
  return (["IPv4", "IPv6"] as const).map((family) => {
    const entries = cidrs.flatMap((text, index) => {
      const range = parseIpRange(text);
      return range?.family === family ? [{ index, range }] : [];
    });
    const sorted = entries.map((e) => e.range).sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
    let addresses = 0n;
    let end = -1n;
    for (const r of sorted) {
      const last = r.base + r.size - 1n;
      if (last <= end) continue;
      addresses += last - (r.base > end ? r.base : end + 1n) + 1n;
      end = last;
    }
    const space = 1n << BigInt(FAMILY_BITS[family]);
    const floor = 1n << BigInt(FAMILY_BITS[family] - ANYWHERE_FLOOR[family]);
    return { family, indexes: entries.map((e) => e.index), addresses, whole: addresses === space, anywhere: addresses > floor };
  });
}
