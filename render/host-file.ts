/** A file a host will hold, as rendered: what cloud-init writes and what the review shows. */
export interface HostFile {
  /** Absolute path on the host. */
  readonly path: string;
  readonly content: string;
  /** Octal mode, as cloud-init's write_files takes it. */
  readonly permissions: "0644" | "0755" | "0600" | "0400";
  readonly owner: string;
}
