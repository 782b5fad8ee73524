/**
 * Assembles a host's cloud-config as a document and serializes it to YAML. The document is
 * typed here (not templated) so that quoting is the YAML library's job, and every file of the
 * host goes into `write_files`.
 */
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import { deployValuesIn } from "./deploy-values.ts";
import type { Plan, PlannedHost } from "../plan/model.ts";
import type { HostFile } from "./host-file.ts";
import type { AptSource, Layer } from "./layer.ts";

/** Hetzner accepts at most 32 KiB of user_data (docs/facts.md#hetzner-cloud). */
export const USER_DATA_LIMIT_BYTES = 32 * 1024;

/** The subset of cloud-config Bulwark writes (cloud-init's schema checks it in the validate tier). */
export interface CloudConfig {
  readonly hostname: string;
  readonly manage_etc_hosts: boolean;
  readonly users: readonly {
    readonly name: string;
    readonly groups: readonly string[];
    readonly shell: string;
    readonly sudo: string;
    readonly lock_passwd: boolean;
    readonly ssh_authorized_keys: readonly string[];
  }[];
  readonly disable_root: boolean;
  readonly ssh_pwauth: boolean;
  readonly ssh_deletekeys: boolean;
  readonly ssh_genkeytypes: readonly string[];
  readonly package_update: boolean;
  readonly packages: readonly string[];
  readonly write_files: readonly {
    readonly path: string;
    readonly content: string;
    readonly permissions: string;
    readonly owner: string;
    readonly defer?: true;
    readonly encoding?: "b64" | "gz+b64";
  }[];
  readonly runcmd: readonly (readonly string[])[];
  readonly apt?: { readonly sources: Readonly<Record<string, AptSource>> };
}

/** The host's layers merged into one cloud-config: files and commands in layer order. */
export function cloudConfig(plan: Plan, host: PlannedHost, layers: readonly Layer[]): CloudConfig {
  const files: HostFile[] = layers.flatMap((l) => l.files);
  const aptSources = Object.assign({}, ...layers.map((l) => l.aptSources ?? {})) as Record<string, AptSource>;
  return {
    hostname: host.name,
    manage_etc_hosts: true,
    users: [
      {
        name: plan.admin.user,
        groups: ["sudo"],
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: plan.admin.sshKeys.map((k) => k.publicKey),
      },
    ],
    disable_root: true,
    ssh_pwauth: false,
    // sshd gets one host key, the ed25519 one every rollout pins (render/base.ts writes it):
    // the image's keys are deleted and no other type is made. Offered an RSA or ECDSA key
    // first, Terraform's SSH client would report a mismatch against the pinned ed25519 key.
    ssh_deletekeys: true,
    ssh_genkeytypes: ["ed25519"],
    package_update: true,
    packages: host.packages,
    write_files: files.map((f) => ({
      path: f.path,
      ...packed(f),
      permissions: f.permissions,
      owner: f.owner,
      ...(f.defer ? { defer: true as const } : {}),
    })),
    runcmd: layers.flatMap((l) => l.runcmd),
    ...(Object.keys(aptSources).length > 0 ? { apt: { sources: aptSources } } : {}),
  };
}

/**
 * Hetzner's 32 KiB user_data limit is shared by every layer of a host. A file of at least
 * COMPRESS_FROM_BYTES with no deploy-time marker (Terraform must see markers as text) goes
 * gzip+base64, which cloud-init decodes (`encoding: gz+b64`); it is stored that way only when
 * that is smaller. Deterministic: gzip from zlib carries no timestamp. The review bundle still
 * shows every file as text.
 */
const COMPRESS_FROM_BYTES = 512;

function packed(f: HostFile): { content: string; encoding?: "b64" | "gz+b64" } {
  if (f.encoding) return { content: f.content, encoding: f.encoding };
  if (Buffer.byteLength(f.content) < COMPRESS_FROM_BYTES || deployValuesIn(f.content).length > 0) return { content: f.content };
  const gz = gzipSync(Buffer.from(f.content, "utf8"), { level: 9 }).toString("base64");
  return gz.length < Buffer.byteLength(f.content) ? { content: gz, encoding: "gz+b64" } : { content: f.content };
}

/** `#cloud-config` + YAML, with block scalars for file contents and no line folding. */
export function serializeCloudConfig(doc: CloudConfig): string {
  return `#cloud-config\n${stringify(doc, { lineWidth: 0, blockQuote: "literal", defaultKeyType: "PLAIN", indentSeq: false })}`;
}
