import { createHash, randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { lstat, mkdir, open, readdir, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../store/atomic-file.ts";
import { canonicalJson } from "../store/canonical-json.ts";
import type { FailureKind } from "./pool.ts";

/**
 * Maildir-style spool shared by several parser hosts.
 *
 *   <root>/tmp/          delivery writes here first (not read by the parser)
 *   <root>/new/<f>       delivered, unclaimed
 *   <root>/cur/<f>#<host>#<expiryMs>   claimed by <host> until <expiryMs> (epoch ms)
 *   <root>/quarantine/<f> + <f>.reason.json
 *
 * Every state change is one rename(2) of the message file, which is atomic on one
 * filesystem: of several hosts renaming the same source, exactly one succeeds and the
 * others get ENOENT. Claim = new/<f> -> cur/<f>#me#exp. Renew = cur/<f>#me#exp ->
 * cur/<f>#me#exp2. Reclaim of an expired lease = cur/<f>#other#exp -> cur/<f>#me#exp2.
 * Release = cur/... -> new/<f>. Quarantine = cur/... -> quarantine/<f>. Completion
 * unlinks the claim file; ENOENT there means the lease was lost (reclaimed), which is
 * harmless because output is keyed by content hash and byte-identical.
 *
 * Entries are untrusted: anything that can write new/ can put a symlink, FIFO, socket,
 * directory or device node there, or a name too long to claim. A claimed entry is opened
 * with O_NOFOLLOW | O_NONBLOCK after an lstat, and only a regular file (fstat on the opened
 * descriptor) is handed on; everything else is quarantined with a reason naming its type,
 * never opened for reading, never followed. A name whose claim name is too long for the
 * filesystem (ENAMETOOLONG) is quarantined straight from new/ under a short unique name.
 */

/** One claimed message. Operations on a claim are serialized by the Spool. */
export interface Claim {
  /** The message file name as delivered to new/. */
  readonly name: string;
  /** Current file name in cur/. Changes on renew. */
  claimName: string;
  expiresAt: number;
  state: "held" | "done" | "released" | "quarantined" | "lost";
  /** Serializes renew/complete/release/quarantine on this claim. */
  chain: Promise<unknown>;
  /** Name in quarantine/ once quarantined (the delivered name unless that was too long). */
  quarantineName?: string;
}

/** Why a spool entry that is not a regular file was quarantined (it is never read). */
type EntryReason = "symlink" | "fifo" | "socket" | "directory" | "device" | "special-file";

/** Every reason a quarantine/<f>.reason.json can carry. */
export type QuarantineKind = FailureKind | EntryReason | "name-too-long";

/** The JSON written next to a quarantined message. */
interface QuarantineReason {
  reason: QuarantineKind;
  detail: string;
  time: string;
  host: string;
  /** The delivered name (at most NAME_MAX characters) when it was quarantined under another name. */
  originalName?: string;
}

/** An entry quarantined without a claim (its name was too long to claim). */
export interface QuarantinedEntry {
  /** The delivered name. */
  name: string;
  /** Its name in quarantine/. */
  quarantineName: string;
  reason: QuarantineKind;
  detail: string;
}

/** A claimed entry opened for reading, or why it is not a regular file (closed again, never read). */
export type OpenedClaim = { ok: true; fh: FileHandle } | { ok: false; reason: EntryReason; detail: string };

/** Longest file name (one path component) in bytes on Linux filesystems (ext4, xfs, tmpfs, GlusterFS). */
export const NAME_MAX = 255;

/**
 * Bytes the quarantine appends to a message name: `.reason.json` (12) plus the temp suffix
 * writeFileAtomic adds while writing it, `.tmp-<pid>-<12 hex>` (at most 5 + 10 + 1 + 12). A
 * name longer than NAME_MAX minus this (215 bytes) is quarantined under a short name, so
 * quarantining never fails with ENAMETOOLONG itself.
 */
export const QUARANTINE_SUFFIX_BYTES = ".reason.json".length + ".tmp-".length + 10 + 1 + 12;

/** Flags for opening a claimed entry: never follow a symlink (ELOOP), never block (FIFO). */
const OPEN_CLAIMED_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** rename(2) errors that mean "that quarantine name cannot be used": taken by another type, or too long. */
const USE_SHORT_NAME_ON = new Set(["EISDIR", "ENOTDIR", "ENOTEMPTY", "EEXIST", "ENAMETOOLONG"]);

const SEP = "#";
const HOST_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Splits a cur/ file name into message name, host and expiry; null if not a claim name. */
export function parseClaimName(claimName: string): { name: string; host: string; expiresAt: number } | null {
  const i2 = claimName.lastIndexOf(SEP);
  if (i2 <= 0) return null;
  const i1 = claimName.lastIndexOf(SEP, i2 - 1);
  if (i1 <= 0) return null;
  const expiresAt = Number(claimName.slice(i2 + 1));
  const host = claimName.slice(i1 + 1, i2);
  if (!Number.isSafeInteger(expiresAt) || !HOST_PATTERN.test(host)) return null;
  return { name: claimName.slice(0, i1), host, expiresAt };
}

function isEnoent(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "ENOENT";
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** The longest prefix of `s` (whole code points) that fits in `maxBytes` of UTF-8. */
function utf8Prefix(s: string, maxBytes: number): string {
  let out = "";
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** A name for logs and details: at most `max` code points, marked when cut. */
export function displayName(name: string, max = 64): string {
  const cps = Array.from(name);
  return cps.length <= max ? name : `${cps.slice(0, max).join("")}…(${Buffer.byteLength(name)} bytes)`;
}

/**
 * A short, unique quarantine name for `name`: its first 64 bytes, 16 hex of its sha256 (the
 * same for every copy of that name) and 8 random hex (unique per attempt, so hosts racing to
 * quarantine the same entry never share, and so never remove, each other's reason file).
 * At most 90 bytes.
 */
function shortQuarantineName(name: string): string {
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 16);
  return `${utf8Prefix(name, 64)}~${hash}~${randomBytes(4).toString("hex")}`;
}

/** Why a stat says an entry is not a regular file; null for a regular file. */
function entryReason(st: Stats, how: string): { reason: EntryReason; detail: string } | null {
  if (st.isFile()) return null;
  if (st.isSymbolicLink()) return { reason: "symlink", detail: `symbolic link (${how}): not followed, its target was not read` };
  if (st.isFIFO()) return { reason: "fifo", detail: `named pipe (FIFO) (${how}): not read` };
  if (st.isSocket()) return { reason: "socket", detail: `socket (${how}): not read` };
  if (st.isDirectory()) return { reason: "directory", detail: `directory (${how}): its contents were not read` };
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    return { reason: "device", detail: `${st.isCharacterDevice() ? "character" : "block"} device, rdev ${st.rdev} (${how}): not read` };
  }
  return { reason: "special-file", detail: `not a regular file, mode 0o${st.mode.toString(8)} (${how}): not read` };
}

/**
 * Opens `path` for reading only if it is a regular file. `lstat` first, so a symlink, FIFO,
 * socket or device node is never even opened (opening a device runs its driver); then
 * open(O_RDONLY | O_NOFOLLOW | O_NONBLOCK), which cannot follow a symlink (ELOOP) or block on a
 * FIFO; then `fstat` on the descriptor decides, since that is the file the worker will read
 * (the lstat is only a cheap early exit). A non-regular entry comes back as its reason, with
 * the descriptor closed. `precheck: false` skips the lstat (tests of the fstat path).
 */
export async function openRegularFile(path: string, { precheck = true }: { precheck?: boolean } = {}): Promise<OpenedClaim> {
  if (precheck) {
    const bad = entryReason(await lstat(path), "lstat");
    if (bad) return { ok: false, ...bad };
  }
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_CLAIMED_FLAGS);
  } catch (err) {
    // ELOOP: a symlink (O_NOFOLLOW). ENXIO: a socket, or a device with no driver. EACCES or
    // EPERM: a device on a nodev mount or under a device cgroup (systemd PrivateDevices=).
    // The lstat confirms the entry's type, so a fault elsewhere (an I/O error on a regular
    // file, a broken mount) is not blamed on the entry and stays a retryable error.
    const st = await lstat(path).catch(() => null);
    const bad = st && entryReason(st, `open: ${errCode(err) ?? String(err)}`);
    if (bad) return { ok: false, ...bad };
    throw err;
  }
  let st: Stats;
  try {
    st = await fh.stat();
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
  const bad = entryReason(st, "fstat on the opened descriptor");
  if (bad) {
    await fh.close().catch(() => undefined);
    return { ok: false, ...bad };
  }
  return { ok: true, fh };
}

/** A spool directory as seen by one host. */
export class Spool {
  readonly newDir: string;
  readonly curDir: string;
  readonly quarantineDir: string;
  readonly tmpDir: string;
  /**
   * Called for every entry quarantined without a claim (claim or reclaim failed with
   * ENAMETOOLONG); `claim` and `reclaimExpired` then skip it. The service counts and logs these.
   */
  onUnclaimedQuarantine: ((entry: QuarantinedEntry) => void) | null = null;

  constructor(
    readonly root: string,
    readonly hostId: string,
    readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!HOST_PATTERN.test(hostId)) {
      throw new Error(`host id ${JSON.stringify(hostId)} is invalid: use 1-128 characters of [A-Za-z0-9._-]`);
    }
    if (!Number.isInteger(leaseMs) || leaseMs <= 0) {
      throw new Error(`lease ${leaseMs} ms is invalid: use a positive integer number of milliseconds`);
    }
    this.newDir = join(root, "new");
    this.curDir = join(root, "cur");
    this.quarantineDir = join(root, "quarantine");
    this.tmpDir = join(root, "tmp");
  }

  /** Creates cur/, quarantine/ and tmp/ (new/ must exist: it is the mount check). */
  async ensureWorkDirs(): Promise<void> {
    for (const d of [this.curDir, this.quarantineDir, this.tmpDir]) await mkdir(d, { recursive: true });
  }

  /** Creates all spool directories including new/ (labs and tests). */
  async init(): Promise<void> {
    await mkdir(this.newDir, { recursive: true });
    await this.ensureWorkDirs();
  }

  /** Up to `max` file names in new/ (unsorted, directory order). */
  async listNew(max: number): Promise<string[]> {
    const names = await readdir(this.newDir);
    return names.filter((n) => !n.startsWith(".")).slice(0, max);
  }

  /** Number of files in new/. */
  async queueDepth(): Promise<number> {
    return (await readdir(this.newDir)).filter((n) => !n.startsWith(".")).length;
  }

  private claimNameFor(name: string, expiresAt: number): string {
    return `${name}${SEP}${this.hostId}${SEP}${expiresAt}`;
  }

  /** Full path of the claimed file. */
  pathOf(claim: Claim): string {
    return join(this.curDir, claim.claimName);
  }

  /**
   * Claims new/<name>; returns null when another host got it first, or when the claim name
   * is too long for the filesystem (ENAMETOOLONG): then the entry is quarantined as
   * "name-too-long" (reported through onUnclaimedQuarantine) instead of failing every poll.
   */
  async claim(name: string): Promise<Claim | null> {
    const expiresAt = this.now() + this.leaseMs;
    const claimName = this.claimNameFor(name, expiresAt);
    try {
      await rename(join(this.newDir, name), join(this.curDir, claimName));
    } catch (err) {
      if (isEnoent(err)) return null;
      if (errCode(err) === "ENAMETOOLONG") {
        await this.quarantineUnclaimable(join(this.newDir, name), name, claimName);
        return null;
      }
      throw err;
    }
    return { name, claimName, expiresAt, state: "held", chain: Promise.resolve() };
  }

  /** Quarantines an entry whose claim name `claimName` is too long, straight from where it is. */
  private async quarantineUnclaimable(from: string, name: string, claimName: string): Promise<void> {
    const detail =
      `name of ${Buffer.byteLength(name)} bytes cannot be claimed by host ${this.hostId}: its claim name would be ` +
      `${Buffer.byteLength(claimName)} bytes, over the filesystem's name limit (ENAMETOOLONG; NAME_MAX is ${NAME_MAX}); ` +
      `not opened. The name begins ${JSON.stringify(displayName(name))}`;
    const quarantineName = await this.moveToQuarantine(from, name, "name-too-long", detail);
    if (quarantineName !== null) this.onUnclaimedQuarantine?.({ name, quarantineName, reason: "name-too-long", detail });
  }

  /**
   * Takes over up to `max` claims in cur/ whose lease has expired (any host, including a
   * previous incarnation of this one). Live leases are left alone.
   */
  async reclaimExpired(max: number): Promise<Claim[]> {
    const out: Claim[] = [];
    const now = this.now();
    for (const entry of await readdir(this.curDir)) {
      if (out.length >= max) break;
      const parsed = parseClaimName(entry);
      if (!parsed || parsed.expiresAt > now) continue;
      const expiresAt = this.now() + this.leaseMs;
      const claimName = this.claimNameFor(parsed.name, expiresAt);
      try {
        await rename(join(this.curDir, entry), join(this.curDir, claimName));
      } catch (err) {
        if (isEnoent(err)) continue; // another host reclaimed it first
        if (errCode(err) === "ENAMETOOLONG") {
          // Claimed by a host with a shorter id; this host cannot hold it. Quarantined rather
          // than skipped for ever (and rather than aborting the scan of the other entries).
          await this.quarantineUnclaimable(join(this.curDir, entry), parsed.name, claimName);
          continue;
        }
        throw err;
      }
      out.push({ name: parsed.name, claimName, expiresAt, state: "held", chain: Promise.resolve() });
    }
    return out;
  }

  private serialize<T>(claim: Claim, fn: () => Promise<T>): Promise<T> {
    const next = claim.chain.then(fn, fn);
    claim.chain = next.catch(() => undefined);
    return next;
  }

  /** Extends the lease; false (and state "lost") when the claim was taken over. */
  renew(claim: Claim): Promise<boolean> {
    return this.serialize(claim, async () => {
      if (claim.state !== "held") return false;
      const expiresAt = this.now() + this.leaseMs;
      const claimName = this.claimNameFor(claim.name, expiresAt);
      try {
        await rename(this.pathOf(claim), join(this.curDir, claimName));
      } catch (err) {
        if (isEnoent(err)) {
          claim.state = "lost";
          return false;
        }
        throw err;
      }
      claim.claimName = claimName;
      claim.expiresAt = expiresAt;
      return true;
    });
  }

  /** Removes the claim after output was stored; false when the lease had been lost. */
  complete(claim: Claim): Promise<boolean> {
    return this.finish(claim, () => unlink(this.pathOf(claim)), "done");
  }

  /** Puts the message back into new/ for any host to claim. */
  release(claim: Claim): Promise<boolean> {
    return this.finish(claim, () => rename(this.pathOf(claim), join(this.newDir, claim.name)), "released");
  }

  /**
   * Ends a held claim with `op` on its file, then marks it `state`. A file already gone means
   * another host reclaimed it (the claim expired): the claim is lost and nothing else happens.
   */
  private finish(claim: Claim, op: () => Promise<void>, state: "done" | "released"): Promise<boolean> {
    return this.serialize(claim, async () => {
      if (claim.state !== "held") return false;
      try {
        await op();
      } catch (err) {
        if (isEnoent(err)) {
          claim.state = "lost";
          return false;
        }
        throw err;
      }
      claim.state = state;
      return true;
    });
  }

  /**
   * Moves the message to quarantine/ with a reason file. The reason is written first; if
   * the move then fails because the lease was lost, the reason file is removed again.
   */
  quarantine(claim: Claim, reason: QuarantineKind, detail: string): Promise<boolean> {
    return this.serialize(claim, async () => {
      if (claim.state !== "held") return false;
      const quarantineName = await this.moveToQuarantine(this.pathOf(claim), claim.name, reason, detail);
      if (quarantineName === null) {
        claim.state = "lost";
        return false;
      }
      claim.quarantineName = quarantineName;
      claim.state = "quarantined";
      return true;
    });
  }

  /**
   * Writes quarantine/<q>.reason.json, then renames `from` (never opened, never followed: a
   * rename moves a symlink itself) to quarantine/<q>. <q> is `name`, or a short unique name
   * when `name` plus the reason file's suffixes would pass NAME_MAX, or when the rename finds
   * `name` taken by an entry of another type (a directory onto a file or the reverse) or
   * too long for this filesystem. Returns <q>, or null when `from` is gone (ENOENT: another
   * host moved it); the reason file is removed again whenever the rename fails.
   */
  private async moveToQuarantine(from: string, name: string, reason: QuarantineKind, detail: string): Promise<string | null> {
    let qname = Buffer.byteLength(name) + QUARANTINE_SUFFIX_BYTES <= NAME_MAX ? name : shortQuarantineName(name);
    for (;;) {
      const body: QuarantineReason = {
        reason,
        detail: detail.slice(0, 4000),
        time: new Date(this.now()).toISOString(),
        host: this.hostId,
        ...(qname !== name ? { originalName: Array.from(name).slice(0, NAME_MAX).join("") } : {}),
      };
      const reasonPath = join(this.quarantineDir, `${qname}.reason.json`);
      try {
        await writeFileAtomic(reasonPath, canonicalJson(body));
      } catch (err) {
        if (qname === name && errCode(err) === "ENAMETOOLONG") {
          qname = shortQuarantineName(name);
          continue;
        }
        throw err;
      }
      try {
        await rename(from, join(this.quarantineDir, qname));
        return qname;
      } catch (err) {
        await unlink(reasonPath).catch(() => undefined);
        if (isEnoent(err)) return null;
        if (qname === name && USE_SHORT_NAME_ON.has(errCode(err) ?? "")) {
          qname = shortQuarantineName(name);
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * Opens the claimed entry for reading if it is a regular file (see openRegularFile: no
   * symlink is followed, no FIFO blocks, nothing else is opened for reading); otherwise says
   * why, and the caller quarantines it. Serialized with renew, so the name is current while
   * opening; the open descriptor stays valid through later renames (renew, release,
   * quarantine). The caller closes it.
   */
  openClaimed(claim: Claim): Promise<OpenedClaim> {
    return this.serialize(claim, () => openRegularFile(this.pathOf(claim)));
  }
}
