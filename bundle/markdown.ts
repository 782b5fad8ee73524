/**
 * User text placed in TOPOLOGY.md shows as written: a Markdown renderer (a PR view) must not turn
 * any part of it into markup that hides, reorders or restyles the rest of the review (an HTML
 * comment `<!--`, a `<details>` tag, a code span, a link, emphasis that swallows what follows,
 * a table cell break, a heading).
 */

/**
 * Characters that may start markup inside a line, escaped with a backslash (CommonMark 0.31,
 * 2.4: any ASCII punctuation may be backslash-escaped): `\` itself, code spans, emphasis and
 * strong (`*`, `_`), links and images (`[`, `]`, `!`), GFM strikethrough (`~`), table cells (`|`),
 * headings (`#`), and GitHub's math (`$`).
 */
const BACKSLASHED = /[\\`*_[\]!~|#$]/g;

/** HTML and entities, written as entities: `<` starts tags, comments and autolinks; `&` entities; `>` quotes. */
const ENTITIES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/** Anything not printable: line breaks, controls, invisible format characters. Validation lets none through. */
const UNPRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/gu;

/**
 * `text` escaped for a Markdown line, so it renders as the same text and nothing else. A block
 * marker at its start (`-`, `+`, `=`, `1.`, `1)`, leading spaces) is neutralised too, so it is
 * safe at the start of a line as well. Anything unprintable (the topology rules admit none)
 * becomes U+FFFD, so the text can never end the line it is placed on.
 */
export function escapeMarkdownText(text: string): string {
  const escaped = text
    .replace(UNPRINTABLE, "\uFFFD")
    .replace(/[&<>]/g, (c) => ENTITIES[c]!)
    .replace(BACKSLASHED, (c) => `\\${c}`);
  return escaped
    .replace(/^ +/, (spaces) => "&#32;".repeat(spaces.length))
    .replace(/^([-+=])/, "\\$1")
    .replace(/^(\d+)([.)])/, "$1\\$2");
}
