import { Construct } from "constructs";
import { Fn } from "cdktf";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key/index.js";
import { TlsProvider } from "@cdktf/provider-tls/lib/provider/index.js";
import { constructId } from "./ids.ts";

export interface HostKeysProps {
  /** The hosts that get a key, by name (construct ids come from the names). */
  readonly hosts: readonly string[];
}

/**
 * One ed25519 SSH host key per host, made by Terraform (the tls provider) at deploy time and kept
 * in the state. Each host's user_data installs its key, and every rollout connection pins the
 * public half: nothing is trusted on first use. A key lives as long as its host name: a replaced
 * server gets the same key, so connections to it stay verified.
 */
export class HostKeys extends Construct {
  private readonly keys = new Map<string, PrivateKey>();

  constructor(scope: Construct, id: string, props: HostKeysProps) {
    super(scope, id);
    new TlsProvider(this, "Tls");
    for (const host of props.hosts) this.keys.set(host, new PrivateKey(this, constructId(host), { algorithm: "ED25519" }));
  }

  private key(host: string): PrivateKey {
    const key = this.keys.get(host);
    if (!key) throw new Error(`HostKeys: no key for ${host}; list it in props.hosts`);
    return key;
  }

  /** The private key in OpenSSH format (sensitive), for the host's user_data. */
  privateKeyOf(host: string): string {
    return this.key(host).privateKeyOpenssh;
  }

  /** `ssh-ed25519 AAAA...` without the trailing newline: what a connection pins. */
  publicKeyOf(host: string): string {
    return Fn.trimspace(this.key(host).publicKeyOpenssh);
  }
}
