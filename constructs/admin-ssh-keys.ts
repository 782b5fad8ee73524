import { Construct } from "constructs";
import type { AdminSshKey } from "../topology/model.ts";
import { SshKey } from "./hcloud.ts";
import { constructId } from "./ids.ts";

export interface AdminSshKeysProps {
  /** Prefix of every key's Hetzner name (the project name). */
  readonly prefix: string;
  /** The admins' public keys. */
  readonly keys: readonly AdminSshKey[];
  /**
   * Labels on every key.
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/**
 * The admins' keys as Hetzner SSH keys. Hetzner puts them into root's authorized_keys at
 * creation; the cloud-config also gives them to the admin user and disables root login.
 */
export class AdminSshKeys extends Construct {
  private readonly keys: SshKey[];

  constructor(scope: Construct, id: string, props: AdminSshKeysProps) {
    super(scope, id);
    this.keys = props.keys.map(
      (k) => new SshKey(this, constructId(k.name), { name: `${props.prefix}-${k.name}`, publicKey: k.publicKey, labels: props.labels ?? {} }),
    );
  }

  /** The key ids a server is created with. */
  ids(): string[] {
    return this.keys.map((k) => k.id);
  }
}
