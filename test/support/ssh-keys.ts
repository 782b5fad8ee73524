/**
 * Public key lines built from their wire format (RFC 4253 strings), deterministic: no key
 * generator, no randomness. Valid keys (ssh-keygen -l reads them); nobody holds their private halves.
 */
import { createECDH } from "node:crypto";

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

const filled = (length: number, seed: number) => Buffer.from(Array.from({ length }, (_, i) => (seed * 31 + i * 7 + 1) % 256));

/** The base64 part of a key blob made of these strings. */
export function blob(...parts: (Buffer | string)[]): string {
  return Buffer.concat(parts.map(sshString)).toString("base64");
}

/** An ed25519 key; a different `seed` gives a different key. */
export function ed25519Key(seed: number, comment = `k${seed}@example.invalid`): string {
  return `ssh-ed25519 ${blob("ssh-ed25519", filled(32, seed))} ${comment}`;
}

/** An RSA key with a modulus of `bits` bits (top bit set), exponent 65537. */
export function rsaKey(bits: number, seed = 1, comment = "rsa@example.invalid"): string {
  const n = filled(Math.ceil(bits / 8), seed);
  n[0] = (n[0]! | 0x80) >> (8 * n.length - bits);
  const mpintN = n[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), n]) : n;
  return `ssh-rsa ${blob("ssh-rsa", Buffer.from([1, 0, 1]), mpintN)} ${comment}`;
}

/** The public point (uncompressed) of a fixed private scalar: a real point on the curve. */
function ecPoint(curve: "nistp256" | "nistp384" | "nistp521", seed: number): Buffer {
  const ecdh = createECDH({ nistp256: "prime256v1", nistp384: "secp384r1", nistp521: "secp521r1" }[curve]);
  ecdh.setPrivateKey(Buffer.concat([Buffer.alloc(8), filled(16, seed)]));
  return ecdh.getPublicKey();
}

/** An ECDSA key on nistp256/384/521. */
export function ecdsaKey(curve: "nistp256" | "nistp384" | "nistp521", seed = 1): string {
  const type = `ecdsa-sha2-${curve}`;
  return `${type} ${blob(type, curve, ecPoint(curve, seed))} ecdsa@example.invalid`;
}

/** An ECDSA key whose point is not on its curve (right length and form). */
export function offCurveEcdsaKey(): string {
  const type = "ecdsa-sha2-nistp256";
  return `${type} ${blob(type, "nistp256", Buffer.concat([Buffer.from([4]), filled(64, 1)]))} ecdsa@example.invalid`;
}

/** A security-key ed25519 key (FIDO), as `ssh-keygen -t ed25519-sk` writes it. */
export function skEd25519Key(seed = 1): string {
  const type = "sk-ssh-ed25519@openssh.com";
  return `${type} ${blob(type, filled(32, seed), "ssh:")} sk@example.invalid`;
}

/** A security-key ECDSA key. */
export function skEcdsaKey(seed = 1): string {
  const type = "sk-ecdsa-sha2-nistp256@openssh.com";
  return `${type} ${blob(type, "nistp256", ecPoint("nistp256", seed), "ssh:")} sk@example.invalid`;
}
