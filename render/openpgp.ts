/**
 * Just enough OpenPGP (RFC 4880) to pin a vendored apt signing key by its fingerprint without
 * gpg: the ASCII armour (with its CRC-24 checksum) and the v4 fingerprint of the primary key,
 * SHA-1 over 0x99, the two-byte length and the body of the public-key packet (RFC 4880 12.2).
 */
import { createHash } from "node:crypto";

const BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const END = "-----END PGP PUBLIC KEY BLOCK-----";

/** The armoured block in `text` (anything before or after it dropped), ending in a newline. */
export function armouredBlock(text: string): string {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END, start);
  if (start < 0 || end < 0) throw new Error(`openpgp: no "${BEGIN}" ... "${END}" block`);
  return `${text.slice(start, end + END.length).replace(/\r\n/g, "\n")}\n`;
}

/** CRC-24 of RFC 4880 6.1. */
function crc24(bytes: Uint8Array): number {
  let crc = 0xb704ce;
  for (const b of bytes) {
    crc ^= b << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

/** The binary packets of an armoured block; throws when its checksum does not match. */
function dearmour(block: string): Buffer {
  const lines = armouredBlock(block).split("\n");
  let i = 1;
  while (i < lines.length && lines[i] !== "") i++; // armour headers ("Version: ...") end at a blank line
  const body: string[] = [];
  let checksum: string | undefined;
  for (i++; i < lines.length && lines[i] !== END; i++) {
    const line = lines[i]!.trim();
    if (line.startsWith("=")) checksum = line.slice(1);
    else if (line !== "") body.push(line);
  }
  const bytes = Buffer.from(body.join(""), "base64");
  if (checksum !== undefined) {
    const expected = Buffer.from(checksum, "base64").readUIntBE(0, 3);
    if (crc24(bytes) !== expected) throw new Error("openpgp: the armour's CRC-24 checksum does not match its content");
  }
  return bytes;
}

/** The first packet's tag and body. */
function firstPacket(bytes: Buffer): { tag: number; body: Buffer } {
  const h = bytes[0]!;
  if ((h & 0x80) === 0) throw new Error("openpgp: not a packet");
  if (h & 0x40) {
    // New format: one-, two- or five-octet length.
    const tag = h & 0x3f;
    const l0 = bytes[1]!;
    if (l0 < 192) return { tag, body: bytes.subarray(2, 2 + l0) };
    if (l0 < 224) {
      const len = ((l0 - 192) << 8) + bytes[2]! + 192;
      return { tag, body: bytes.subarray(3, 3 + len) };
    }
    if (l0 === 255) return { tag, body: bytes.subarray(6, 6 + bytes.readUInt32BE(2)) };
    throw new Error("openpgp: partial body lengths are not allowed in a key packet");
  }
  // Old format: the length type is in the low two bits.
  const tag = (h >> 2) & 0x0f;
  switch (h & 0x03) {
    case 0:
      return { tag, body: bytes.subarray(2, 2 + bytes[1]!) };
    case 1:
      return { tag, body: bytes.subarray(3, 3 + bytes.readUInt16BE(1)) };
    case 2:
      return { tag, body: bytes.subarray(5, 5 + bytes.readUInt32BE(1)) };
    default:
      throw new Error("openpgp: indeterminate packet length");
  }
}

/** The v4 fingerprint (40 upper-case hex digits) of the primary key of an armoured public key. */
export function primaryKeyFingerprint(armoured: string): string {
  const { tag, body } = firstPacket(dearmour(armoured));
  if (tag !== 6) throw new Error(`openpgp: the first packet is tag ${tag}, not a public key (6)`);
  if (body[0] !== 4) throw new Error(`openpgp: a version ${body[0]} key; only v4 fingerprints are computed here`);
  const head = Buffer.from([0x99, (body.length >> 8) & 0xff, body.length & 0xff]);
  return createHash("sha1").update(head).update(body).digest("hex").toUpperCase();
}
