import { Construct } from "constructs";
import { Fn, TerraformVariable, type TerraformVariableConfig } from "cdktf";
import { Bytes } from "@cdktf/provider-random/lib/bytes/index.js";
import { Password } from "@cdktf/provider-random/lib/password/index.js";
import { RandomProvider } from "@cdktf/provider-random/lib/provider/index.js";
import { Uuid } from "@cdktf/provider-random/lib/uuid/index.js";
import { DEPLOY_VALUES } from "../render/deploy-values.ts";
import { constructId } from "./ids.ts";

export interface DeploySecretsProps {
  /**
   * The storage servers (name and private address), in the plan's order: each gets a glusterd
   * UUID (random_uuid) when a rendered file asks for `glusterd_pool_uuids`.
   * @default - no storage servers
   */
  readonly storagePeers?: readonly { readonly host: string; readonly address: string }[];
}

/**
 * The secrets hosts receive, made by Terraform, never by TypeScript: the Mongo keyFile, the
 * Mongo passwords and the mail API's bearer token from the random provider (with the storage
 * servers' glusterd UUIDs, not secret, but random and kept in the state the same way), the failover API token and the TLS certificate from
 * sensitive variables (TF_VAR_failover_api_token, TF_VAR_tls_certificate_pem). Each is declared the first time a rendered file asks for it,
 * so the stack holds exactly the secrets its hosts use. Synth output holds only references.
 */
export class DeploySecrets extends Construct {
  private readonly made = new Map<string, string>();
  private random: RandomProvider | undefined;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: DeploySecretsProps = {},
  ) {
    super(scope, id);
  }

  /** Whether a rendered file asked for the secret called `name` (so the stack declared it). */
  declared(name: string): boolean {
    return this.made.has(name);
  }

  /** The token for a secret deploy value, declaring it on first use; undefined if not a secret. */
  token(name: string): string | undefined {
    const existing = this.made.get(name);
    if (existing !== undefined) return existing;
    const made = this.declare(name);
    if (made !== undefined) this.made.set(name, made);
    return made;
  }

  private declare(name: string): string | undefined {
    switch (name) {
      case DEPLOY_VALUES.mongoKeyFile.name:
        return new Bytes(this.randomScope(), "MongoKeyFile", { length: 756 }).base64;
      case DEPLOY_VALUES.mongoAdminPassword.name:
        return new Password(this.randomScope(), "MongoAdminPassword", { length: 32, special: false }).result;
      case DEPLOY_VALUES.mongoAppPassword.name:
        return new Password(this.randomScope(), "MongoAppPassword", { length: 32, special: false }).result;
      case DEPLOY_VALUES.mailApiToken.name:
        return new Password(this.randomScope(), "MailApiToken", { length: DEPLOY_VALUES.mailApiToken.maxLength, special: false }).result;
      case DEPLOY_VALUES.glusterdPoolUuids.name: {
        // One UUID per server, kept for as long as its name: a replaced server gets the same one.
        const peers = this.props.storagePeers ?? [];
        const uuids = peers.map((p) => new Uuid(this.randomScope(), `GlusterdUuid${constructId(p.host)}`, {}).result);
        // One expression (format with the addresses as literals), so the user_data holds one interpolation per marker.
        return Fn.format(peers.map((p) => `${p.address}=%s`).join(" "), uuids);
      }
      case DEPLOY_VALUES.failoverToken.name:
        return this.variable("FailoverApiToken", "failover_api_token", {
          type: "string",
          sensitive: true,
          nullable: false,
          description:
            "Read & Write Hetzner API token the lb pair uses to move the Floating IP (written " +
            "to the lb hosts only, mode 0600). Tokens are project-wide: see the README.",
        });
      case DEPLOY_VALUES.tlsCertificate.name:
        return this.variable("TlsCertificatePem", "tls_certificate_pem", {
          type: "string",
          sensitive: true,
          nullable: false,
          description: "Certificate chain and private key (PEM, concatenated) haproxy serves on 443 (written to the lb hosts only, mode 0600).",
          validation: [
            {
              condition:
                `\${length(var.tls_certificate_pem) <= ${DEPLOY_VALUES.tlsCertificate.maxLength} ` +
                `&& strcontains(var.tls_certificate_pem, "PRIVATE KEY")}`,
              errorMessage:
                `tls_certificate_pem must be the certificate chain and its private key in PEM, at ` +
                `most ${DEPLOY_VALUES.tlsCertificate.maxLength} bytes (user_data is limited to 32 KiB).`,
            },
          ],
        });
      default:
        return undefined;
    }
  }

  /** A sensitive variable of this construct under a fixed Terraform name (what TF_VAR_<name> sets). */
  private variable(id: string, name: string, config: TerraformVariableConfig): string {
    const v = new TerraformVariable(this, id, config);
    v.overrideLogicalId(name);
    return v.stringValue;
  }

  private randomScope(): Construct {
    this.random ??= new RandomProvider(this, "Random");
    return this;
  }
}
