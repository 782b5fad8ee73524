/**
 * OpenSSH public key lines (`<type> <base64> [comment]`), checked before Hetzner sees them:
 * a known type, a base64 body that decodes to the wire format of that type (RFC 4253, 5656,
 * 8709; PROTOCOL.u2f for the sk- types), and a sane length.
 */
import { createPublicKey } from "node:crypto";

const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
] as const;

/**
 * Longest accepted key line, in characters. The longest key OpenSSH makes is RSA with a
 * 16384-bit modulus (its maximum): about 2,770 base64 characters, plus the type and a comment of
 * at most 200 (the schema's limit). A longer line is no key sshd would accept, and every key is
 * copied into every host's user_data, which Hetzner limits to 32 KiB.
 */
export const MAX_PUBLIC_KEY_CHARS = 3072;

/**
 * All the admin keys together, in bytes. Every key goes into every host's user_data (32 KiB at
 * Hetzner); the largest host (an lb with TLS, its PEM at the 6 KiB maximum, with the sandboxed
 * units and its SSH host key) leaves about 4.5 KiB of it, so the keys get 4 KiB: about 40 ed25519
 * keys, or 5 RSA-4096 keys.
 * test/unit/ssh-keys.errors.test.ts renders keys of this total to show they fit.
 */
export const MAX_PUBLIC_KEYS_TOTAL_BYTES = 4096;

/** OpenSSH's bounds on an RSA modulus (SSH_RSA_MINIMUM_MODULUS_SIZE, SSH_RSA_MAXIMUM_MODULUS_SIZE). */
const RSA_MIN_BITS = 1024;
const RSA_MAX_BITS = 16384;

/** Why a key line is rejected, and how to correct it. */
export interface KeyProblem {
  readonly problem: string;
  readonly fix: string;
}

/** The key's base64 body (what identifies the key; the comment does not). */
export function keyBody(line: string): string {
  return line.split(" ")[1] ?? "";
}

/** Why `line` is not an acceptable public key, or undefined when it is. */
export function publicKeyProblem(line: string): KeyProblem | undefined {
  const paste = "paste the whole first line of the .pub file";
  if (line.length > MAX_PUBLIC_KEY_CHARS) {
    return {
      problem: `is ${line.length} characters long, above the ${MAX_PUBLIC_KEY_CHARS} of the longest key OpenSSH makes (RSA 16384)`,
      fix: `${paste}, or use an ed25519 key (ssh-keygen -t ed25519)`,
    };
  }
  const [type, body = ""] = line.split(" ");
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type!)) {
    return { problem: `has key type ${type}, which is not accepted`, fix: `use a key of type ${SSH_KEY_TYPES.join(", ")} (ssh-keygen -t ed25519)` };
  }
  const blob = Buffer.from(body, "base64");
  if (body.length % 4 !== 0 || blob.toString("base64") !== body) {
    return { problem: "has a base64 part that does not decode (cut short, or changed)", fix: paste };
  }
  return checkStructure(type as (typeof SSH_KEY_TYPES)[number], new Reader(blob), paste);
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  /** The next length-prefixed string, or undefined when the blob ends early. */
  bytes(): Buffer | undefined {
    if (this.at + 4 > this.buf.length) return undefined;
    const length = this.buf.readUInt32BE(this.at);
    if (this.at + 4 + length > this.buf.length) return undefined;
    const out = this.buf.subarray(this.at + 4, this.at + 4 + length);
    this.at += 4 + length;
    return out;
  }

  text(): string | undefined {
    return this.bytes()?.toString("latin1");
  }

  done(): boolean {
    return this.at === this.buf.length;
  }
}

const CURVES: Readonly<Record<string, { readonly pointBytes: number; readonly jwk: string }>> = {
  nistp256: { pointBytes: 65, jwk: "P-256" },
  nistp384: { pointBytes: 97, jwk: "P-384" },
  nistp521: { pointBytes: 133, jwk: "P-521" },
};

/** True when `point` (uncompressed, 0x04 || x || y) lies on the curve: OpenSSH refuses it otherwise. */
function onCurve(curve: { readonly pointBytes: number; readonly jwk: string }, point: Buffer): boolean {
  const half = (curve.pointBytes - 1) / 2;
  try {
    createPublicKey({
      key: { kty: "EC", crv: curve.jwk, x: point.subarray(1, 1 + half).toString("base64url"), y: point.subarray(1 + half).toString("base64url") },
      format: "jwk",
    });
    return true;
  } catch {
    return false;
  }
}

/** Checks the decoded blob against its type; returns the problem, if any. */
function checkStructure(type: (typeof SSH_KEY_TYPES)[number], r: Reader, paste: string): KeyProblem | undefined {
  const embedded = r.text();
  if (embedded !== type) {
    return {
      problem:
        embedded === undefined
          ? "has a base64 part that is too short to be a key"
          : `says ${type} but its base64 part holds a ${JSON.stringify(embedded.slice(0, 40))} key`,
      fix: `${paste}, unchanged`,
    };
  }
  const broken = { problem: `has a base64 part that is not a valid ${type} key`, fix: paste };
  switch (type) {
    case "ssh-ed25519":
    case "sk-ssh-ed25519@openssh.com": {
      if (r.bytes()?.length !== 32) return broken;
      if (type.startsWith("sk-") && r.text() === undefined) return broken;
      break;
    }
    case "ecdsa-sha2-nistp256":
    case "ecdsa-sha2-nistp384":
    case "ecdsa-sha2-nistp521":
    case "sk-ecdsa-sha2-nistp256@openssh.com": {
      const curve = /nistp(256|384|521)/.exec(type)![0];
      if (r.text() !== curve) return broken;
      const point = r.bytes();
      if (point?.length !== CURVES[curve]!.pointBytes || point[0] !== 0x04 || !onCurve(CURVES[curve]!, point)) return broken;
      if (type.startsWith("sk-") && r.text() === undefined) return broken;
      break;
    }
    case "ssh-rsa": {
      const e = r.bytes();
      const n = r.bytes();
      if (!e || !n || e.length === 0 || n.length === 0 || (e[0]! & 0x80) !== 0 || (n[0]! & 0x80) !== 0) return broken;
      const bits = bitLength(n);
      if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
        return {
          problem: `is an RSA key of ${bits} bits; sshd accepts ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`,
          fix: "use an ed25519 key (ssh-keygen -t ed25519) or RSA of 3072 bits or more",
        };
      }
      break;
    }
  }
  return r.done() ? undefined : { problem: `${broken.problem} (extra bytes after the key)`, fix: paste };
}

function bitLength(mpint: Buffer): number {
  let i = 0;
  while (i < mpint.length && mpint[i] === 0) i++;
  if (i === mpint.length) return 0;
  return (mpint.length - i - 1) * 8 + mpint[i]!.toString(2).length;
}
