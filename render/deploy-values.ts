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
  failoverToken: { name: "failover_api_token", description: "the Hetzner API token the lb failover hook uses", maxLength: 64, secret: true },
  mongoKeyFile: { name: "mongo_keyfile", description: "the MongoDB internal-auth keyFile (base64 of 756 random bytes)", maxLength: 1008, secret: true },
  mongoAdminPassword: { name: "mongo_admin_password", description: "the MongoDB cluster admin user's password", maxLength: 32, secret: true },
} as const satisfies Record<string, DeployValue>;

export type DeployValueKey = keyof typeof DEPLOY_VALUES;

const MARKER = /@@deploy:([a-z0-9_]+)@@/g;

/** The text a renderer places for a deploy-time value. */
export function deployMarker(key: DeployValueKey): string {
  return `@@deploy:${DEPLOY_VALUES[key].name}@@`;
}

function byName(name: string): DeployValue {
  const value = Object.values(DEPLOY_VALUES).find((v) => v.name === name);
  if (!value) throw new Error(`deploy-values: unknown marker @@deploy:${name}@@; declare it in DEPLOY_VALUES`);
  return value;
}

/** Names of the deploy-time values a text refers to, in order of first use. */
export function deployValuesIn(text: string): string[] {
  return [...new Set([...text.matchAll(MARKER)].map((m) => m[1]!))];
}

/** For the review: `<set at deploy: floating_ip_address>` or `<secret set at deploy: ...>`. */
export function showDeployValues(text: string): string {
  return text.replace(MARKER, (_m, name: string) => `<${byName(name).secret ? "secret " : ""}set at deploy: ${name}>`);
}

/** For the size check: every marker as long as its value can get. */
export function worstCaseLength(text: string): number {
  let length = Buffer.byteLength(text, "utf8");
  for (const m of text.matchAll(MARKER)) length += byName(m[1]!).maxLength - m[0].length;
  return length;
}

/** For the constructs: every marker replaced by its token. Throws when one has no token. */
export function resolveDeployValues(text: string, tokenFor: (name: string) => string | undefined): string {
  return text.replace(MARKER, (_m, name: string) => {
    const token = tokenFor(name);
    if (token === undefined) throw new Error(`deploy-values: no value for @@deploy:${name}@@; the stack must provide ${byName(name).description}`);
    return token;
  });
}
