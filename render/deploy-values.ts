/**
 * Values that exist only at deploy time (the Floating IP's address and id, generated secrets,
 * the failover API token). Rendering places a marker for each; the constructs replace the
 * markers with cdktf tokens that Terraform resolves, and the review bundle shows a readable
 * placeholder. So no such value, and no secret, is ever in the review.
 */

export interface DeployValue {
  /** snake_case name, used in the marker and the review placeholder. */
  readonly name: string;
  readonly description: string;
  /** The longest the resolved value can be, for the user_data size check. */
  readonly maxLength: number;
  /** Secrets are shown as `<secret ...>` and must be written to files of mode 0600/0400. */
  readonly secret: boolean;
}

export const DEPLOY_VALUES = {
  floatingIpAddress: { name: "floating_ip_address", description: "the entry Floating IP's IPv4 address", maxLength: 15, secret: false },
  floatingIpId: { name: "floating_ip_id", description: "the entry Floating IP's Hetzner id", maxLength: 20, secret: false },
  // 6 KiB holds an ECDSA or RSA-2048 leaf, its intermediate and the key; the variable's
  // validation rejects more, because user_data is limited to 32 KiB.
  tlsCertificate: {
    name: "tls_certificate_pem",
    description: "the HTTPS certificate chain and key (PEM) haproxy serves",
    maxLength: 6144,
    secret: true,
  },
  failoverToken: { name: "failover_api_token", description: "the Hetzner API token the lb failover hook uses", maxLength: 64, secret: true },
  mongoKeyFile: {
    name: "mongo_keyfile",
    description: "the MongoDB internal-auth keyFile (base64 of 756 random bytes)",
    maxLength: 1008,
    secret: true,
  },
  mongoAdminPassword: { name: "mongo_admin_password", description: "the MongoDB cluster admin user's password", maxLength: 32, secret: true },
  mongoAppPassword: {
    name: "mongo_app_password",
    description: "the password of the MongoDB user the services connect as (readWrite on their database)",
    maxLength: 32,
    secret: true,
  },
  // Per host (the stack and the lab give each host its own): the SSH host key every rollout
  // connection pins. An OpenSSH ed25519 private key is about 420 bytes, its public line about 100.
  sshHostKey: { name: "ssh_host_ed25519_key", description: "the host's own SSH host key (ed25519, OpenSSH format)", maxLength: 512, secret: true },
  sshHostKeyPublic: {
    name: "ssh_host_ed25519_public",
    description: "the host's SSH host public key, pinned by every rollout connection",
    maxLength: 128,
    secret: false,
  },
  // Every storage server's glusterd UUID (Terraform's random_uuid), `address=uuid` separated by
  // spaces: 53 bytes a server, room for 38 servers.
  glusterdPoolUuids: {
    name: "glusterd_pool_uuids",
    description: "every storage server's private address and the glusterd UUID Terraform made for it",
    maxLength: 2048,
    secret: false,
  },
  // 48 characters of [A-Za-z0-9]: about 285 bits; the mail API refuses fewer than 32.
  mailApiToken: {
    name: "mail_api_token",
    description: "the bearer token every request to the mail API (/api/) must carry",
    maxLength: 48,
    secret: true,
  },
} as const satisfies Record<string, DeployValue>;

export type DeployValueKey = keyof typeof DEPLOY_VALUES;

/** `@@deploy:name@@`, or `@@deploy-b64:name@@` for the value base64-encoded. */
const MARKER = /@@deploy(-b64)?:([a-z0-9_]+)@@/g;

/**
 * The text a renderer places for a deploy-time value. `base64` places the value base64-encoded:
 * for a multi-line value (a PEM), which must be a whole file written with cloud-init's
 * `encoding: b64`, since its newlines would break the YAML it is placed in.
 */
export function deployMarker(key: DeployValueKey, options: { base64?: boolean } = {}): string {
  return `@@deploy${options.base64 ? "-b64" : ""}:${DEPLOY_VALUES[key].name}@@`;
}

/** The marker of the deploy value called `name` (snake_case, as the plan names a secret); throws for an unknown name. */
export function deployMarkerNamed(name: string, options: { base64?: boolean } = {}): string {
  byName(name);
  return `@@deploy${options.base64 ? "-b64" : ""}:${name}@@`;
}

function byName(name: string): DeployValue {
  const value = Object.values(DEPLOY_VALUES).find((v) => v.name === name);
  if (!value) throw new Error(`deploy-values: unknown marker @@deploy:${name}@@; declare it in DEPLOY_VALUES`);
  return value;
}

/** Names of the deploy-time values a text refers to, in order of first use. */
export function deployValuesIn(text: string): string[] {
  return [...new Set([...text.matchAll(MARKER)].map((m) => m[2]!))];
}

/** For the review: `<set at deploy: floating_ip_address>` or `<secret set at deploy: ...>`. */
export function showDeployValues(text: string): string {
  return text.replace(
    MARKER,
    (_m, b64: string | undefined, name: string) => `<${byName(name).secret ? "secret " : ""}set at deploy: ${b64 ? "base64 of " : ""}${name}>`,
  );
}

/** For the size check: every marker as long as its value can get (base64: 4/3 of that). */
export function worstCaseLength(text: string): number {
  let length = Buffer.byteLength(text, "utf8");
  for (const m of text.matchAll(MARKER)) {
    const max = byName(m[2]!).maxLength;
    length += (m[1] ? Math.ceil(max / 3) * 4 : max) - m[0].length;
  }
  return length;
}

/** Replaces every marker with `valueFor(name, base64)`; throws naming a marker with no value. */
export function substituteDeployValues(text: string, valueFor: (name: string, base64: boolean) => string | undefined): string {
  return text.replace(MARKER, (_m, b64: string | undefined, name: string) => {
    const value = valueFor(name, b64 !== undefined);
    if (value === undefined) throw new Error(`deploy-values: no value for @@deploy:${name}@@; the stack must provide ${byName(name).description}`);
    return value;
  });
}

/**
 * For the constructs: the text made literal for Terraform (which reads `${` and `%{` in a JSON
 * string as template syntax: a shell script's `${var}` would break the deploy), then every
 * marker replaced by its token. Throws when a marker has no token.
 */
export function resolveDeployValues(text: string, tokenFor: (name: string, base64: boolean) => string | undefined): string {
  return substituteDeployValues(escapeTerraformTemplate(text), tokenFor);
}

/** `${` → `$${` and `%{` → `%%{`: Terraform's escapes, so the text reaches the host as written. */
export function escapeTerraformTemplate(text: string): string {
  // Replacement functions, not strings: in a replacement string "$$" means a single "$".
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}
