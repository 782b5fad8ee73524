/**
 * The one error type a user sees. It names the field path, the value received and the fix;
 * the CLI prints `message` alone (no stack) and exits with code 2.
 */

export class UserError extends Error {
  override readonly name = "UserError";

  constructor(
    /** Dotted field path (`roles.app.count`), a file path, or a host name. */
    readonly path: string,
    /** What is wrong, as a short clause. */
    readonly problem: string,
    /** The value received. */
    readonly value: unknown,
    /** How to fix it. */
    readonly fix: string,
  ) {
    super(`${path}: ${problem}; got ${showValue(value)}. Fix: ${fix}`);
  }
}

/** Several user errors found at once; `message` has one line per error. */
export class UserErrors extends Error {
  override readonly name = "UserErrors";

  constructor(readonly errors: readonly UserError[]) {
    super(errors.map((e) => e.message).join("\n"));
  }
}

/**
 * Characters JSON.stringify leaves as they are but a terminal would not show as written: DEL and
 * the C1 controls, invisible format characters (bidi overrides, zero-width spaces), line and
 * paragraph separators, private-use and unassigned code points.
 */
const INVISIBLE = /[\u007f-\u009f\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu;

/** A value shown on one line, escaped and cut short so an error message stays one line. */
function showValue(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = (JSON.stringify(value) ?? String(value)).replace(INVISIBLE, (c) => {
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** `["roles","app","count"]` → `roles.app.count`; array items as `sshKeys[0]`. */
export function dottedPath(segments: readonly (string | number)[]): string {
  return segments.reduce<string>((acc, seg) => {
    if (typeof seg === "number") return `${acc}[${seg}]`;
    const safe = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg) ? seg : JSON.stringify(seg);
    return acc === "" ? safe : `${acc}.${safe}`;
  }, "");
}
