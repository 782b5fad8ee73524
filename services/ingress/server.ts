/**
 * The SMTP receiver: accepts mail for the stack's domains and delivers each message into the
 * spool the parser drains (services/parser/spool.ts), Maildir style (services/ingress/spool-writer.ts).
 * The reply to DATA is 250 only once the message is in new/ and fsynced; any spool failure is a
 * 451 (the sender retries), an over-size message a 552. Each spool file starts with the
 * envelope line (services/parser/envelope.ts), which the parser strips before hashing.
 * Built on smtp-server; see services/ingress/README.md for the settings and their reasons.
 */
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { domainToASCII } from "node:url";
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import { encodeEnvelopeLine } from "../parser/envelope.ts";
import type { MessageEnvelope } from "../store/types.ts";
import { nodeSpoolFs, SpoolDelivery, spoolFileName, type SpoolFs } from "./spool-writer.ts";

/** Defaults of the options below (also the defaults of the INGRESS_* variables). */
export const INGRESS_DEFAULTS = {
  maxMessageBytes: 25 * 1024 * 1024,
  maxRecipients: 100,
  maxClients: 500,
  maxUnauthenticatedCommands: 10,
  socketTimeoutMs: 300_000,
  closeTimeoutMs: 30_000,
  writeTimeoutMs: 30_000,
  fileMode: 0o640,
} as const;

/** Longest address accepted in MAIL FROM or RCPT TO: RFC 5321 §4.5.3.1.3 caps a path at 256 octets with its brackets. */
const MAX_ADDRESS_OCTETS = 254;

/** PEM key and certificate for STARTTLS. */
export interface IngressTls {
  key: string | Buffer;
  cert: string | Buffer;
}

/** Options of the SMTP ingress. */
export interface IngressServerOptions {
  /** Spool root: messages go to `<spoolDir>/tmp/`, then `<spoolDir>/new/`. Required: it is the parser's spool. */
  spoolDir: string;
  /**
   * Recipient domains accepted (case-insensitive; IDNs as punycode or Unicode). Required and
   * non-empty: anything else is refused with 550, so the server is never an open relay.
   */
  domains: readonly string[];
  /**
   * Largest message in bytes, advertised as SIZE and counted while reading DATA; over it is 552
   * and nothing is stored. @default 25 MiB - what large providers accept; bounds spool use per message.
   */
  maxMessageBytes?: number;
  /** Recipients per message; more get 452 "too many recipients". @default 100 - the RFC 5321 §4.5.3.1.8 minimum a server must take. */
  maxRecipients?: number;
  /** Concurrent connections; more get 421. @default 500 - bounds sockets and buffers per host. */
  maxClients?: number;
  /**
   * Commands a connection may send outside a mail transaction (from the greeting or the last
   * message to the next MAIL, MAIL included) before it gets 421 and is closed. Counted here:
   * smtp-server's own `maxAllowedUnauthenticatedCommands` only counts while AUTH is required,
   * and this server offers no AUTH. @default 10 - EHLO, STARTTLS, EHLO, MAIL fit with room to spare.
   */
  maxUnauthenticatedCommands?: number;
  /**
   * Idle time before a connection is closed with 421, also while waiting for DATA lines.
   * @default 300000 - RFC 5321 §4.5.3.2 has servers wait at least 5 minutes.
   */
  socketTimeoutMs?: number;
  /**
   * On close(): how long sessions receiving or storing a message get to finish before the
   * remaining connections get 421. @default 30000 - a few MB at modest speed, inside systemd's 90 s stop timeout.
   */
  closeTimeoutMs?: number;
  /** Name in the banner and EHLO reply, and `receivedBy` in the envelope. @default os.hostname() */
  hostName?: string;
  /**
   * Addresses allowed to open a connection with a PROXY v1 header (the load balancers' private
   * addresses); for them the header is required and its source address becomes the client's.
   * Others are never asked for one (a PROXY line from them is refused). @default [] - no PROXY.
   */
  useProxy?: readonly string[];
  /** Key and certificate (PEM) for STARTTLS. @default none - STARTTLS is not offered. */
  tls?: IngressTls;
  /**
   * Bound on each spool write, and on the whole fsync-close-rename-fsync of a message; over it
   * is 451. @default 30000 - a spool stalled by the mount (a gluster brick away for up to its 42 s
   * ping timeout) gets a 451 long before the sender's 10-minute wait for the reply runs out.
   */
  writeTimeoutMs?: number;
  /** Mode of spool files. @default 0o640 - the parser reads them through a shared group; no one else. */
  fileMode?: number;
  /** Where operational lines go. @default - stderr */
  log?: (line: string) => void;
  /** Filesystem calls of spool writes. @default - node:fs (tests inject failures and hangs) */
  fs?: Partial<SpoolFs>;
}

