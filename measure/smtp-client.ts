/**
 * A minimal SMTP client over node:net for the ingress bench: one connection, no pipelining
 * (each command waits for its reply), no TLS, no AUTH. It speaks EHLO once, then MAIL, RCPT,
 * DATA and the message with its final dot for as many messages as asked on the same
 * connection (a new MAIL after each 250, no RSET), and QUIT. Every wait is bounded.
 */
import { connect, type Socket } from "node:net";
import { SmtpReplyParser, type SmtpReply } from "./ingress-bench.ts";

/** Times of one message, in ms. */
export interface MessageTiming {
  /** From handing the final `.` line to the kernel to the 250 reply. */
  readonly ackMs: number;
  /** From sending MAIL FROM to the 250 reply after the final dot. */
  readonly totalMs: number;
}

const DOT = Buffer.from(".\r\n");

/** A reply other than the one expected: its code tells a deferral (4xx) from a refusal (5xx). */
export class SmtpReplyError extends Error {
  constructor(
    readonly step: string,
    readonly code: number,
    readonly lines: readonly string[],
    expected: number,
  ) {
    super(`SMTP: ${step}: expected ${expected}, got ${code} ${lines.join(" / ")}`);
  }
}

export class SmtpClient {
  private readonly parser = new SmtpReplyParser();
  private readonly replies: SmtpReply[] = [];
  private waiter: ((r: SmtpReply | Error) => void) | null = null;
  private failure: Error | null = null;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      try {
        for (const r of this.parser.push(chunk)) this.deliver(r);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => this.fail(new Error("SMTP: connection closed by the server")));
  }

  private deliver(r: SmtpReply): void {
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w(r);
    } else this.replies.push(r);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    w?.(err);
  }

  /** The next reply, within the timeout. */
  private reply(what: string): Promise<SmtpReply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<SmtpReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`SMTP: no reply to ${what} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
    });
  }

  private async expect(what: string, code: number): Promise<SmtpReply> {
    const r = await this.reply(what);
    if (r.code !== code) throw new SmtpReplyError(what, r.code, r.lines, code);
    return r;
  }

  private async command(line: string, code: number): Promise<SmtpReply> {
    this.socket.write(`${line}\r\n`);
    return this.expect(line.split(/[ :]/)[0]!, code);
  }

  /** Resolves once `data` has been handed to the kernel. */
  private write(data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Connects, reads the 220 banner and sends EHLO; returns the banner. */
  static async open(host: string, port: number, opts: { timeoutMs: number; helo: string }): Promise<{ client: SmtpClient; banner: SmtpReply }> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`SMTP: connecting to ${host}:${port} took over ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      s.once("error", onError);
      s.once("connect", () => {
        clearTimeout(timer);
        s.off("error", onError);
        resolve(s);
      });
    });
    const client = new SmtpClient(socket, opts.timeoutMs);
    try {
      const banner = await client.expect("the banner", 220);
      await client.command(`EHLO ${opts.helo}`, 250);
      return { client, banner };
    } catch (err) {
      client.destroy();
      throw err;
    }
  }

  /** Connects and reads the banner only (for idle connections). */
  static async openIdle(host: string, port: number, timeoutMs: number): Promise<SmtpClient> {
    const socket = connect({ host, port, noDelay: true });
    const client = new SmtpClient(socket, timeoutMs);
    try {
      await client.expect("the banner", 220);
      return client;
    } catch (err) {
      client.destroy();
      throw err;
    }
  }

  /**
   * One message: MAIL, RCPT, DATA, the message (already ending in CRLF, nothing to dot-stuff),
   * then the final dot. Throws unless every reply is the expected one (250, 250, 354, 250).
   */
  async send(from: string, to: string, message: Uint8Array): Promise<MessageTiming> {
    const t0 = performance.now();
    await this.command(`MAIL FROM:<${from}>`, 250);
    await this.command(`RCPT TO:<${to}>`, 250);
    await this.command("DATA", 354);
    await this.write(message);
    // The body is in the kernel; the clock for the reply starts with the dot.
    const tDot = performance.now();
    this.socket.write(DOT);
    await this.expect("the final dot", 250);
    const t1 = performance.now();
    return { ackMs: t1 - tDot, totalMs: t1 - t0 };
  }

  /** QUIT (221), then closes; never throws. */
  async quit(): Promise<void> {
    try {
      await this.command("QUIT", 221);
    } catch {
      // the server may close first
    }
    this.destroy();
  }

  destroy(): void {
    this.failure ??= new Error("SMTP: connection closed by the client");
    this.socket.destroy();
  }
}
