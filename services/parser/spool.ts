import { mkdir, open, readdir, rename, unlink, type FileHandle } from "node:fs/promises";
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
}

/** The JSON written next to a quarantined message. */
export interface QuarantineReason {
  reason: FailureKind;
  detail: string;
  time: string;
  host: string;
}

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

/** A spool directory as seen by one host. */
export class Spool {
  readonly newDir: string;
  readonly curDir: string;
  readonly quarantineDir: string;
  readonly tmpDir: string;

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

  /** Claims new/<name>; returns null when another host got it first. */
  async claim(name: string): Promise<Claim | null> {
    const expiresAt = this.now() + this.leaseMs;
    const claimName = this.claimNameFor(name, expiresAt);
    try {
      await rename(join(this.newDir, name), join(this.curDir, claimName));
    } catch (err) {
      if (isEnoent(err)) return null;
      throw err;
    }
    return { name, claimName, expiresAt, state: "held", chain: Promise.resolve() };
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
    return this.serialize(claim, async () => {
      if (claim.state !== "held") return false;
      try {
        await unlink(this.pathOf(claim));
      } catch (err) {
        if (isEnoent(err)) {
          claim.state = "lost";
          return false;
        }
        throw err;
      }
      claim.state = "done";
      return true;
    });
  }

  /** Puts the message back into new/ for any host to claim. */
  release(claim: Claim): Promise<boolean> {
    return this.serialize(claim, async () => {
      if (claim.state !== "held") return false;
      try {
        await rename(this.pathOf(claim), join(this.newDir, claim.name));
      } catch (err) {
        if (isEnoent(err)) {
          claim.state = "lost";
          return false;
        }
        throw err;
      }
      claim.state = "released";
      return true;
    });
  }

  /**
   * Moves the message to quarantine/ with a reason file. The reason is written first; if
   * the move then fails because the lease was lost, the reason file is removed again.
   */
  quarantine(claim: Claim, reason: FailureKind, detail: string): Promise<boolean> {
    return this.serialize(claim, async () => {
      if (claim.state !== "held") return false;
      const body: QuarantineReason = { reason, detail: detail.slice(0, 4000), time: new Date(this.now()).toISOString(), host: this.hostId };
      const reasonPath = join(this.quarantineDir, `${claim.name}.reason.json`);
      await writeFileAtomic(reasonPath, canonicalJson(body));
      try {
        await rename(this.pathOf(claim), join(this.quarantineDir, claim.name));
      } catch (err) {
        if (isEnoent(err)) {
          claim.state = "lost";
          await unlink(reasonPath).catch(() => undefined);
          return false;
        }
        throw err;
      }
      claim.state = "quarantined";
      return true;
    });
  }

  /**
   * Opens the claimed file for reading. Serialized with renew, so the name is current while
   * opening; the open descriptor stays valid through later renames (renew, release,
   * quarantine). The caller closes it.
   */
  openClaimed(claim: Claim): Promise<FileHandle> {
    return this.serialize(claim, () => open(this.pathOf(claim), "r"));
  }
}
