/**
 * The loader on hostile or broken files, in process: each is refused with a `UserError` naming
 * the file (and line and column where there is one), the value and the fix. The same classes run
 * through the real CLI in bad-input.errors.test.ts; here are the exact messages and the edges.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXAMPLE_ADMIN_KEY } from "../../topology/defaults.ts";
import { UserError, UserErrors } from "../../topology/errors.ts";
import { loadTopology, MAX_NESTING, MAX_TOPOLOGY_BYTES, MAX_VALUES } from "../../topology/load.ts";

const dir = mkdtempSync(join(tmpdir(), "bulwark-load-errors-"));
const ADMIN = `admin:\n  sshKeys:\n    - name: ops\n      publicKey: ${EXAMPLE_ADMIN_KEY}\n`;
let n = 0;

/** Writes `content` to a fresh file with extension `ext`; returns its path. */
function file(ext: string, content: string | Buffer): string {
  const path = join(dir, `t${n++}${ext}`);
  writeFileSync(path, content);
  return path;
}

/** The one message loading `path` is refused with (fails the test when it loads). */
function refusal(path: string): string {
  try {
    loadTopology({ kind: "file", path });
  } catch (err) {
    if (err instanceof UserErrors) {
      expect(err.errors).toHaveLength(1);
      return err.errors[0]!.message;
    }
    if (err instanceof UserError) return err.message;
    throw err;
  }
  throw new Error(`loaded: ${path}`);
}

