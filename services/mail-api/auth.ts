/**
 * The mail API's bearer token: read once at start, compared in constant time on every `/api/`
 * request. The token is a deploy-time secret (the `mail_api_token` Terraform output); on the
 * hosts systemd hands it to the service as a credential (`LoadCredential=`), so the file under
 * /etc/bulwark stays root-only and the service never sees the path.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The credential name in the unit's `LoadCredential=` (plan/services.ts names the file). */
export const API_TOKEN_CREDENTIAL = "api-token";
/** Shortest token accepted: 32 characters of [A-Za-z0-9] is over 190 bits. */
const MIN_TOKEN_LENGTH = 32;

/** A checker for `Authorization: Bearer <token>`; holds only the token's digest. */
export type BearerCheck = (authorization: string | undefined) => boolean;

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/**
 * Hashing both sides first gives equal-length buffers, so timingSafeEqual never throws and the
 * comparison time does not depend on where, or whether, the lengths differ.
 */
export function bearerCheck(token: string): BearerCheck {
  if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    throw new Error(
      `mail-api: the API token must be at least ${MIN_TOKEN_LENGTH} printable characters without spaces; got ${token.length} characters`,
    );
  }
  const expected = digest(token);
  return (authorization) => {
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(authorization ?? "");
    const given = digest(m ? m[1]! : "");
    return timingSafeEqual(given, expected) && m !== null;
  };
}

/**
 * The token from MAILAPI_TOKEN_FILE, or from systemd's credential directory
 * ($CREDENTIALS_DIRECTORY/api-token). No token is a start-up error: the API never runs open.
 */
export function readApiToken(env: NodeJS.ProcessEnv): string {
  const file = env.MAILAPI_TOKEN_FILE || (env.CREDENTIALS_DIRECTORY ? join(env.CREDENTIALS_DIRECTORY, API_TOKEN_CREDENTIAL) : undefined);
  if (!file) {
    throw new Error(
      `no API token: set MAILAPI_TOKEN_FILE, or run under systemd with ` +
        `LoadCredential=${API_TOKEN_CREDENTIAL}:<file>; the mail API refuses to serve /api/ without one`,
    );
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read the API token from ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text.trim();
}
