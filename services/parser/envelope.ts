/**
 * The spool file's envelope line: how the SMTP ingress (services/ingress/server.ts) passes the
 * SMTP envelope to the parser without changing the message bytes.
 *
 *   X-Bulwark-Envelope: <base64 of a JSON object>\r\n
 *   <the message, byte for byte as received>
 *
 * The message key is the sha256 of the bytes after the line, so the same message delivered
 * twice (its 250 lost in a failover, the sender retrying, perhaps to another ingress) has the
 * same key however its envelopes differ, and ends up as one document.
 *
 * Decoding is strict. The line is taken as an envelope only when the file starts with exactly
 * `X-Bulwark-Envelope: ` (this case, one space), the line ends in CRLF within
 * ENVELOPE_MAX_LINE_BYTES, the value is canonical base64 of UTF-8 JSON, and the JSON is an
 * object with exactly the five fields of MessageEnvelope, each of the right type. Anything
 * else is a plain message, hashed and parsed whole as before (the line then shows up as an
 * ordinary header): a malformed envelope costs the envelope, never the message. See the
 * "Envelope line" section of services/parser/README.md.
 */
import type { MessageEnvelope } from "../store/types.ts";

/** The header name and separator that open an envelope line. */
export const ENVELOPE_PREFIX = "X-Bulwark-Envelope: ";

/**
 * Longest envelope line (prefix, base64 and CRLF) the parser looks for. The ingress allows at
 * most 1000 recipients of at most 254 octets; even with every character JSON-escaped that is
 * under 3 MiB of base64, and the ingress refuses to write a longer line.
 */
const ENVELOPE_MAX_LINE_BYTES = 4 * 1024 * 1024;

const PREFIX_BYTES = Buffer.from(ENVELOPE_PREFIX, "latin1");
const FIELDS = ["clientAddress", "mailFrom", "rcptTo", "receivedAt", "receivedBy"] as const;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
/** Longest string accepted in one envelope field (addresses are at most 254 octets). */
const MAX_FIELD_CHARS = 1024;

/** The envelope line (CRLF included) for `envelope`. */
export function encodeEnvelopeLine(envelope: MessageEnvelope): Buffer {
  const json = JSON.stringify({
    mailFrom: envelope.mailFrom,
    rcptTo: envelope.rcptTo,
    clientAddress: envelope.clientAddress,
    receivedAt: envelope.receivedAt,
    receivedBy: envelope.receivedBy,
  });
  const line = Buffer.from(`${ENVELOPE_PREFIX}${Buffer.from(json, "utf8").toString("base64")}\r\n`, "latin1");
  // Checked here so that the writer can never produce a line the reader would not take.
  if (line.byteLength > ENVELOPE_MAX_LINE_BYTES) {
    throw new Error(`envelope line of ${line.byteLength} bytes is over the ${ENVELOPE_MAX_LINE_BYTES}-byte limit`);
  }
  if (validEnvelope(JSON.parse(json)) === null) throw new Error(`envelope ${json.slice(0, 200)} does not have the expected fields`);
  return line;
}

const isShortString = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= MAX_FIELD_CHARS;

/** `value` as a MessageEnvelope when it is exactly one (the five fields, right types), else null. */
export function validEnvelope(value: unknown): MessageEnvelope | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const keys = Object.keys(value).sort();
  if (keys.length !== FIELDS.length || keys.some((k, i) => k !== FIELDS[i])) return null;
  const v = value as Record<string, unknown>;
  if (v.mailFrom !== null && !isShortString(v.mailFrom)) return null;
  if (!Array.isArray(v.rcptTo) || v.rcptTo.length === 0 || !v.rcptTo.every(isShortString)) return null;
  if (!isShortString(v.clientAddress) || !isShortString(v.receivedBy)) return null;
  if (typeof v.receivedAt !== "string" || !ISO_UTC.test(v.receivedAt) || !Number.isFinite(Date.parse(v.receivedAt))) return null;
  return {
    mailFrom: v.mailFrom as string | null,
    rcptTo: [...(v.rcptTo as string[])],
    clientAddress: v.clientAddress,
    receivedAt: v.receivedAt,
    receivedBy: v.receivedBy,
  };
}

/** A spool file split into its envelope (null when it has none) and the message bytes. */
export interface SplitSpoolFile {
  envelope: MessageEnvelope | null;
  /** The message: a view of the input after the envelope line, or the whole input. */
  message: Uint8Array;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Splits off the envelope line when `bytes` starts with a valid one (see the module comment);
 * otherwise returns the whole input as the message and no envelope. Never throws.
 */
export function splitEnvelope(bytes: Uint8Array): SplitSpoolFile {
  const plain = { envelope: null, message: bytes };
  if (bytes.byteLength < PREFIX_BYTES.byteLength) return plain;
  for (let i = 0; i < PREFIX_BYTES.byteLength; i++) if (bytes[i] !== PREFIX_BYTES[i]) return plain;
  const window = bytes.subarray(0, Math.min(bytes.byteLength, ENVELOPE_MAX_LINE_BYTES));
  const lf = window.indexOf(0x0a, PREFIX_BYTES.byteLength);
  if (lf < 0 || bytes[lf - 1] !== 0x0d) return plain;
  const value = Buffer.from(bytes.buffer, bytes.byteOffset + PREFIX_BYTES.byteLength, lf - 1 - PREFIX_BYTES.byteLength).toString("latin1");
  if (value.length % 4 !== 0 || !BASE64.test(value)) return plain;
  const decoded = Buffer.from(value, "base64");
  if (decoded.toString("base64") !== value) return plain;
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(decoded));
  } catch {
    return plain;
  }
  const envelope = validEnvelope(parsed);
  if (envelope === null) return plain;
  return { envelope, message: bytes.subarray(lf + 1) };
}
