/** A file a host will hold, as rendered: what cloud-init writes and what the review shows. */
export interface HostFile {
  /** Absolute path on the host. */
  readonly path: string;
  readonly content: string;
  /** Octal mode, as cloud-init's write_files takes it. */
  readonly permissions: "0644" | "0755" | "0600" | "0400";
  readonly owner: string;
  /**
   * Write the file after packages are installed (cloud-init write_files `defer: true`), for an
   * owner that a package creates (the keyFile owned by mongodb).
   * @default - written before packages are installed
   */
  readonly defer?: true;
  /** `b64`: `content` is a base64 deploy marker (a multi-line secret); cloud-init decodes it. */
  readonly encoding?: "b64";
}