/** A running ingress. */
export interface IngressServer {
  readonly smtp: SMTPServer;
  /** Messages being received or stored right now. */
  readonly inFlight: number;
  /** True once close() was called. */
  readonly closing: boolean;
  /** Starts listening; resolves with the bound address. */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /**
   * Stops accepting connections; sessions not in DATA get 421 at once; sessions receiving or
   * storing a message get up to closeTimeoutMs to finish (their reply is sent), then every
   * remaining connection gets 421. Resolves when the listener is closed.
   */
  close(): Promise<void>;
}

type SmtpError = Error & { responseCode: number };
const smtpError = (responseCode: number, message: string): SmtpError => Object.assign(new Error(message), { responseCode });

/** A connection as smtp-server keeps it. */
type Connection = SMTPServer["connections"] extends Set<infer C> ? C : never;

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`ingress: ${name}=${v} is invalid: use a positive integer`);
  return v;
}

/** The ASCII (punycode) form of a domain, lower case; null when it is not a domain name. */
export function normalizeDomain(domain: string): string | null {
  const ascii = domainToASCII(domain.trim().toLowerCase().replace(/\.$/, ""));
  return ascii !== "" && /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/.test(ascii) && ascii.length <= 253 ? ascii : null;
}

/** Size of the chunks written to the spool: DATA arrives in small pieces, the spool prefers fewer, larger writes. */
const WRITE_CHUNK_BYTES = 64 * 1024;

