/** A file a host will hold, as rendered: what cloud-init writes, what the review shows and what a rollout hands over. */
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
  /** What the host agent does when a rollout changes this file on a running host. */
  readonly action: FileAction;
}

/**
 * What a changed file needs on a running host (Day-2), declared where the file is rendered. The
 * host agent (`bulwark-host apply`) runs `systemctl daemon-reload` first when a changed file is
 * under /etc/systemd/, then each distinct action in file order, inside the role's handoff or
 * drain, and finally waits for the role's health gate.
 * - `none`: nothing runs; the file is read by the next run of whatever uses it (`why` says when).
 * - `reload`: `systemctl reload <unit>`: hitless (haproxy hands its listening sockets over).
 * - `restart`: `systemctl restart <unit>`: the agent hands the Floating IP off or drains the
 *   host from haproxy first, where the role needs it.
 * - `run`: a command (argv, no shell), e.g. `nft -f` (atomic) or a oneshot bootstrap rerun.
 */
export type FileAction =
  | { readonly kind: "none"; readonly why: string }
  | { readonly kind: "reload"; readonly unit: string }
  | { readonly kind: "restart"; readonly unit: string }
  | { readonly kind: "run"; readonly argv: readonly string[] };

export interface HostFileOptions {
  /** @default "0644" */
  readonly permissions?: HostFile["permissions"];
  /** @default "root:root" */
  readonly owner?: string;
  readonly action: FileAction;
  /** @default - written before packages are installed */
  readonly defer?: true;
  /** @default - plain text */
  readonly encoding?: "b64";
}

/** The one way renderers make a HostFile: root-owned 0644 unless said otherwise, with its action. */
export function hostFile(path: string, content: string, options: HostFileOptions): HostFile {
  return {
    path,
    content,
    permissions: options.permissions ?? "0644",
    owner: options.owner ?? "root:root",
    ...(options.defer ? { defer: true as const } : {}),
    ...(options.encoding ? { encoding: options.encoding } : {}),
    action: options.action,
  };
}

/** Shorthands for the common actions. */
export const reload = (unit: string): FileAction => ({ kind: "reload", unit });
export const restart = (unit: string): FileAction => ({ kind: "restart", unit });
export const run = (...argv: string[]): FileAction => ({ kind: "run", argv });
export const none = (why: string): FileAction => ({ kind: "none", why });

/** One line for the review: `reload haproxy.service`, `none (read at next boot)`. */
export function describeAction(a: FileAction): string {
  switch (a.kind) {
    case "none":
      return `none (${a.why})`;
    case "reload":
    case "restart":
      return `${a.kind} ${a.unit}`;
    case "run":
      return `run ${a.argv.join(" ")}`;
  }
}
