/**
 * The CDK idiom of constructs/, read from the source with the TypeScript parser: every optional
 * prop documents its default, no construct hands out a bare hcloud resource (a documented
 * attribute instead), every Terraform variable is a child of the construct that owns it under a
 * fixed name, and optional values are passed through, not spread in conditionally.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const DIR = join(import.meta.dirname, "../../constructs");
const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => ({ name: f, text: readFileSync(join(DIR, f), "utf8") }));
const parsed = files.map((f) => ({ ...f, source: ts.createSourceFile(f.name, f.text, ts.ScriptTarget.Latest, true) }));
/** The generated hcloud classes constructs/ may use (constructs/hcloud.ts re-exports them). */
const HCLOUD = [...readFileSync(join(DIR, "hcloud.ts"), "utf8").matchAll(/export \{ (\w+) \}/g)].map((m) => m[1]!);

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  node.forEachChild((c) => walk(c, visit));
}

function jsDoc(node: ts.Node): string {
  return ts
    .getJSDocCommentsAndTags(node)
    .map((d) => d.getText())
    .join("\n");
}

describe("constructs/ idiom", () => {
  it("GIVEN every props interface WHEN read THEN each optional prop says its @default", () => {
    const missing: string[] = [];
    let optional = 0;
    for (const f of parsed) {
      walk(f.source, (n) => {
        if (!ts.isInterfaceDeclaration(n)) return;
        for (const m of n.members) {
          if (!ts.isPropertySignature(m) || !m.questionToken) continue;
          optional++;
          if (!/@default\b/.test(jsDoc(m))) missing.push(`${f.name}: ${n.name.text}.${m.name.getText()}`);
        }
      });
    }
    expect(optional).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });

  it("GIVEN every construct class WHEN read THEN no public field or getter is a bare hcloud resource", () => {
    expect(HCLOUD).toContain("Server");
    const bare: string[] = [];
    for (const f of parsed) {
      walk(f.source, (n) => {
        if (!ts.isClassDeclaration(n)) return;
        for (const m of n.members) {
          if (!(ts.isPropertyDeclaration(m) || ts.isGetAccessorDeclaration(m))) continue;
          const hidden = ts.getModifiers(m)?.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword);
          const type = m.type?.getText() ?? "";
          if (!hidden && HCLOUD.some((c) => new RegExp(`\\b${c}\\b`).test(type)))
            bare.push(`${f.name}: ${n.name?.text}.${m.name.getText()}: ${type}`);
        }
      });
    }
    expect(bare).toEqual([]);
  });

  it("GIVEN every Terraform variable WHEN read THEN it is a child of its construct (scope `this`) and keeps a fixed name", () => {
    const found: string[] = [];
    for (const f of parsed) {
      walk(f.source, (n) => {
        if (!ts.isNewExpression(n) || n.expression.getText() !== "TerraformVariable") return;
        found.push(f.name);
        expect(n.arguments?.[0]?.getText(), `${f.name}: ${n.getText().slice(0, 80)}`).toBe("this");
      });
    }
    expect(found.length).toBeGreaterThanOrEqual(2);
    for (const name of new Set(found)) expect(files.find((f) => f.name === name)!.text, name).toMatch(/\.overrideLogicalId\(/);
  });

  it("GIVEN every construct WHEN read THEN no optional value is spread in conditionally", () => {
    const noisy = files.filter((f) => /\.\.\.\([^()]*!== undefined \?/.test(f.text)).map((f) => f.name);
    expect(noisy).toEqual([]);
  });
});