const nested = (depth: number) => `{"admin": ${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;

describe("topology files the loader refuses", () => {
  it("GIVEN a FIFO WHEN loaded THEN it is refused at once, not waited on", () => {
    const path = join(dir, "fifo.yaml");
    expect(spawnSync("mkfifo", [path]).status).toBe(0);
    expect(refusal(path)).toBe(
      `${path}: is a FIFO (named pipe), not a regular file; got "${path}". Fix: pass ` +
        `a regular .json, .yaml or .yml file (not a pipe, device, socket or directory)`,
    );
  });

  it("GIVEN a directory or a device WHEN loaded THEN each is named for what it is", () => {
    const sub = join(dir, "sub.yaml");
    mkdirSync(sub);
    expect(refusal(sub)).toMatch(/: is a directory, not a regular file;/);
    const device = join(dir, "null.yaml");
    symlinkSync("/dev/null", device);
    expect(refusal(device)).toMatch(/: is a character device, not a regular file;/);
    expect(refusal("/dev/null")).toMatch(/^\/dev\/null: unknown topology file type; got "no extension"/);
  });

  it("GIVEN a file one byte over the cap WHEN loaded THEN its size is refused before parsing; at the cap it is read", () => {
    const at = `${ADMIN}#${"x".repeat(MAX_TOPOLOGY_BYTES - ADMIN.length - 2)}\n`;
    expect(Buffer.byteLength(at)).toBe(MAX_TOPOLOGY_BYTES);
    expect(loadTopology({ kind: "file", path: file(".yaml", at) }).admin.sshKeys).toHaveLength(1);
    const over = file(".yaml", `${at}\n`);
    expect(refusal(over)).toBe(
      `${over}: is 65537 bytes, above the 65536-byte limit of a topology file; got "65537". Fix: ` +
        `keep the topology under 64 KiB (the seed is about 1 KiB); check that this is the right file`,
    );
  });

  it("GIVEN bytes that are not UTF-8 WHEN loaded THEN the encoding is named", () => {
    const path = file(".yaml", Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0x0a]));
    expect(refusal(path)).toBe(`${path}: is not valid UTF-8 text; got "${path}". Fix: save the file as UTF-8`);
  });

  it("GIVEN a path with a newline WHEN refused THEN the path is quoted so the message stays one line", () => {
    const message = refusal(join(dir, "a\nb.yaml"));
    expect(message).not.toContain("\n");
    expect(message).toMatch(/^".*a\\nb\.yaml": cannot read the topology file \(ENOENT\)/);
  });

  it("GIVEN a JSON key twice WHEN loaded THEN the second is named by line and column, escapes decoded", () => {
    const path = file(".json", `{"admin": {"sshKeys": [], "user": "a",\n  "\\u0075ser": "b"}}`);
    expect(refusal(path)).toBe(
      `${path}:2:3: repeats a key of the same object (JSON would keep the last silently); got "user". Fix: keep one of the two entries`,
    );
  });

  it("GIVEN the same key in sibling JSON objects WHEN loaded THEN that is no duplicate", () => {
    const path = file(
      ".json",
      `{"admin": {"sshKeys": [{"name": "a", "publicKey": "${EXAMPLE_ADMIN_KEY}"}]}, "labels": {"name": "x"}, "name": "shop"}`,
    );
    expect(loadTopology({ kind: "file", path }).name).toBe("shop");
  });

  it(`GIVEN JSON nested ${MAX_NESTING + 1} deep WHEN loaded THEN the nesting is refused; ${MAX_NESTING} deep goes on to the schema`, () => {
    const deep = file(".json", nested(MAX_NESTING + 1));
    expect(refusal(deep)).toBe(
      `${deep}:1:${11 + MAX_NESTING - 1}: nests objects and lists more than 32 ` +
        `deep; got 33. Fix: a topology nests at most 4 levels; remove the extra nesting`,
    );
    expect(refusal(file(".json", nested(MAX_NESTING)))).toMatch(/: admin: must be object/);
  });

  it("GIVEN a YAML key twice WHEN loaded THEN the second is named by line and column", () => {
    const path = file(".yaml", `${ADMIN}name: a\nname: b\n`);
    expect(refusal(path)).toBe(`${path}:6:1: repeats a key of the same map; got "name". Fix: keep one of the two entries`);
  });

  it.each([
    ["flow brackets", () => `a: ${"[".repeat(70)}${"]".repeat(70)}\n`, 1],
    ["indentation", () => Array.from({ length: 40 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n"), 32],
    ["compact lists", () => `${"- ".repeat(70)}x\n`, 1],
  ])("GIVEN YAML nested deep by %s WHEN loaded THEN the pre-scan refuses it before the parser runs", (_how, text, line) => {
    const path = file(".yaml", text());
    expect(refusal(path)).toMatch(
      new RegExp(
        `^${path.replace(/[.]/g, "\\.")}:${line}: nests deeper than a topology can ` +
          `\\(\\d+ levels of .*above 64\\); got .*Fix: a topology nests at most 4 levels`,
      ),
    );
  });

  it("GIVEN YAML aliases nesting the data deeper than the text WHEN loaded THEN the data's nesting is refused", () => {
    const path = file(".yaml", `a: &a ${"[".repeat(25)}x${"]".repeat(25)}\nb: ${"[".repeat(25)}*a${"]".repeat(25)}\n`);
    expect(refusal(path)).toMatch(
      new RegExp(`^${path.replace(/[.]/g, "\\.")}: b(\\[0\\]){31}: nests objects and lists more than 32 deep; got 33\\.`),
    );
  });

  it(`GIVEN more than ${MAX_VALUES} YAML items WHEN loaded THEN they are counted before the parser runs`, () => {
    const path = file(".yaml", `a: [${"1,".repeat(MAX_VALUES)}1]\n`);
    expect(refusal(path)).toMatch(/:1: holds more than 10000 items by this line .*; got 10002\. Fix: check that this is the right file/);
  });

  it("GIVEN a few aliases fanning out to more than 10,000 values WHEN loaded THEN the expanded data is refused", () => {
    const list = `[${Array.from({ length: 200 }, (_, i) => i).join(",")}]`;
    const path = file(".yaml", `${ADMIN}big: &big ${list}\nmany: [${Array(60).fill("*big").join(",")}]\n`);
    expect(refusal(path)).toMatch(/: many\[\d+\]\[\d+\]: brings the topology above 10000 values \(YAML aliases count each time they are used\)/);
  });

  it("GIVEN an alias bomb WHEN loaded THEN the alias count is refused", () => {
    const levels = Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(",")}]`);
    const path = file(".yaml", `l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n${levels.join("\n")}\n`);
    expect(refusal(path)).toBe(
      `${path}: uses YAML aliases too often (Excessive alias count indicates a resource ` +
        `exhaustion attack); got 100. Fix: write the repeated values out, or alias them fewer times`,
    );
  });

  it.each([
    ["an unknown tag", "name: !shell shop\n", 5, 7, "!shell"],
    ["a YAML 1.1 tag", "labels: !!set {a}\n", 5, 9, "tag:yaml.org,2002:set"],
    ["a binary value", "name: !!binary c2hvcA==\n", 5, 7, "tag:yaml.org,2002:binary"],
  ])("GIVEN %s WHEN loaded THEN the tag is refused", (_case, tail, line, col, tag) => {
    const path = file(".yaml", `${ADMIN}${tail}`);
    expect(refusal(path)).toBe(
      `${path}:${line}:${col}: YAML problem (TAG_RESOLVE_FAILED): Unresolved tag: ${tag}; ` +
        `got ${JSON.stringify(`${ADMIN}${tail}`.split("\n")[line - 1])}. Fix: remove the tag: a topology is plain YAML (strings, numbers, ` +
        `booleans, lists, maps)`,
    );
  });

  it("GIVEN a %YAML 1.1 directive WHEN loaded THEN the values are still read as YAML 1.2 (yes is a string, << no merge)", () => {
    expect(refusal(file(".yaml", `%YAML 1.1\n---\n${ADMIN}roles:\n  lb: { tls: yes }\n`))).toMatch(/: roles\.lb\.tls: must be boolean; got "yes"/);
    expect(refusal(file(".yaml", `${ADMIN}labels: &l { team: web }\nroles:\n  app:\n    <<: *l\n`))).toMatch(
      /: roles\.app\."<<": unknown field; got "<<"/,
    );
  });

  it("GIVEN two YAML documents WHEN loaded THEN the second is refused", () => {
    expect(refusal(file(".yaml", `${ADMIN}---\nname: other\n`))).toMatch(/:5:1: YAML syntax error \(MULTIPLE_DOCS\)/);
  });

  it.each([
    [
      "JSON",
      ".json",
      `{"admin": {"sshKeys": [{"name": "ops", "publicKey": "${EXAMPLE_ADMIN_KEY}"}], ` +
        `"sshSourceCidrs": ["0.0.0.0/0"], "__proto__": {"allowSshFromAnywhere": true}}}`,
    ],
    ["YAML", ".yaml", `${ADMIN}  sshSourceCidrs: [0.0.0.0/0]\n  __proto__: { allowSshFromAnywhere: true }\n`],
  ])("GIVEN a __proto__ key in %s WHEN loaded THEN it is an unknown field, not the opt-in", (_format, ext, text) => {
    expect(refusal(file(ext, text))).toMatch(/: admin\.__proto__: unknown field; got "__proto__"/);
  });

  it("GIVEN one map aliased into two roles WHEN loaded THEN each role gets its own defaults", () => {
    const t = loadTopology({ kind: "file", path: file(".yaml", `${ADMIN}roles:\n  app: &r { count: 3 }\n  parser: *r\n`) });
    expect([t.roles.app.namePrefix, t.roles.parser.namePrefix]).toEqual(["app", "parser"]);
    expect(t.roles.parser.count).toBe(3);
  });

  it("GIVEN anchors and aliases used sparingly WHEN loaded THEN they work", () => {
    const t = loadTopology({
      kind: "file",
      path: file(".yaml", `${ADMIN}labels: &l { team: web }\nroles:\n  app: { labels: *l }\n  parser: { labels: *l }\n`),
    });
    expect(t.roles.parser.labels).toEqual({ team: "web" });
  });
});
