/**
 * Maildir-style delivery into the shared spool that the parser drains (services/parser/spool.ts):
 * write `<spool>/tmp/<name>`, fsync it, close it, rename it to `<spool>/new/<name>`, fsync `new/`.
 * Only after the last step is the message durable and visible to the parser, and only then
 * may the SMTP server answer 250. Every filesystem call goes through SpoolFs, so tests can
 * make any step fail or hang.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { NAME_MAX } from "../parser/spool.ts";

/** One file being written. */
export interface SpoolFile {
  /** Writes all of `data` at the current end of the file. */
  write(data: Uint8Array): Promise<void>;
  /** fsync(2). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The filesystem calls a delivery makes (replaceable in tests). */
export interface SpoolFs {
  /** Creates `path`, which must not exist (O_CREAT | O_EXCL, never through a symlink), for writing. */
  create(path: string, mode: number): Promise<SpoolFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync(2) of a directory: makes a rename into it durable. */
  syncDir(path: string): Promise<void>;
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** SpoolFs on node:fs. */
export const nodeSpoolFs: SpoolFs = {
  async create(path, mode) {
    const fh = await open(path, CREATE_FLAGS, mode);
    return {
      async write(data) {
        let off = 0;
        while (off < data.byteLength) {
          const { bytesWritten } = await fh.write(data, off, data.byteLength - off);
          if (bytesWritten <= 0) throw Object.assign(new Error(`write to ${path} wrote nothing`), { code: "EIO" });
          off += bytesWritten;
        }
      },
      sync: () => fh.sync(),
      close: () => fh.close(),
    };
  },
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  async syncDir(path) {
    const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

/**
 * Longest name this writer makes: 13 digits of time, `.P`, a pid of up to 7 digits, `R`, 16 hex,
 * `.` and a host of up to 64 characters. The parser appends `#<host id>#<13-digit expiry>` to
 * claim a file (host ids are at most 128 characters: 104 + 15 + 128 = 247 <= NAME_MAX) and can
 * quarantine names of up to 215 bytes under the same name (services/parser/spool.ts).
 */
export const MAX_SPOOL_NAME_BYTES = 104;

/**
 * A unique spool file name in the Maildir style: `<epoch ms>.P<pid>R<16 hex>.<host>`. Only
 * `[A-Za-z0-9.-]` (no `#`, which separates a claim's fields; no leading dot, which the parser
 * skips); the host is cut to 64 characters. Unique across hosts by the host part and across
 * messages of one process by 64 random bits.
 */
export function spoolFileName(host: string, now: number = Date.now()): string {
  const safeHost = host.replace(/[^A-Za-z0-9-]/g, "-").slice(0, 64) || "host";
  const name = `${now}.P${process.pid}R${randomBytes(8).toString("hex")}.${safeHost}`;
  if (Buffer.byteLength(name) > MAX_SPOOL_NAME_BYTES || Buffer.byteLength(name) + 15 + 128 > NAME_MAX) {
    throw new Error(`spool name ${name} is over ${MAX_SPOOL_NAME_BYTES} bytes`);
  }
  return name;
}

/** An error for a spool step that did not finish within the write timeout. */
class SpoolTimeoutError extends Error {
  readonly code = "ETIMEDOUT";
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms (spool stalled?)`);
    this.name = "SpoolTimeoutError";
  }
}

/**
 * One message's way into the spool. `begin`, then `write` the bytes in order, then `commit`;
 * on any failure (or an over-size message) `abort`. Each write, and the whole commit
 * (fsync, close, rename, fsync of new/), must finish within `timeoutMs`, else it rejects
 * with SpoolTimeoutError. A step that timed out keeps running in the kernel (a stalled
 * gluster mount does not cancel calls); `abort` cleans up now and once more when it settles,
 * so a late rename into new/ does not leave behind a message that was answered 451.
 */
export class SpoolDelivery {
  readonly tmpPath: string;
  readonly newPath: string;
  private file: SpoolFile | null = null;
  private closed = false;
  private renameStarted = false;
  /** The last bounded step; settles once nothing of it runs any more (for the cleanup after a timeout). */
  private pending: Promise<unknown> | null = null;
  private aborted = false;

  constructor(
    readonly spoolDir: string,
    readonly name: string,
    private readonly fs: SpoolFs,
    private readonly timeoutMs: number,
    private readonly mode: number,
    private readonly log: (line: string) => void,
  ) {
    this.tmpPath = join(spoolDir, "tmp", name);
    this.newPath = join(spoolDir, "new", name);
  }

  private bounded<T>(what: string, step: () => Promise<T>): Promise<T> {
    const p = step();
    this.pending = p;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SpoolTimeoutError(what, this.timeoutMs)), this.timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** Creates tmp/<name>. */
  async begin(): Promise<void> {
    // Assigned when the create settles, even after a timeout, so that abort closes it.
    await this.bounded(`creating ${this.tmpPath}`, async () => {
      this.file = await this.fs.create(this.tmpPath, this.mode);
    });
  }

  /** Appends `data`. */
  async write(data: Uint8Array): Promise<void> {
    const file = this.file;
    if (!file) throw new Error("SpoolDelivery.write before begin");
    await this.bounded(`writing ${this.tmpPath}`, () => file.write(data));
  }

  /** fsync, close, rename into new/, fsync new/: all of it within the timeout. */
  async commit(): Promise<void> {
    const file = this.file;
    if (!file) throw new Error("SpoolDelivery.commit before begin");
    // Each step first checks that the delivery was not given up meanwhile: after a timeout
    // this function keeps running, and must not rename a message the sender was told to retry.
    const step = async (fn: () => Promise<void>) => {
      if (this.aborted) throw new Error(`delivery of ${this.name} was given up`);
      await fn();
    };
    await this.bounded(`storing ${this.newPath}`, async () => {
      await step(() => file.sync());
      await step(() => {
        this.closed = true;
        return file.close();
      });
      await step(() => {
        this.renameStarted = true;
        return this.fs.rename(this.tmpPath, this.newPath);
      });
      await step(() => this.fs.syncDir(join(this.spoolDir, "new")));
    });
  }

  /**
   * Gives the message up: closes the file, removes tmp/<name> and, when the rename may have
   * happened, new/<name> (the sender was or will be told to retry; should the parser have
   * claimed it already, the retry is the same content, so the same key, and no harm). Never
   * waits for the filesystem: a stalled mount must not hold up the reply.
   */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const cleanup = async () => {
      if (this.file && !this.closed) {
        this.closed = true;
        // Not awaited: closing waits for a write still stuck on the descriptor.
        void this.file.close().catch(() => undefined);
      }
      const paths = this.renameStarted ? [this.tmpPath, this.newPath] : [this.tmpPath];
      for (const p of paths) {
        await this.fs.unlink(p).catch((err: NodeJS.ErrnoException) => {
          if (err?.code !== "ENOENT") this.log(`cleanup: removing ${p} failed: ${err?.code ?? err?.message ?? String(err)}`);
        });
      }
    };
    const pending = this.pending;
    void cleanup().then(() => {
      // A step that timed out may still complete (a late rename into new/): clean up once more.
      if (pending) void pending.then(cleanup, cleanup);
    });
  }
}