/** Creates the SMTP ingress (not yet listening). */
export function createIngressServer(opts: IngressServerOptions): IngressServer {
  if (!opts.spoolDir) throw new Error("ingress: spoolDir is required: the parser's spool root");
  const domains = new Set<string>();
  for (const d of opts.domains ?? []) {
    const n = normalizeDomain(d);
    if (n === null) throw new Error(`ingress: domain ${JSON.stringify(d)} is not a domain name`);
    domains.add(n);
  }
  if (domains.size === 0) throw new Error("ingress: domains is empty: list the recipient domains to accept (the server never relays)");
  const d = INGRESS_DEFAULTS;
  const maxMessageBytes = positiveInt("maxMessageBytes", opts.maxMessageBytes ?? d.maxMessageBytes);
  const maxRecipients = positiveInt("maxRecipients", opts.maxRecipients ?? d.maxRecipients);
  const maxClients = positiveInt("maxClients", opts.maxClients ?? d.maxClients);
  const maxCommands = positiveInt("maxUnauthenticatedCommands", opts.maxUnauthenticatedCommands ?? d.maxUnauthenticatedCommands);
  const socketTimeoutMs = positiveInt("socketTimeoutMs", opts.socketTimeoutMs ?? d.socketTimeoutMs);
  const closeTimeoutMs = positiveInt("closeTimeoutMs", opts.closeTimeoutMs ?? d.closeTimeoutMs);
  const writeTimeoutMs = positiveInt("writeTimeoutMs", opts.writeTimeoutMs ?? d.writeTimeoutMs);
  const fileMode = opts.fileMode ?? d.fileMode;
  const hostName = opts.hostName || hostname();
  const fs: SpoolFs = { ...nodeSpoolFs, ...opts.fs };
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const useProxy = [...(opts.useProxy ?? [])];
  if (useProxy.includes("*")) throw new Error("ingress: useProxy must list addresses; '*' would let any client claim any address");

  /** Sessions (by id) whose message is being received or stored. */
  const busy = new Set<string>();
  const inflight = new Set<Promise<void>>();
  let closing = false;
  let closed: Promise<void> | null = null;

  const onConnect = (_session: SMTPServerSession, cb: (err?: Error | null) => void) => {
    cb(closing ? smtpError(421, `${hostName} shutting down, try again later`) : null);
  };

  const onMailFrom = (address: SMTPServerAddress, _session: SMTPServerSession, cb: (err?: Error | null) => void) => {
    if (closing) return cb(smtpError(421, `${hostName} shutting down, try again later`));
    if (Buffer.byteLength(address.address) > MAX_ADDRESS_OCTETS) return cb(smtpError(501, `sender address longer than ${MAX_ADDRESS_OCTETS} octets`));
    cb();
  };

  const onRcptTo = (address: SMTPServerAddress, _session: SMTPServerSession, cb: (err?: Error | null) => void) => {
    const addr = address.address;
    if (Buffer.byteLength(addr) > MAX_ADDRESS_OCTETS) return cb(smtpError(501, `recipient address longer than ${MAX_ADDRESS_OCTETS} octets`));
    const at = addr.lastIndexOf("@");
    if (at <= 0 || at === addr.length - 1) return cb(smtpError(553, "bad recipient address: use local-part@domain"));
    const domain = addr.slice(at + 1);
    // A domain literal ([192.0.2.1]) or any other domain is not ours: refused, never relayed.
    if (domain.startsWith("[")) return cb(smtpError(550, "relay not permitted"));
    const normalized = normalizeDomain(domain);
    if (normalized === null) return cb(smtpError(553, "bad recipient address: the domain is not a domain name"));
    if (!domains.has(normalized)) return cb(smtpError(550, "relay not permitted"));
    cb();
  };

  /** Reads one message from `stream` into the spool; resolves with the reply (never rejects). */
  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<{ err: SmtpError | null; message?: string }> {
    const mailFrom = session.envelope.mailFrom;
    const envelope: MessageEnvelope = {
      mailFrom: mailFrom === false ? null : mailFrom.address || null,
      rcptTo: session.envelope.rcptTo.map((r) => r.address),
      clientAddress: session.remoteAddress,
      receivedAt: new Date().toISOString(),
      receivedBy: hostName,
    };
    const delivery = new SpoolDelivery(opts.spoolDir, spoolFileName(hostName), fs, writeTimeoutMs, fileMode, log);
    const what = `message ${delivery.name} from ${envelope.clientAddress} (session ${session.id})`;
    let failure: unknown = null;
    let bytes = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      try {
        await delivery.write(data);
      } catch (err) {
        failure = err;
      }
    };
    try {
      await delivery.begin();
      await delivery.write(encodeEnvelopeLine(envelope));
    } catch (err) {
      failure = err;
    }
    try {
      // Read to the end whatever happens: the reply is due only after the final dot.
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytes += chunk.byteLength;
        if (bytes > maxMessageBytes || failure !== null) continue;
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= WRITE_CHUNK_BYTES) await flush();
      }
    } catch (err) {
      delivery.abort();
      log(`${what}: connection lost during DATA after ${bytes} bytes: ${(err as Error).message}; nothing stored`);
      return { err: smtpError(451, "connection lost, message not stored") };
    }
    if (!stream.readableEnded) {
      delivery.abort();
      log(`${what}: DATA ended early after ${bytes} bytes; nothing stored`);
      return { err: smtpError(451, "message incomplete, not stored") };
    }
    if (bytes > maxMessageBytes || stream.sizeExceeded) {
      delivery.abort();
      log(`${what}: ${bytes} bytes over the ${maxMessageBytes}-byte limit; refused with 552, nothing stored`);
      return { err: smtpError(552, `message exceeds fixed maximum message size ${maxMessageBytes}`) };
    }
    if (failure === null && pendingBytes > 0) await flush();
    if (failure === null) {
      try {
        await delivery.commit();
      } catch (err) {
        failure = err;
      }
    }
    if (failure !== null) {
      delivery.abort();
      const e = failure as NodeJS.ErrnoException;
      log(`${what}: spool write failed (${e?.code ?? "error"}: ${e?.message ?? String(failure)}); answered 451, nothing stored`);
      return { err: smtpError(451, "temporary failure storing the message, try again later") };
    }
    log(`${what}: stored in new/ (${bytes} bytes, ${envelope.rcptTo.length} recipient(s))`);
    return { err: null, message: `OK: queued as ${delivery.name}` };
  }

  const onData = (stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void) => {
    busy.add(session.id);
    const task = receive(stream, session)
      .catch((err: Error) => {
        log(`session ${session.id}: receiving a message failed: ${err.message}; answered 451`);
        return { err: smtpError(451, "temporary failure storing the message, try again later"), message: undefined };
      })
      .then((r) => {
        busy.delete(session.id);
        cb(r.err, r.message);
      });
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  };

  const smtp = new SMTPServer({
    name: hostName,
    banner: "Bulwark ingress",
    logger: false,
    // Reverse DNS of every client costs a lookup per connection and decides nothing here.
    disableReverseLookup: true,
    size: maxMessageBytes,
    rejectOversized: true,
    maxRecipients,
    maxClients,
    maxAllowedUnauthenticatedCommands: maxCommands,
    socketTimeout: socketTimeoutMs,
    closeTimeout: closeTimeoutMs,
    useProxy: useProxy.length > 0 ? useProxy : false,
    authOptional: true,
    disabledCommands: opts.tls ? ["AUTH"] : ["AUTH", "STARTTLS"],
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    onConnect,
    onMailFrom,
    onRcptTo,
    onData,
  });
  smtp.on("error", (err: Error & { code?: string; remoteAddress?: string }) => {
    log(`smtp: ${err.remoteAddress ? `${err.remoteAddress}: ` : ""}${err.code ? `${err.code} ` : ""}${err.message}`);
  });

  // Counts commands outside a mail transaction per connection (see maxUnauthenticatedCommands).
  const connect = smtp.connect.bind(smtp);
  smtp.connect = (socket, socketOptions) => {
    connect(socket, socketOptions);
    let conn: Connection | undefined;
    for (const c of smtp.connections) conn = c;
    if (conn) limitCommands(conn);
  };
  function limitCommands(conn: Connection): void {
    const onCommand = conn._onCommand.bind(conn);
    let count = 0;
    conn._onCommand = (command, callback) => {
      if (conn.session?.envelope?.mailFrom) count = 0;
      else if (++count > maxCommands) {
        conn.send(421, `${hostName} too many commands without a mail transaction, closing`);
        return;
      }
      onCommand(command, callback);
    };
  }

  const say421 = (c: Connection) => c.send(421, `${hostName} shutting down, try again later`);

  return {
    smtp,
    get inFlight() {
      return inflight.size;
    },
    get closing() {
      return closing;
    },
    listen(port, host) {
      return new Promise<AddressInfo>((resolve, reject) => {
        smtp.once("error", reject);
        smtp.listen(port, host, () => {
          smtp.off("error", reject);
          resolve(smtp.server.address() as AddressInfo);
        });
      });
    },
    close() {
      if (closed) return closed;
      closing = true;
      closed = (async () => {
        const stopped = new Promise<void>((resolve) => smtp.close(() => resolve()));
        for (const c of [...smtp.connections]) if (!busy.has(c.session.id)) say421(c);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...inflight]), new Promise<void>((r) => (timer = setTimeout(r, closeTimeoutMs)))]);
        clearTimeout(timer);
        // Let the replies of the messages just stored go out before the 421s.
        await new Promise<void>((r) => setImmediate(r));
        for (const c of [...smtp.connections]) say421(c);
        await stopped;
      })();
      return closed;
    },
  };
}
