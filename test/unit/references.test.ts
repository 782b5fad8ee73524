/**
 * Every reference to a file of the repository resolves: in the comments of every .ts file, in the
 * `{{!-- ... --}}` header of every template, and in the project's Markdown (README.md, docs/,
 * services/). A reference is a repository path (`render/lb.ts`, `docs/facts.md#glusterfs`,
 * `test/unit/mongo*.test.ts`), or in Markdown a relative link; a `#anchor` on a Markdown file must
 * name one of its headings. A bare Markdown file name may only be the README or a file of the
 * review bundle synth writes: every other fact lives in a file of the repository (docs/facts.md).
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

/** The repository's top-level directories a reference may start with. */
const TOP_DIRS = [
  "bundle",
  "constructs",
  "docs",
  "examples",
  "lab",
  "measure",
  "mongo-schema",
  "plan",
  "providers",
  "render",
  "scripts",
  "services",
  "synth",
  "templates",
  "test",
  "topology",
];
/** Markdown files that may be named bare: the README, and what synth writes into review/. */
const BARE_MARKDOWN = ["README.md", "TOPOLOGY.md", "SECURITY.md", "ROLLOUT.md", "CHANGES.md"];
/** Outputs and generated trees: not scanned. */
const SKIP = new Set(["node_modules", ".gen", ".git", "dist", "cdktf.out", "review", "reports", "golden"]);

/** A repository path: a top-level directory, then path characters, ending in a word character; maybe a glob and an anchor. */
const PATH_REF = new RegExp(String.raw`(?<![\w.$/@~-])((?:${TOP_DIRS.join("|")})/[\w.*/-]*[\w*])(#[\w-]+)?`, "g");
/** A bare Markdown file name (no directory before it; a Markdown link's target is checked as a link). */
const BARE_MD_REF = /(?<![\w./-]|\]\()([A-Za-z][\w-]*\.md)\b/g;
/** A Markdown link's target (relative ones only are checked). */
const MD_LINK = /\]\(([^)\s]+)\)/g;

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      if (SKIP.has(n)) return [];
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

const FILES = [
  ...readdirSync(ROOT)
    .filter((n) => /\.(ts|md)$/.test(n))
    .map((n) => join(ROOT, n)),
  ...TOP_DIRS.filter((d) => existsSync(join(ROOT, d))).flatMap((d) => walk(join(ROOT, d))),
];

/** Every comment of a TypeScript file, found by walking its syntax tree (never a string's contents). */
function tsComments(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = new Map<number, string>();
  const visit = (node: ts.Node): void => {
    for (const r of [...(ts.getLeadingCommentRanges(text, node.pos) ?? []), ...(ts.getTrailingCommentRanges(text, node.end) ?? [])]) {
      found.set(r.pos, text.slice(r.pos, r.end));
    }
    for (const child of node.getChildren(source)) visit(child);
  };
  visit(source);
  return [...found.values()];
}

/** The comments of a handlebars template: its `{{!-- --}}` header and any `{{! }}` comment. */
function templateComments(text: string): string[] {
  return [...text.matchAll(/\{\{!--[\s\S]*?--\}\}|\{\{![\s\S]*?\}\}/g)].map((m) => m[0]);
}

/** GitHub's anchors for the headings of a Markdown file. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    let candidate = slug;
    for (let i = 1; out.has(candidate); i++) candidate = `${slug}-${i}`;
    out.add(candidate);
  }
  return out;
}

/** Why `path` (relative to the repository, maybe a glob) with `anchor` does not resolve, or undefined. */
function problem(path: string, anchor: string | undefined): string | undefined {
  if (path.includes("*")) {
    const dir = join(ROOT, dirname(path));
    const pattern = new RegExp(
      `^${path
        .split("/")
        .at(-1)!
        .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, "[^/]*")}$`,
    );
    return existsSync(dir) && readdirSync(dir).some((n) => pattern.test(n)) ? undefined : "matches no file";
  }
  const full = join(ROOT, path);
  if (!existsSync(full)) return "does not exist";
  if (anchor && path.endsWith(".md") && !anchors(readFileSync(full, "utf8")).has(anchor.slice(1))) return `has no heading for ${anchor}`;
  return undefined;
}

interface Dangling {
  readonly file: string;
  readonly reference: string;
  readonly problem: string;
}

function danglingIn(file: string): Dangling[] {
  const rel = relative(ROOT, file);
  const text = readFileSync(file, "utf8");
  const isMarkdown = file.endsWith(".md");
  const chunks = file.endsWith(".ts") ? tsComments(file, text) : file.endsWith(".hbs") ? templateComments(text) : isMarkdown ? [text] : [];
  const out: Dangling[] = [];
  for (const chunk of chunks) {
    for (const m of chunk.matchAll(PATH_REF)) {
      const why = problem(m[1]!, m[2]);
      if (why) out.push({ file: rel, reference: m[0], problem: why });
    }
    for (const m of chunk.matchAll(BARE_MD_REF)) {
      if (!BARE_MARKDOWN.includes(m[1]!))
        out.push({ file: rel, reference: m[1]!, problem: "names a Markdown file without its path (is it in the repository?)" });
    }
    if (!isMarkdown) continue;
    for (const m of chunk.matchAll(MD_LINK)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const [path, anchor] = target.split("#") as [string, string | undefined];
      const resolved = path === "" ? rel : relative(ROOT, join(dirname(file), path));
      const why = resolved.startsWith("..") ? "points outside the repository" : problem(resolved, anchor === undefined ? undefined : `#${anchor}`);
      if (why) out.push({ file: rel, reference: `](${target})`, problem: why });
    }
  }
  return out;
}

describe("references to files of the repository", () => {
  it("GIVEN the sources, templates and docs WHEN scanned THEN they hold references to check", () => {
    expect(FILES.some((f) => f.endsWith(".hbs"))).toBe(true);
    expect(FILES.some((f) => f.endsWith("docs/facts.md"))).toBe(true);
    expect(tsComments("x.ts", "const a = 'render/no.ts'; // see plan/lb.ts\n/** docs/facts.md */ const b = `${a} /* not a comment */`;")).toEqual([
      "// see plan/lb.ts",
      "/** docs/facts.md */",
    ]);
    expect(anchors("# Facts\n## The parser: postal-mime and worker threads\n```\n# no\n```\n## Facts")).toEqual(
      new Set(["facts", "the-parser-postal-mime-and-worker-threads", "facts-1"]),
    );
  });

  it(
    "GIVEN every .ts comment, template header and Markdown file WHEN their references " +
      "are resolved THEN each names a file that exists (and a heading that exists)",
    () => {
      const dangling = FILES.flatMap(danglingIn);
      expect(dangling.map((d) => `${d.file}: ${d.reference} ${d.problem}`)).toEqual([]);
    },
  );

  it("GIVEN a dangling reference WHEN scanned THEN it is reported", () => {
    expect(problem("plan/checks.ts", undefined)).toBe("does not exist");
    expect(problem("docs/facts.md", "#no-such-section")).toBe("has no heading for #no-such-section");
    expect(problem("docs/facts.md", "#glusterfs")).toBeUndefined();
    expect(problem("test/unit/mongo*.test.ts", undefined)).toBeUndefined();
    expect([..."see NOTES.md and README.md, [facts](facts.md)".matchAll(BARE_MD_REF)].map((m) => m[1])).toEqual(["NOTES.md", "README.md"]);
  });
});
