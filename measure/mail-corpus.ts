/**
 * A deterministic, realistic clean mail corpus for the parser bench and the storage lab's
 * services scenario: seeded PRNG, sizes 2 KB..2 MB (log-uniform), about half with a base64
 * attachment, about a third with an HTML alternative, utf-8 / iso-8859-1 / windows-1252 /
 * koi8-r / shift_jis text in quoted-printable or base64, RFC 2047 encoded headers.
 * The same (n, seed) always gives the same bytes.
 */
/** mulberry32: small deterministic PRNG returning floats in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis"] as const;
type Charset = (typeof CHARSETS)[number];
const UTF8_EXTRA = ["ä", "ö", "ü", "é", "ß", "ж", "я", "日本", "€", "ł", "ñ"].map((s) => Buffer.from(s));

/** Text of about `n` bytes that is valid in `cs`, with CRLF every ~70 bytes. */
function textIn(rng: () => number, cs: Charset, n: number): Buffer {
  const out = Buffer.allocUnsafe(n + 16);
  let i = 0;
  let col = 0;
  while (i < n) {
    const r = rng();
    if (col > 68) {
      out[i++] = 13;
      out[i++] = 10;
      col = 0;
    } else if (r < 0.15) {
      out[i++] = 32;
      col++;
    } else if (r < 0.8) {
      out[i++] = 97 + Math.floor(rng() * 26);
      col++;
    } else if (cs === "utf-8") {
      const b = UTF8_EXTRA[Math.floor(rng() * UTF8_EXTRA.length)]!;
      b.copy(out, i);
      i += b.length;
      col++;
    } else if (cs === "shift_jis") {
      out[i++] = 0x82; // hiragana lead byte
      out[i++] = 0x9f + Math.floor(rng() * 0x52);
      col += 2;
    } else if (cs === "koi8-r") {
      out[i++] = 0xc0 + Math.floor(rng() * 64); // Cyrillic letters
      col++;
    } else {
      out[i++] = 0xe0 + Math.floor(rng() * 32); // accented latin letters
      col++;
    }
  }
  return out.subarray(0, i);
}

/** Quoted-printable encoding (RFC 2045), CRLF kept as hard breaks, soft breaks at 76. */
function qpEncode(buf: Buffer): string {
  const parts: string[] = [];
  let line = "";
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b === 13 && buf[i + 1] === 10) {
      parts.push(line, "\r\n");
      line = "";
      i++;
      continue;
    }
    const tok =
      (b >= 33 && b <= 126 && b !== 61) || (b === 32 && buf[i + 1] !== 13)
        ? String.fromCharCode(b)
        : `=${b.toString(16).toUpperCase().padStart(2, "0")}`;
    if (line.length + tok.length > 75) {
      parts.push(line, "=\r\n");
      line = "";
    }
    line += tok;
  }
  parts.push(line);
  return parts.join("");
}

function b64Lines(buf: Buffer): string {
  return (buf.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
}

function randomBytes(rng: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(Math.floor(rng() * 4294967296), Math.min(i, n - 4));
  return b;
}

function encodedWord(cs: Charset, text: Buffer): string {
  return `=?${cs}?B?${text.toString("base64")}?=`;
}

/** One realistic message, deterministic for (seed, i). */
function cleanCorpusMessage(rng: () => number, i: number): Buffer {
  const size = Math.round(Math.exp(Math.log(2048) + rng() * (Math.log(2 * 1024 * 1024) - Math.log(2048))));
  const cs = CHARSETS[Math.floor(rng() * CHARSETS.length)]!;
  const qp = rng() < 0.5;
  const withAttachment = rng() < 0.5;
  const withHtml = rng() < 0.3;
  const textBytes = Math.max(300, Math.floor(withAttachment ? size * 0.15 : (qp ? size / 2 : (size * 3) / 4) * (withHtml ? 0.5 : 1)));
  const body = textIn(rng, cs, textBytes);
  const enc = (b: Buffer) => (qp ? qpEncode(b) : b64Lines(b));
  const cte = qp ? "quoted-printable" : "base64";
  const headers = [
    `From: ${encodedWord(cs, textIn(rng, cs, 12))} <sender${i}@example.test>`,
    `To: Team ${i % 7} <team${i % 7}@example.test>, rcpt${i}@example.test`,
    ...(rng() < 0.4 ? [`Cc: cc${i}@example.test`] : []),
    `Subject: ${encodedWord(cs, textIn(rng, cs, 30))} #${i}`,
    `Message-ID: <bench-${i}@corpus.example.test>`,
    `Date: ${new Date(Date.UTC(2029, 0, 1) + i * 61_000).toUTCString()}`,
    "MIME-Version: 1.0",
    `Received: from mx${i % 3}.example.test by mail.example.test; ${new Date(Date.UTC(2029, 0, 1) + i * 61_000).toUTCString()}`,
  ];
  const textPart = [`Content-Type: text/plain; charset=${cs}`, `Content-Transfer-Encoding: ${cte}`, "", enc(body)].join("\r\n");
  let alt = textPart;
  if (withHtml) {
    const html = Buffer.concat([Buffer.from("<html><body><p>"), textIn(rng, cs, textBytes), Buffer.from("</p></body></html>")]);
    alt = [
      'Content-Type: multipart/alternative; boundary="alt"',
      "",
      "--alt",
      textPart,
      "--alt",
      `Content-Type: text/html; charset=${cs}`,
      `Content-Transfer-Encoding: ${cte}`,
      "",
      enc(html),
      "--alt--",
    ].join("\r\n");
  }
  if (!withAttachment) return Buffer.from(`${[...headers, alt].join("\r\n")}\r\n`, "latin1");
  const attSize = Math.max(256, Math.floor(((size - textBytes * 1.3) * 3) / 4));
  const types = [
    ["application/pdf", "pdf"],
    ["image/png", "png"],
    ["application/zip", "zip"],
  ] as const;
  const [mime, ext] = types[Math.floor(rng() * types.length)]!;
  return Buffer.from(
    [
      ...headers,
      'Content-Type: multipart/mixed; boundary="mix"',
      "",
      "--mix",
      alt,
      "--mix",
      `Content-Type: ${mime}; name="file-${i}.${ext}"`,
      "Content-Transfer-Encoding: base64",
      `Content-Disposition: attachment; filename="file-${i}.${ext}"`,
      ...(rng() < 0.3 ? [`Content-ID: <att-${i}@corpus.example.test>`] : []),
      "",
      b64Lines(randomBytes(rng, attSize)),
      "--mix--",
      "",
    ].join("\r\n"),
    "latin1",
  );
}

/** The clean corpus: `n` messages from `seed`. */
export function cleanCorpus(n: number, seed = 20_261_127): Buffer[] {
  const rng = prng(seed);
  return Array.from({ length: n }, (_, i) => cleanCorpusMessage(rng, i));
}
