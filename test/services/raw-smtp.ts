/**
 * A raw SMTP client for the ingress tests: writes lines and bytes as given (nothing is fixed up
 * on the way), reads whole multi-line replies, and can upgrade to TLS; and one whole transaction.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { expect } from "vitest";
import { cleanMessage } from "./helpers.ts";

export interface Reply {
  code: number;
  lines: string[];
}

/** A raw SMTP client: sends lines, reads whole (multi-line) replies. */
export class RawSmtp {
  private buf = "";
  private waiter: (() => void) | null = null;
  closed = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on("data", (d: Buffer) => {
      this.buf += d.toString("latin1");
      this.waiter?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on("error", () => undefined);
  }

  /** Connects; `first` is written before anything is read (a PROXY header). */
  static async open(port: number, first?: string): Promise<RawSmtp> {
    const socket = netConnect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    if (first !== undefined) socket.write(first);
    return new RawSmtp(socket);
  }

  /** The next complete reply (throws when the connection closes or 5 s pass first). */
  async reply(): Promise<Reply> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const lines = this.buf.split("\r\n");
      for (let i = 0; i < lines.length - 1; i++) {
        if (/^\d{3} /.test(lines[i]!) || /^\d{3}$/.test(lines[i]!)) {
          const mine = lines.slice(0, i + 1);
          this.buf = lines.slice(i + 1).join("\r\n");
          return { code: Number(mine[i]!.slice(0, 3)), lines: mine.map((l) => l.slice(4)) };
        }
      }
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf)}`);
      if (Date.now() > deadline) throw new Error(`no reply within 5 s; unread: ${JSON.stringify(this.buf)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = null;
    }
  }

  async cmd(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** Sends a message body after a 354 (dot-stuffed, CRLF lines) and the final dot. */
  async body(message: Buffer): Promise<Reply> {
    let text = message.toString("latin1");
    if (!text.endsWith("\r\n")) text += "\r\n";
    this.socket.write(Buffer.from(text.replace(/^\./gm, ".."), "latin1"));
    return this.cmd(".");
  }

  /** Writes raw bytes (a partial body). */
  write(data: string): void {
    this.socket.write(data);
  }

  /** STARTTLS handshake over the current socket (any certificate). */
  async startTls(): Promise<void> {
    const tls = tlsConnect({ socket: this.socket, rejectUnauthorized: false, servername: "localhost" });
    await new Promise<void>((resolve, reject) => tls.once("secureConnect", resolve).once("error", reject));
    this.socket.removeAllListeners("data");
    this.socket = tls;
    this.attach(tls);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One whole SMTP transaction; returns the reply to each step that ran. */
export async function deliver(
  port: number,
  opts: { from?: string; rcpt?: string[]; body?: Buffer; first?: string; mailArgs?: string; domain?: string } = {},
): Promise<{ mail: Reply; rcpt: Reply[]; data?: Reply; end?: Reply }> {
  const c = await RawSmtp.open(port, opts.first);
  try {
    expect((await c.reply()).code).toBe(220);
    expect((await c.cmd("EHLO client.test")).code).toBe(250);
    const mail = await c.cmd(`MAIL FROM:<${opts.from ?? "sender@remote.test"}>${opts.mailArgs ?? ""}`);
    const rcpt: Reply[] = [];
    if (mail.code !== 250) return { mail, rcpt };
    for (const r of opts.rcpt ?? [`rcpt@${opts.domain ?? "example.test"}`]) rcpt.push(await c.cmd(`RCPT TO:<${r}>`));
    const data = await c.cmd("DATA");
    if (data.code !== 354) return { mail, rcpt, data };
    const end = await c.body(opts.body ?? cleanMessage(1));
    await c.cmd("QUIT").catch(() => undefined);
    return { mail, rcpt, data, end };
  } finally {
    c.close();
  }
}
