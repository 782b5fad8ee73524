/**
 * The single-point-of-failure reason is the one free text of the topology that TOPOLOGY.md shows.
 * It is escaped where it is placed, and checked here against what a Markdown renderer does with
 * it: commonmark.js, the CommonMark reference implementation (installed with cdktf-cli), must
 * render the escaped text as that text and nothing else, wherever on a line it stands. GitHub's
 * extensions (tables, strikethrough, math) are not in CommonMark; their characters are checked
 * to be escaped.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { escapeMarkdownText } from "../../bundle/markdown.ts";
import { topologyMarkdown } from "../../bundle/topology-md.ts";
import { analyzeFailures } from "../../plan/failure.ts";
import { buildPlan } from "../../plan/plan.ts";
import { validateTopology } from "../../topology/load.ts";
import { TEST_PLAN_INPUTS, withInput } from "../support/fixtures.ts";

interface CommonMark {
  readonly Parser: new () => { parse(markdown: string): unknown };
  readonly HtmlRenderer: new () => { render(tree: unknown): string };
}
const commonmark = createRequire(import.meta.url)("commonmark") as CommonMark;

/** The HTML a CommonMark renderer makes of `markdown`. */
function render(markdown: string): string {
  return new commonmark.HtmlRenderer().render(new commonmark.Parser().parse(markdown));
}

/** `text` as an HTML renderer writes plain text (what "shows as written" looks like in its output). */
function htmlText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Text that, placed raw, would hide, restyle or restructure the review. */
const HOSTILE = [
  "staging <!-- the rest of the review is hidden",
  "<details><summary>fine</summary>",
  "<script>alert(1)</script>",
  "`unclosed code span",
  "**bold** and *emphasis* and _under_ and __strong__",
  "[a link](https://example.invalid) and ![an image](x.png)",
  "[ref]: https://example.invalid",
  "# a heading",
  "- a list item",
  "+ another",
  "1. numbered",
  "7) numbered",
  "> a quote",
  "    four spaces: a code block",
  "| a | table | row |",
  "~~struck~~ and $x^2$ math",
  "a backslash at the end \\",
  "entities &amp; &#60;b&#62; &copy;",
  "=====",
  "autolink <https://example.invalid> and <mail@example.invalid>",
  "tricky \\*escape\\* and \\`tick",
];

describe("Markdown escaping of user text", () => {
  it.each(HOSTILE)("GIVEN %j WHEN escaped and rendered as a paragraph, after text, and in bold THEN it shows as written", (text) => {
    const escaped = escapeMarkdownText(text);
    expect(render(escaped)).toBe(`<p>${htmlText(text)}</p>\n`);
    expect(render(`before ${escaped} after`)).toBe(`<p>before ${htmlText(text)} after</p>\n`);
    expect(render(`> **Single points of failure allowed: ${escaped}.**`)).toBe(
      `<blockquote>\n<p><strong>Single points of failure allowed: ${htmlText(text)}.</strong></p>\n</blockquote>\n`,
    );
  });

  it("GIVEN GitHub's table, strikethrough and math characters WHEN escaped THEN each is backslash-escaped", () => {
    expect(escapeMarkdownText("a | b ~~c~~ $d$")).toBe("a \\| b \\~\\~c\\~\\~ \\$d\\$");
  });

  it("GIVEN ordinary text WHEN escaped THEN it is unchanged", () => {
    expect(escapeMarkdownText("staging: one app and one parser host (2025-01-01), ok.")).toBe(
      "staging: one app and one parser host (2025-01-01), ok.",
    );
    expect(escapeMarkdownText("é ü 中文 🚀")).toBe("é ü 中文 🚀");
  });

  it("GIVEN a newline, a control or a bidi override (which validation refuses) WHEN escaped THEN it cannot end or reorder the line", () => {
    const escaped = escapeMarkdownText("a\nb\r\u0000c\u202Ed\u2028e");
    expect(escaped).toBe("a\uFFFDb\uFFFD\uFFFDc\uFFFDd\uFFFDe");
  });
});

describe("the reason in TOPOLOGY.md", () => {
  const page = (reason: string) => {
    const plan = buildPlan(
      validateTopology(withInput({ roles: { parser: { count: 1 } }, allowSinglePointsOfFailure: { reason } })),
      TEST_PLAN_INPUTS,
    );
    return topologyMarkdown(plan, analyzeFailures(plan));
  };

  it(
    "GIVEN a reason opening an HTML comment WHEN TOPOLOGY.md is rendered THEN " +
      "the reason shows as written and every section after it is still there",
    () => {
      const reason = "staging <!-- | **x** [y](z) `";
      const html = render(page(reason));
      expect(html).toContain(`<strong>Single points of failure allowed: ${htmlText(reason)}.</strong>`);
      expect(html).not.toContain("<!--");
      for (const section of ["Diagram", "Hosts", "Port matrix", "Failure analysis"]) expect(html).toContain(`<h2>${section}</h2>`);
    },
  );

  it("GIVEN an ordinary reason WHEN TOPOLOGY.md is written THEN it heads the page unchanged", () => {
    expect(page("staging: one parser host")).toContain("> **Single points of failure allowed: staging: one parser host.**\n");
  });
});
